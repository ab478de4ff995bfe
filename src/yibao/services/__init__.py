"""Use cases of the system of record, each over a unit of work (``yibao.store.UnitOfWork``)."""
