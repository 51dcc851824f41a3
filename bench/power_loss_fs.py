"""A FUSE pass-through file system that can lose power: every operation goes to a backing folder, and on a
power cut everything not made durable is dropped, in the style of LazyFS (the tool Jepsen uses).

The durability model is POSIX's pessimistic one, what a program may count on on any file system: a file's
bytes are durable once the file is fsynced (or fdatasynced), a name once its directory is fsynced. So the
file system remembers, for each file written since its last fsync, its size then and the old bytes of each
4 KiB block it has overwritten since (kept on the first write to the block: appends cost nothing), and for
each directory changed since its last fsync, its entries then (kept on the first create, rename, link,
unlink, mkdir or rmdir in it). A power cut builds the durable tree from the root down (each directory's
entries as of its last fsync, each file's bytes as of its last fsync, hard links kept) and swaps it in for
the backing folder. Real file systems keep more than this (ext4's data=ordered journal writes a file's
blocks before the rename that names it; most keep the order of metadata changes); software that survives
this model survives those.

Files and directories are told apart by the backing folder's inode numbers, mapped to identities of their
own because the backing file system reuses the number of a file whose last name went (the durable state may
still name the old file: its durable bytes are copied aside then).

    python bench/power_loss_fs.py BACKING MOUNTPOINT CONTROL_SOCKET

runs in the foreground until unmounted (``fusermount3 -u MOUNTPOINT``); a client sends ``cut`` (drop what
is not durable) or ``sync`` (make everything durable, as sync(2) does) over the control socket, one line,
and reads ``ok`` once it is done (after a cut: ``ok FILES DIRS``, how many had changes that were lost).
"""

from __future__ import annotations

import errno
import functools
import os
import shutil
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import mfusepy

BLOCK = 4096
Result = TypeVar("Result")


@dataclass
class DurableFile:
    """A file written since its last fsync: its size then, and the old bytes of the blocks changed since."""

    size: int
    blocks: dict[int, bytes] = field(default_factory=dict)
    copy: Path | None = None  # the durable bytes, copied aside when the file's last name went


Entries = dict[str, tuple[int, bool]]  # name -> (identity, is a directory)


def _serialized(method: Callable[..., Result]) -> Callable[..., Result]:
    """One operation at a time: the bookkeeping and the backing folder change together."""

    @functools.wraps(method)
    def locked(self: PowerLossFS, *args: Any) -> Result:
        with self.serial:
            try:
                return method(self, *args)
            except OSError as error:
                raise mfusepy.FuseOSError(error.errno or errno.EIO) from error

    return locked


