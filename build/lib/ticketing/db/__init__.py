"""Storage: the schema, engines for SQLite and PostgreSQL, and the unit of work.

`ticketing.db.uow.UnitOfWork` is the entry point for services; import it from there (it pulls
in the services, which in turn use the models defined here).
"""

from ticketing.db.engine import create_engine, session_factory
from ticketing.db.models import Base

__all__ = ["Base", "create_engine", "session_factory"]
