"""The object store's leak sweep (nimbus/storage/leak_sweep.py) in a running Nimbus: at start, then every
``STALE_S`` (an hour), so a file a crash leaked goes within about two hours of the crash. With several
nodes, the one holding the sweep's lease sweeps; a process restarted after a crash finds its
predecessor's lease still held, so its first sweep is the next hour's."""

from __future__ import annotations

import logging
import threading
import time

from nimbus.services.leases import lease_node
from nimbus.services.s3 import s3
from nimbus.storage import Storage
from nimbus.storage.leak_sweep import STALE_S, sweep_leaks

log = logging.getLogger("nimbus.s3.leaks")
LEAK_SWEEP_LEASE = "s3/leak-sweep"


def _sweep_forever(storage: Storage) -> None:
    node = lease_node(storage)
    while True:
        try:
            if node.take(LEAK_SWEEP_LEASE):
                swept = sweep_leaks(storage.objects.root, storage.database)
                if swept.files:
                    log.info("removed %d leaked files (%d bytes)", swept.files, swept.bytes)
        except Exception:  # the next sweep tries again; a failed one must not end the thread
            log.exception("leak sweep failed")
        time.sleep(STALE_S)


@s3.on_startup
def start_leak_sweeper(storage: Storage) -> None:
    threading.Thread(target=_sweep_forever, args=(storage,), name="s3-leak-sweep", daemon=True).start()
