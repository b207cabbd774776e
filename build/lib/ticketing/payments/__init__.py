"""Payment flows on the ledger: customers and cards, top-ups, daily charges, refunds, webhooks,
debt recovery. Talks to any `gateways.protocol.Gateway`; never imports a vendor SDK."""
