"""S3 pages: buckets, the object browser (prefixes and pages), objects (preview, share link, tags),
uploads and bucket settings.

Uploads, downloads, previews of images and media, and share links are presigned URLs: the browser
talks to S3 itself, at the origin it is on, exactly as any S3 client would. Large files are sent in
parts (multipart upload), each part to its own presigned URL.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import posixpath
import shlex
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from nimbus.console.web import ConsoleRequest, Done, Page, get, post, url

PAGE_SIZE = 100
PREVIEW_BYTES = 64 * 1024
CSV_ROWS = 20
PART_SIZE = 8 * 1024 * 1024
SINGLE_PUT_LIMIT = 16 * 1024 * 1024  # larger files go in parts
MAX_PARTS = 10_000
SHARE_EXPIRIES = ((900, "15 minutes"), (3600, "1 hour"), (43200, "12 hours"), (604800, "7 days"))
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-ndjson", "application/yaml")
TEXT_EXTENSIONS = (".txt", ".md", ".json", ".jsonl", ".csv", ".tsv", ".log", ".py", ".yaml", ".yml", ".xml")


def buckets(ctx: ConsoleRequest) -> Page:
    found, following = ctx.one_page(
        ctx.client("s3").list_buckets, "Buckets", "ContinuationToken", MaxBuckets=PAGE_SIZE
    )
    data = {"buckets": found, "next": following}
    return Page("s3_buckets.html", data, title="S3 buckets")


def create_bucket(ctx: ConsoleRequest) -> Done:
    name = ctx.field("bucket").strip()
    ctx.client("s3").create_bucket(Bucket=name)
    return Done(url(f"/s3/{name}"), f"Bucket {name} created.", {"Bucket": name})


def delete_bucket(ctx: ConsoleRequest) -> Done:
    bucket = ctx.path("bucket")
    ctx.client("s3").delete_bucket(Bucket=bucket)
    return Done(url("/s3"), f"Bucket {bucket} deleted.")


def objects(ctx: ConsoleRequest) -> Page:
    bucket, prefix = ctx.path("bucket"), ctx.query("prefix")
    parameters: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/", "MaxKeys": PAGE_SIZE}
    if ctx.query("token"):
        parameters["ContinuationToken"] = ctx.query("token")
    listed = ctx.client("s3").list_objects_v2(**parameters)  # two lists a page: folders and keys
    token = listed.get("NextContinuationToken")
    data = {
        "bucket": bucket,
        "prefix": prefix,
        "crumbs": _crumbs(prefix),
        "folders": [item["Prefix"] for item in listed.get("CommonPrefixes", [])],
        "objects": listed.get("Contents", []),
        "next": ctx.with_query(token=token) if token else None,
        "first": url(f"/s3/{bucket}", prefix=prefix) if ctx.query("token") else None,
        "part_size": PART_SIZE,
        "single_put_limit": SINGLE_PUT_LIMIT,
    }
    return Page("s3_bucket.html", data, title=f"{bucket}/{prefix}")


def _crumbs(prefix: str) -> list[tuple[str, str]]:
    """(name, prefix) of each folder on the way to ``prefix``; empty segments (``a//b``) included."""
    crumbs, start = [], 0
    while (end := prefix.find("/", start)) != -1:
        crumbs.append((prefix[start : end + 1], prefix[: end + 1]))
        start = end + 1
    return crumbs


def upload(ctx: ConsoleRequest) -> Done:
    """The form's upload (without scripts): a PutObject of each chosen file."""
    bucket, prefix = ctx.path("bucket"), ctx.field("prefix")
    chosen = ctx.uploads("file")
    s3 = ctx.client("s3")
    for name, content_type, body in chosen:
        s3.put_object(
            Bucket=bucket, Key=prefix + name, Body=body, ContentType=content_type or "binary/octet-stream"
        )
    note = (
        f"Uploaded {len(chosen)} file(s) to {prefix or 'the bucket'}."
        if chosen
        else "Choose a file to upload."
    )
    return Done(url(f"/s3/{bucket}", prefix=prefix), note, {"Keys": [prefix + name for name, _, _ in chosen]})


def plan_upload(ctx: ConsoleRequest) -> Done:
    """For the page's script: a presigned PUT for a small file; for a large one, a multipart upload
    and a presigned URL for each of its parts."""
    bucket, key = ctx.path("bucket"), ctx.field("key")
    size = int(ctx.field("size") or 0)
    s3 = ctx.client("s3")
    if size <= SINGLE_PUT_LIMIT:
        put = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=3600)
        return Done(url(f"/s3/{bucket}"), data={"Url": put})
    parts = -(-size // PART_SIZE)
    if parts > MAX_PARTS:
        raise _invalid(
            "EntityTooLarge",
            f"{key} is too large: one upload takes at most {MAX_PARTS} parts of {PART_SIZE} bytes.",
        )
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    urls = [
        s3.generate_presigned_url(
            "upload_part",
            Params={"Bucket": bucket, "Key": key, "UploadId": upload_id, "PartNumber": number},
            ExpiresIn=3600,
        )
        for number in range(1, parts + 1)
    ]
    return Done(url(f"/s3/{bucket}"), data={"UploadId": upload_id, "PartSize": PART_SIZE, "PartUrls": urls})


def complete_upload(ctx: ConsoleRequest) -> Done:
    bucket, key = ctx.path("bucket"), ctx.field("key")
    etags = json.loads(ctx.field("etags") or "[]")
    ctx.client("s3").complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=ctx.field("upload_id"),
        MultipartUpload={"Parts": [{"PartNumber": n + 1, "ETag": etag} for n, etag in enumerate(etags)]},
    )
    return Done(url(f"/s3/{bucket}"), f"Uploaded {key}.", {"Key": key})


