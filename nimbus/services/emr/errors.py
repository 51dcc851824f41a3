"""EMR's errors, with the codes AWS answers with: Describe/List operations say InvalidRequestException,
the older job-flow operations (RunJobFlow, AddJobFlowSteps, ...) ValidationException."""

from __future__ import annotations

from nimbus.errors import AwsError


def validation_error(message: str) -> AwsError:
    return AwsError("ValidationException", message, 400)


def invalid_request(message: str) -> AwsError:
    return AwsError("InvalidRequestException", message, 400)


def unknown_cluster(cluster_id: str) -> AwsError:
    return invalid_request(f"Cluster id '{cluster_id}' is not valid.")


def unknown_job_flow(cluster_id: str) -> AwsError:
    return validation_error(f"Specified job flow ID does not exist: {cluster_id}")


def cluster_ended() -> AwsError:
    return validation_error("A job flow that is shutting down, terminated, or finished may not be modified.")
