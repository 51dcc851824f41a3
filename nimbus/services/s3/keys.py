"""Which bucket names and object keys S3 accepts, and the errors for those the files cannot hold."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from nimbus.errors import AwsError
from nimbus.storage.objects import KeyConflict, MissingFile, UnsupportedKey, key_segments

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
    """S3's own key limit, then the file system's (checked before any byte is read)."""
    size = len(key.encode(errors="surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise AwsError(
            "KeyTooLongError",
            "Your key is too long",
            400,
            fields={"Size": str(size), "MaxSizeAllowed": str(MAX_KEY_BYTES)},
        )
    with storage_errors(key):
        key_segments(key)


def no_such_bucket(bucket: str) -> AwsError:
    return AwsError("NoSuchBucket", "The specified bucket does not exist", 404, fields={"BucketName": bucket})


def no_such_key(key: str) -> AwsError:
    return AwsError("NoSuchKey", "The specified key does not exist.", 404, fields={"Key": key})


@contextmanager
def storage_errors(key: str) -> Iterator[None]:
    """Turns the byte layer's errors about ``key`` into the S3 errors Nimbus documents."""
    try:
        yield
    except UnsupportedKey as error:
        raise AwsError(
            "UnsupportedObjectKey",
            f"Nimbus keeps objects as files and cannot store this key: {error}.",
            400,
            fields={"Key": key},
        ) from error
    except KeyConflict as error:
        raise AwsError(
            "ObjectKeyConflict",
            "Nimbus keeps objects as files: an object cannot be both a file and a folder of other "
            f"objects ('a' beside 'a/b'): {error}.",
            409,
            fields={"Key": key},
        ) from error
    except MissingFile as error:
        raise no_such_key(key) from error
