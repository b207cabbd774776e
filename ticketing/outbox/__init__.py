"""Messages to riders (SMS, e-mail) and the one outbox they all go through.

`messages` holds the values (a message is a template key and its parameters, never rendered
text; a plain English rendering for `faregate outbox`), `protocol` the adapter interface
(`Outbox.send`), `file` the embedded default (JSON lines in the data directory) and
`announcements` what the payment flows announce (declined charges, debt paid, low balance).
"""
