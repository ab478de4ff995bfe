"""Settings of the API service, from the environment (``YIBAO_...``) with pydantic-settings.

Secrets come from the environment only: ``YIBAO_API_SECRET`` (the master secret from which
every institution key is derived) has no default, and the service refuses to start without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, PrivateAttr, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from yibao.api.http.audit import RefusalBudget


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YIBAO_", extra="ignore")

    #: Database URL (``sqlite:///...`` or ``postgresql://...``); default: ./yibao.sqlite.
    database_url: str | None = None
    #: A bureau's own folder of region parameter files (``YIBAO_POLICY_DIR``), searched before
    #: the shipped ones; every file in it must load when the service starts.
    policy_dir: Path | None = None
    #: Master secret for institution keys (``key = HMAC-SHA256(secret, "code:key_id")``).
    api_secret: SecretStr = Field(min_length=16)
    #: Largest accepted difference between a request's timestamp and the server clock.
    max_clock_skew_seconds: int = Field(default=300, ge=1, le=3600)
    #: Lifetime of a staff bearer token.
    token_ttl_seconds: int = Field(default=8 * 3600, ge=60)
    #: Largest request body accepted (bytes).
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    #: Threads that run the (blocking) request handlers in one worker process. Each holds a
    #: database connection while it runs; more than a few per core only adds contention for
    #: the interpreter lock and the pool (anyio's default is 40).
    threads: int = Field(default=4, ge=1, le=200)
    #: Most settlements (2207) settled together in one database transaction (group commit,
    #: ``yibao.api.serving.batch``); 1 settles each request alone.
    batch_max: int = Field(default=64, ge=1, le=1000)
    #: Batches of settlements in flight at once in one worker process (one waits on the
    #: database while another computes).
    batch_concurrency: int = Field(default=1, ge=1, le=16)
    #: Longest wait (milliseconds) of a batch for the settlements it expects: as many as the
    #: last batch answered, whose callers are likely to send again at once (``Batcher``). 0:
    #: a batch takes only what is queued.
    batch_linger_ms: float = Field(default=5.0, ge=0, le=50)
    #: Audit entries of authentication refusals (before a caller is known) written per
    #: minute by one worker process; those over it are counted in the next one (``api.audit``).
    audit_refusals_per_minute: int = Field(default=120, ge=1, le=100_000)

    #: The staff console (``/console``): a session without a request for this long is signed
    #: out.
    console_idle_seconds: int = Field(default=900, ge=30, le=24 * 3600)
    #: The console's cookies marked Secure (sent over HTTPS only): set it behind TLS.
    console_secure_cookies: bool = False

    _refusals: RefusalBudget | None = PrivateAttr(default=None)

    def model_post_init(self, context: Any, /) -> None:
        from yibao.api.http.audit import RefusalBudget

        self._refusals = RefusalBudget(self.audit_refusals_per_minute)

    def refusal_budget(self) -> RefusalBudget:
        """This service's budget of authentication-refusal audit entries (one per Settings)."""
        assert self._refusals is not None
        return self._refusals
