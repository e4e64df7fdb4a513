"""Why did it re-run? Compare a call's components with the closest stored entries.

Each entry written by the decorator records the digest of every component of its call
(see :mod:`checkpointing._components`). ``f.explain(*args, **kwargs)`` computes the same
components for a new call, without running or storing anything, and compares them with
the entries of the same function in the cache:

* the call's key is stored: a hit, "nothing changed";
* no entry has equal arguments: "never called with these arguments", and how the
  closest stored call differs;
* otherwise, the entry with equal arguments that differs least, and each difference by
  name: a global or closure value, a helper's code (with a diff of its readable code),
  a default value, a library version, the Python version.

The result is an :class:`Explanation`, whose text is the report (``print(f.explain(x))``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import FunctionType
from typing import Any

from checkpointing._components import CODE_TEXTS_KEY, COMPONENTS_KEY, call_components
from checkpointing._profile import CodeProfile
from checkpointing.cache.base import EntryInfo

__all__ = [
    "CODE_TEXTS_KEY",
    "COMPONENTS_KEY",
    "Change",
    "Explanation",
    "compare",
    "explain_call",
    "explain_key",
    "is_outdated",
    "why_computed",
]

# How each kind of component is named in a report, and the order kinds are listed in.
_KINDS = ("argument", "code", "defaults", "global", "option", "version", "python")


@dataclass(frozen=True, slots=True)
class Change:
    """One component that differs between a call and a stored entry.

    ``kind`` is ``"argument"``, ``"global"``, ``"code"``, ``"defaults"``, ``"version"``
    or ``"python"``; ``name`` the parameter, global, function or package; ``before`` and
    ``after`` the stored and current digest or version (``None`` when absent on that
    side); ``diff`` a unified diff of the readable code for a code change, when known.
    """

    kind: str
    name: str
    before: str | None
    after: str | None
    diff: str = ""

    def describe(self) -> str:
        """Return one line saying what changed."""
        if self.kind == "argument":
            return f"argument {self.name!r} differs"
        if self.kind == "python":
            return f"Python version changed: {self.before} -> {self.after}"
        if self.kind == "version":
            if self.before is None:
                return f"library {self.name} is now used (version {self.after})"
            if self.after is None:
                return f"library {self.name} is no longer used"
            return f"library {self.name} changed version: {self.before} -> {self.after}"
        if self.kind == "code":
            if self.before is None:
                return f"code of {self.name} is now reached"
            if self.after is None:
                return f"code of {self.name} is no longer reached"
            return f"code of {self.name} changed"
        if self.kind == "defaults":
            return f"default argument values of {self.name} changed"
        if self.kind == "option":
            return (
                f"option {self.name} changed: {self.before or '(none)'} -> {self.after or '(none)'}"
            )
        if self.before is None:
            return f"global {self.name!r} is now read"
        if self.after is None:
            return f"global {self.name!r} is no longer read"
        return f"global {self.name!r} changed"


@dataclass(frozen=True, slots=True)
class Explanation:
    """The answer to "why did this call (not) hit?": readable as text, inspectable as data.

    ``hit`` tells whether the call's result is stored; ``entries`` how many entries of the
    function the cache holds; ``same_arguments`` whether one of them was made with equal
    arguments; ``closest`` the entry compared with (``None`` when there is none) and
    ``changes`` what differs from it.
    """

    function: str
    arguments: str
    hit: bool
    entries: int
    same_arguments: bool
    closest: EntryInfo | None
    changes: tuple[Change, ...] = field(default=())
    note: str = ""

    @property
    def summary(self) -> str:
        """Return the first line of the report: the reason in one sentence."""
        return self.text().splitlines()[0]

    def text(self) -> str:
        """Return the whole report."""
        call = f"{self.function}({self.arguments})"
        stored = _when(self.closest)
        if self.hit:
            return f"nothing changed: {call} is a hit."
        if self.entries == 0:
            return f"never called: the cache holds no entry of {self.function}; {call} is a miss."
        if self.note:
            return f"{call} is a miss: {self.note}"
        lines: list[str] = []
        if not self.same_arguments:
            lines.append(f"never called with these arguments: {call} is a miss.")
            if self.closest is not None:
                lines.append(
                    f"The closest stored call, ({self.closest.arguments}) stored {stored}, "
                    "differs in:"
                )
        elif len(self.changes) == 1:
            lines.append(
                f"{call} is a miss: {self.changes[0].describe()} since its entry was "
                f"stored ({stored})."
            )
        else:
            lines.append(
                f"{call} is a miss: {len(self.changes) or 'no recorded'} components changed "
                f"since its entry was stored ({stored}):"
            )
        if not self.changes:
            lines.append(
                "  the key changed for a reason explain cannot see (a custom identifier, "
                "or a different key format)."
            )
        for change in self.changes:
            lines.append(f"  - {change.describe()}")
            lines.extend(f"      {line}" for line in change.diff.splitlines())
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Show the report as text in IPython and Jupyter."""
        printer.text(self.text())


def _when(entry: EntryInfo | None) -> str:
    """Return when ``entry`` was stored, in local time, for a report."""
    if entry is None or not entry.created:
        return "at an unknown time"
    import datetime  # only when a report is written

    return datetime.datetime.fromtimestamp(entry.created).isoformat(" ", "seconds")


