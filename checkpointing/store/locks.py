"""Locks with an owner and an expiry, so one caller computes a key while others wait.

A store hands out a :class:`StoreLock` from ``Store.lock(key, ttl)``; the call engine
tries it once on a miss (:mod:`checkpointing._dedup` does the waiting). A lock expires
``ttl`` seconds after it was taken or last refreshed, so the lock of a holder that died
(a killed process, a lost machine) is taken over once it expires; a live holder refreshes
its lock while it computes.

:class:`LeaseFile` implements the lock as one small file (or object) holding JSON: owner
(host, process, random token) and expiry time. Creating it must be exclusive, which a
local directory (``O_EXCL``) and object stores with conditional writes (S3's
``If-None-Match``, fsspec's ``mode="create"``) provide; ``LeaseFile`` takes the three file
operations it needs as a small :class:`LeaseBackend`. On the local machine a lock whose
holder process no longer exists is stale at once, without waiting for its expiry.

Expiry uses wall-clock time, so machines sharing a cache need roughly synchronised clocks
(seconds, not minutes). A lost race between two callers taking over one expired lock can
at worst make both compute: never a wrong result, since either one's entry is complete.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from checkpointing._stdlib import stdlib_module

# A project package called ``json`` must not replace the module checkpointing uses.
if TYPE_CHECKING:
    import json
else:
    json = stdlib_module("json")

__all__ = ["DirectoryLeases", "LeaseBackend", "LeaseFile", "StoreLock", "owner_label"]


def _host_name() -> str:
    """Return this machine's name (``os.uname`` spares importing ``socket`` where it exists)."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


_HOST = _host_name()


@runtime_checkable
class StoreLock(Protocol):
    """A lock on one key of a store; every method returns quickly (no blocking waits)."""

    def acquire(self) -> bool:
        """Try once to take the lock; return whether this caller now holds it."""
        ...

    def refresh(self) -> bool:
        """Push the expiry ``ttl`` seconds ahead; return ``False`` if the lock was lost."""
        ...

    def release(self) -> None:
        """Give the lock up if this caller still holds it."""
        ...


class LeaseBackend(Protocol):
    """The three file operations a :class:`LeaseFile` needs from where it lives."""

    def create(self, name: str, data: bytes) -> bool:
        """Create ``name`` holding ``data`` unless it exists; return whether it was created."""
        ...

    def read(self, name: str) -> bytes | None:
        """Return the content of ``name``, or ``None`` if it does not exist."""
        ...

    def remove(self, name: str) -> None:
        """Remove ``name`` if it exists."""
        ...

    def overwrite(self, name: str, data: bytes) -> None:
        """Replace the content of ``name`` by ``data``."""
        ...


def owner_label() -> str:
    """Describe this process as a lock owner: host and process id."""
    return f"{_HOST}:{os.getpid()}"


class LeaseFile:
    """A lock held as the file ``name`` of ``backend``; expires ``ttl`` s after its refresh."""

    def __init__(self, backend: LeaseBackend, name: str, ttl: float) -> None:
        if ttl <= 0:
            raise ValueError(f"lock ttl must be positive, got {ttl!r}")
        self.backend = backend
        self.name = name
        self.ttl = float(ttl)
        self.token = os.urandom(16).hex()
        self.held = False

    def __repr__(self) -> str:
        return f"<LeaseFile {self.name!r} held={self.held}>"

    def _record(self) -> bytes:
        """Return the lock file content: owner, token and expiry."""
        record = {
            "owner": owner_label(),
            "host": _HOST,
            "pid": os.getpid(),
            "token": self.token,
            "expires": time.time() + self.ttl,
        }
        return json.dumps(record).encode()

    def acquire(self) -> bool:
        """Create the lock file, taking over a stale one; return whether it is now held."""
        if self.held:
            return True
        if self.backend.create(self.name, self._record()):
            self.held = True
            return True
        current = self.backend.read(self.name)
        if current is not None and not _is_stale(current):
            return False
        # Stale (expired or its local holder is gone) or vanished since: take it over.
        # Re-reading right before removing narrows the window in which two callers both
        # take over; losing that race only makes both compute.
        if current is not None and self.backend.read(self.name) == current:
            self.backend.remove(self.name)
        if self.backend.create(self.name, self._record()):
            self.held = True
        return self.held

    def refresh(self) -> bool:
        """Rewrite the expiry if the lock is still this caller's; return whether it is."""
        if not self.held:
            return False
        current = self.backend.read(self.name)
        if current is None or _token(current) != self.token:
            self.held = False
            return False
        self.backend.overwrite(self.name, self._record())
        return True

    def release(self) -> None:
        """Remove the lock file if it is still this caller's."""
        if not self.held:
            return
        self.held = False
        current = self.backend.read(self.name)
        if current is not None and _token(current) == self.token:
            self.backend.remove(self.name)


def _token(content: bytes) -> str | None:
    """Return the token of a lock record, or ``None`` if it is unreadable."""
    try:
        record = json.loads(content)
    except ValueError:
        return None
    return str(record.get("token")) if isinstance(record, dict) else None


def _is_stale(content: bytes) -> bool:
    """Return whether a lock record has expired or names a local process that is gone."""
    try:
        record = json.loads(content)
        expires = float(record["expires"])
        host, pid = str(record.get("host", "")), int(record.get("pid", 0))
    except (ValueError, TypeError, KeyError):
        # A half-written or foreign record: treat as stale only once it is old enough
        # not to be a writer still in progress (the caller re-reads before removing).
        return True
    if expires < time.time():
        return True
    return host == _HOST and pid > 0 and not _process_alive(pid)


def _process_alive(pid: int) -> bool:
    """Return whether a process with this id exists on this machine."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but belongs to another user
        return True
    return True


class DirectoryLeases:
    """Lock files in a local directory: ``O_EXCL`` creation, created on first use."""

    def __init__(self, directory: str) -> None:
        self.directory = directory

    def _path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def create(self, name: str, data: bytes) -> bool:
        """Create the lock file exclusively, complete from the start; return whether created."""
        # Written aside then hard-linked: the link fails if the lock exists, and a reader
        # never sees a lock file without its record.
        temp = self._write_aside(name, data)
        try:
            os.link(temp, self._path(name))
        except FileExistsError:
            return False
        finally:
            os.unlink(temp)
        return True

    def _write_aside(self, name: str, data: bytes) -> str:
        """Write ``data`` to a fresh temporary file beside ``name``; return its path."""
        temp = self._path(f".{name}.{os.urandom(16).hex()}")
        try:
            file = open(temp, "wb")  # noqa: SIM115 - closed right below
        except FileNotFoundError:
            os.makedirs(self.directory, exist_ok=True)
            file = open(temp, "wb")  # noqa: SIM115 - closed right below
        with file:
            file.write(data)
        return temp

    def read(self, name: str) -> bytes | None:
        """Return the lock file's content, or ``None`` if there is none."""
        try:
            with open(self._path(name), "rb") as file:
                return file.read()
        except FileNotFoundError:
            return None

    def remove(self, name: str) -> None:
        """Remove the lock file if it exists."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(name))

    def overwrite(self, name: str, data: bytes) -> None:
        """Replace the lock file's content atomically (write aside, then rename)."""
        os.replace(self._write_aside(name, data), self._path(name))
