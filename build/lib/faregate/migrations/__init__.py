"""Alembic migrations for the Faregate schema, shipped inside the package.

Run them with `faregate.database.upgrade(url)` or `faregate db upgrade`; no alembic.ini needed.
"""
