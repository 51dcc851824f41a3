"""The OCI distribution API (Docker Registry HTTP API v2) on the registry's port: what ``docker
push``/``pull``, ``podman`` and ``skopeo`` speak. Blob uploads monolithic (POST or PUT with the
digest) and chunked (PATCH...), cross-repository mounts, manifests and image indexes by tag and
digest, the catalog, tag lists and deletes. Every call is authenticated by the ECR token's password
and authorized as ECR's matching action; what it stores is ECR's (nimbus/services/ecr)."""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.types import Receive

from nimbus.errors import AwsError
from nimbus.gateway.authz.step import Authorizer
from nimbus.gateway.body import ThreadBodyStream
from nimbus.gateway.registry.errors import API_VERSION, RegistryError, error_response, from_aws
from nimbus.gateway.registry.login import authorize, caller
from nimbus.gateway.registry.routes import ACTIONS, Route, match_route
from nimbus.protocol.http import HttpRequest, HttpResponse
from nimbus.services.ecr.image_records import (
    blob_size,
    cancel_upload,
    check_upload,
    delete_image,
    finish_upload,
    is_digest,
    link_blob,
    read_manifest,
    repository_names,
    resolve,
    start_upload,
    store_manifest,
    tag_names,
    untag,
)
from nimbus.services.ecr.lifecycle import apply_lifecycle_policy
from nimbus.services.ecr.login import RegistryGrant
from nimbus.services.ecr.manifests import MAX_MANIFEST_BYTES
from nimbus.services.ecr.records import RepositoryKey, blobs, find_repository
from nimbus.services.iam.identities import Identity
from nimbus.services.registry import Service
from nimbus.storage import Storage
from nimbus.storage.image_blobs import InvalidDigest, OffsetMismatch, UploadUnknown, check_digest

UNREAD_BODY_DRAIN_LIMIT = 16 * 1024 * 1024
DEFAULT_PAGE = 1000
_RANGE = re.compile(r"^(?:bytes=)?(\d+)-(\d*)$")


@dataclass
class Call:
    """One registry request, its caller and the repository it names."""

    request: HttpRequest
    route: Route
    storage: Storage
    grant: RegistryGrant
    identity: Identity
    authorizer: Authorizer
    ecr: Service
    body: ThreadBodyStream | None

    @property
    def key(self) -> RepositoryKey:
        return RepositoryKey(self.grant.account_id, self.grant.region, self.route.name)

    def read_body(self, limit: int) -> bytes:
        data = self.body.read(limit + 1) if self.body is not None else b""
        if len(data) > limit:
            raise RegistryError("SIZE_INVALID", f"the body is larger than {limit} bytes")
        return data


async def registry_request(
    request: HttpRequest, receive: Receive, storage: Storage, authorizer: Authorizer, ecr: Service
) -> HttpResponse:
    body = ThreadBodyStream(receive) if request.method in ("POST", "PUT", "PATCH") else None
    try:
        response = await _answer(request, body, storage, authorizer, ecr)
    except RegistryError as error:
        response = error_response(error)
    except AwsError as error:
        response = error_response(from_aws(error))
    if body is not None and not await body.drain(UNREAD_BODY_DRAIN_LIMIT):
        response.headers["Connection"] = "close"
    response.headers.update(API_VERSION)
    return response


async def _answer(
    request: HttpRequest,
    body: ThreadBodyStream | None,
    storage: Storage,
    authorizer: Authorizer,
    ecr: Service,
) -> HttpResponse:
    route = match_route(request.path)
    if route is None:
        raise RegistryError("NAME_INVALID", f"{request.path} is not a path of the registry API")
    grant, identity = await anyio.to_thread.run_sync(caller, request, storage, authorizer)
    if route.kind == "base":
        return _json({})
    operation = ACTIONS.get((route.kind, request.method))
    handler = _HANDLERS.get((route.kind, request.method))
    if operation is None or handler is None:
        raise RegistryError("UNSUPPORTED", f"{request.method} is not supported on {request.path}")
    call = Call(request, route, storage, grant, identity, authorizer, ecr, body)

    def run() -> HttpResponse:
        authorize(authorizer, ecr, operation, route.name, request, grant, identity)
        try:
            return handler(call)
        except AwsError as error:
            raise from_aws(error) from None

    return await anyio.to_thread.run_sync(run)


