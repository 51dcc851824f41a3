"""Which of Ceph's S3 conformance tests (s3-tests) Nimbus is held to, and the exceptions.

The core selection leaves out what Nimbus does not model (ACLs, bucket and user policies,
encryption, object lock, static websites, access logging, lifecycle expiry clocks, STS/IAM) and
the tests the suite itself marks ``fails_on_aws`` (they assert Ceph RGW's own behaviour).
``OUT_OF_SCOPE`` names the tests the markers miss that need those features anyway; ``RGW_ONLY``
the selected tests that assert RGW behaviour AWS does not have. docs/coverage.md lists both
(``conformance_notes``); bench/s3_conformance.py runs the selection and reports RGW_ONLY apart.
"""

from __future__ import annotations

SUITE_FILES = ("test_s3.py", "test_headers.py")

EXCLUDED_MARKERS = (
    "fails_on_aws",
    "bucket_logging",
    "bucket_logging_cleanup",
    "fails_without_logging_rollover",
    "encryption",
    "bucket_encryption",
    "sse_s3",
    "bucket_policy",
    "user_policy",
    "object_ownership",
    "lifecycle_expiration",
    "lifecycle_transition",
    "cloud_transition",
    "cloud_restore",
    "target_by_bucket",
    "iam_user",
    "iam_account",
    "s3website",
    "appendobject",
)
# words in test names that mean ACLs, policies, encryption, object lock, websites or logging
EXCLUDED_WORDS = (
    "acl",
    "policy",
    "object_lock",
    "website",
    "logging",
    "encrypt",
    "sse_",
    "_sse",
    "grant",
    "public_block",
    "block_public",
    "anonymous",
    "anon_",
    "access_bucket",
    "not_owned",
)

_ACLS = "needs ACLs (a canned ACL or a grant that opens the bucket or object), which Nimbus does not model"
_ANONYMOUS = "reads a public-read object without signing: needs ACLs, which Nimbus does not model"
_ONE_ACCOUNT = "needs a second account; one Nimbus serves one account, whose keys all own the same buckets"
_SIGNED_OVER = (
    "sets the header before botocore signs, and the signer replaces it: the request that arrives is "
    "valid, so no server can answer with the error the test expects"
)
_CRT_PRESIGN = (
    "botocore with awscrt installed (as Nimbus needs) refuses to presign for ExpiresIn <= 0 "
    "(an AssertionError in the client), whatever the server"
)
OUT_OF_SCOPE: dict[str, str] = {
    "test_100_continue": _ACLS,
    "test_bucket_create_special_key_names": _ACLS,
    "test_bucket_list_return_data": _ACLS,
    "test_expected_bucket_owner": _ACLS,
    "test_list_multipart_upload_owner": _ACLS,
    "test_post_object_set_success_code": _ACLS,
    "test_post_object_set_invalid_success_code": _ACLS,
    "test_post_object_success_redirect_action": _ACLS,
    "test_object_raw_get": _ANONYMOUS,
    "test_object_raw_get_bucket_gone": _ANONYMOUS,
    "test_object_raw_get_object_gone": _ANONYMOUS,
    "test_object_delete_key_bucket_gone": _ANONYMOUS,
    "test_bucket_create_exists_nonowner": _ONE_ACCOUNT,
    "test_bucket_create_bad_authorization_empty": _SIGNED_OVER,
    "test_bucket_create_bad_authorization_none": _SIGNED_OVER,
    "test_object_create_bad_authorization_empty": _SIGNED_OVER,
    "test_object_create_bad_authorization_none": _SIGNED_OVER,
    "test_object_create_bad_authorization_incorrect_aws2": _SIGNED_OVER,
    "test_object_create_bad_authorization_invalid_aws2": _SIGNED_OVER,
    "test_bucket_create_bad_authorization_invalid_aws2": _SIGNED_OVER,
    "test_bucket_create_bad_date_none_aws2": _SIGNED_OVER,
    "test_object_create_bad_date_none_aws2": _SIGNED_OVER,
    "test_bucket_create_bad_expect_mismatch": "sends an integer header value, which the HTTP client refuses",
    "test_object_create_bad_expect_mismatch": "sends an integer header value, which the HTTP client refuses",
    "test_object_create_bad_contentlength_none": (
        "removes Content-Length before the HTTP client sends the request, and the client sets it again"
    ),
    "test_object_create_bad_contentlength_mismatch_below_aws2": (
        "sends a byte more than its Content-Length: the HTTP server (uvicorn) reads it as the start of a "
        "next request and answers the connection with a bare 400 before Nimbus answers the upload"
    ),
    "test_object_raw_get_x_amz_expires_out_range_zero": _CRT_PRESIGN,
    "test_object_raw_get_x_amz_expires_out_positive_range": _CRT_PRESIGN,
    "test_object_raw_put_authenticated_expired": _CRT_PRESIGN,
}

