"""Settings: command-line flags override NIMBUS_* environment variables, which override defaults."""

from __future__ import annotations

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

    @property
    def endpoint_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'nimbus.db'}"
