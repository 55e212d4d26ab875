"""Typed settings, one class per service, read from the environment.

Each service subclasses :class:`ServiceSettings` with its own ``env_prefix`` (``INTAKE_``,
``DISPATCH_`` ...). A few settings are shared by the whole system and may also be given without a
prefix: ``KAFKA_BOOTSTRAP_SERVERS``, ``FQ_INTERNAL_TOKEN_SECRET``, ``FQ_ENVIRONMENT``, and the Kafka client's
security (``KAFKA_SECURITY_PROTOCOL``, ``KAFKA_SASL_MECHANISM``, ``KAFKA_SASL_USERNAME``,
``KAFKA_SASL_PASSWORD``, ``KAFKA_SSL_CAFILE``; default plaintext without authentication).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-internal-secret-change-me-0123456789"
REPO_ROOT = Path(__file__).resolve().parents[4]

if TYPE_CHECKING:
    from fengqiao_events.kafka import KafkaSecurity


def _shared(name: str, default=None):
    return Field(default, validation_alias=AliasChoices(name.lower(), name))


def _default_jurisdiction() -> Path:
    return REPO_ROOT / "data" / "waihai.yaml"


class ServiceSettings(BaseSettings):
    """Settings every service has. Subclasses set ``model_config`` with their own prefix."""

    model_config = SettingsConfigDict(env_prefix="FQ_", extra="ignore", populate_by_name=True)

    service_name: str = "service"
    environment: Literal["development", "test", "production"] = Field(
        "development", validation_alias=AliasChoices("environment", "FQ_ENVIRONMENT")
    )
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = "postgresql+asyncpg://postgres@127.0.0.1:55432/fengqiao"
    db_pool_size: int = 10
    db_max_overflow: int = 10
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092",
        validation_alias=AliasChoices("kafka_bootstrap_servers", "KAFKA_BOOTSTRAP_SERVERS"),
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = _shared(
        "KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = _shared(
        "KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    kafka_sasl_username: str | None = _shared("KAFKA_SASL_USERNAME")
    kafka_sasl_password: str | None = _shared("KAFKA_SASL_PASSWORD")
    kafka_ssl_cafile: str | None = _shared("KAFKA_SSL_CAFILE")
    internal_token_secret: str = Field(
        DEV_SECRET, validation_alias=AliasChoices("internal_token_secret", "FQ_INTERNAL_TOKEN_SECRET")
    )
    jurisdiction_file: Path = Field(
        default_factory=_default_jurisdiction,
        validation_alias=AliasChoices("jurisdiction_file", "FQ_JURISDICTION_FILE"),
    )
    log_level: str = "INFO"
    run_relay: bool = True
    run_consumers: bool = True
    outbox_poll_interval: float = 1.0
    outbox_batch_size: int = 1000
    outbox_lanes: int = 16
    outbox_retention_days: int = 7
    consumer_max_attempts: int = 3
    consumer_batch_size: int = 500
    topic_partitions: int = 6
    topic_replication: int = 1

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> ServiceSettings:
        if self.environment == "production" and (
            self.internal_token_secret == DEV_SECRET or len(self.internal_token_secret) < 32
        ):
            raise ValueError(
                "FQ_INTERNAL_TOKEN_SECRET must be set to a random value of at least 32 characters in production"
            )
        if self.environment == "production" and getattr(self, "demo_data", False):
            prefix = self.model_config.get("env_prefix", "")
            raise ValueError(f"{prefix}DEMO_DATA (demo users with printed passwords) is not allowed in production")
        return self

    def kafka_security(self) -> KafkaSecurity:
        """The Kafka clients' security settings (raises ValueError when SASL lacks a username or password)."""
        from fengqiao_events.kafka import KafkaSecurity

        return KafkaSecurity(protocol=self.kafka_security_protocol, sasl_mechanism=self.kafka_sasl_mechanism,
                             username=self.kafka_sasl_username, password=self.kafka_sasl_password,
                             ca_file=self.kafka_ssl_cafile)

    @property
    def asyncpg_dsn(self) -> str:
        """The database URL in the plain form asyncpg accepts (no SQLAlchemy driver suffix)."""
        return self.database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
