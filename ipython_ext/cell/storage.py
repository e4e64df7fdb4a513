"""Store what a cell run left behind, and put it back on a hit.

The record (:class:`StoredCell`) holds the replayable output and a pickle of the output
variables. Objects that pickle could only store by name, or that are already in the
namespace, are stored as references instead: the cell's own functions and classes
(restored by running their definitions again), modules (imported again), and inputs
the cell did not change (so aliases stay aliases and large inputs are not stored twice).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import pickle
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ipython_ext.cell.analysis import Definition, parse_cell
from ipython_ext.cell.plan import ABSENT, CellOptions, Plan, digest_of, is_ipython_name
from ipython_ext.cell.recording import NOTHING, WIDGET_VIEW, Event, Recording

__all__ = [
    "NotStorable",
    "RestoreError",
    "StoredCell",
    "build_entry",
    "by_reference",
    "restore",
]

# Names IPython binds itself: never outputs (``_``, ``_5``, ``_i5``, ``_ii``, ``In``...).
_IPYTHON_NAME = re.compile(r"_+|_\d+|_i+\d*|_(?:ih|oh|dh|exit_code)|In|Out|get_ipython|exit|quit")
_LAST = "<last value>"  # not a Python name, so it never clashes with a variable


@dataclass(frozen=True)
class StoredCell:
    """What one successful run left behind, stored under the cell's key.

    ``variables`` is a pickle (with ``buffers`` out of band) of the output variables and,
    under a key that is not a name, the last expression's value; it refers to the cell's
    definitions, to modules and to unchanged inputs by name (see ``_VariablePickler``).
    ``last_display`` replaces that value when it could not be pickled.
    """

    events: tuple[Event, ...]
    variables: bytes
    buffers: tuple[Any, ...]
    names: tuple[str, ...]
    definitions: tuple[str, ...]
    deleted: tuple[str, ...]
    last_display: tuple[dict[str, Any], dict[str, Any]] | None


class NotStorable(Exception):
    """The run's results cannot be stored faithfully; the message says why and what to do."""


class RestoreError(Exception):
    """A stored entry could not be put back; the cell runs instead."""


def build_entry(
    shell: Any,
    plan: Plan,
    options: CellOptions,
    before: dict[str, Any],
    recording: Recording,
    value: Any,
) -> StoredCell:
    """Build what to store for this run; raise ``NotStorable`` if it would replay wrongly."""
    ns = shell.user_ns
    outputs = _outputs(shell, plan, options, before)
    definitions = [d.name for d in plan.analysis.definitions if d.name in outputs]
    for name in sorted(plan.analysis.modified & outputs):
        # Modules, classes and functions are restored by reference (or by running
        # their definition): a change made to them in place would be lost.
        current = ns[name]
        if name in definitions or (by_reference(current) and current is before.get(name)):
            raise NotStorable(
                f"not cached: the cell changes {_kind(current)} {name!r} in place (e.g. "
                f"{name}.attr = ...), which a replay cannot reproduce. The cell ran "
                "normally; make that change in another cell to cache this one."
            )
    names = sorted(outputs - set(definitions))
    payload = {name: ns[name] for name in names}
    pickler = _Payload(
        out_of_band=plan.cache.pickle_protocol >= 5,
        definitions={id(ns[name]): name for name in definitions},
        inputs={
            id(ns[name]): name
            for name in plan.digests
            if name in ns and name not in outputs and ns[name] is before.get(name)
        },
    )
    last_display = None
    if value is not NOTHING:
        payload[_LAST] = value
    while True:
        try:
            variables, buffers = pickler.dump(payload)
            break
        except Exception as exc:  # name the variable that failed
            name = pickler.culprit(payload)
            if name != _LAST:
                raise _unpicklable(name, payload, exc) from exc
            # The last value is only shown, never used: keep what it looked like.
            del payload[_LAST]
            data, metadata = shell.display_formatter.format(value)
            if WIDGET_VIEW not in data:
                last_display = (dict(data), dict(metadata))
    deleted = sorted(
        name
        for name in before
        if name not in ns and not _IPYTHON_NAME.fullmatch(name) and name not in options.exclude
    )
    return StoredCell(
        events=recording.stored_events(),
        variables=variables,
        buffers=buffers,
        names=tuple(names),
        definitions=tuple(definitions),
        deleted=tuple(deleted),
        last_display=last_display,
    )


def _outputs(shell: Any, plan: Plan, options: CellOptions, before: dict[str, Any]) -> set[str]:
    """Return the names to store: bound for sure, rebound, or changed in place."""
    ns = shell.user_ns
    changed = {name for name, value in ns.items() if before.get(name, NOTHING) is not value}
    for name, digest in plan.digests.items():
        # An input changed in place (``results.append(x)``, ``model.fit(X)``).
        if digest == ABSENT or name not in ns or name in changed:
            continue
        try:
            if digest_of(ns[name]) != digest:
                changed.add(name)
        except Exception:  # noqa: BLE001 - it hashed before: treat as changed
            changed.add(name)
    analysis = plan.analysis
    wanted = analysis.definite | changed | analysis.modified | set(options.outputs)
    return {
        name
        for name in wanted - set(options.exclude)
        if name in ns and not _IPYTHON_NAME.fullmatch(name) and not is_ipython_name(shell, name)
    }


