"""Storage: the schema and engines for SQLite and PostgreSQL.

The stores (`ticketing.stores`) read and write these tables; the unit of work
(`ticketing.unit_of_work`) binds them to one transaction.
"""

from ticketing.db.engine import create_engine, session_factory
from ticketing.db.models import Base

__all__ = ["Base", "create_engine", "session_factory"]
