"""Settings: command-line flags override NIMBUS_* environment variables, which override defaults."""

from __future__ import annotations

import socket
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path.home() / ".nimbus"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NIMBUS_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=4566, ge=0, le=65535)
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None  # default: SQLite (WAL) in the data dir
    region: str = "us-east-1"
    log_level: str = "info"
    # EMR: an existing Spark master (spark://host:port, or a Kubernetes API server k8s://https://...)
    # that new clusters' steps go to, instead of a master and workers started on this machine
    spark_master: str | None = Field(default=None, pattern=r"^(spark|k8s)://.+")
    # stored-video analysis looks at this many frames per second (shot detection looks at every frame)
    video_sample_fps: float = Field(default=1.0, gt=0, le=30)
    # Rekognition stream processors analyse this many frames per second of live video
    stream_sample_fps: float = Field(default=2.0, gt=0, le=30)
    # S3 lifecycle rules are applied by a sweep this often (and at once by POST /_nimbus/s3/lifecycle-sweep)
    s3_lifecycle_interval: float = Field(default=3600.0, gt=0)
    # with several nodes on one database, a node that dies gives up its background work (jobs, sweeps)
    # this long after its last heartbeat (docs/deployment.md); heartbeats come every third of it
    lease_seconds: float = Field(default=30.0, gt=0)
    # with several nodes: the base URL other nodes reach this one at (they forward it the invocations of
    # the endpoints it serves); default: where it listens (this host's name when listening on 0.0.0.0)
    advertised_url: str | None = Field(default=None, pattern=r"^https?://[^/]+$")

    # CloudWatch alarm periods, their evaluation and Application Auto Scaling cooldowns run this many
    # times faster than on AWS (60: an alarm's 60-second period lasts one second), for tests and demos
    alarm_time_scale: float = Field(default=1.0, ge=1.0, le=3600.0)

    # "enforce": IAM policies decide every request; "log-only": denials are logged, not enforced
    # (for moving an existing Nimbus to IAM: run a while, read the log, write the policies)
    authorization: str = Field(default="enforce", pattern=r"^(enforce|log-only)$")

    # Lex channels reply through these platform APIs (a channel's own --api-url overrides them)
    lex_slack_api_url: str = Field(default="https://slack.com/api", pattern=r"^https?://.+")
    lex_messenger_api_url: str = Field(default="https://graph.facebook.com/v21.0", pattern=r"^https?://.+")

    tls: bool = False  # serve HTTPS (`nimbus serve --tls`)
    # the container registry (OCI distribution API, ECR's images) listens on a port of its own, so no
    # path of it can collide with S3's; default: the next port after `port`
    registry_port: int | None = Field(default=None, ge=0, le=65535)
    # SageMaker runs images with this container runtime (a path or name; default: podman, else docker)
    container_runtime: str | None = None
    # registries besides Nimbus's own that SageMaker may pull images from (host[:port], comma-separated;
    # credentials from the runtime's own `podman login`)
    container_registries: str = ""
    # the package index script mode installs a requirements.txt from (default: pip's own configuration)
    pip_index_url: str | None = None
    # a JSON file whose instance types replace or extend the shipped table (prices of your region...)
    instance_types: Path | None = None

    @property
    def endpoint_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def node_url(self) -> str:
        """Where other nodes reach this one."""
        if self.advertised_url:
            return self.advertised_url
        host = socket.gethostname() if self.host in ("0.0.0.0", "::", "") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    @property
    def resolved_registry_port(self) -> int:
        if self.registry_port is not None:
            return self.registry_port
        return self.port + 1 if self.port else 0

    @property
    def registry_address(self) -> str:
        """``host:port`` of the registry, as ``docker login`` and image URIs name it."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"{host}:{self.resolved_registry_port}"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'nimbus.db'}"
