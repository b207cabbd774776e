"""Parking tariffs, sessions and barrier policy."""
