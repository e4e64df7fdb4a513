"""Pickle what a cell left behind so that unpickling it rebuilds the run's object graph.

One pickle holds everything (the definition statements to run again, the variables, the
attributes set on classes and modules, the library states), so objects shared between
them stay shared. Objects pickle cannot store by value, or that must keep their
identity, are written as references and resolved by :class:`Unpickler`:

* the objects a definition statement bound (functions, classes, wrappers): the
  statement is run again (see :mod:`ipython_ext.cell.tracing`), in cell order, and the
  reference resolves to what it bound;
* objects that existed before the run (see :mod:`ipython_ext.cell.references`): by their
  path, with their new contents when the cell may have changed them; the contents are
  written into the existing object only once everything else was restored, so a restore
  that fails halfway leaves the inputs as they were;
* modules: imported again; views of numpy arrays: views of the same base again.
"""

from __future__ import annotations

import importlib
import io
import pickle
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from ipython_ext.cell.references import (
    Existing,
    Path,
    array_view,
    make_view,
    resettable,
    state_of,
)

__all__ = ["DefinitionCall", "Pickler", "Refs", "Unpickler"]


@dataclass(frozen=True)
class DefinitionCall:
    """Stands in the payload for running definition statement ``index`` with ``reads``."""

    index: int
    reads: dict[str, Any]


@dataclass
class Refs:
    """How objects are referred to while pickling one run.

    ``made``: id of an object a definition statement bound -> (statement, name).
    ``pure``: top-level names whose objects the run did not change (unchanged inputs).
    ``paths`` and ``rebind`` are filled while pickling: the paths used, and the output
    names whose changed object could not be written in place (stored by value).
    """

    existing: Existing
    made: dict[int, tuple[int, str]]
    pure: frozenset[str]
    tops: dict[int, str]
    paths: dict[Path, int] = field(default_factory=dict)
    rebind: set[str] = field(default_factory=set)

    def index_of(self, path: Path) -> int:
        """Return the position of ``path`` in ``paths``, adding it if new."""
        return self.paths.setdefault(path, len(self.paths))


# Stand-ins written into the pickle; only ``Unpickler`` gives them meaning.
def _definition(index: int, name: str) -> Any:
    raise RuntimeError("restored by %%checkpoint only")


def _run_definition(index: int, reads: dict[str, Any]) -> Any:
    raise RuntimeError("restored by %%checkpoint only")


_STAND_INS = frozenset({"_definition", "_run_definition"})


class Pickler(pickle.Pickler):
    """Pickle a run's payload, referring to definitions and existing objects (module doc)."""

    def __init__(
        self,
        file: io.BytesIO,
        buffer_callback: Callable[[pickle.PickleBuffer], Any] | None,
        refs: Refs,
    ) -> None:
        super().__init__(file, protocol=5, buffer_callback=buffer_callback)
        self._refs = refs
        self._written: set[int] = set()

    def reducer_override(self, obj: Any) -> Any:
        """Write definitions, modules, existing objects and array views as references."""
        refs = self._refs
        if type(obj) is DefinitionCall:
            return _run_definition, (obj.index, obj.reads)
        made = refs.made.get(id(obj))
        if made is not None:
            return _definition, made
        if isinstance(obj, ModuleType):
            return importlib.import_module, (obj.__name__,)
        view = array_view(obj)
        if view is not None:
            base, geometry = view
            return make_view, (base, *geometry)
        return NotImplemented


class _ReferencingPickler(Pickler):
    """A :class:`Pickler` that also writes objects that existed before the run as paths."""

    def persistent_id(self, obj: Any) -> Any:
        """Write an object that existed before the run as its path (and new contents).

        pickle calls this for every object, lists and dicts included (``reducer_override``
        is skipped for those); the contents are written once per object.
        """
        refs = self._refs
        known = refs.existing.objects.get(id(obj))
        if known is None or known[0] is not obj:
            return None
        path = known[1]
        index = refs.index_of(path)
        if path[0] in refs.pure or isinstance(obj, type) or callable(obj):
            return ("ref", index)
        if resettable(obj):
            if index in self._written:
                return ("ref", index)
            self._written.add(index)
            return ("ref", index, state_of(obj))
        name = refs.tops.get(id(obj))
        if name is not None:
            refs.rebind.add(name)
        return None


class Unpickler(pickle.Unpickler):
    """Read what :class:`Pickler` wrote (see the module doc).

    ``run_definition(index, reads)`` runs a statement and returns what it bound by name;
    ``existing`` are the objects the paths led to. Contents to write into existing objects
    are collected in ``writes`` for the caller to apply last.
    """

    def __init__(
        self,
        data: bytes,
        buffers: Iterable[Any],
        run_definition: Callable[[int, dict[str, Any]], dict[str, Any]],
        existing: list[Any],
    ) -> None:
        super().__init__(io.BytesIO(data), buffers=buffers)
        self._runner = run_definition
        self._existing = existing
        self._made: dict[tuple[int, str], Any] = {}
        self.writes: list[tuple[Any, Any]] = []

    def find_class(self, module: str, name: str) -> Any:
        """Resolve the stand-ins :class:`Pickler` wrote; anything else as pickle does."""
        if module == __name__ and name in _STAND_INS:
            return getattr(self, name)
        return super().find_class(module, name)

    def _definition(self, index: int, name: str) -> Any:
        try:
            return self._made[(index, name)]
        except KeyError:
            raise LookupError(f"{name!r} is needed before its definition runs") from None

    def _run_definition(self, index: int, reads: dict[str, Any]) -> None:
        for name, value in self._runner(index, reads).items():
            self._made[(index, name)] = value

    def persistent_load(self, pid: Any) -> Any:
        """Return the existing object ``pid`` names; note its new contents to write last."""
        value = self._existing[pid[1]]
        if len(pid) > 2:
            self.writes.append((value, pid[2]))
        return value


def dump(payload: Any, refs: Refs, out_of_band: bool) -> tuple[bytes, tuple[Any, ...]]:
    """Return the pickle stream of ``payload`` and its out-of-band buffers."""
    stream = io.BytesIO()
    buffers: list[pickle.PickleBuffer] = []
    callback = buffers.append if out_of_band else None
    pickler_class = _ReferencingPickler if refs.existing.reaches(payload) else Pickler
    pickler_class(stream, callback, refs).dump(payload)
    return stream.getvalue(), tuple(buffers)
