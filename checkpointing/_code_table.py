"""A per-code-object memo that lets go of code objects once no function uses them.

Analysing a function's code is costly, so its result is memoised per code object and
shared by every function built from that code (closures made in a loop share one).
Code objects cannot be weakly referenced, and a memo keyed by ``id(code)`` must keep
the code alive, or a new code object could take the id of a dead one and be handed its
analysis: a wrong key, the worst failure. Kept forever, though, every code object ever
analysed stays in memory: a notebook that re-runs a cell a hundred times pins a hundred
versions of its functions.

:class:`CodeTable` resolves both through the *functions*, which can be weakly
referenced:

* an entry holds its code object strongly, so while the entry exists its id names that
  code object and nothing else (the only correctness requirement);
* each entry tracks the live functions that use it (weak references); when the last
  one dies, the entry moves to a small least-recently-released list (a function made
  again from the same code, like a closure per call, finds it there) and falls out of
  that list after ``keep`` newer releases, letting the code object go.

Weak-reference callbacks run at awkward moments (inside garbage collection, in any
thread), so they only queue the death; the queue is processed under a lock the next
time the table builds or adopts an entry. A hit with a function already known costs two
dictionary lookups and takes no lock.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable
from types import CodeType, FunctionType
from typing import Generic, TypeVar

__all__ = ["CodeTable"]

V = TypeVar("V")


class _Entry(Generic[V]):
    """One code object, what was computed for it, and the live functions that use it."""

    __slots__ = ("code", "users", "value")

    def __init__(self, code: CodeType, value: V) -> None:
        self.code = code  # kept so that id(code) cannot name another object meanwhile
        self.value = value
        self.users: dict[int, weakref.ref[FunctionType]] = {}


class CodeTable(Generic[V]):
    """Memoise ``build(func)`` per code object of ``func``; bounded by live functions."""

    def __init__(self, build: Callable[[FunctionType], V], keep: int = 128) -> None:
        self._build = build
        self._keep = keep
        self._live: dict[int, _Entry[V]] = {}
        self._released: OrderedDict[int, _Entry[V]] = OrderedDict()
        self._deaths: deque[tuple[int, int]] = deque()
        self._lock = threading.RLock()

    def get(self, func: FunctionType) -> V:
        """Return the value for ``func``'s code, building it on first use."""
        code = func.__code__
        entry = self._live.get(id(code))
        if entry is not None and entry.code is code and id(func) in entry.users:
            return entry.value
        return self._slow_get(func, code)

    def __len__(self) -> int:
        """Return how many code objects the table holds (live and recently released)."""
        with self._lock:
            self._collect()
            return len(self._live) + len(self._released)

    def clear(self) -> None:
        """Forget everything (the next ``get`` of each code builds again)."""
        with self._lock:
            self._live.clear()
            self._released.clear()
            self._deaths.clear()

    # -- the slow path, under the lock -------------------------------------------------
    def _slow_get(self, func: FunctionType, code: CodeType) -> V:
        with self._lock:
            self._collect()
            key = id(code)
            entry = self._live.get(key)
            if entry is None:
                entry = self._released.pop(key, None)
                if entry is not None:
                    self._live[key] = entry
            if entry is None:
                # Built outside any entry first: a failing build leaves nothing behind.
                entry = _Entry(code, self._build(func))
                self._live[key] = entry
            self._adopt(entry, func)
            return entry.value

    def _adopt(self, entry: _Entry[V], func: FunctionType) -> None:
        """Count ``func`` as a user of ``entry`` until it dies."""
        key, func_id = id(entry.code), id(func)
        deaths = self._deaths

        def died(_: object, death: tuple[int, int] = (key, func_id)) -> None:
            deaths.append(death)  # atomic; processed later under the lock

        entry.users[func_id] = weakref.ref(func, died)

    def _collect(self) -> None:
        """Drop dead users; release entries left without any; trim the released list."""
        while self._deaths:
            key, func_id = self._deaths.popleft()
            entry = self._live.get(key)
            if entry is None:
                continue
            ref = entry.users.get(func_id)
            if ref is not None and ref() is None:
                del entry.users[func_id]
            if not entry.users:
                del self._live[key]
                self._released[key] = entry
        while len(self._released) > self._keep:
            self._released.popitem(last=False)
