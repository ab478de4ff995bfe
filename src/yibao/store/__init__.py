"""The system of record's storage: SQLAlchemy models, Alembic migrations, repositories and the
unit of work. SQLite (embedded, the default) and PostgreSQL run the same migrations."""

from yibao.store import api_models as _api_models  # noqa: F401  (API tables on Base)
from yibao.store import catalogue_models as _catalogue_models  # noqa: F401  (on Base)
from yibao.store import chronic_models as _chronic_models  # noqa: F401  (on Base)
from yibao.store import commercial_models as _commercial_models  # noqa: F401  (惠民保)
from yibao.store import compare_models as _compare_models  # noqa: F401  (data comparison)
from yibao.store import dip_year_models as _dip_year_models  # noqa: F401  (DIP year-end)
from yibao.store import epidemics as _epidemics  # noqa: F401  (major epidemics)
from yibao.store import fee_models as _fee_models  # noqa: F401  (fee line tables on Base)
from yibao.store import linkage_models as _linkage_models  # noqa: F401  (record linkage)
from yibao.store import payment_group_models as _payment_group_models  # noqa: F401  (on Base)
from yibao.store import supervision_models as _supervision_models  # noqa: F401  (on Base)
from yibao.store.db import database_url, make_engine, make_session_factory
from yibao.store.migrate import upgrade
from yibao.store.uow import UnitOfWork

__all__ = ["UnitOfWork", "database_url", "make_engine", "make_session_factory", "upgrade"]