def abort_upload(ctx: ConsoleRequest) -> Done:
    bucket, key = ctx.path("bucket"), ctx.field("key")
    ctx.client("s3").abort_multipart_upload(Bucket=bucket, Key=key, UploadId=ctx.field("upload_id"))
    return Done(url(f"/s3/{bucket}"), f"Upload of {key} cancelled.")


def delete_objects(ctx: ConsoleRequest) -> Done:
    bucket, keys = ctx.path("bucket"), ctx.fields("key")
    if keys:
        answer = ctx.client("s3").delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True}
        )
        failed = answer.get("Errors", [])
        if failed:
            first = failed[0]
            return Done(ctx.field("back"), f"{len(failed)} not deleted: {first['Key']}: {first['Message']}")
    return Done(ctx.field("back") or url(f"/s3/{bucket}"), f"Deleted {len(keys)} object(s).")


def object_page(ctx: ConsoleRequest, share: dict[str, Any] | None = None) -> Page:
    bucket, key = ctx.path("bucket"), ctx.query("key") or ctx.field("key")
    s3 = ctx.client("s3")
    head = s3.head_object(Bucket=bucket, Key=key)
    head.pop("ResponseMetadata", None)
    tags = s3.get_object_tagging(Bucket=bucket, Key=key).get("TagSet", [])
    kind = _preview_kind(key, head.get("ContentType", ""))
    name = posixpath.basename(key) or key
    data = {
        "bucket": bucket,
        "key": key,
        "folder": key[: key.rfind("/") + 1],
        "head": head,
        "tags": tags,
        "kind": kind,
        "preview": _text_preview(ctx, bucket, key, kind),
        "view_url": _presign(ctx, bucket, key, 3600),
        "download_url": _presign(
            ctx, bucket, key, 3600, ResponseContentDisposition=f"attachment; filename*=UTF-8''{quote(name)}"
        ),
        "cli": f"aws s3 cp {shlex.quote(f's3://{bucket}/{key}')} {shlex.quote(name)}",
        "expiries": SHARE_EXPIRIES,
        "share": share,
        "session_expires": ctx.session.expires_at,
    }
    return Page("s3_object.html", data, title=key)


def _presign(ctx: ConsoleRequest, bucket: str, key: str, expires: int, **response: str) -> str:
    url_: str = ctx.client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key, **response}, ExpiresIn=expires
    )
    return url_


def _preview_kind(key: str, content_type: str) -> str:
    lower = key.lower()
    if content_type.startswith(("image/", "video/", "audio/")):
        return content_type.split("/", 1)[0]
    if content_type == "text/csv" or lower.endswith((".csv", ".tsv")):
        return "csv"
    if content_type == "application/json" or lower.endswith((".json", ".jsonl")):
        return "json"
    if content_type.startswith(TEXT_TYPES) or lower.endswith(TEXT_EXTENSIONS):
        return "text"
    if lower.endswith((".png", ".jpg", ".jpeg", ".gif", ".webp")):
        return "image"
    return ""


def _text_preview(ctx: ConsoleRequest, bucket: str, key: str, kind: str) -> dict[str, Any] | None:
    """The object's first 64 KB (a ranged GET), as text, pretty JSON, or a CSV's first rows."""
    if kind not in ("text", "json", "csv"):
        return None
    answer = ctx.client("s3").get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{PREVIEW_BYTES - 1}")
    body = answer["Body"].read()
    total = int(answer.get("ContentRange", "/0").rsplit("/", 1)[-1] or 0)
    text = body.decode("utf-8", errors="replace")
    preview: dict[str, Any] = {"text": text, "truncated": total > len(body)}
    if kind == "json" and not preview["truncated"]:
        with contextlib.suppress(ValueError):  # JSON Lines, or not JSON after all: shown as it is
            preview["text"] = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    if kind == "csv":
        dialect = "excel-tab" if key.lower().endswith(".tsv") else "excel"
        preview["rows"] = list(itertools.islice(csv.reader(io.StringIO(text), dialect), CSV_ROWS))
    return preview


def share(ctx: ConsoleRequest) -> Page:
    """A presigned GET link; signed with the session's temporary key, it also ends with the session."""
    bucket, key = ctx.path("bucket"), ctx.field("key")
    expires = int(ctx.field("expires") or 3600)
    if expires not in dict(SHARE_EXPIRIES):
        expires = 3600
    link = {"Url": _presign(ctx, bucket, key, expires), "ExpiresIn": expires}
    return object_page(ctx, link)


