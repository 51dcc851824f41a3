"""Changes to the file system that survive a power cut. A file's bytes are on disk once the file is
fsynced, but a name (made by create, rename, link or mkdir, or removed by unlink) only once the directory
holding it is fsynced: until then a power cut may bring back the old name or drop the new one, whatever
the file's own fsync (POSIX promises no more; ext4 and XFS give more in some modes, nothing to count on).
"""

from __future__ import annotations

import os
from pathlib import Path


def sync_folder(folder: Path) -> None:
    """Makes the names in ``folder`` (entries made, renamed in or removed) durable."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def make_folders(folder: Path) -> None:
    """``mkdir -p`` whose folders survive a power cut: each one it makes is synced into its parent.
    FileExistsError when a file is in the way, as ``Path.mkdir``."""
    if folder.is_dir():
        return
    make_folders(folder.parent)
    try:
        folder.mkdir()
    except FileExistsError:
        if not folder.is_dir():
            raise
    sync_folder(folder.parent)  # also when a concurrent writer made it: it may not have synced it yet
