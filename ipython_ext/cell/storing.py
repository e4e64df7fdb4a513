"""Store what a ``%%checkpoint`` cell run left behind, or say why it cannot be stored.

A miss is watched (:func:`watching`): before it runs, the objects reachable from the
namespace are noted with a path each (:mod:`ipython_ext.cell.references`) and the library
states are read (:mod:`ipython_ext.cell.ambient`); while it runs, its definition statements
are traced (:mod:`ipython_ext.cell.tracing`). The record (:class:`StoredCell`, in
:mod:`ipython_ext.cell.stored`) then holds the replayable output and one pickle
(:mod:`ipython_ext.cell.pickling`) of the definition statements to run again, the output
variables, attributes set on modules, classes and functions
(:mod:`ipython_ext.cell.shared_state`) and the library states that changed.

A run that would replay wrongly (a live widget, a function defined inside a block, a
value or setting that cannot be pickled) raises :class:`NotStorable` naming the cause and
what to do. Putting the record back on a hit is :mod:`ipython_ext.cell.restoring`.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ipython_ext.cell import ambient
from ipython_ext.cell.pickling import DefinitionCall, Refs, dump
from ipython_ext.cell.plan import ABSENT, CellOptions, Plan, digest_of, is_ipython_name
from ipython_ext.cell.recording import NOTHING, WIDGET_VIEW, Recording
from ipython_ext.cell.references import Existing, resettable
from ipython_ext.cell.shared_state import assigned_chains, module_chains, own_attributes
from ipython_ext.cell.source import parse_cell
from ipython_ext.cell.stored import CONTAINERS, NotStorable, StoredCell, statement_text
from ipython_ext.cell.tracing import DefinitionTrace, candidate, traced

__all__ = [
    "Watch",
    "build_entry",
    "by_reference",
    "watching",
]

# Names IPython binds itself: never outputs (``_``, ``_5``, ``_i5``, ``_ii``, ``In``...).
_IPYTHON_NAME = re.compile(r"_+|_\d+|_i+\d*|_(?:ih|oh|dh|exit_code)|In|Out|get_ipython|exit|quit")
_LAST = "<last value>"  # not a Python name, so it never clashes with a variable


@dataclass
class Watch:
    """What was noted before and while a miss ran (see :func:`watching`)."""

    before: dict[str, Any]
    existing: Existing
    trace: DefinitionTrace
    ambient: dict[str, Any]
    attributes: dict[int, dict[str, Any]]  # of the user's classes and functions read


@contextlib.contextmanager
def watching(shell: Any, plan: Plan) -> Iterator[Watch]:
    """Note the namespace and library states, and trace definitions, while a miss runs."""
    ns = shell.user_ns
    before = dict(ns)
    # Only what the cell reads: other objects can reach its outputs only through calls.
    existing = Existing.walk(ns, [name for name in plan.digests if name in ns])
    with traced(shell, parse_cell(plan.source)) as trace:
        attributes = {
            id(ns[name]): dict(vars(ns[name])) for name in plan.digests if _users(ns.get(name))
        }
        yield Watch(before, existing, trace, ambient.snapshot(), attributes)


def build_entry(
    shell: Any,
    plan: Plan,
    options: CellOptions,
    watch: Watch,
    recording: Recording,
    value: Any,
) -> StoredCell:
    """Build what to store for this run; raise ``NotStorable`` if it would replay wrongly."""
    ns = shell.user_ns
    before = watch.before
    tree = parse_cell(plan.source)
    changed_inputs = _changed_inputs(ns, plan)
    outputs = _outputs(shell, plan, options, before, changed_inputs)
    _refuse_widgets(ns, outputs)
    trace = watch.trace
    if any(candidate(statement) for statement in tree.body) and not trace.used:
        raise NotStorable("not cached: its definitions could not be followed while it ran.")
    made: dict[int, tuple[int, str]] = {}
    for step in trace.steps:
        for name, bound in step.bound.items():
            made.setdefault(id(bound), (step.index, name))
    _refuse_nested_definitions(ns, outputs, made, watch.existing)
    attributes = _own_attributes(ns, outputs | changed_inputs, changed_inputs, watch)
    skip = {name for name, *_ in attributes}
    chains = module_chains(ns, assigned_chains(tree), skip)
    states = ambient.changes(watch.ambient, ambient.snapshot(watch.ambient))
    names = sorted(outputs)
    pure = frozenset(n for n in plan.digests if n in ns and n not in changed_inputs)
    refs = Refs(watch.existing, made, pure, {id(ns[name]): name for name in names})
    payload: dict[str, Any] = {
        "definitions": [DefinitionCall(step.index, step.reads) for step in trace.steps],
        "variables": {name: ns[name] for name in names},
        "attributes": [(ns[name], attribute, item) for name, attribute, item in attributes],
        "chains": chains,
        "ambient": states,
    }
    last_display = None
    if value is not NOTHING:
        payload["last"] = value
    # Buffers out of band only for caches that serialise at once: one that keeps the
    # entry as is (MemoryCache) would share memory with arrays the user may change.
    out_of_band = getattr(plan.cache, "pickle_protocol", 0) >= 5
    try:
        variables, buffers = dump(payload, refs, out_of_band)
    except Exception as exc:  # name what failed
        _refuse_unstorable_changes(payload, refs, [name for name, *_ in attributes])
        culprit = _culprit(payload, refs)
        if culprit != _LAST:
            raise _unpicklable(culprit, payload, exc) from exc
        # The last value is only shown, never used: keep what it looked like.
        del payload["last"]
        refs = Refs(watch.existing, made, pure, refs.tops)
        try:
            variables, buffers = dump(payload, refs, out_of_band)
        except Exception as again:
            raise _unpicklable("", payload, again) from again
        data, metadata = shell.display_formatter.format(value)
        last_display = ({k: v for k, v in data.items() if k != WIDGET_VIEW}, dict(metadata))
    deleted = sorted(
        name
        for name in before
        if name not in ns and not _IPYTHON_NAME.fullmatch(name) and name not in options.exclude
    )
    events, left_out = recording.stored_events(shell)
    if last_display is not None and WIDGET_VIEW in data:
        left_out = (*left_out, "its widget value shown as text")
    return StoredCell(
        events=events,
        variables=variables,
        buffers=buffers,
        names=tuple(names),
        deleted=tuple(deleted),
        last_display=last_display,
        references=tuple(sorted(refs.paths, key=refs.paths.__getitem__)),
        imports=_imported(tree),
        rebind=tuple(sorted(refs.rebind)),
        left_out=left_out,
        statements=tuple(
            (step.index, statement_text(tree.body[step.index])) for step in trace.steps
        ),
        containers=tuple(
            (name, type(ns[name]).__name__) for name in names if type(ns[name]) in CONTAINERS
        ),
    )


def _changed_inputs(ns: dict[str, Any], plan: Plan) -> set[str]:
    """Return the inputs whose value the run changed (rebound or changed in place)."""
    changed: set[str] = set()
    for name, digest in plan.digests.items():
        if digest == ABSENT or name not in ns:
            continue
        try:
            if digest_of(ns[name]) != digest:
                changed.add(name)
        except Exception:  # noqa: BLE001 - it hashed before: treat as changed
            changed.add(name)
    return changed


def _outputs(
    shell: Any, plan: Plan, options: CellOptions, before: dict[str, Any], changed_inputs: set[str]
) -> set[str]:
    """Return the names to store: bound for sure, rebound, or changed in place."""
    ns = shell.user_ns
    changed = {name for name, value in ns.items() if before.get(name, NOTHING) is not value}
    analysis = plan.analysis
    wanted = analysis.definite | changed | changed_inputs | analysis.modified | set(options.outputs)
    return {
        name
        for name in wanted - set(options.exclude)
        if name in ns and not _IPYTHON_NAME.fullmatch(name) and not is_ipython_name(shell, name)
    }


def _own_attributes(
    ns: dict[str, Any], candidates: set[str], changed_inputs: set[str], watch: Watch
) -> list[tuple[str, str, Any]]:
    """Attributes of the user's classes and functions that the run set or changed.

    Compared with the attributes before the run (a class or function read by the cell)
    or right after its definition statement (one the cell defines): new or rebound
    attributes are stored, and so are containers and objects whose contents may have
    changed (``Config.items.append(1)``), to be set again on a hit.
    """
    baselines = dict(watch.attributes)
    for step in watch.trace.steps:
        baselines.update(step.attributes)
    found: list[tuple[str, str, Any]] = []
    for name in sorted(candidates):
        value = ns.get(name)
        baseline = baselines.get(id(value))
        if baseline is None or not _users(value):
            continue
        existed = value is watch.before.get(name)
        contents_changed = name in changed_inputs or not existed
        for attribute, item in own_attributes(value).items():
            rebound = baseline.get(attribute, NOTHING) is not item
            if rebound or (contents_changed and resettable(item)):
                found.append((name, attribute, item))
    return found


def _users(value: object) -> bool:
    """Tell whether ``value`` is a class or function defined in the notebook."""
    if not (isinstance(value, type) or inspect.isfunction(value)):
        return False
    return getattr(value, "__module__", None) == "__main__"


def _refuse_widgets(ns: dict[str, Any], outputs: set[str]) -> None:
    """Refuse a cell that binds a live widget: a replay could only show a dead copy."""
    for name in sorted(outputs):
        if any(cls.__module__.startswith("ipywidgets.") for cls in type(ns[name]).__mro__):
            raise NotStorable(
                f"not cached: {name!r} is a live widget, so the cell runs each time. To "
                "cache the slow part, move it to another cell.",
                once=True,
            )


def _refuse_nested_definitions(
    ns: dict[str, Any], outputs: set[str], made: dict[int, tuple[int, str]], existing: Existing
) -> None:
    """Refuse functions or classes defined inside a block: no statement re-creates them."""
    for name in sorted(outputs):
        value = ns[name]
        if _users(value) and id(value) not in made and existing.path(value) is None:
            raise NotStorable(
                f"not cached: {_kind(value)} {name!r} is defined inside a block or a magic, "
                "where a replay cannot re-create it. Define it at the top level of the cell."
            )


def _imported(tree: ast.Module) -> tuple[str, ...]:
    """Return the modules the cell's own import statements imported, in order."""
    found: list[str] = []
    stack: list[ast.AST] = list(reversed(tree.body))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        found.extend(n for n in names if n in sys.modules and n not in found)
        stack.extend(reversed(list(ast.iter_child_nodes(node))))
    return tuple(found)


