"""What a step or a bootstrap action runs: a ``command-runner.jar`` step's command (``spark-submit``
or any other), or a script from S3 (a bootstrap action's, a ``script-runner.jar`` step's) copied into
the folder it runs from, executable (the script names its interpreter, ``#!/bin/bash`` for example)."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from nimbus.services.registry import RequestContext
from nimbus.services.s3.records import find_object


def is_spark_submit(arguments: list[str]) -> bool:
    return bool(arguments) and arguments[0].rsplit("/", 1)[-1] == "spark-submit"


def is_script_runner(jar: str) -> bool:
    """EMR's script runner is ``s3://<region>.elasticmapreduce/libs/script-runner/script-runner.jar``."""
    return jar.rsplit("/", 1)[-1] == "script-runner.jar"


def is_command_runner(jar: str) -> bool:
    return jar.rsplit("/", 1)[-1] == "command-runner.jar"


def fetch_script(ctx: RequestContext, uri: str, folder: Path) -> Path:
    """Copies the object at ``uri`` (``s3://`` or ``s3n://``) into ``folder``; AwsError (NoSuchBucket,
    NoSuchKey) if it does not exist."""
    bucket, _, key = uri.split("://", 1)[1].partition("/")
    find_object(ctx, bucket, key)
    target = folder / (key.rsplit("/", 1)[-1] or "script")
    with ctx.storage.objects.open_object(bucket, key) as source, open(target, "wb") as copy:
        shutil.copyfileobj(source, copy)
    os.chmod(target, os.stat(target).st_mode | stat.S_IXUSR)
    return target
