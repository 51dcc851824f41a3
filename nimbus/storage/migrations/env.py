"""Alembic environment: runs on the connection Database.open hands over, or on sqlalchemy.url."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from nimbus.storage import (  # noqa: F401 (their tables join Base.metadata)
    ecr_schema,
    emr_schema,
    iam_schema,
    labeling_schema,
    lease_schema,
    lex_channels_schema,
    lex_runtime_schema,
    lex_schema,
    lex_workbench_schema,
    messaging_schema,
    monitoring_schema,
    notebook_schema,
    processing_schema,
    recommendation_schema,
    rekognition_jobs_schema,
    s3_access_schema,
    sagemaker_hosting_schema,
    streams_schema,
    transform_schema,
    tuning_schema,
    vision_schema,
)
from nimbus.storage.schema import Base

config = context.config


def run_on(connection: object) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    # the `alembic` command line (writing a new revision): connect with the configured URL
    with create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://").connect() as fresh:
        run_on(fresh)
        fresh.commit()


run_migrations()
