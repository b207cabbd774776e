"""Payment flows on the ledger: customers and cards, top-ups, daily charges, refunds, webhooks,
debt recovery, behind one `PaymentsService`. Talks to any `gateways.protocol.Gateway`; never
imports a vendor SDK. The values and the transition rules are the payments model's
(`ticketing.payments.model`)."""
