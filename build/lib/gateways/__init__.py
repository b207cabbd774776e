"""Payment gateway adapters (Stripe-compatible, VNPay) and webhook handling."""