def _storable(value: Any, refs: Refs) -> bool:
    """Tell whether ``value`` alone can be pickled as the entry would pickle it."""
    try:
        dump(value, Refs(refs.existing, refs.made, refs.pure, {}), out_of_band=False)
    except Exception:  # noqa: BLE001 - any failure means: cannot be stored
        return False
    return True


def _refuse_unstorable_changes(payload: dict[str, Any], refs: Refs, owners: list[str]) -> None:
    """Name a setting or library state the cell changed that cannot be stored (warned once)."""
    changed: list[tuple[str, Any]] = []
    for module, steps, value in payload["chains"]:
        path = "".join(f".{key}" if kind == "a" else f"[{key!r}]" for kind, key in steps)
        changed.append((module + path, value))
    for owner, (_, attribute, item) in zip(owners, payload["attributes"], strict=True):
        changed.append((f"{owner}.{attribute}", item))
    changed.extend(payload["ambient"].items())
    for label, value in changed:
        if not _storable(value, refs):
            raise NotStorable(
                f"not cached: it changes {label}, which cannot be stored, so a replay would "
                "lose it. Make that change in another cell.",
                once=True,
            )


def _culprit(payload: dict[str, Any], refs: Refs) -> str:
    """Return the variable (or ``_LAST``) that cannot be pickled, else ``""``."""
    parts: dict[str, Any] = {**payload["variables"]}
    if "last" in payload:
        parts[_LAST] = payload["last"]
    for name, item in parts.items():
        if not _storable(item, refs):
            return str(name)
    return ""


def _unpicklable(name: str, payload: dict[str, Any], cause: Exception) -> NotStorable:
    """Say which variable cannot be pickled and how to cache the cell anyway."""
    if not name:
        return NotStorable(f"not cached: what it changed cannot be pickled ({cause}).")
    value = payload["variables"][name]
    from ipython_ext.cell.advice import lambda_inside

    where = lambda_inside(value, name)
    if where is not None:  # leaving the whole object out would defeat the cache
        return NotStorable(
            f"not cached: {where} is a lambda, which cannot be pickled. Replace it with a "
            "function defined with def (in this or an earlier cell) to cache the cell."
        )
    return NotStorable(
        f"not cached: variable {name!r} ({_kind(value)}) cannot be pickled. The cell "
        f"ran normally; to cache it, leave {name!r} out with -x {name} (it is then not "
        f"restored on a hit) or `del {name}` at the end of the cell."
    )


def by_reference(value: object) -> bool:
    """Tell whether pickle stores ``value`` by name, so changes to it are not stored."""
    return isinstance(value, ModuleType | type) or inspect.isroutine(value)


def _kind(value: object) -> str:
    """Return the name of the value's type, for messages."""
    return type(value).__name__
