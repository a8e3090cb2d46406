"""Observability of every process: Prometheus metrics, OpenTelemetry traces, JSON logs.

- Metrics (`metrics`): on unless METRICS_ENABLED=false; each process serves /metrics.
- Traces (`tracing`): off unless OTEL_EXPORTER_OTLP_ENDPOINT is set (or a test installs a
  tracer provider); off, no middleware is added and no span is made.
- Logs (`logs`): JSON lines on stderr (LOG_FORMAT=text for people), secrets redacted.

`instrument` is what `shared.platform.messaging.make_broker` asks for: the broker's FastStream
middlewares, and the MongoDB command listener, registered once per process before any
client exists (every process builds its broker before its MongoDB client).
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ObservabilitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    metrics_enabled: bool = Field(True, validation_alias="METRICS_ENABLED")
    # The OpenTelemetry SDK reads the OTEL_* variables itself (headers, protocol, sampler);
    # this one only decides whether tracing is on at all.
    otlp_endpoint: str = Field("", validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    service_name: str = Field("", validation_alias="OTEL_SERVICE_NAME")
    log_format: Literal["json", "text"] = Field("json", validation_alias="LOG_FORMAT")
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")


@cache
def settings() -> ObservabilitySettings:
    """Read once per process, at its first use (never at import)."""
    return ObservabilitySettings()


def configure(service: str) -> None:
    """A process's start: its name on its log lines and broker metrics, and tracing to the
    OTLP endpoint when one is set (idempotent)."""
    from shared.platform.observability import logs, tracing

    global _service
    _service = logs.SERVICE = service
    tracing.configure(service, settings())


_service = ""


def logging_config() -> dict[str, Any]:
    """The process's `logging.config.dictConfig` (uvicorn's `log_config`), from LOG_FORMAT
    and LOG_LEVEL."""
    from shared.platform.observability.logs import logging_config as config

    return config(settings().log_format, settings().log_level)


def instrument() -> list[Any]:
    """FastStream middlewares for a broker (metrics, traces: each only when on); registers
    the MongoDB command listener of this process."""
    from shared.platform.observability import metrics, mongo, tracing

    if settings().metrics_enabled or tracing.enabled():
        mongo.watch(timed=settings().metrics_enabled)
    middlewares: list[Any] = []
    if (provider := tracing.provider()) is not None:
        middlewares.append(tracing.broker_middleware(provider))
    if settings().metrics_enabled:
        middlewares.append(metrics.broker_middleware(_service))
    return middlewares
