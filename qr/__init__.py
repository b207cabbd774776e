"""Dynamic QR credentials: signed credentials, TOTP liveness, token text and the offline verifier."""
