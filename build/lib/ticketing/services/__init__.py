"""Services over the database: each class works inside a caller's unit of work and never
commits; `ticketing.db.uow.UnitOfWork` builds them on its session."""
