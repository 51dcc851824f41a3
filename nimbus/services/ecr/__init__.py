"""Amazon ECR: a container registry. Repositories and images through ECR's API (boto3 ``ecr``,
``aws ecr``), and the OCI distribution API on the registry's own port (gateway/registry) so that
``docker``/``podman`` login, push and pull and ``skopeo copy`` work against it unchanged. Blobs are
content-addressed files under ``<data dir>/ecr``, verified by digest before anyone sees them."""

from __future__ import annotations

from nimbus.services.registry import Service

ecr = Service("ecr", validation_error="InvalidParameterException")

# the operation modules register themselves on import
from nimbus.services.ecr import images, layers, login, policies, repositories  # noqa: E402, F401