def compare(current: Mapping[str, Any], stored: Mapping[str, Any]) -> list[Change]:
    """List the components that differ between two recorded ``extra`` mappings."""
    now: Mapping[str, str] = current.get(COMPONENTS_KEY, {})
    before: Mapping[str, str] = stored.get(COMPONENTS_KEY, {})
    texts_now: Mapping[str, str] = current.get(CODE_TEXTS_KEY, {})
    texts_before: Mapping[str, str] = stored.get(CODE_TEXTS_KEY, {})
    changes: list[Change] = []
    for key in dict.fromkeys([*now, *before]):
        old, new = before.get(key), now.get(key)
        if old == new:
            continue
        kind, _, name = key.partition(":")
        diff = ""
        if kind == "code" and name in texts_now and name in texts_before:
            import difflib  # only when a code change is reported

            diff = "\n".join(
                difflib.unified_diff(
                    texts_before[name].splitlines(),
                    texts_now[name].splitlines(),
                    "stored",
                    "now",
                    lineterm="",
                )
            )
        changes.append(Change(kind, name or kind, old, new, diff))
    changes.sort(key=lambda c: _KINDS.index(c.kind) if c.kind in _KINDS else len(_KINDS))
    return changes


def _recorded(entry: EntryInfo) -> Mapping[str, Any] | None:
    extra: Any = entry.extra  # from a file: trust nothing about its shape
    components = extra.get(COMPONENTS_KEY) if isinstance(extra, Mapping) else None
    return extra if isinstance(components, Mapping) else None


def explain_call(
    func: FunctionType,
    arguments: Mapping[str, Any],
    summary: str,
    context_id: Any,
    full_name: str,
    entries: Iterable[EntryInfo],
    profile: CodeProfile | None = None,
) -> Explanation:
    """Explain whether and why the call of ``func`` with ``arguments`` misses ``entries``."""
    return explain_key(
        full_name,
        summary,
        context_id,
        entries,
        lambda: call_components(func, arguments, profile),
    )


def explain_key(
    function: str,
    summary: str,
    context_id: Any,
    entries: Iterable[EntryInfo],
    current: Callable[[], Mapping[str, Any]],
    fallback: Callable[[EntryInfo], bool] | None = None,
) -> Explanation:
    """Explain whether ``context_id`` of ``function`` is stored and, if not, what differs.

    ``current`` computes the components of the call being explained (only on a miss);
    ``fallback`` chooses entries to compare with when ``function`` has none (a cell whose
    first line, its label, was edited).
    """
    listed = list(entries)
    mine = [e for e in listed if e.function == function]
    for entry in mine:
        if entry.context_id == context_id:
            return Explanation(function, summary, True, len(mine), True, entry)
    if not mine and fallback is not None:
        mine = [e for e in listed if fallback(e)]
    if not mine:
        return Explanation(function, summary, False, 0, False, None)
    recorded = [(e, r) for e in mine if (r := _recorded(e)) is not None]
    if not recorded:
        note = (
            f"the cache holds {len(mine)} entries of {function}, none of which recorded "
            "its components (stored before explain existed, or by a cache that keeps no "
            "metadata)."
        )
        return Explanation(function, summary, False, len(mine), False, None, (), note)
    now = current()
    best: tuple[tuple[int, int, float], EntryInfo, list[Change]] | None = None
    for entry, stored in recorded:
        changes = compare(now, stored)
        arguments_differ = sum(c.kind == "argument" for c in changes)
        rank = (arguments_differ, len(changes), -entry.created)
        if best is None or rank < best[0]:
            best = (rank, entry, changes)
    assert best is not None
    (arguments_differ, _, _), entry, changes = best
    return Explanation(
        function, summary, False, len(mine), arguments_differ == 0, entry, tuple(changes)
    )


def is_outdated(entry: EntryInfo) -> bool:
    """Tell whether the current code of the entry's function can no longer hit the entry.

    Knowable only for a function decorated in this process whose entry recorded its code
    digest: ``True`` when the function's code now differs. ``False`` when unknown.
    """
    from checkpointing._live import current_code

    now = current_code(entry.function)
    recorded = _recorded(entry)
    if now is None or recorded is None:
        return False
    component, digest = now
    stored = recorded[COMPONENTS_KEY].get(component)
    return stored is not None and stored != digest


def why_computed(entries: Iterable[EntryInfo], limit: int = 50) -> dict[Any, str]:
    """Say, for each entry, what differed from the closest earlier entry of its function.

    The answer to "why was this computed rather than loaded?" for listings (the notebook
    panel): ``""`` for the first entry of a function, or one without recorded components.
    Functions with more than ``limit`` entries are compared among their latest ``limit``.
    """
    by_function: dict[str, list[EntryInfo]] = {}
    for entry in entries:
        by_function.setdefault(entry.function, []).append(entry)
    reasons: dict[Any, str] = {}
    for group in by_function.values():
        group = sorted(group, key=lambda e: e.created)[-limit:]
        for index, entry in enumerate(group):
            mine = _recorded(entry)
            best: list[Change] | None = None
            for earlier in group[:index] if mine is not None else ():
                theirs = _recorded(earlier)
                if theirs is None:
                    continue
                changes = compare(mine, theirs) if mine is not None else []
                if best is None or len(changes) < len(best):
                    best = changes
            if best:
                reasons[entry.context_id] = "; ".join(c.describe() for c in best)
    return reasons
