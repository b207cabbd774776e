"""The service layer: the use cases the CLI, the demo and the HTTP API call.

Each use case is a function taking a unit of work (or a factory of them, when it must commit
between steps, e.g. around a gateway call) and returns plain values. Stores below
(`ticketing.stores`) keep records; rules below them (`ticketing.ledger`, `ticketing.fares`,
`ticketing.postings`) hold no I/O.
"""