def put_tags(ctx: ConsoleRequest) -> Done:
    bucket, key = ctx.path("bucket"), ctx.field("key")
    tags = []
    for line in ctx.field("tags").splitlines():
        name, _, value = line.partition("=")
        if name.strip():
            tags.append({"Key": name.strip(), "Value": value.strip()})
    ctx.client("s3").put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": tags})
    return Done(url(f"/s3/{bucket}/object", key=key), "Tags saved.")


def delete_object(ctx: ConsoleRequest) -> Done:
    bucket, key = ctx.path("bucket"), ctx.field("key")
    ctx.client("s3").delete_object(Bucket=bucket, Key=key)
    return Done(url(f"/s3/{bucket}", prefix=key[: key.rfind("/") + 1]), f"Deleted {key}.")


def settings(ctx: ConsoleRequest) -> Page:
    bucket = ctx.path("bucket")
    s3 = ctx.client("s3")
    versioning = s3.get_bucket_versioning(Bucket=bucket).get("Status", "")
    data = {
        "bucket": bucket,
        "versioning": versioning,
        "cors": _optional(lambda: s3.get_bucket_cors(Bucket=bucket)["CORSRules"]),
        "lifecycle": _optional(lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]),
        "policy": _optional(lambda: json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])),
        "tags": _optional(lambda: s3.get_bucket_tagging(Bucket=bucket)["TagSet"]),
    }
    return Page("s3_settings.html", data, title=f"{bucket} settings")


def _optional(read: Any) -> Any:
    """A setting the bucket may not have (S3 answers NoSuchCORSConfiguration and the like)."""
    try:
        return read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code", "").startswith("NoSuch"):
            return None
        raise


def put_versioning(ctx: ConsoleRequest) -> Done:
    bucket, status = ctx.path("bucket"), ctx.field("status")
    ctx.client("s3").put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})
    return Done(url(f"/s3/{bucket}/settings"), f"Versioning {status.lower()}.")


def put_cors(ctx: ConsoleRequest) -> Done:
    bucket, text = ctx.path("bucket"), ctx.field("rules").strip()
    s3 = ctx.client("s3")
    if text:
        s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": _json_list(text, "CORS rules")})
    else:
        s3.delete_bucket_cors(Bucket=bucket)
    return Done(url(f"/s3/{bucket}/settings"), "CORS rules saved." if text else "CORS rules removed.")


def put_lifecycle(ctx: ConsoleRequest) -> Done:
    bucket, text = ctx.path("bucket"), ctx.field("rules").strip()
    s3 = ctx.client("s3")
    if text:
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": _json_list(text, "Lifecycle rules")}
        )
    else:
        s3.delete_bucket_lifecycle(Bucket=bucket)
    return Done(
        url(f"/s3/{bucket}/settings"), "Lifecycle rules saved." if text else "Lifecycle rules removed."
    )


def put_policy(ctx: ConsoleRequest) -> Done:
    bucket, text = ctx.path("bucket"), ctx.field("policy").strip()
    s3 = ctx.client("s3")
    if text:
        s3.put_bucket_policy(Bucket=bucket, Policy=text)
    else:
        s3.delete_bucket_policy(Bucket=bucket)
    return Done(url(f"/s3/{bucket}/settings"), "Bucket policy saved." if text else "Bucket policy removed.")


def _json_list(text: str, what: str) -> list[Any]:
    try:
        value = json.loads(text)
    except ValueError as error:
        raise _invalid("MalformedJSON", f"{what} are not JSON: {error}") from None
    if not isinstance(value, list):
        raise _invalid("MalformedJSON", f"{what} must be a JSON list.")
    return value


def _invalid(code: str, message: str) -> ClientError:
    """Input the console refuses before asking S3, reported as S3 reports its errors."""
    return ClientError({"Error": {"Code": code, "Message": message}}, "console")


ROUTES = [
    get("/s3", buckets),
    post("/s3/create-bucket", create_bucket),
    get("/s3/{bucket}", objects),
    post("/s3/{bucket}/delete", delete_bucket),
    post("/s3/{bucket}/upload", upload),
    post("/s3/{bucket}/uploads", plan_upload),
    post("/s3/{bucket}/uploads/complete", complete_upload),
    post("/s3/{bucket}/uploads/abort", abort_upload),
    post("/s3/{bucket}/delete-objects", delete_objects),
    get("/s3/{bucket}/object", object_page),
    post("/s3/{bucket}/object/share", share),
    post("/s3/{bucket}/object/tags", put_tags),
    post("/s3/{bucket}/object/delete", delete_object),
    get("/s3/{bucket}/settings", settings),
    post("/s3/{bucket}/settings/versioning", put_versioning),
    post("/s3/{bucket}/settings/cors", put_cors),
    post("/s3/{bucket}/settings/lifecycle", put_lifecycle),
    post("/s3/{bucket}/settings/policy", put_policy),
]
