"""A FUSE file system that loses what a power cut loses: every write not yet fsynced.

    python tests/powercut.py BACKING MOUNTPOINT

Files live in BACKING, a plain folder (the "disk"). A write goes to an in-memory copy of its file
(the "page cache") and reaches BACKING only when that file is fsynced. Metadata (create, unlink,
rename, truncate, mkdir) goes to BACKING at once: the harsher choice for SQLite would be to lose it
too, but SQLite fsyncs what it must and this layer is about data. Writing anything to
`MOUNTPOINT/.powercut` is the cut: every unsynced write is thrown away and the file system stops at
once (the mount then answers ENOTCONN until it is unmounted).

It runs single-threaded, so a cut falls between two operations, never inside one. POSIX locks are
left to the kernel (one machine), and shared memory (SQLite's -shm, mapped by every connection)
works through the page cache as on any file system, so WAL runs unchanged on this layer.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Any

import mfusepy as fuse

PAGE = 4096
CUT = "/.powercut"


class Cached:
    """One file's bytes as the page cache holds them, and which pages differ from the disk."""

    def __init__(self, data: bytes) -> None:
        self.data = bytearray(data)
        self.dirty: set[int] = set()


class PowerCut(fuse.Operations):
    """Passthrough to BACKING, except that data waits in memory until fsync."""

    use_ns = True  # utimens takes nanoseconds

    def __init__(self, backing: str) -> None:
        self.backing = backing
        self.cache: dict[str, Cached] = {}

    def _real(self, path: str) -> str:
        return os.path.join(self.backing, path.lstrip("/"))

    def _cached(self, path: str) -> Cached:
        if path not in self.cache:
            with open(self._real(path), "rb") as f:
                self.cache[path] = Cached(f.read())
        return self.cache[path]

    # ---- metadata: straight to the disk -----------------------------------------------------
    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        if path == CUT:
            return {"st_mode": 0o100600, "st_nlink": 1, "st_size": 0}
        try:
            st = os.lstat(self._real(path))
        except OSError as exc:
            raise fuse.FuseOSError(exc.errno) from None
        attrs = {key: getattr(st, key) for key in ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size",
                                                    "st_atime", "st_mtime", "st_ctime")}
        if path in self.cache:
            attrs["st_size"] = len(self.cache[path].data)
        return attrs

    def readdir(self, path: str, fh: int) -> list[str]:
        return [".", "..", *os.listdir(self._real(path))]

    def access(self, path: str, amode: int) -> int:
        if path != CUT and not os.access(self._real(path), amode):
            raise fuse.FuseOSError(errno.EACCES)
        return 0

    def statfs(self, path: str) -> dict[str, int]:
        st = os.statvfs(self._real(path))
        return {key: getattr(st, key) for key in ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail",
                                                   "f_ffree", "f_files", "f_flag", "f_frsize", "f_namemax")}

    def mkdir(self, path: str, mode: int) -> int:
        os.mkdir(self._real(path), mode)
        return 0

    def rmdir(self, path: str) -> int:
        os.rmdir(self._real(path))
        return 0

    def chmod(self, path: str, mode: int) -> int:
        os.chmod(self._real(path), mode)
        return 0

    def chown(self, path: str, uid: int, gid: int) -> int:
        os.chown(self._real(path), uid, gid)
        return 0

    def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
        os.utime(self._real(path), ns=times) if times else os.utime(self._real(path))
        return 0

    def unlink(self, path: str) -> int:
        try:
            os.unlink(self._real(path))
        except OSError as exc:
            raise fuse.FuseOSError(exc.errno) from None
        self.cache.pop(path, None)
        return 0

    def rename(self, old: str, new: str) -> int:
        try:
            os.rename(self._real(old), self._real(new))
        except OSError as exc:
            raise fuse.FuseOSError(exc.errno) from None
        self.cache.pop(new, None)
        if old in self.cache:
            self.cache[new] = self.cache.pop(old)
        return 0

    def truncate(self, path: str, length: int, fh: int | None = None) -> int:
        if path == CUT:
            return 0
        os.truncate(self._real(path), length)
        if path in self.cache:
            node = self.cache[path]
            del node.data[length:]
            node.data.extend(bytes(length - len(node.data)))
            node.dirty = {p for p in node.dirty if p * PAGE < length}
        return 0

    # ---- data: held until fsync ---------------------------------------------------------------
    def create(self, path: str, mode: int, fi: Any = None) -> int:
        # O_RDWR, not O_WRONLY: SQLite reads back what it created through the same descriptor
        os.close(os.open(self._real(path), os.O_RDWR | os.O_CREAT, mode))
        return 0

    def open(self, path: str, flags: int) -> int:
        if path != CUT and not os.path.exists(self._real(path)):
            raise fuse.FuseOSError(errno.ENOENT)
        return 0

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        if path in self.cache:
            return bytes(self.cache[path].data[offset:offset + size])
        with open(self._real(path), "rb") as f:
            return os.pread(f.fileno(), size, offset)

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        if path == CUT:
            self.cache.clear()  # the power goes: the page cache with it
            os._exit(0)
        node = self._cached(path)
        end = offset + len(data)
        if end > len(node.data):
            node.data.extend(bytes(end - len(node.data)))
        node.data[offset:end] = data
        node.dirty.update(range(offset // PAGE, (end - 1) // PAGE + 1))
        return len(data)

    def fsync(self, path: str, datasync: int, fh: int) -> int:
        node = self.cache.get(path)
        fd = os.open(self._real(path), os.O_RDWR)
        try:
            if node is not None:
                for page in sorted(node.dirty):
                    os.pwrite(fd, bytes(node.data[page * PAGE:(page + 1) * PAGE]), page * PAGE)
                os.ftruncate(fd, len(node.data))
                node.dirty.clear()
            os.fsync(fd)
        finally:
            os.close(fd)
        return 0

    def flush(self, path: str, fh: int) -> int:
        return 0  # a close is not a sync

    def release(self, path: str, fh: int) -> int:
        return 0

    def fsyncdir(self, path: str, datasync: int, fh: int) -> int:
        return 0  # metadata is on the disk already


if __name__ == "__main__":
    backing, mountpoint = (os.path.abspath(p) for p in sys.argv[1:3])
    Path(mountpoint).mkdir(parents=True, exist_ok=True)
    fuse.FUSE(PowerCut(backing), mountpoint, foreground=True, nothreads=True)
