"""Rekognition's error paths through boto3: bad images, missing S3 objects, unknown or duplicate
collections, invalid parameters. Every one answers AWS's error and leaves the server serving."""

from __future__ import annotations

import io
import os
import struct
import uuid
import zlib
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code
from PIL import Image
from skimage import data

S3_OBJECT_MESSAGE = (
    "Unable to get object metadata from S3. Check object key, region and/or access permissions."
)


def encoded(pixels: np.ndarray, image_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, image_format)
    return buffer.getvalue()


def png_bomb(side: int) -> bytes:
    """A side x side one-colour PNG: a few dozen kilobytes that declare side² pixels."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    compressor, row = zlib.compressobj(9), b"\x00" * (1 + (side + 7) // 8)
    pixels = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def rekognition(nimbus: NimbusServer) -> Any:
    return nimbus.client("rekognition")


@pytest.fixture(scope="module")
def cat_jpeg() -> bytes:
    return encoded(data.chelsea(), "JPEG")


def raises(code: str, call: Any, **kwargs: Any) -> ClientError:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    assert error_code(raised) == code, raised.value.response
    return raised.value


@pytest.mark.parametrize(
    "image",
    [
        pytest.param(b"this is not a picture", id="text"),
        pytest.param(encoded(data.chelsea(), "GIF"), id="gif"),
        pytest.param(encoded(data.chelsea(), "JPEG")[:5000], id="truncated-jpeg"),
        pytest.param(encoded(data.chelsea(), "PNG")[:-2000], id="truncated-png"),
    ],
)
def test_bad_image_bytes(rekognition: Any, image: bytes) -> None:
    error = raises("InvalidImageFormatException", rekognition.detect_labels, Image={"Bytes": image})
    assert error.response["Error"]["Message"] == "Request has invalid image format"


def test_bad_images_in_s3(rekognition: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="really-a-gif.png", Body=encoded(data.chelsea(), "GIF"))
    s3.put_object(Bucket=bucket, Key="empty.jpg", Body=b"")
    for key in ("really-a-gif.png", "empty.jpg"):
        raises(
            "InvalidImageFormatException",
            rekognition.detect_faces,
            Image={"S3Object": {"Bucket": bucket, "Name": key}},
        )


def test_decompression_bomb_is_too_large(rekognition: Any) -> None:
    bomb = png_bomb(20000)
    assert len(bomb) < 100_000
    raises("ImageTooLargeException", rekognition.detect_labels, Image={"Bytes": bomb})


def test_s3_images_over_15_mb_are_too_large(rekognition: Any, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="huge.jpg", Body=os.urandom(15 * 1024 * 1024 + 1))
    raises(
        "ImageTooLargeException",
        rekognition.detect_labels,
        Image={"S3Object": {"Bucket": bucket, "Name": "huge.jpg"}},
    )


def test_inline_images_over_5_mb_are_refused(rekognition: Any) -> None:
    raises("ValidationException", rekognition.detect_labels, Image={"Bytes": b"\xff" * (5 * 1024 * 1024 + 1)})


def test_missing_s3_objects(rekognition: Any, bucket: str) -> None:
    for s3_object in (
        {"Bucket": bucket, "Name": "nothing-here.jpg"},
        {"Bucket": f"no-such-{uuid.uuid4().hex[:12]}", "Name": "cat.jpg"},
        {"Bucket": bucket, "Name": "nothing-here.jpg", "Version": "3"},
    ):
        error = raises("InvalidS3ObjectException", rekognition.detect_labels, Image={"S3Object": s3_object})
        assert error.response["Error"]["Message"] == S3_OBJECT_MESSAGE


def test_unknown_collection(rekognition: Any, cat_jpeg: bytes) -> None:
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    face_id = str(uuid.uuid4())
    for call, kwargs in (
        (rekognition.describe_collection, {}),
        (rekognition.delete_collection, {}),
        (rekognition.index_faces, {"Image": {"Bytes": cat_jpeg}}),
        (rekognition.search_faces_by_image, {"Image": {"Bytes": cat_jpeg}}),
        (rekognition.search_faces, {"FaceId": face_id}),
        (rekognition.list_faces, {}),
        (rekognition.delete_faces, {"FaceIds": [face_id]}),
        (rekognition.create_user, {"UserId": "someone"}),
        (rekognition.list_users, {}),
    ):
        raises("ResourceNotFoundException", call, CollectionId=missing, **kwargs)


def test_duplicate_collection_and_unknown_members(rekognition: Any) -> None:
    name = f"dup-{uuid.uuid4().hex[:8]}"
    rekognition.create_collection(CollectionId=name)
    try:
        raises("ResourceAlreadyExistsException", rekognition.create_collection, CollectionId=name)
        raises(
            "ResourceNotFoundException", rekognition.search_faces, CollectionId=name, FaceId=str(uuid.uuid4())
        )
        raises("ResourceNotFoundException", rekognition.delete_user, CollectionId=name, UserId="nobody")
        raises(
            "ResourceNotFoundException",
            rekognition.associate_faces,
            CollectionId=name,
            UserId="nobody",
            FaceIds=[str(uuid.uuid4())],
        )
        raises(
            "InvalidPaginationTokenException", rekognition.list_faces, CollectionId=name, NextToken="garbage!"
        )
    finally:
        rekognition.delete_collection(CollectionId=name)


def test_invalid_parameters(rekognition: Any, bucket: str, cat_jpeg: bytes) -> None:
    both = {"Bytes": cat_jpeg, "S3Object": {"Bucket": bucket, "Name": "cat.jpg"}}
    raises("InvalidParameterException", rekognition.detect_labels, Image=both)
    raises("InvalidParameterException", rekognition.detect_faces, Image={})
    name = f"params-{uuid.uuid4().hex[:8]}"
    rekognition.create_collection(CollectionId=name)
    try:
        error = raises(
            "InvalidParameterException",
            rekognition.search_faces_by_image,
            CollectionId=name,
            Image={"Bytes": cat_jpeg},
        )
        assert "There are no faces in the image" in error.response["Error"]["Message"]
        raises("InvalidParameterException", rekognition.search_users, CollectionId=name)
        raises(
            "InvalidParameterException",
            rekognition.search_users,
            CollectionId=name,
            UserId="a",
            FaceId=str(uuid.uuid4()),
        )
        # the model's ranges and patterns, which boto3 does not check itself
        raises(
            "ValidationException",
            rekognition.search_faces_by_image,
            CollectionId=name,
            Image={"Bytes": cat_jpeg},
            MaxFaces=5000,
        )
        raises("ValidationException", rekognition.detect_labels, Image={"Bytes": cat_jpeg}, MinConfidence=101)
    finally:
        rekognition.delete_collection(CollectionId=name)
    raises("ValidationException", rekognition.create_collection, CollectionId="bad/name")


def test_the_server_still_serves_after_bad_input(rekognition: Any, cat_jpeg: bytes) -> None:
    labels = rekognition.detect_labels(Image={"Bytes": cat_jpeg})["Labels"]
    assert "Cat" in {label["Name"] for label in labels}
