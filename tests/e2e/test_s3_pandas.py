"""pandas reading and writing s3:// paths through s3fs."""

from __future__ import annotations

from typing import Any

import pandas as pd
from conftest import NimbusServer


def storage_options(nimbus: NimbusServer) -> dict[str, Any]:
    return {
        "key": nimbus.access_key,
        "secret": nimbus.secret_key,
        "client_kwargs": {"endpoint_url": nimbus.endpoint_url, "region_name": nimbus.region},
        "skip_instance_cache": True,
    }


def test_to_csv_then_read_csv(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    frame = pd.DataFrame(
        {
            "id": list(range(1000)),
            "name": [f"row-{i}" for i in range(1000)],
            "score": [i / 7 for i in range(1000)],
        }
    )
    path = f"s3://{bucket}/tables/scores.csv"
    frame.to_csv(path, index=False, storage_options=storage_options(nimbus))

    on_disk = (nimbus.s3_root() / bucket / "tables" / "scores.csv").read_text()
    assert on_disk.splitlines()[0] == "id,name,score"
    assert len(on_disk.splitlines()) == 1001

    back = pd.read_csv(path, storage_options=storage_options(nimbus))
    pd.testing.assert_frame_equal(back, frame)


def test_read_csv_written_by_boto3(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="in/data.csv", Body=b"city,temp\nOslo,3.5\nLima,19.25\n")
    frame = pd.read_csv(f"s3://{bucket}/in/data.csv", storage_options=storage_options(nimbus))
    assert list(frame.columns) == ["city", "temp"]
    assert frame["city"].tolist() == ["Oslo", "Lima"]
    assert frame["temp"].tolist() == [3.5, 19.25]


def test_s3fs_listing_matches(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    import s3fs

    opts = storage_options(nimbus)
    fs = s3fs.S3FileSystem(
        key=opts["key"], secret=opts["secret"], client_kwargs=opts["client_kwargs"], skip_instance_cache=True
    )
    for key in ("p/a.csv", "p/b.csv", "p/sub/c.csv"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x\n1\n")
    assert sorted(fs.ls(f"{bucket}/p", detail=False)) == [
        f"{bucket}/p/a.csv",
        f"{bucket}/p/b.csv",
        f"{bucket}/p/sub",
    ]
    assert sorted(fs.find(f"{bucket}/p")) == [
        f"{bucket}/p/a.csv",
        f"{bucket}/p/b.csv",
        f"{bucket}/p/sub/c.csv",
    ]
    with fs.open(f"{bucket}/p/b.csv", "rb") as f:
        assert f.read() == b"x\n1\n"
