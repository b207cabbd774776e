"""Simulated gates, barriers, phones and city traffic: they use `qr` offline, never the database."""
