"""Leases: with several Nimbus nodes on one database, each piece of background work (a training job, a
video job, the lifecycle sweep) is owned by exactly one node, the holder of its row in ``nimbus_leases``.

A node takes a lease with one conditional upsert (it wins only where there is no lease, or an expired
one), which SQLite and PostgreSQL both run atomically, and its heartbeat renews every lease it holds
every third of ``NIMBUS_LEASE_SECONDS``. A node that dies stops renewing: once its leases expire, any
other node's heartbeat takes the work over and settles it (a job fails, saying why). A node stopping
cleanly lets its leases expire at once. Stop requests made on another node are a flag on the lease,
which the owner's heartbeat reads, since only the owner has the process to stop.

Each node also records the address it answers at (``nimbus_nodes``), so that another node can forward
it the requests only it can answer (the invocations of the endpoints whose workers it runs).

Expiry times are the nodes' own clocks: keep them in step (NTP) to well within a lease.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import ColumnElement, delete, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite

from nimbus.config import Settings
from nimbus.storage import Storage
from nimbus.storage.lease_schema import LeaseRecord, NodeRecord

LEASES = LeaseRecord.__table__
NODES = NodeRecord.__table__
log = logging.getLogger("nimbus.leases")
# work a node's heartbeat settles: that of the kinds' nodes that died (it takes their expired leases)
Settle = Callable[[Storage], object]
StopWork = Callable[[], None]
Key = TypeVar("Key", bound=tuple[str, ...])  # a job's key: (account, region, name)


def resource_name(kind: str, key: Iterable[str]) -> str:
    """``sagemaker/training-job/<account>/<region>/<name>``: what a lease names."""
    return "/".join((kind, *key))


@dataclass(frozen=True)
class Holder:
    """The node holding a lease: its id, whether the lease is still live, and its address (None when
    that node never said where it answers)."""

    owner: str
    live: bool
    address: str | None


class Node:
    """This process as one node of the storage's database: the leases it holds and its heartbeat."""

    def __init__(self, storage: Storage, lease_seconds: float) -> None:
        self.storage = storage
        self.id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.lease = timedelta(seconds=lease_seconds)
        self._stops: dict[str, StopWork] = {}  # leases of work running here -> how to stop that work
        self._settles: list[Settle] = []
        self._lock = threading.Lock()
        self._renewing = threading.Lock()  # a renewal never follows expire_all
        self._stopped = False
        threading.Thread(target=self._beat_forever, name="lease-heartbeat", daemon=True).start()
        storage.on_close(self.expire_all)

    def advertise(self, address: str) -> None:
        """Records where this node answers. An earlier node at the same address is dead (this process
        listens there now): its leases expire at once, so its work is settled without waiting a lease."""
        now = datetime.now(UTC)
        with self.storage.database.engine.begin() as connection:
            earlier = select(NODES.c.id).where(NODES.c.address == address, NODES.c.id != self.id)
            connection.execute(update(LEASES).where(LEASES.c.owner.in_(earlier)).values(expires_at=now))
            connection.execute(delete(NODES).where(NODES.c.address == address))
            connection.execute(NODES.insert().values(id=self.id, address=address, started_at=now))

    def holder(self, resource: str) -> Holder | None:
        """Who holds the lease, if anyone: one read."""
        query = (
            select(LEASES.c.owner, LEASES.c.expires_at, NODES.c.address)
            .outerjoin(NODES, NODES.c.id == LEASES.c.owner)
            .where(LEASES.c.resource == resource)
        )
        with self.storage.database.engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            return None
        return Holder(row.owner, row.owner == self.id or row.expires_at >= datetime.now(UTC), row.address)

    def take(self, resource: str) -> bool:
        """Takes the lease if nobody holds it, its holder let it expire, or it is this node's already
        (work one node at a time does, such as the lifecycle sweep); False when another live node
        holds it."""
        return self._take(resource, or_(LEASES.c.expires_at < datetime.now(UTC), LEASES.c.owner == self.id))

    def _take_over(self, resource: str, unleased_too: bool) -> bool:
        """Takes the lease of another node's work if it expired (and, with ``unleased_too``, if there
        is none); never a live one, this node's included."""
        now = datetime.now(UTC)
        if unleased_too:
            return self._take(resource, LEASES.c.expires_at < now)
        with self.storage.database.engine.begin() as connection:
            taken = connection.execute(
                update(LEASES)
                .where(LEASES.c.resource == resource, LEASES.c.expires_at < now)
                .values(owner=self.id, expires_at=now + self.lease, stop_requested=False)
            )
            return taken.rowcount == 1

    def _take(self, resource: str, free: ColumnElement[bool]) -> bool:
        """One conditional upsert: the lease is inserted, or replaced where ``free`` holds of it."""
        dialect = postgresql if self.storage.database.engine.dialect.name == "postgresql" else sqlite
        row = {
            "resource": resource,
            "owner": self.id,
            "expires_at": datetime.now(UTC) + self.lease,
            "stop_requested": False,
        }
        statement = dialect.insert(LEASES).values(row)
        statement = statement.on_conflict_do_update(
            index_elements=["resource"],
            set_={name: statement.excluded[name] for name in ("owner", "expires_at", "stop_requested")},
            where=free,
        )
        with self.storage.database.engine.begin() as connection:  # a row comes back if it was taken
            return connection.execute(statement.returning(LEASES.c.owner)).first() is not None

    def hold(self, resource: str, stop: StopWork) -> None:
        """Takes the lease of work this node starts (new work: nobody else holds it); ``stop`` is
        called when a stop is requested through any node, or when the lease is lost."""
        if not self.take(resource):
            log.warning("lease %s is held by another node", resource)
        with self._lock:
            self._stops[resource] = stop

    def claim(self, resource: str, stop: StopWork) -> None:
        """Takes the lease whoever holds it (work this node has just replaced, such as an endpoint it
        redeployed): the former holder's heartbeat finds it lost and stops its own copy of the work."""
        self._take(resource, true())
        with self._lock:
            self._stops[resource] = stop

    def release(self, resource: str) -> None:
        """The work ended here: its lease goes."""
        with self._lock:
            self._stops.pop(resource, None)
        with self.storage.database.engine.begin() as connection:
            connection.execute(delete(LEASES).where(LEASES.c.resource == resource, LEASES.c.owner == self.id))

    def end(self, resource: str) -> None:
        """The work is gone (deleted through any node): its lease goes, and the work stops at once if it
        runs here, else at its holder's next heartbeat, which finds the lease lost."""
        with self._lock:
            stop = self._stops.pop(resource, None)
        with self.storage.database.engine.begin() as connection:
            connection.execute(delete(LEASES).where(LEASES.c.resource == resource))
        if stop is not None:
            stop()

    def request_stop(self, resource: str) -> None:
        """Stops the work at once if it runs here, else flags its lease for its owner's heartbeat."""
        with self._lock:
            stop = self._stops.get(resource)
        if stop is not None:
            stop()
            return
        with self.storage.database.engine.begin() as connection:
            connection.execute(
                update(LEASES).where(LEASES.c.resource == resource).values(stop_requested=True)
            )

    def orphans(self, kind: str, jobs: Iterable[tuple[Key, datetime]], keep: bool = False) -> Iterator[Key]:
        """The keys among ``jobs`` (key, creation time) of running work whose node died: their lease
        expired, or they have none and are older than a lease (their node died before taking it, or
        they predate leases). Each is held by this node while the caller settles it, then released;
        with ``keep``, it stays held: the caller resumes the work here."""
        now = datetime.now(UTC)
        named = {resource_name(kind, key): (key, created) for key, created in jobs}
        if not named:
            return
        with self.storage.database.engine.connect() as connection:  # one read; writes only where due
            expiries = dict(
                connection.execute(
                    select(LEASES.c.resource, LEASES.c.expires_at).where(LEASES.c.resource.in_(named))
                ).all()
            )
        for resource, (key, created) in named.items():
            expires = expiries.get(resource)
            due = created < now - self.lease if expires is None else expires < now
            if due and self._take_over(resource, unleased_too=expires is None):
                try:
                    yield key
                finally:
                    if not keep:
                        self.release(resource)

    def holds(self, resource: str) -> bool:
        """Whether the lease is still this node's: no other node took it over."""
        with self.storage.database.engine.connect() as connection:
            owner = connection.scalar(select(LEASES.c.owner).where(LEASES.c.resource == resource))
        return owner == self.id

    def settle_every_beat(self, settle: Settle) -> None:
        with self._lock:
            self._settles.append(settle)

    def expire_all(self) -> None:
        """At a clean stop: the work this node ran dies with it, so its leases end now and the next
        node (or this one restarted) settles that work at once."""
        with self._renewing, self.storage.database.engine.begin() as connection:
            self._stopped = True
            connection.execute(
                update(LEASES).where(LEASES.c.owner == self.id).values(expires_at=datetime.now(UTC))
            )

    def _beat_forever(self) -> None:
        interval = self.lease.total_seconds() / 3
        while True:
            time.sleep(interval)
            try:
                self._beat()
            except Exception:  # the database may be away a moment: the next beat tries again
                log.exception("lease heartbeat failed")

    def _beat(self) -> None:
        now = datetime.now(UTC)
        # the work running before the leases are read: work that starts while they are read holds a
        # lease this read may not see, and must not pass for lost
        with self._lock:
            running = dict(self._stops)
            settles = list(self._settles)
        with self._renewing, self.storage.database.engine.begin() as connection:
            if self._stopped:
                return
            connection.execute(
                update(LEASES).where(LEASES.c.owner == self.id).values(expires_at=now + self.lease)
            )
            held = dict(
                connection.execute(
                    select(LEASES.c.resource, LEASES.c.stop_requested).where(LEASES.c.owner == self.id)
                ).all()
            )
        for resource, stop in running.items():
            if held.get(resource, True):  # asked to stop, or lost to another node
                stop()
        for settle in settles:
            try:
                settle(self.storage)
            except Exception:  # one kind's failure must not keep the others' dead nodes' work running
                log.exception("settling the work of stopped nodes failed")


_nodes: dict[int, Node] = {}
_nodes_lock = threading.Lock()


def lease_node(storage: Storage) -> Node:
    """This process's node for a storage, made (and beating) on first use."""
    with _nodes_lock:
        node = _nodes.get(id(storage))
        if node is None:
            node = _nodes[id(storage)] = Node(storage, Settings().lease_seconds)
        return node


class LeasedStops:
    """The stop events of the jobs of one kind this node runs, each job held by a lease from submit to
    finish: a stop asked through any node sets the event here."""

    def __init__(self, storage: Storage, kind: str) -> None:
        self.node = lease_node(storage)
        self.kind = kind
        self._events: dict[tuple[str, ...], threading.Event] = {}

    def start(self, key: tuple[str, ...]) -> threading.Event:
        event = self._events[key] = threading.Event()
        self.node.hold(resource_name(self.kind, key), event.set)
        return event

    def __getitem__(self, key: tuple[str, ...]) -> threading.Event:
        return self._events[key]

    def stop(self, key: tuple[str, ...]) -> None:
        self.node.request_stop(resource_name(self.kind, key))

    def finish(self, key: tuple[str, ...]) -> None:
        self._events.pop(key, None)
        self.node.release(resource_name(self.kind, key))
