"""SSE-C through boto3: objects encrypted at rest with the customer's key (AES-256), read back only
with it, whole, by range, by part, copied and uploaded in parts; wrong or missing keys as S3 refuses
them."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, http_status, snapshot_files

KEY = os.urandom(32)
OTHER_KEY = os.urandom(32)
SSE = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": KEY}
MIB = 1024 * 1024


def stored_bytes(nimbus: NimbusServer, bucket: str) -> list[bytes]:
    return list(snapshot_files(nimbus.s3_root() / ".blobs" / bucket).values())


def test_encrypted_at_rest_and_read_only_with_the_key(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    data = os.urandom(3 * MIB + 17)
    put = s3.put_object(Bucket=bucket, Key="secret.bin", Body=data, **SSE)
    assert put["SSECustomerAlgorithm"] == "AES256" and put["SSECustomerKeyMD5"]
    # not in place, and not the plaintext anywhere: the one file is ciphertext of the same length
    assert not (nimbus.s3_root() / bucket / "secret.bin").exists()
    (at_rest,) = stored_bytes(nimbus, bucket)
    assert len(at_rest) == len(data) and at_rest != data and data[:64] not in at_rest
    assert s3.get_object(Bucket=bucket, Key="secret.bin", **SSE)["Body"].read() == data
    ranged = s3.get_object(Bucket=bucket, Key="secret.bin", Range="bytes=1048570-2097160", **SSE)
    assert ranged["Body"].read() == data[1048570:2097161]
    assert s3.head_object(Bucket=bucket, Key="secret.bin", **SSE)["ContentLength"] == len(data)

    for call, code, status in (
        (lambda: s3.get_object(Bucket=bucket, Key="secret.bin"), "InvalidRequest", 400),
        (lambda: s3.head_object(Bucket=bucket, Key="secret.bin"), None, 400),
        (
            lambda: s3.get_object(
                Bucket=bucket, Key="secret.bin", SSECustomerAlgorithm="AES256", SSECustomerKey=OTHER_KEY
            ),
            "AccessDenied",
            403,
        ),
        (
            lambda: s3.put_object(
                Bucket=bucket, Key="k", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey=b"short"
            ),
            "InvalidArgument",
            400,
        ),
        (
            lambda: s3.put_object(
                Bucket=bucket,
                Key="k",
                Body=b"x",
                SSECustomerAlgorithm="AES256",
                SSECustomerKey=base64.b64encode(KEY).decode(),  # given an MD5, botocore sends the key as is
                SSECustomerKeyMD5="AAAAAAAAAAAAAAAAAAAAAA==",
            ),
            "InvalidArgument",
            400,
        ),
        (
            lambda: s3.put_object(
                Bucket=bucket, Key="k", Body=b"x", SSECustomerAlgorithm="AES128", SSECustomerKey=KEY
            ),
            "InvalidEncryptionAlgorithmError",
            400,
        ),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert http_status(exc) == status
        if code is not None:  # HEAD answers carry no body, so no code
            assert error_code(exc) == code
    assert stored_bytes(nimbus, bucket) == [at_rest]  # the refused writes stored nothing

    # copies: decrypted with the source's key, stored under the new one (or in the clear, in place)
    s3.copy_object(
        Bucket=bucket,
        Key="copy.bin",
        CopySource={"Bucket": bucket, "Key": "secret.bin"},
        CopySourceSSECustomerAlgorithm="AES256",
        CopySourceSSECustomerKey=KEY,
        SSECustomerAlgorithm="AES256",
        SSECustomerKey=OTHER_KEY,
    )
    other = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": OTHER_KEY}
    assert s3.get_object(Bucket=bucket, Key="copy.bin", **other)["Body"].read() == data
    s3.copy_object(
        Bucket=bucket,
        Key="clear.bin",
        CopySource={"Bucket": bucket, "Key": "secret.bin"},
        CopySourceSSECustomerAlgorithm="AES256",
        CopySourceSSECustomerKey=KEY,
    )
    assert (nimbus.s3_root() / bucket / "clear.bin").read_bytes() == data


def test_multipart_upload_with_a_customer_key(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB + 3), os.urandom(1000)]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big.bin", **SSE)["UploadId"]
    with pytest.raises(ClientError) as exc:  # every part needs the upload's key
        s3.upload_part(Bucket=bucket, Key="big.bin", UploadId=upload, PartNumber=1, Body=parts[0])
    assert error_code(exc) == "InvalidRequest"
    etags = [
        s3.upload_part(Bucket=bucket, Key="big.bin", UploadId=upload, PartNumber=n, Body=part, **SSE)["ETag"]
        for n, part in enumerate(parts, 1)
    ]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="big.bin",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in enumerate(etags, 1)]},
    )
    whole = b"".join(parts)
    assert s3.get_object(Bucket=bucket, Key="big.bin", **SSE)["Body"].read() == whole
    # a range across the parts' boundary decrypts each side with its own part's counter
    across = s3.get_object(Bucket=bucket, Key="big.bin", Range=f"bytes={5 * MIB - 10}-{5 * MIB + 9}", **SSE)
    assert across["Body"].read() == whole[5 * MIB - 10 : 5 * MIB + 10]
    assert s3.get_object(Bucket=bucket, Key="big.bin", PartNumber=3, **SSE)["Body"].read() == parts[2]
    assert stored_bytes(nimbus, bucket)[0] != whole