class PowerLossFS(mfusepy.Operations):
    use_ns = True

    def __init__(self, backing: Path, aside: Path) -> None:
        self.backing = backing
        self.aside = aside  # durable copies of files whose last name went
        self.serial = threading.RLock()
        self._reset()

    def _reset(self) -> None:
        self.identities: dict[int, int] = {}  # backing inode -> identity
        self.next_identity = 0
        self.files: dict[int, DurableFile] = {}  # identity -> durable state, files written since their fsync
        self.dirs: dict[int, Entries] = {}  # identity -> entries at its last fsync, dirs changed since
        self.handles: dict[int, tuple[int, int]] = {}  # handle -> (backing fd, identity)
        self.next_handle = 0
        shutil.rmtree(self.aside, ignore_errors=True)
        self.aside.mkdir(parents=True)

    # ---- the bookkeeping -------------------------------------------------------------------------

    def _real(self, path: str) -> Path:
        return self.backing / path.lstrip("/")

    def _identity(self, inode: int) -> int:
        if inode not in self.identities:
            self.identities[inode] = self.next_identity
            self.next_identity += 1
        return self.identities[inode]

    def _identity_of(self, real: Path) -> int:
        return self._identity(os.lstat(real).st_ino)

    def _entries(self, real: Path) -> Entries:
        found: Entries = {}
        with os.scandir(real) as listing:
            for entry in listing:
                found[entry.name] = (self._identity(entry.inode()), entry.is_dir(follow_symlinks=False))
        return found

    def _names_change(self, real_dir: Path) -> None:
        """Keeps the directory's entries as they are now, if they are its durable ones."""
        identity = self._identity_of(real_dir)
        if identity not in self.dirs:
            self.dirs[identity] = self._entries(real_dir)

    def _bytes_change(self, identity: int, fd: int, start: int, end: int) -> None:
        """Keeps the old bytes of the durable blocks that bytes ``start`` to ``end`` are about to change."""
        durable = self.files.get(identity)
        if durable is None:
            durable = self.files[identity] = DurableFile(os.fstat(fd).st_size)
        for block in range(start // BLOCK, (min(end, durable.size) + BLOCK - 1) // BLOCK):
            if block not in durable.blocks:
                durable.blocks[block] = os.pread(fd, BLOCK, block * BLOCK)

    def _durable_bytes_to(self, identity: int, source: Path, target: Path) -> None:
        """Writes the file's durable bytes at ``target``, from its present bytes at ``source``."""
        durable = self.files.get(identity)
        if durable is not None and durable.copy is not None:
            source = durable.copy
        shutil.copyfile(source, target, follow_symlinks=False)
        if durable is None or durable.copy is not None:
            return
        with open(target, "r+b") as file:
            for block, data in durable.blocks.items():
                file.seek(block * BLOCK)
                file.write(data)
            file.truncate(durable.size)

    def _name_goes(self, real: Path) -> None:
        """Called before a name is removed: when it is the file's last, its durable bytes are copied aside
        (a durable directory may still name it) and its inode number let go (the backing folder reuses it)."""
        status = os.lstat(real)
        identity = self._identity(status.st_ino)
        if os.path.isdir(real):
            self._names_change(real)  # an empty directory: its durable entries may not be
        elif status.st_nlink == 1:
            copy = self.aside / str(identity)
            self._durable_bytes_to(identity, real, copy)
            self.files[identity] = DurableFile(0, copy=copy)
        else:
            return  # other names keep the file
        del self.identities[status.st_ino]

    def _handle(self, fd: int, identity: int) -> int:
        self.next_handle += 1
        self.handles[self.next_handle] = (fd, identity)
        return self.next_handle

    def _fd(self, handle: int) -> tuple[int, int]:
        if handle not in self.handles:  # a handle of the process the power cut ended
            raise OSError(errno.EBADF, "stale handle")
        return self.handles[handle]

    # ---- power ------------------------------------------------------------------------------------

    def cut(self) -> str:
        """Drops everything not durable: the backing folder becomes the durable tree. Says how many files
        and directories had changes that were not durable."""
        with self.serial:
            dropped = f"{len(self.files)} {len(self.dirs)}"
            present: dict[int, Path] = {}
            for folder, subfolders, names in os.walk(self.backing):
                for name in subfolders + names:
                    present[self._identity_of(Path(folder) / name)] = Path(folder) / name
            built = self.backing.with_name(self.backing.name + ".cut")
            shutil.rmtree(built, ignore_errors=True)
            built.mkdir()
            self._build(self._identity_of(self.backing), self.backing, built, present, {})
            for fd, _ in self.handles.values():
                os.close(fd)
            gone = self.backing.with_name(self.backing.name + ".gone")
            self.backing.rename(gone)
            built.rename(self.backing)
            shutil.rmtree(gone)
            self._reset()
            return dropped

    def _build(
        self, identity: int, real: Path | None, target: Path, present: dict[int, Path], made: dict[int, Path]
    ) -> None:
        entries = self.dirs[identity] if identity in self.dirs else self._entries(real)  # type: ignore[arg-type]
        for name, (child, is_dir) in entries.items():
            if is_dir:
                (target / name).mkdir()
                self._build(child, present.get(child), target / name, present, made)
            elif child in made:
                os.link(made[child], target / name)
            else:
                source = present.get(child) or self.aside / "missing"
                self._durable_bytes_to(child, source, target / name)
                made[child] = target / name

    def sync(self) -> str:
        with self.serial:
            self.files.clear()
            self.dirs.clear()
            return ""

    # ---- the file system ---------------------------------------------------------------------------

    @_serialized
    def getattr(self, path: str | None, fh: int | None = None) -> dict[str, Any]:
        status = os.lstat(self._real(path)) if path is not None else os.fstat(self._fd(fh or 0)[0])
        attributes = {
            key: getattr(status, key) for key in ("st_mode", "st_nlink", "st_size", "st_uid", "st_gid")
        }
        attributes.update(
            st_atime=status.st_atime_ns, st_mtime=status.st_mtime_ns, st_ctime=status.st_ctime_ns
        )
        return attributes

    @_serialized
    def readdir(self, path: str, fh: int) -> list[str]:
        return [".", "..", *os.listdir(self._real(path))]

    @_serialized
    def statfs(self, path: str) -> dict[str, int]:
        status = os.statvfs(self.backing)
        return {key: getattr(status, key) for key in dir(status) if key.startswith("f_")}

    @_serialized
    def access(self, path: str, amode: int) -> int:
        if not os.access(self._real(path), amode):
            raise OSError(errno.EACCES, path)
        return 0

    @_serialized
    def chmod(self, path: str, mode: int) -> int:
        os.chmod(self._real(path), mode)
        return 0

    @_serialized
    def chown(self, path: str, uid: int, gid: int) -> int:
        os.chown(self._real(path), uid, gid)
        return 0

    @_serialized
    def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
        os.utime(self._real(path), ns=times)
        return 0

    @_serialized
    def open(self, path: str, flags: int) -> int:
        real = self._real(path)
        if flags & os.O_ACCMODE != os.O_RDONLY:  # read too: the old bytes of blocks it overwrites are kept
            flags = flags & ~os.O_ACCMODE | os.O_RDWR
        fd = os.open(real, flags & ~(os.O_TRUNC | os.O_APPEND))  # the kernel gives appends their offset
        identity = self._identity(os.fstat(fd).st_ino)
        if flags & os.O_TRUNC:
            self._bytes_change(identity, fd, 0, os.fstat(fd).st_size)
            os.ftruncate(fd, 0)
        return self._handle(fd, identity)

    @_serialized
    def create(self, path: str, mode: int, fi: Any = None) -> int:
        real = self._real(path)
        self._names_change(real.parent)
        existed = real.exists()
        fd = os.open(real, os.O_RDWR | os.O_CREAT, mode)
        identity = self._identity(os.fstat(fd).st_ino)
        if not existed:
            self.files[identity] = DurableFile(0)  # nothing of it is durable yet
        return self._handle(fd, identity)

    @_serialized
    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        return os.pread(self._fd(fh)[0], size, offset)

    @_serialized
    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        fd, identity = self._fd(fh)
        self._bytes_change(identity, fd, offset, offset + len(data))
        return os.pwrite(fd, data, offset)

    @_serialized
    def truncate(self, path: str, length: int, fh: int | None = None) -> int:
        fd = os.open(self._real(path), os.O_RDWR)
        try:
            size = os.fstat(fd).st_size
            self._bytes_change(self._identity(os.fstat(fd).st_ino), fd, min(size, length), max(size, length))
            os.ftruncate(fd, length)
        finally:
            os.close(fd)
        return 0

    @_serialized
    def fsync(self, path: str, datasync: int, fh: int) -> int:
        self.files.pop(self._fd(fh)[1], None)
        return 0

    @_serialized
    def fsyncdir(self, path: str, datasync: int, fh: int) -> int:
        self.dirs.pop(self._identity_of(self._real(path)), None)
        return 0

    @_serialized
    def flush(self, path: str, fh: int) -> int:
        return 0

    @_serialized
    def release(self, path: str, fh: int) -> int:
        if fh in self.handles:
            os.close(self.handles.pop(fh)[0])
        return 0

    @_serialized
    def mkdir(self, path: str, mode: int) -> int:
        real = self._real(path)
        self._names_change(real.parent)
        os.mkdir(real, mode)
        self.dirs[self._identity_of(real)] = {}  # none of its entries is durable yet
        return 0

    @_serialized
    def rmdir(self, path: str) -> int:
        real = self._real(path)
        if os.listdir(real):
            raise OSError(errno.ENOTEMPTY, path)
        self._names_change(real.parent)
        self._name_goes(real)
        os.rmdir(real)
        return 0

    @_serialized
    def unlink(self, path: str) -> int:
        real = self._real(path)
        self._names_change(real.parent)
        self._name_goes(real)
        os.unlink(real)
        return 0

    @_serialized
    def rename(self, old: str, new: str) -> int:
        source, target = self._real(old), self._real(new)
        self._names_change(source.parent)
        self._names_change(target.parent)
        if os.path.lexists(target) and os.lstat(target).st_ino != os.lstat(source).st_ino:
            self._name_goes(target)
        os.rename(source, target)
        return 0

    @_serialized
    def link(self, target: str, source: str) -> int:
        new = self._real(target)
        self._names_change(new.parent)
        os.link(self._real(source), new)
        return 0


def _control(fs: PowerLossFS, address: str) -> None:
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(address)
        server.listen()
        while True:
            connection, _ = server.accept()
            with connection, connection.makefile("rw") as stream:
                command = stream.readline().strip()
                said = {"cut": fs.cut, "sync": fs.sync}[command]()
                stream.write(f"ok {said}\n")


def main() -> None:
    backing, mountpoint, control = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    fs = PowerLossFS(backing, backing.with_name(backing.name + ".aside"))
    threading.Thread(target=_control, args=(fs, control), daemon=True).start()
    # no caching of names or attributes: a cut changes them under the kernel; and an unlinked file that is
    # still open goes at once (libfuse would otherwise rename it to .fuse_hidden*, a name of its own)
    mfusepy.FUSE(
        fs, mountpoint, foreground=True, attr_timeout=0, entry_timeout=0, negative_timeout=0, hard_remove=True
    )


if __name__ == "__main__":
    main()
