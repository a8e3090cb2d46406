"""Settings read from the environment (pydantic-settings); built at start-up, never at import."""

from __future__ import annotations

import os
import socket

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """One settings object for every process; each reads only what it needs."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    redis_url: str = Field("redis://127.0.0.1:6379", validation_alias="REDIS_URL")
    mongodb_url: str = Field("mongodb://127.0.0.1:27017", validation_alias="MONGODB_URL")
    mongodb_db: str = Field("classifier", validation_alias="MONGODB_DB")
    # Prefix of every stream name, so several deployments (or tests) share one Redis.
    namespace: str = Field("clf", validation_alias="STREAM_NAMESPACE")
    public_url: str = Field("http://127.0.0.1:8000", validation_alias="PUBLIC_URL")

    stream_maxlen: int = Field(1_000_000, validation_alias="STREAM_MAXLEN")
    batch_size: int = Field(100, validation_alias="CONSUMER_BATCH_SIZE")
    reclaim_idle_ms: int = Field(30_000, validation_alias="RECLAIM_IDLE_MS")
    max_deliveries: int = Field(5, validation_alias="MAX_DELIVERIES")
    outcome_wait_s: float = Field(5.0, validation_alias="OUTCOME_WAIT_SECONDS")
    # The task browser's in-memory index of a task is rebuilt past this age (gateway.browse).
    browse_max_age_s: float = Field(300.0, validation_alias="BROWSE_INDEX_MAX_AGE_SECONDS")
    consumer_name: str = Field("", validation_alias="CONSUMER_NAME")
    # A gateway's import and export jobs: a job whose lease is not renewed within this (its
    # gateway died) is taken over by another gateway and run again (gateway/jobs.py).
    job_lease_s: float = Field(30.0, gt=0, validation_alias="JOB_LEASE_SECONDS")
    # Requests per token per minute, counted in Redis so the limit holds across replicas;
    # 0 turns the limit off. Generous by default: one busy annotator client is far below it.
    rate_limit_per_minute: int = Field(60_000, ge=0, validation_alias="RATE_LIMIT_PER_MINUTE")
    # Each process's Redis clients hold at most this many connections; past it a call waits
    # up to REDIS_POOL_WAIT_SECONDS for a free one, then fails (the gateway answers 503 with
    # Retry-After): overload slows requests down or sheds them, never fails them at once.
    redis_max_connections: int = Field(100, ge=1, validation_alias="REDIS_MAX_CONNECTIONS")
    redis_pool_wait_s: float = Field(2.0, gt=0, validation_alias="REDIS_POOL_WAIT_SECONDS")
    # How long a MongoDB call looks for a server before failing (the gateway answers 503):
    # a down MongoDB answers within this, not after pymongo's 30 s default.
    mongodb_selection_timeout_ms: int = Field(2000, ge=100,
                                              validation_alias="MONGODB_SELECTION_TIMEOUT_MS")
    # Single sign-on (OpenID Connect), off while OIDC_ISSUER is empty. OIDC_GROUP_ROLES maps
    # identity-provider groups (read from the OIDC_GROUPS_CLAIM claim) to project roles:
    # JSON {"group": [{"projectId": "...", "role": "annotator"}]} or "group=project:role,...".
    oidc_issuer: str = Field("", validation_alias="OIDC_ISSUER")
    oidc_client_id: str = Field("", validation_alias="OIDC_CLIENT_ID")
    oidc_client_secret: str = Field("", validation_alias="OIDC_CLIENT_SECRET")
    oidc_scopes: str = Field("openid email profile", validation_alias="OIDC_SCOPES")
    oidc_groups_claim: str = Field("", validation_alias="OIDC_GROUPS_CLAIM")
    oidc_group_roles: str = Field("", validation_alias="OIDC_GROUP_ROLES")

    # Accounts (gateway.sessions, gateway.accounts): browser sessions end after
    # SESSION_IDLE_MINUTES without a request and SESSION_MAX_HOURS after sign-in; one-time
    # links (invitations, password resets, sign-in links) expire after their TTL.
    session_idle_minutes: int = Field(120, ge=1, validation_alias="SESSION_IDLE_MINUTES")
    session_max_hours: int = Field(12, ge=1, le=24 * 30, validation_alias="SESSION_MAX_HOURS")
    # Signs the CSRF tokens; when empty, the replicas agree on a random one kept in Redis.
    session_secret: str = Field("", validation_alias="SESSION_SECRET")
    invitation_ttl_hours: int = Field(72, ge=1, validation_alias="INVITATION_TTL_HOURS")
    reset_ttl_hours: int = Field(2, ge=1, validation_alias="RESET_TTL_HOURS")
    # Failed sign-ins allowed per account, and per client address (higher: many people may
    # share one address), within SIGNIN_WINDOW_SECONDS; then 429 until the window ends.
    signin_attempts: int = Field(5, ge=1, validation_alias="SIGNIN_ATTEMPTS")
    signin_address_attempts: int = Field(50, ge=1, validation_alias="SIGNIN_ADDRESS_ATTEMPTS")
    signin_window_s: int = Field(900, ge=1, validation_alias="SIGNIN_WINDOW_SECONDS")
    min_password_length: int = Field(10, ge=8, validation_alias="MIN_PASSWORD_LENGTH")
    # Created at the gateway's start when set (compose / k8s), with a one-time sign-in link logged.
    first_owner_email: str = Field("", validation_alias="FIRST_OWNER_EMAIL")
    # Links are also mailed when SMTP_HOST is set; otherwise they are only shown to the owner.
    smtp_host: str = Field("", validation_alias="SMTP_HOST")
    smtp_port: int = Field(587, validation_alias="SMTP_PORT")
    smtp_user: str = Field("", validation_alias="SMTP_USER")
    smtp_password: str = Field("", validation_alias="SMTP_PASSWORD")
    smtp_from: str = Field("", validation_alias="SMTP_FROM")

    def consumer(self, service: str) -> str:
        """A consumer name unique to this process (stack.md 1.11)."""
        return self.consumer_name or f"{service}-{socket.gethostname()}-{os.getpid()}"
