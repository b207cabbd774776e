"""Accounts, products, fares, journeys, the double-entry ledger and settlement."""
