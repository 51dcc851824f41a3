"""The ``Image`` input every image operation takes: inline bytes or an object in Nimbus S3, decoded by
content (JPEG and PNG only) into upright RGB pixels.

Inline bytes are capped at 5 MB by the model's own length constraint (a ValidationException before
any operation runs); an S3 object may be up to 15 MB, as in AWS.
"""

from __future__ import annotations

from typing import Any

from nimbus.engines.vision.image import DecodedImage, ImageTooLargeError, InvalidImageError, decode_image
from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.rekognition.errors import invalid_parameter
from nimbus.services.s3.records import find_object
from nimbus.storage.objects import StorageError

MAX_S3_IMAGE_BYTES = 15 * 1024 * 1024
S3_OBJECT_MESSAGE = (
    "Unable to get object metadata from S3. Check object key, region and/or access permissions."
)


def invalid_image_format() -> AwsError:
    return AwsError("InvalidImageFormatException", "Request has invalid image format", 400)


def image_too_large(detail: str = "Image size is too large.") -> AwsError:
    return AwsError("ImageTooLargeException", detail, 400)


def invalid_s3_object() -> AwsError:
    return AwsError("InvalidS3ObjectException", S3_OBJECT_MESSAGE, 400)


def load_image(ctx: RequestContext, image: dict[str, Any], longest_side: int | None = None) -> DecodedImage:
    """The request's image, decoded (JPEGs no larger than the engine needs, at least ``longest_side``
    pixels wide); AWS's errors for anything that is not a whole JPEG or PNG."""
    data = image_bytes(ctx, image)
    try:
        return decode_image(data, longest_side)
    except ImageTooLargeError as error:
        raise image_too_large(str(error)) from None
    except InvalidImageError:
        raise invalid_image_format() from None


def image_bytes(ctx: RequestContext, image: dict[str, Any]) -> bytes:
    has_bytes, has_object = image.get("Bytes") is not None, image.get("S3Object") is not None
    if has_bytes == has_object:  # exactly one of the two
        raise invalid_parameter("Request has invalid parameters: give Image.Bytes or Image.S3Object.")
    if has_bytes:
        return bytes(image["Bytes"])
    return s3_object_bytes(ctx, image["S3Object"])


def s3_object_bytes(ctx: RequestContext, s3_object: dict[str, Any]) -> bytes:
    bucket, key = s3_object.get("Bucket"), s3_object.get("Name")
    version = s3_object.get("Version")
    if not bucket or not key or version not in (None, "null"):  # Nimbus buckets are unversioned
        raise invalid_s3_object()
    try:
        record = find_object(ctx, bucket, key)
    except AwsError:  # NoSuchBucket, NoSuchKey
        raise invalid_s3_object() from None
    if record.size > MAX_S3_IMAGE_BYTES:
        raise image_too_large()
    try:
        with ctx.storage.objects.open_object(bucket, key) as handle:
            return handle.read(MAX_S3_IMAGE_BYTES + 1)
    except (StorageError, OSError):  # deleted between the row and the file
        raise invalid_s3_object() from None
