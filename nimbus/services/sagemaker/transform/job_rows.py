"""Transform job rows: finding them and moving a job along InProgress -> Completed / Failed, or
InProgress -> Stopping -> Stopped."""

from __future__ import annotations

from nimbus.services.sagemaker.job_table import JobKey, JobTable
from nimbus.storage.transform_schema import TransformJobRecord

TRANSFORM_JOBS = JobTable(TransformJobRecord.__table__, "transform-job", "transform_end")
JOBS = TRANSFORM_JOBS.table
job_arn = TRANSFORM_JOBS.arn
find_job = TRANSFORM_JOBS.find
move = TRANSFORM_JOBS.move
fail_interrupted_jobs = TRANSFORM_JOBS.fail_interrupted

__all__ = ["JOBS", "JobKey", "fail_interrupted_jobs", "find_job", "job_arn", "move"]
