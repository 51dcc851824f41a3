"""Batch transform's record logic, without a server: splitting, batching, filters, join, assembly."""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest

from nimbus.engines.learn.recordio import MAGIC
from nimbus.services.sagemaker.transform.batching import MB, PayloadTooLarge, line_batches, mini_batches
from nimbus.services.sagemaker.transform.filters import FilterError, parse_path
from nimbus.services.sagemaker.transform.plan import Plan, Response
from nimbus.services.sagemaker.transform.splitting import SplitError, split_records


def _request(**members: Any) -> dict[str, Any]:
    source = {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in/"}}}
    return {
        "TransformInput": {**source, **members.pop("input", {})},
        "TransformOutput": {"S3OutputPath": "s3://b/out", **members.pop("output", {})},
        **members,
    }


def test_lines_keep_their_order_and_drop_only_the_final_newline() -> None:
    assert split_records(b"a,1\nb,2\n\nc,3\n", "Line") == [b"a,1", b"b,2", b"", b"c,3"]
    assert split_records(b"whole\nobject", "None") == [b"whole\nobject"]


def test_recordio_and_tfrecord_records_keep_their_framing() -> None:
    frames = [struct.pack("<II", MAGIC, len(p)) + p + b"\0" * (-len(p) % 4) for p in (b"abc", b"defgh")]
    assert split_records(b"".join(frames), "RecordIO") == frames
    tfrecords = [struct.pack("<QI", len(p), 0) + p + b"\0\0\0\0" for p in (b"x", b"yz")]
    assert split_records(b"".join(tfrecords), "TFRecord") == tfrecords
    with pytest.raises(SplitError):
        split_records(b"\1\2\3", "RecordIO")
    with pytest.raises(SplitError):
        split_records(tfrecords[0][:-2], "TFRecord")


def test_multi_record_packs_whole_records_under_the_limit() -> None:
    half = MB // 2
    assert mini_batches([half, half - 1, 10, MB], "MultiRecord", 1, 1) == [
        range(0, 2),
        range(2, 3),
        range(3, 4),
    ]
    assert mini_batches([5, 5, 5], "SingleRecord", 6, 1) == [range(0, 1), range(1, 2), range(2, 3)]
    assert mini_batches([MB * 200, 1], "MultiRecord", 0, 1) == [range(0, 2)]  # 0: no limit
    with pytest.raises(PayloadTooLarge, match="Too much data for max payload size"):
        mini_batches([1, MB + 1], "MultiRecord", 1, 1)


@pytest.mark.parametrize("limit_mb", [0, 1])
def test_lines_cut_in_place_make_the_same_requests_as_packed_records(limit_mb: int) -> None:
    rng = random.Random(limit_mb)
    data = b"".join(b"x" * rng.randrange(0, 70_000) + b"\n" for _ in range(200))
    records = split_records(data, "Line")
    packed = [
        b"\n".join(records[index] for index in span)
        for span in mini_batches([len(record) for record in records], "MultiRecord", limit_mb, 1)
    ]
    cut = line_batches(data, limit_mb)
    assert [batch.body for batch in cut] == packed
    assert [batch.records for batch in cut] == mini_batches(
        [len(r) for r in records], "MultiRecord", limit_mb, 1
    )
    with pytest.raises(PayloadTooLarge):
        line_batches(b"short\n" + b"y" * (MB + 1) + b"\nshort\n", 1)


@pytest.mark.parametrize(
    ("path", "selected"),
    [
        ("$", ["id", "1", "2", "3", "4", "5", "6"]),
        ("$[1:]", ["1", "2", "3", "4", "5", "6"]),
        ("$[0,5:]", ["id", "5", "6"]),
        ("$[-1]", "6"),
        ("$[1,2]", ["1", "2"]),
        ("$[:2]", ["id", "1"]),
        ("$[*]", ["id", "1", "2", "3", "4", "5", "6"]),
    ],
)
def test_paths_over_a_csv_row(path: str, selected: Any) -> None:
    assert parse_path(path).select(["id", "1", "2", "3", "4", "5", "6"]) == selected


def test_paths_over_json() -> None:
    record = {"id": 7, "features": [1, 2], "meta": {"a": 1, "b": 2}, "SageMakerOutput": 0.5}
    assert parse_path("$.features").select(record) == [1, 2]
    assert parse_path("$['id','SageMakerOutput']").select(record) == {"id": 7, "SageMakerOutput": 0.5}
    assert parse_path("$.meta['a','b']").select(record) == {"a": 1, "b": 2}
    assert parse_path("$.meta.['a']").select(record) == 1
    assert parse_path("$.features[1]").select(record) == 2
    with pytest.raises(FilterError):
        parse_path("$.missing").select(record)
    with pytest.raises(FilterError):
        parse_path("$[9]").select([1, 2])


@pytest.mark.parametrize("path", ["features", "$[1:].x", "$['a','b'].c", "$..x", "$[?(@.a)]", "$[a]"])
def test_paths_aws_does_not_take_are_refused(path: str) -> None:
    with pytest.raises(ValueError):
        parse_path(path)


def test_csv_join_and_output_filter_per_record() -> None:
    plan = Plan.of(
        _request(
            input={"ContentType": "text/csv", "SplitType": "Line"},
            output={"AssembleWith": "Line"},
            DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"},
        )
    )
    records, batches = plan.batches(b"7,1.5,2\n8,3,4\n9,5,6\n")
    assert [batch.body for batch in batches] == [b"1.5,2\n3,4\n5,6"]
    output = plan.output(records, batches, [Response(b"0.1\n0.2\n0.3", "text/csv")])
    assert output == b"7,0.1\n8,0.2\n9,0.3\n"


def test_json_lines_join_keeps_objects_and_wraps_other_values() -> None:
    request = _request(
        input={"ContentType": "application/jsonlines", "SplitType": "Line"},
        output={"AssembleWith": "Line"},
        BatchStrategy="SingleRecord",
        DataProcessing={"InputFilter": "$.features", "JoinSource": "Input"},
    )
    plan = Plan.of(request)
    records, batches = plan.batches(b'{"id":1,"features":[1,2]}\n')
    assert batches[0].body == b"[1,2]"
    output = plan.output(records, batches, [Response(b"0.25", "text/csv")])
    assert output == b'{"id":1,"features":[1,2],"SageMakerOutput":0.25}\n'
    with pytest.raises(FilterError):  # a record that is not an object has no features
        plan.batches(b"[3,4]\n")

    unfiltered = Plan.of({**request, "DataProcessing": {"JoinSource": "Input"}})
    records, batches = unfiltered.batches(b"[3,4]\n")
    output = unfiltered.output(records, batches, [Response(b'{"score":1}', "application/json")])
    assert output == b'{"SageMakerInput":[3,4],"SageMakerOutput":{"score":1}}\n'


def test_assemble_none_concatenates_responses_as_returned() -> None:
    plan = Plan.of(_request(input={"SplitType": "Line"}, MaxPayloadInMB=1))
    records, batches = plan.batches(b"a\nb\n")
    assert plan.output(records, batches, [Response(b"1\n2", "text/csv")]) == b"1\n2"


def test_filters_need_csv_or_json_content() -> None:
    with pytest.raises(ValueError, match="ContentType"):
        Plan.of(_request(input={"ContentType": "image/png"}, DataProcessing={"InputFilter": "$[1:]"}))
    with pytest.raises(ValueError, match="RecordIO"):
        Plan.of(
            _request(
                input={"ContentType": "text/csv", "SplitType": "RecordIO"},
                DataProcessing={"OutputFilter": "$[0]"},
            )
        )
