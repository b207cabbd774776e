"""The payments model: what a payment is for, where an attempt or a refund stands and how it
moves forward (`model`), and the payments errors. Plain values and rules, no I/O: the schema,
the stores and the flows (`ticketing.payment_flows`) all build on it."""
