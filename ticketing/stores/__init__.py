"""Stores (repositories): each keeps one kind of record in the database and works inside the
caller's transaction without committing. `ticketing.unit_of_work.UnitOfWork` builds
every store on its session; nothing else does."""
