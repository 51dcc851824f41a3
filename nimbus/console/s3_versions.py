"""The S3 versions view: every version and delete marker under a prefix (100 a page), each
version's download (a presigned URL made when the link is followed), and deleting one version for
good (DeleteObject with its VersionId)."""

from __future__ import annotations

from typing import Any

from starlette.responses import RedirectResponse, Response

from nimbus.console.web import ConsoleRequest, Done, Page, get, post, secured, url

PAGE_SIZE = 100
DOWNLOAD_EXPIRY = 300  # seconds: the link is followed at once


def versions(ctx: ConsoleRequest) -> Page:
    bucket, prefix = ctx.path("bucket"), ctx.query("prefix")
    s3 = ctx.client("s3")
    parameters: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": PAGE_SIZE}
    if ctx.query("key_marker"):
        parameters["KeyMarker"] = ctx.query("key_marker")
        parameters["VersionIdMarker"] = ctx.query("version_marker")
    listed = s3.list_object_versions(**parameters)
    rows = [{**version, "Marker": False} for version in listed.get("Versions", [])]
    rows += [{**marker, "Marker": True} for marker in listed.get("DeleteMarkers", [])]
    rows.sort(key=lambda row: (row["Key"], not row["IsLatest"], -row["LastModified"].timestamp()))
    following = None
    if listed.get("IsTruncated"):
        following = ctx.with_query(
            key_marker=listed["NextKeyMarker"], version_marker=listed.get("NextVersionIdMarker", "")
        )
    versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status", "")
    data = {"bucket": bucket, "prefix": prefix, "versions": rows, "versioning": versioning, "next": following}
    return Page("s3_versions.html", data, title=f"Versions in {bucket}/{prefix}")


def download_version(ctx: ConsoleRequest) -> Response:
    """To a presigned URL of one version: signed when asked for, not 100 times for every page."""
    bucket = ctx.path("bucket")
    target = ctx.client("s3").generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": ctx.query("key"), "VersionId": ctx.query("version")},
        ExpiresIn=DOWNLOAD_EXPIRY,
    )
    return secured(RedirectResponse(target, 303))


def delete_version(ctx: ConsoleRequest) -> Done:
    bucket, key, version = ctx.path("bucket"), ctx.field("key"), ctx.field("version")
    ctx.client("s3").delete_object(Bucket=bucket, Key=key, VersionId=version)
    return Done(
        url(f"/s3/{bucket}/versions", prefix=ctx.field("prefix")), f"Deleted version {version} of {key}."
    )


ROUTES = [
    get("/s3/{bucket}/versions", versions),
    get("/s3/{bucket}/versions/download", download_version),
    post("/s3/{bucket}/versions/delete", delete_version),
]
