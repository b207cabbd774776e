"""Daily settlement rules: apportionment, reconciliation, suspense, statements and controls.

Pure functions over plain values (no database, no gateway calls, no clock); `writers` and
`report` are the only modules that touch files. The `faregate settle` orchestration feeds
them from the ledger and the gateway listings. The rules are written down in docs/SETTLEMENT.md.
"""
