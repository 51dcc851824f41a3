"""EMR's errors, with the codes AWS answers with: Describe/List operations say InvalidRequestException,
the older job-flow operations (RunJobFlow, AddJobFlowSteps, ...) ValidationException."""

from __future__ import annotations

from collections.abc import Callable

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


def wrong_collection(
    operation: str, instead: str, fleets: bool, error: Callable[[str], AwsError]
) -> AwsError:
    """EMR's answer to an instance group operation on a fleet cluster (``fleets``), and the other
    way round."""
    uses = "fleets" if fleets else "groups"
    raised = error(
        f"Instance fleets and instance groups are mutually exclusive. The EMR cluster specified in the "
        f"request uses instance {uses}. The {operation} operation does not support clusters that use "
        f"instance {uses}. Use the {instead} operation instead."
    )
    if fleets:  # the ErrorCode EMR adds for fleet clusters; for group clusters it is not known
        raised.fields["ErrorCode"] = "API_DOES_NOT_SUPPORT_INSTANCE_FLEET_CLUSTERS"
    return raised
