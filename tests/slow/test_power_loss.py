"""Crash safety through a power cut, bounded for CI: bench/power_loss.py runs many random sequences; here one
fixed sequence that acknowledges each kind of write once (a new key, an overwrite, a versioned write, a
multipart upload, DeleteObjects, CopyObject, an SQS message), then a power cut on bench/power_loss_fs.py
(everything not fsynced, file or directory entry, is dropped), a restart on what survived, and every
acknowledged operation checked with fault_injection.py's model. Nothing is flushed behind the server's back
in that file system, so any fsync missing on the way of one of these writes loses it here, every time."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from fault_injection import Checker, Model, Server, Tally, Workload, _prepare, report
from power_loss import mounted

NAMES = {"bucket": "power", "versioned": "power-versioned", "queue": "power"}


@pytest.mark.slow
@pytest.mark.skipif(not Path("/dev/fuse").exists(), reason="needs /dev/fuse for the power-loss file system")
def test_a_power_cut_loses_nothing_acknowledged(tmp_path: Path) -> None:
    model, tally = Model(), Tally()
    with mounted(tmp_path) as power:
        server = Server(tmp_path / "nimbus", tmp_path / "nimbus-serve.log")
        try:
            server.start()
            _prepare(server, NAMES)  # a fresh data dir: what the first start writes must survive too
            workload = Workload(server, model, tally, random.Random(5), NAMES)
            for write in (workload.put, workload.put, workload.put_versioned, workload.put_versioned):
                write("p")
            for _ in range(4):  # create, part 1, part 2, complete
                workload.multipart("p")
            workload.delete_objects("p")
            workload.copy("p")
            workload.send("p")
            server.kill()
            power.cut()
            server.start()
            Checker(server, model, tally, NAMES).all()
        finally:
            server.stop()
    assert power.dropped_files[0] > 0  # the cut dropped something: the case tests what it claims
    assert len(model.versions) == 2 and model.messages == set() and tally.checked_messages == 1
    assert not tally.violations, report(tally, 0, title="Power loss", kills="power cuts")