def restore(shell: Any, entry: StoredCell, plan: Plan) -> Any:
    """Put the stored variables back and run the cell's definitions again."""
    ns = shell.user_ns
    by_name = {d.name: d for d in plan.analysis.definitions}
    if any(name not in by_name for name in entry.definitions):
        raise RestoreError("the entry does not match the cell's definitions")
    stored = set(entry.names)
    wanted = sorted((by_name[name] for name in entry.definitions), key=lambda d: d.index)
    # Definitions that read stored variables (a default, a decorator) run after them.
    first = [d for d in wanted if not d.needs & stored]
    later = [d for d in wanted if d.needs & stored]
    done: set[str] = set()
    tree = parse_cell(plan.source)
    # Register the cell text as IPython does, so tracebacks and inspect find it.
    filename = shell.compile.cache(plan.source, shell.execution_count, raw_code=plan.body)

    def define(definition: Definition) -> None:
        module = ast.Module(body=[tree.body[definition.index]], type_ignores=[])
        code = compile(module, filename, "exec", shell.compile.flags, dont_inherit=True)
        exec(code, shell.user_global_ns, ns)
        done.add(definition.name)

    def resolve(kind: str, name: str) -> Any:
        if kind == "_definition" and name not in done:
            raise RestoreError(f"{name!r} is needed before it can be defined")
        if name not in ns:
            raise RestoreError(f"input {name!r} is gone")
        return ns[name]

    try:
        for definition in first:
            define(definition)
        values = _VariableUnpickler(entry.variables, entry.buffers, resolve).load()
        value = values.pop(_LAST, None)
        ns.update(values)
        for definition in later:
            define(definition)
    except Exception as exc:
        raise RestoreError(f"{type(exc).__name__}: {exc}") from exc
    for name in entry.deleted:
        ns.pop(name, None)
    return value


def _unpicklable(name: str, payload: dict[str, Any], cause: Exception) -> NotStorable:
    """Say which variable cannot be pickled and how to cache the cell anyway."""
    if not name:
        return NotStorable(f"not cached: the variables cannot be pickled together ({cause}).")
    return NotStorable(
        f"not cached: variable {name!r} ({_kind(payload[name])}) cannot be pickled. The cell "
        f"ran normally; to cache it, leave {name!r} out with -x {name} (it is then not "
        f"restored on a hit) or `del {name}` at the end of the cell."
    )


def by_reference(value: object) -> bool:
    """Tell whether pickle stores ``value`` by name, so changes to it are not stored."""
    return isinstance(value, ModuleType | type) or inspect.isroutine(value)


def _kind(value: object) -> str:
    return type(value).__name__


# --------------------------------------------------------------------------- pickling


def _definition(name: str) -> Any:
    """Stand for a definition of the cell in a pickle; only ``_VariableUnpickler`` reads it."""
    raise RuntimeError(f"{name!r} is restored by %%checkpoint only")


def _input(name: str) -> Any:
    """Stand for an unchanged input in a pickle; only ``_VariableUnpickler`` reads it."""
    raise RuntimeError(f"{name!r} is restored by %%checkpoint only")


class _VariablePickler(pickle.Pickler):
    """Pickle output variables, referring to some objects by name instead of by value.

    The cell's own functions and classes become references to their definition (run
    again on a hit); modules become imports; objects that are unchanged inputs become
    references to the input (on a hit the input has the same value, so aliases such as
    ``y = df`` stay aliases and large inputs are not stored twice).
    """

    def __init__(
        self,
        file: io.BytesIO,
        buffer_callback: Callable[[pickle.PickleBuffer], Any] | None,
        definitions: dict[int, str],
        inputs: dict[int, str],
    ) -> None:
        super().__init__(file, protocol=5, buffer_callback=buffer_callback)
        self._definitions = definitions
        self._inputs = inputs

    def reducer_override(self, obj: Any) -> Any:
        key = id(obj)
        if key in self._definitions:
            return _definition, (self._definitions[key],)
        if key in self._inputs:
            return _input, (self._inputs[key],)
        if isinstance(obj, ModuleType):
            return importlib.import_module, (obj.__name__,)
        return NotImplemented


class _VariableUnpickler(pickle.Unpickler):
    """Read what ``_VariablePickler`` wrote, resolving references from the namespace."""

    def __init__(self, data: bytes, buffers: Iterable[Any], resolve: Callable[[str, str], Any]):
        super().__init__(io.BytesIO(data), buffers=buffers)
        self._resolve = resolve

    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name in ("_definition", "_input"):
            return lambda target: self._resolve(name, target)
        return super().find_class(module, name)


@dataclass(frozen=True)
class _Payload:
    """How one run's variables are pickled (see ``_VariablePickler``)."""

    out_of_band: bool
    definitions: dict[int, str]
    inputs: dict[int, str]

    def dump(self, payload: dict[str, Any]) -> tuple[bytes, tuple[Any, ...]]:
        """Return the pickle stream of ``payload`` and its out-of-band buffers."""
        stream = io.BytesIO()
        buffers: list[pickle.PickleBuffer] = []
        callback = buffers.append if self.out_of_band else None
        _VariablePickler(stream, callback, self.definitions, self.inputs).dump(payload)
        return stream.getvalue(), tuple(buffers)

    def culprit(self, payload: dict[str, Any]) -> str:
        """Return the first name in ``payload`` whose value cannot be pickled, else ``""``."""
        for name, value in payload.items():
            try:
                self.dump({name: value})
            except Exception:  # noqa: BLE001 - this is the one
                return name
        return ""
