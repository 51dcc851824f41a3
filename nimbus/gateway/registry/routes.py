"""Which registry call a path and method are, and the ECR action that authorizes it (as ECR
authorizes ``docker push`` and ``pull``: ``ecr:PutImage``, ``ecr:BatchGetImage``...)."""

from __future__ import annotations

import re
from dataclasses import dataclass

NAME = r"(?P<name>[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*)"
_ROUTES = (
    ("base", re.compile(r"^/v2/?$")),
    ("catalog", re.compile(r"^/v2/_catalog$")),
    ("tags", re.compile(rf"^/v2/{NAME}/tags/list$")),
    ("manifest", re.compile(rf"^/v2/{NAME}/manifests/(?P<reference>[^/]+)$")),
    ("upload", re.compile(rf"^/v2/{NAME}/blobs/uploads/(?P<upload>[^/]*)$")),
    ("blob", re.compile(rf"^/v2/{NAME}/blobs/(?P<digest>[^/]+)$")),
)
# (route, method) -> the ECR operation whose IAM action it needs
ACTIONS = {
    ("catalog", "GET"): "DescribeRepositories",
    ("tags", "GET"): "ListImages",
    ("manifest", "GET"): "BatchGetImage",
    ("manifest", "HEAD"): "BatchGetImage",
    ("manifest", "PUT"): "PutImage",
    ("manifest", "DELETE"): "BatchDeleteImage",
    ("blob", "GET"): "GetDownloadUrlForLayer",
    ("blob", "HEAD"): "BatchCheckLayerAvailability",
    ("upload", "POST"): "InitiateLayerUpload",
    ("upload", "GET"): "UploadLayerPart",
    ("upload", "PATCH"): "UploadLayerPart",
    ("upload", "PUT"): "CompleteLayerUpload",
    ("upload", "DELETE"): "UploadLayerPart",
}


@dataclass(frozen=True)
class Route:
    kind: str  # base, catalog, tags, manifest, upload, blob
    name: str = ""  # the repository
    reference: str = ""  # a tag or digest (manifest), a digest (blob), an upload id (upload)


def match_route(path: str) -> Route | None:
    for kind, pattern in _ROUTES:
        found = pattern.match(path)
        if found is not None:
            groups = found.groupdict()
            reference = groups.get("reference") or groups.get("digest") or groups.get("upload") or ""
            return Route(kind, groups.get("name") or "", reference)
    return None
