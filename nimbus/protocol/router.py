"""Finds the operation a REST request (rest-json, rest-xml) addresses, from botocore's request URIs.

Several operations can share a method and path (S3's PutObject, UploadPart, CopyObject and
UploadPartCopy are all ``PUT /{Bucket}/{Key+}``); they differ by the query keys and headers
they require, so the best match is the one whose requirements the request meets most closely.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from urllib.parse import parse_qsl, unquote

from botocore.model import OperationModel, ServiceModel

from nimbus.protocol.http import HttpRequest

_LABEL = re.compile(r"\{([^}]+?)(\+?)\}")


@dataclass(frozen=True)
class _Route:
    operation: OperationModel
    method: str
    pattern: re.Pattern[str]
    literal_query: tuple[tuple[str, str], ...]
    literal_length: int
    required_headers: tuple[str, ...]
    required_query: tuple[str, ...]


@dataclass(frozen=True)
class RouteMatch:
    operation: OperationModel
    labels: dict[str, str]


def match_operation(service: ServiceModel, request: HttpRequest) -> RouteMatch | None:
    best: tuple[tuple[int, ...], RouteMatch] | None = None
    path = request.path if request.path != "" else "/"
    for route in _routes(service).get(request.method, ()):
        found = route.pattern.fullmatch(path)
        if found is None or not all(
            key in request.query and (not value or request.query_value(key) == value)
            for key, value in route.literal_query
        ):
            continue
        present = sum(name in request.headers for name in route.required_headers) + sum(
            name in request.query for name in route.required_query
        )
        missing = len(route.required_headers) + len(route.required_query) - present
        # a deprecated operation (PutBucketLifecycle) yields to its successor on the same route
        score = (
            len(route.literal_query),
            present,
            -missing,
            route.literal_length,
            not route.operation.deprecated,
        )
        if best is None or score > best[0]:
            labels = {name: unquote(value) for name, value in found.groupdict().items()}
            best = (score, RouteMatch(route.operation, labels))
    return best[1] if best else None


@cache
def _routes(service: ServiceModel) -> dict[str, tuple[_Route, ...]]:
    routes: dict[str, list[_Route]] = {}
    for name in service.operation_names:
        operation = service.operation_model(name)
        routes.setdefault(operation.http["method"], []).append(_route(operation))
    return {method: tuple(items) for method, items in routes.items()}


def _route(operation: OperationModel) -> _Route:
    uri = operation.http["requestUri"]
    path, _, query = uri.partition("?")
    pattern = ""
    position = 0
    literal_length = 0
    for label in _LABEL.finditer(path):
        literal = path[position : label.start()]
        literal_length += len(literal)
        pattern += re.escape(literal)
        group = label.group(1)  # botocore's label names are identifiers
        pattern += f"(?P<{group}>.+)" if label.group(2) else f"(?P<{group}>[^/]+)"
        position = label.end()
    tail = path[position:]
    literal_length += len(tail)
    pattern += re.escape(tail.rstrip("/")) + "/?"  # clients differ on trailing slashes
    required_headers: list[str] = []
    required_query: list[str] = []
    shape = operation.input_shape
    if shape is not None:
        for member_name in shape.required_members:
            member = shape.members[member_name]
            location = member.serialization.get("location")
            if location == "header":
                required_headers.append(member.serialization["name"])
            elif location == "querystring":
                required_query.append(member.serialization["name"])
    return _Route(
        operation=operation,
        method=operation.http["method"],
        pattern=re.compile(pattern),
        literal_query=tuple(parse_qsl(query, keep_blank_values=True)),
        literal_length=literal_length,
        required_headers=tuple(required_headers),
        required_query=tuple(required_query),
    )
