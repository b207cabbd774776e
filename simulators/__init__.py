"""Simulated gates, barriers, phones and the city day; they use the HTTP API and `qr`, never the database."""
