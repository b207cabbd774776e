"""Faregate composition root: settings, the aiohttp app factory and the command line."""