def _json(document: Any, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    data = json.dumps(document).encode()
    return HttpResponse(status, {"Content-Type": "application/json", **(headers or {})}, data)


def _empty(status: int, headers: dict[str, str]) -> HttpResponse:
    return HttpResponse(status, {"Content-Length": "0", **headers}, b"")


# ---- listing ------------------------------------------------------------------------------------


def _page(call: Call, names: list[str], path: str) -> tuple[list[str], dict[str, str]]:
    """One page by ``n`` and ``last``, and the Link header to the next."""
    n_text, last = call.request.query_value("n"), call.request.query_value("last")
    size = int(n_text) if n_text and n_text.isdigit() else DEFAULT_PAGE
    start = bisect.bisect_right(names, last) if last else 0  # the names are sorted
    chosen = names[start : start + size]
    more = start + size < len(names) and chosen
    return chosen, ({"Link": f'<{path}?n={size}&last={chosen[-1]}>; rel="next"'} if more else {})


def catalog(call: Call) -> HttpResponse:
    names = repository_names(call.storage, call.grant.account_id, call.grant.region)
    chosen, link = _page(call, names, "/v2/_catalog")
    return _json({"repositories": chosen}, headers=link)


def tags(call: Call) -> HttpResponse:
    chosen, link = _page(call, tag_names(call.storage, call.key), f"/v2/{call.route.name}/tags/list")
    return _json({"name": call.route.name, "tags": chosen}, headers=link)


# ---- manifests ----------------------------------------------------------------------------------


def get_manifest(call: Call) -> HttpResponse:
    digest, media_type, data = read_manifest(call.storage, call.key, call.route.reference)
    headers = {
        "Content-Type": media_type,
        "Docker-Content-Digest": digest,
        "ETag": f'"{digest}"',
        "Content-Length": str(len(data)),
    }
    return HttpResponse(200, headers, b"" if call.request.method == "HEAD" else data)


def put_manifest(call: Call) -> HttpResponse:
    data = call.read_body(MAX_MANIFEST_BYTES)
    reference = call.route.reference
    tag, expected = (None, reference) if is_digest(reference) else (reference, None)
    declared = call.request.headers.get("content-type")
    digest, manifest = store_manifest(call.storage, call.key, data, declared, tag=tag, digest=expected)
    apply_lifecycle_policy(call.storage, call.key)
    headers = {"Location": f"/v2/{call.route.name}/manifests/{digest}", "Docker-Content-Digest": digest}
    return _empty(201, headers | ({"OCI-Subject": manifest.subject} if manifest.subject else {}))


def delete_manifest(call: Call) -> HttpResponse:
    """By digest: the image and its tags; by tag: the tag only."""
    key = call.key
    with call.storage.database.locked(f"ecr:{key.arn}") as connection:
        find_repository(connection, key)
        digest = resolve(connection, key, call.route.reference)
        if digest is None:
            raise RegistryError("MANIFEST_UNKNOWN", f"{call.route.reference} is not in {key.name}")
        if is_digest(call.route.reference):
            delete_image(connection, key, digest, call.storage)
        else:
            untag(connection, key, call.route.reference)
    return _empty(202, {})


# ---- blobs --------------------------------------------------------------------------------------


def _blob_size(call: Call, digest: str) -> int:
    try:
        check_digest(digest)
    except InvalidDigest:
        raise RegistryError("DIGEST_INVALID", f"invalid digest {digest!r}") from None
    size = blob_size(call.storage, call.key, digest)
    if size is None:
        with call.storage.database.engine.connect() as connection:
            find_repository(connection, call.key)
        raise RegistryError("BLOB_UNKNOWN", f"blob {digest} is not in {call.route.name}")
    return size


def get_blob(call: Call) -> HttpResponse:
    digest = call.route.reference
    size = _blob_size(call, digest)
    headers = {
        "Content-Type": "application/octet-stream",
        "Docker-Content-Digest": digest,
        "ETag": f'"{digest}"',
        "Accept-Ranges": "bytes",
    }
    if call.request.method == "HEAD":
        return HttpResponse(200, headers | {"Content-Length": str(size)}, b"")
    start, end = 0, size
    wanted = _RANGE.match(call.request.headers.get("range") or "")
    if wanted is not None:
        start, end = int(wanted[1]), min(size, int(wanted[2]) + 1 if wanted[2] else size)
        if start >= end:
            raise RegistryError(
                "RANGE_INVALID",
                f"bytes {start}- is beyond the blob's {size} bytes",
                {"Content-Range": f"bytes */{size}"},
            )
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    return HttpResponse(206 if wanted else 200, headers, blobs(call.storage).chunks(digest, start, end))


# ---- uploads ------------------------------------------------------------------------------------


def _upload_headers(call: Call, upload_id: str, size: int) -> dict[str, str]:
    return {
        "Location": f"/v2/{call.route.name}/blobs/uploads/{upload_id}",
        "Docker-Upload-UUID": upload_id,
        "Range": f"0-{max(size - 1, 0)}",
    }


def _created(call: Call, digest: str) -> HttpResponse:
    return _empty(201, {"Location": f"/v2/{call.route.name}/blobs/{digest}", "Docker-Content-Digest": digest})


def start_blob_upload(call: Call) -> HttpResponse:
    """A mount from another repository (``mount`` and ``from``) when the caller may read the blob
    there; a monolithic upload (``digest`` and the body); else a new upload session."""
    mounted = call.request.query_value("mount")
    source = call.request.query_value("from")
    if mounted and source and _mount(call, mounted, source):
        return _created(call, mounted)
    upload_id = start_upload(call.storage, call.key)
    digest = call.request.query_value("digest")
    if digest is None:
        return _empty(202, _upload_headers(call, upload_id, 0))
    _append(call, upload_id)
    return _finish(call, upload_id, digest)


def _mount(call: Call, digest: str, source: str) -> bool:
    source_key = RepositoryKey(call.key.account_id, call.key.region, source)
    try:
        check_digest(digest)
        authorize(
            call.authorizer,
            call.ecr,
            "GetDownloadUrlForLayer",
            source,
            call.request,
            call.grant,
            call.identity,
        )
    except (InvalidDigest, RegistryError):
        return False  # not readable there: the client uploads the blob instead, as the spec has it
    size = blob_size(call.storage, source_key, digest)
    if size is None:
        return False
    link_blob(call.storage, call.key, digest, size)
    return True


def _append(call: Call, upload_id: str, offset: int | None = None) -> int:
    if call.body is None:
        return blobs(call.storage).upload_size(upload_id)
    try:
        return blobs(call.storage).append(upload_id, call.body, offset)
    except OffsetMismatch as error:
        raise RegistryError(
            "RANGE_INVALID",
            f"the chunk starts at byte {offset}, but the upload holds {error.size} bytes",
            _upload_headers(call, upload_id, error.size),
        ) from None
    except UploadUnknown:
        raise RegistryError("BLOB_UPLOAD_UNKNOWN", f"upload {upload_id} is not under way") from None


def _finish(call: Call, upload_id: str, digest: str) -> HttpResponse:
    try:
        finish_upload(call.storage, call.key, upload_id, digest)
    except AwsError as error:
        raise from_aws(error, "DIGEST_INVALID") from None
    return _created(call, digest)


def upload_status(call: Call) -> HttpResponse:
    upload_id = call.route.reference
    check_upload(call.storage, call.key, upload_id)
    return _empty(204, _upload_headers(call, upload_id, blobs(call.storage).upload_size(upload_id)))


def patch_upload(call: Call) -> HttpResponse:
    upload_id = call.route.reference
    check_upload(call.storage, call.key, upload_id)
    content_range = _RANGE.match(call.request.headers.get("content-range") or "")
    size = _append(call, upload_id, int(content_range[1]) if content_range else None)
    return _empty(202, _upload_headers(call, upload_id, size))


def complete_upload(call: Call) -> HttpResponse:
    upload_id = call.route.reference
    digest = call.request.query_value("digest")
    if not digest:
        raise RegistryError("DIGEST_INVALID", "completing an upload needs ?digest=")
    check_upload(call.storage, call.key, upload_id)
    _append(call, upload_id)
    return _finish(call, upload_id, digest)


def cancel_blob_upload(call: Call) -> HttpResponse:
    cancel_upload(call.storage, call.key, call.route.reference)
    return _empty(204, {})


_HANDLERS: dict[tuple[str, str], Callable[[Call], HttpResponse]] = {
    ("catalog", "GET"): catalog,
    ("tags", "GET"): tags,
    ("manifest", "GET"): get_manifest,
    ("manifest", "HEAD"): get_manifest,
    ("manifest", "PUT"): put_manifest,
    ("manifest", "DELETE"): delete_manifest,
    ("blob", "GET"): get_blob,
    ("blob", "HEAD"): get_blob,
    ("upload", "POST"): start_blob_upload,
    ("upload", "GET"): upload_status,
    ("upload", "PATCH"): patch_upload,
    ("upload", "PUT"): complete_upload,
    ("upload", "DELETE"): cancel_blob_upload,
}
