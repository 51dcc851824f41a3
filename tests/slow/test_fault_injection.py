"""Crash safety in CI, bounded: bench/fault_injection.py's campaign (a mixed boto3 workload, SIGKILL at
random points, restart on the same data dir, every acknowledged operation checked) with a few kills; the
bench runs it with 1,000. And the one crash window a few random kills rarely hit, made on purpose: a
key's file replaced but its row not committed yet."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest
import sqlalchemy
from conftest import NimbusServer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from fault_injection import report, run_campaign

from nimbus.storage.object_journal import Journal

KILLS = 8


@pytest.mark.slow
def test_sigkill_at_random_points_loses_nothing_acknowledged(tmp_path: Path) -> None:
    tally = run_campaign(tmp_path, KILLS, seed=7, max_run=1.0)
    assert tally.kills == KILLS
    assert tally.acknowledged > KILLS and tally.checked_keys > 0 and tally.checked_messages > 0
    assert not tally.violations, report(tally, 0)
    assert tally.leaked_after_sweep == 0, report(tally, 0)  # what the kills leaked, the leak sweep removes


def test_a_write_cut_before_its_commit_leaves_the_old_object(tmp_path: Path) -> None:
    server = NimbusServer(tmp_path / "data", tmp_path, settings={})
    server.start()
    try:
        s3 = server.client("s3")
        s3.create_bucket(Bucket="crash")
        s3.put_object(Bucket="crash", Key="a/b.txt", Body=b"acknowledged")
        s3.put_object(Bucket="crash", Key="a/c.txt", Body=b"acknowledged too")
        server.proc.kill()  # type: ignore[union-attr]
        server.proc.wait()  # type: ignore[union-attr]
        server.proc = None
        # what a process killed between replacing the files and committing the rows leaves behind: the
        # journal entries, a new file over the acknowledged one, and a file for a key with no row
        root = tmp_path / "data" / "s3"
        journal = Journal.open(root / ".journal", root / ".tmp", lambda *_: None, lambda *_: None)
        engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'data' / 'nimbus.db'}")
        with engine.connect() as connection:
            sequence = connection.exec_driver_sql(
                "SELECT sequence FROM s3_objects WHERE bucket = 'crash' AND key = 'a/b.txt'"
            ).scalar_one()
        engine.dispose()
        for key, before in (("a/b.txt", sequence), ("a/new.txt", None)):
            journal.begin("crash", key, root / "crash" / key, before)
            (root / ".tmp/new").write_bytes(b"never acknowledged")
            (root / ".tmp/new").replace(root / "crash" / key)
        journal.close()  # as the killed process's lock went with it
        server.start()
        body = s3.get_object(Bucket="crash", Key="a/b.txt")
        data = body["Body"].read()
        assert data == b"acknowledged"
        assert body["ETag"].strip('"') == hashlib.md5(data).hexdigest()
        listed = [item["Key"] for item in s3.list_objects_v2(Bucket="crash")["Contents"]]
        assert listed == ["a/b.txt", "a/c.txt"]
        assert not (root / "crash/a/new.txt").exists()
        assert s3.get_object(Bucket="crash", Key="a/c.txt")["Body"].read() == b"acknowledged too"
    finally:
        server.stop()
