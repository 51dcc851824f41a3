"""Which bucket names and object keys S3 accepts, and the errors about them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from nimbus.errors import AwsError
from nimbus.storage.objects import MissingFile

MAX_KEY_BYTES = 1024
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_ADDRESS = re.compile(r"\d+\.\d+\.\d+\.\d+")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def check_bucket_name(name: str) -> None:
    """AWS's general purpose bucket naming rules."""
    valid = (
        _BUCKET_NAME.fullmatch(name) is not None
        and ".." not in name
        and _IP_ADDRESS.fullmatch(name) is None
        and not name.startswith(_RESERVED_PREFIXES)
        and not name.endswith(_RESERVED_SUFFIXES)
    )
    if not valid:
        raise AwsError(
            "InvalidBucketName", "The specified bucket is not valid.", 400, fields={"BucketName": name}
        )


def check_key_for_write(key: str) -> None:
    """S3's one limit on keys, checked before any byte is read: every other key is stored (the byte
    layer keeps those a file system cannot hold at their path aside)."""
    size = len(key.encode(errors="surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise AwsError(
            "KeyTooLongError",
            "Your key is too long",
            400,
            fields={"Size": str(size), "MaxSizeAllowed": str(MAX_KEY_BYTES)},
        )


def no_such_bucket(bucket: str) -> AwsError:
    return AwsError("NoSuchBucket", "The specified bucket does not exist", 404, fields={"BucketName": bucket})


def no_such_key(key: str) -> AwsError:
    return AwsError("NoSuchKey", "The specified key does not exist.", 404, fields={"Key": key})


@contextmanager
def storage_errors(key: str) -> Iterator[None]:
    """A version's file that went away between its row and the read (deleted meanwhile) is NoSuchKey."""
    try:
        yield
    except MissingFile as error:
        raise no_such_key(key) from error