_PART_NUMBER = "a partNumber past the object's parts: AWS answers 416 InvalidPartNumber, RGW 400 InvalidPart"
_MALFORMED_CHECKSUM = (
    "a malformed x-amz-checksum-* value ('bad'): AWS answers 400 InvalidRequest ('Value for "
    "x-amz-checksum-sha256 header is invalid.'), RGW BadDigest (kept for a well-formed value that differs)"
)
_PUBLIC_READ_BUCKET = (
    "creates its bucket with ACL public-read and reads it unsigned: since April 2023 AWS creates buckets "
    "with Block Public Access on and ACLs disabled (BucketOwnerEnforced), as Nimbus does, so AWS refuses "
    "the unsigned read too"
)
RGW_ONLY: dict[str, str] = {
    "test_multipart_get_part": _PART_NUMBER,
    "test_multipart_single_get_part": _PART_NUMBER,
    "test_non_multipart_get_part": _PART_NUMBER,
    "test_object_checksum_sha256": _MALFORMED_CHECKSUM,
    "test_object_checksum_crc64nvme": _MALFORMED_CHECKSUM,
    "test_object_raw_get_x_amz_expires_out_max_range": (
        "a SigV2 presigned URL (what botocore makes for a custom endpoint) valid for more than 7 days: "
        "AWS sets SigV2 URLs no maximum, RGW refuses them"
    ),
    "test_object_read_unreadable": (
        "the key '\\xae\\x8a-' is valid UTF-8, which AWS takes (404 NoSuchKey); RGW cannot parse it (400)"
    ),
    "test_delete_marker_nonversioned": (
        "expects `x-amz-delete-marker: false` from a delete in an unversioned bucket, as RGW sends; AWS "
        "documents the header for versioned buckets only, and Nimbus sends none"
    ),
    "test_cors_origin_response": _PUBLIC_READ_BUCKET,
    "test_cors_origin_wildcard": _PUBLIC_READ_BUCKET,
}


def core_selection() -> list[str]:
    """pytest's arguments for the core selection (run in the suite's checkout)."""
    marks = " and ".join(f"not {marker}" for marker in EXCLUDED_MARKERS)
    words = " and ".join(f"not {word}" for word in EXCLUDED_WORDS)
    files = [f"s3tests/functional/{file}" for file in SUITE_FILES]
    deselected = [f"--deselect={file}::{name}" for file in files for name in OUT_OF_SCOPE]
    return [*files, "-m", marks, "-k", words, *deselected]


def conformance_notes() -> list[str]:
    """docs/coverage.md's section on s3-tests: the selection and every exception with its reason."""
    lines = [
        "## S3 conformance (Ceph's s3-tests)",
        "",
        "`bench/run.sh s3-conformance --suite <a checkout of ceph/s3-tests>` runs `s3tests/functional/"
        f"{SUITE_FILES[0]}` and `{SUITE_FILES[1]}` against Nimbus (and moto) with an `s3tests.conf`, as the "
        "suite is meant to run. The core selection leaves out the tests marked "
        + ", ".join(f"`{marker}`" for marker in EXCLUDED_MARKERS)
        + ", and those whose names contain "
        + ", ".join(f"`{word}`" for word in EXCLUDED_WORDS)
        + " (ACLs, policies, encryption, object lock, websites, logging, lifecycle expiry clocks).",
        "",
        "Also left out, since they need what the selection leaves out or cannot pass on any server:",
        "",
        "| test | why |",
        "| --- | --- |",
        *(f"| {name} | {reason} |" for name, reason in sorted(OUT_OF_SCOPE.items())),
        "",
        "Selected tests that assert Ceph RGW's behaviour where AWS S3 differs (Nimbus follows AWS):",
        "",
        "| test | what AWS does instead |",
        "| --- | --- |",
        *(f"| {name} | {reason} |" for name, reason in sorted(RGW_ONLY.items())),
        "",
    ]
    return lines
