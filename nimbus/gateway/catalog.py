"""The services Nimbus serves, and which of them a request's signing name and path address."""

from __future__ import annotations

from functools import cached_property

from nimbus.errors import AwsError
from nimbus.protocol.http import HttpRequest
from nimbus.protocol.router import match_operation
from nimbus.services.application_autoscaling import application_autoscaling
from nimbus.services.ecr import ecr
from nimbus.services.emr import emr
from nimbus.services.iam import iam
from nimbus.services.kinesis import kinesis
from nimbus.services.kinesisvideo import kinesisvideo
from nimbus.services.kinesisvideo_archived import kinesis_video_archived_media
from nimbus.services.kinesisvideo_media import kinesis_video_media
from nimbus.services.lexv2_models import lexv2_models
from nimbus.services.lexv2_runtime import lexv2_runtime
from nimbus.services.logs import logs
from nimbus.services.monitoring import cloudwatch, cloudwatch_query
from nimbus.services.registry import Service
from nimbus.services.rekognition import rekognition
from nimbus.services.s3 import s3
from nimbus.services.sagemaker import sagemaker
from nimbus.services.sagemaker_runtime import sagemaker_runtime
from nimbus.services.sns import sns
from nimbus.services.sqs import sqs, sqs_query
from nimbus.services.sts import sts


class Catalog:
    def __init__(self, services: list[Service]) -> None:
        self.services = {service.name: service for service in services}

    @cached_property
    def by_signing_name(self) -> dict[str, list[Service]]:
        found: dict[str, list[Service]] = {}
        for service in self.services.values():
            found.setdefault(service.model.signing_name, []).append(service)
        return found

    @cached_property
    def by_target_prefix(self) -> dict[str, Service]:
        return {
            service.model.metadata["targetPrefix"]: service
            for service in self.services.values()
            if "targetPrefix" in service.model.metadata
        }

    def unsigned_action(self, request: HttpRequest) -> Service | None:
        """The query-protocol service whose unsigned operation the URL names (a link SNS sent)."""
        action = request.query_value("Action")
        for service in self.services.values():
            if action in service.unsigned_operations and service.model.protocol == "query":
                return service
        return None

    def resolve(self, signing_name: str | None, request: HttpRequest) -> Service:
        """Picks the service: by X-Amz-Target for json services, else by signing name and path."""
        target = request.headers.get("x-amz-target")
        if target:
            service = self.by_target_prefix.get(target.rsplit(".", 1)[0])
            if service is None:
                raise AwsError("UnknownOperationException", f"Nimbus serves no operation {target}.")
            return service
        if signing_name is None:
            anonymous = self.unsigned_action(request)
            if anonymous is not None:
                return anonymous
        candidates = [
            service
            for service in self.by_signing_name.get(signing_name or _unsigned_service(request), [])
            if service.model.protocol != "json"
        ]
        if not candidates:
            served = ", ".join(sorted(self.services))
            raise AwsError(
                "UnrecognizedServiceException",
                f"Nimbus does not serve '{signing_name}'; it serves {served}.",
                400,
            )
        if len(candidates) > 1:
            # Services sharing a signing name (lexv2 models/runtime) are told apart by their paths.
            for service in candidates:
                if service.model.protocol.startswith("rest") and match_operation(service.model, request):
                    return service
        return candidates[0]


def _unsigned_service(request: HttpRequest) -> str:
    """Whose error format answers an unsigned request: a form POST to "/" is a query-protocol call
    (STS, IAM), anything else is taken as S3 (browsers, curl, presigned URLs gone wrong)."""
    form = request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    return "sts" if form and request.method == "POST" and request.path in ("", "/") else "s3"


def default_catalog() -> Catalog:
    return Catalog(
        [
            application_autoscaling,
            ecr,
            emr,
            iam,
            kinesis,
            kinesisvideo,
            kinesis_video_archived_media,
            kinesis_video_media,
            lexv2_models,
            lexv2_runtime,
            logs,
            cloudwatch,
            cloudwatch_query,
            rekognition,
            s3,
            sagemaker,
            sagemaker_runtime,
            sns,
            sqs,
            sqs_query,
            sts,
        ]
    )
