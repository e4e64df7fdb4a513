"""Decide, before a cell runs, what it is looked up under: its inputs' digests and key.

The key hashes the normalized cell code, the digests of its input values (hashed like
the arguments of a ``@checkpoint`` function, so user functions among them count by
code) and the options that change what is stored.
"""

from __future__ import annotations

import builtins
import re
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from checkpointing.cache.base import CacheBase
from checkpointing.hooks import (
    ObservedNames,
    follow_attributes,
    is_library_module,
    library_state_digests,
    module_file_digest,
    reach_attributes,
    read_imported,
    value_digest,
)
from ipython_ext.cell.analysis import CellAnalysis
from ipython_ext.cell.reads import HISTORY_TABLES, CellReads, cell_reads
from ipython_ext.cell.recording import NOTHING

__all__ = [
    "ABSENT",
    "CELL_FORMAT_VERSION",
    "CellOptions",
    "Plan",
    "Unhashable",
    "cell_key",
    "digest_of",
    "input_digests",
    "is_ipython_name",
]

# Bump when keys or stored entries change meaning, so old entries are never replayed.
CELL_FORMAT_VERSION = 3
ABSENT = "absent"  # the digest of an input that has no value yet


@dataclass(frozen=True, slots=True)
class CellOptions:
    """The options of one ``%%checkpoint`` run.

    ``inputs``/``outputs`` add names to those found by analysis; ``exclude`` names are
    neither hashed nor stored (connections, progress bars, anything that must not
    decide the key). ``directory`` defaults to ``defaults["cache.filesystem.directory"]``
    resolved against the working directory; ``cache`` instead names a notebook variable
    holding a cache (or a backend name or URL). ``on_error`` is the policy for failures
    of the caching machinery (default ``defaults["checkpoint.on_error"]``). ``quiet``
    drops the note shown on a hit.
    """

    rerun: bool = False
    name: str | None = None
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    directory: str | None = None
    quiet: bool = False
    cache: str | None = None
    on_error: str | None = None
    min_run_time: float | None = None


@dataclass(frozen=True)
class Plan:
    """One cell ready to be looked up: its text, analysis, input digests and key."""

    body: str
    label: str
    cache: CacheBase
    source: str  # the transformed cell
    analysis: CellAnalysis
    digests: dict[str, str]
    key: str
    identity: str = ""  # a digest of the code, unless the user named the cell

    @property
    def function(self) -> str:
        """The name events and cache metadata give the cell (see :func:`cell_function`)."""
        return cell_function(self.label, self.identity)


def cell_function(label: str, identity: str) -> str:
    """Name a cell for events, listings and "Clear function": its label and code digest.

    Two cells that begin alike have different code, hence different names, so the panel
    groups and clears them apart; a cell named with ``--name`` (``identity`` empty) is
    just ``cell:NAME``, kept across edits.
    """
    return f"cell:{label} #{identity}" if identity else f"cell:{label}"


def code_identity(code: str) -> str:
    """Return the short digest that tells a cell's normalized code from other cells'."""
    return digest_of(code)[:6]


class Unhashable(Exception):
    """An input value cannot be hashed, so the cell has no key."""

    def __init__(self, name: str, value: object, cause: Exception) -> None:
        super().__init__(name)
        self.name, self.value, self.cause = name, value, cause


def input_digests(
    shell: Any, analysis: CellAnalysis, options: CellOptions, source: str = ""
) -> dict[str, str]:
    """Hash each input's current value; inputs without a value hash as absent.

    Names and docstrings of functions and classes count where the cell, or code it
    reaches, reads them; if such a read is met late, every input is hashed again.
    With the cell's (transformed) ``source``, also what it reads through its inputs
    (see :mod:`ipython_ext.cell.reads`): values the notebook put on library modules
    (``name.attr``), IPython's output history (``_``, ``_3``, ``Out[3]``) and the library
    states the cell uses (``<state numpy.random>``). Those entries are not variable names.
    """
    reads = cell_reads(source) if source else CellReads()
    observed = ObservedNames(analysis.observes)
    while True:
        start = observed.attributes
        digests = _digests(shell, analysis, options, observed, reads)
        if observed.attributes == start:
            return digests
        observed = ObservedNames(observed.attributes)


def _digests(
    shell: Any,
    analysis: CellAnalysis,
    options: CellOptions,
    observed: ObservedNames,
    reads: CellReads,
) -> dict[str, str]:
    ns = shell.user_ns
    names = (set(analysis.inputs) | set(options.inputs)) - set(options.exclude)
    digests: dict[str, str] = {}
    reached: list[object] = []
    for name in sorted(names):
        if name in HISTORY_TABLES:
            _history_digests(ns, name, reads.entries.get(name), digests, observed)
            continue
        if is_ipython_name(shell, name) and not _HISTORY_NAME.fullmatch(name):
            continue
        if name not in ns:
            if not hasattr(builtins, name) or name in options.inputs:
                digests[name] = ABSENT
            continue
        value = ns[name]
        digests[name] = _digest_input(name, value, observed)
        reached.append(value)
        for chain in sorted(reads.chains.get(name, ())):
            reached.append(reach_attributes(value, chain))
            if isinstance(value, ModuleType) and is_library_module(value):
                followed = follow_attributes(value, chain)
                if followed is not value:  # a setting or the notebook's own code
                    label = ".".join((name, *chain))
                    digests[label] = _digest_input(label, followed, observed)
    for spec, chain in analysis.imports:
        # What the cell's imports bind (a project module's code) is an input too.
        if spec.partition(":")[0].partition(".")[0] in options.exclude:
            continue
        label = "import " + ".".join((spec, *chain))
        try:
            imported = read_imported(spec, chain)
            digests[label] = digest_of(imported, observed)
        except Exception:  # noqa: BLE001 - the module's file still identifies it
            digests[label] = "file:" + module_file_digest(spec)
        else:  # what the chain reaches, for the library states the cell uses
            reached.append(reach_attributes(read_imported(spec, ()), chain))
    for state, digest in library_state_digests(reached).items():
        digests[f"<state {state}>"] = ABSENT if digest is None else digest
    return digests


# IPython's output and input history names (``_``, ``__``, ``_3``, ``_i3``): IPython
# hides them from %who, but a cell that reads them depends on their values.
_HISTORY_NAME = re.compile(r"_{1,3}|_\d+|_i{1,3}|_i\d+")


def _history_digests(
    ns: dict[str, Any],
    table: str,
    entries: frozenset[int] | None,
    digests: dict[str, str],
    observed: ObservedNames,
) -> None:
    """Add the digests of the history entries the cell reads (all of them if ``None``)."""
    history = ns.get(table)
    if history is None:
        digests[table] = ABSENT
        return
    if entries is None:
        digests[table] = _digest_input(table, history, observed)
        return
    for index in sorted(entries):
        label = f"{table}[{index}]"
        try:
            value = history[index]
        except (IndexError, KeyError, TypeError):
            digests[label] = ABSENT
        else:
            digests[label] = _digest_input(label, value, observed)


def _digest_input(name: str, value: object, observed: ObservedNames) -> str:
    try:
        return digest_of(value, observed)
    except Exception as exc:  # any failure means: no key
        raise Unhashable(name, value, exc) from exc


def cell_key(code: str, digests: dict[str, str], options: CellOptions) -> str:
    """Return the key of the cell whose normalized code is ``code``."""
    material = (
        CELL_FORMAT_VERSION,
        sys.version_info[:2],
        code,
        tuple(sorted(digests.items())),
        tuple(sorted(set(options.outputs))),
        tuple(sorted(set(options.exclude))),
    )
    return "cell-" + digest_of(material)


def is_ipython_name(shell: Any, name: str) -> bool:
    """Tell whether IPython put ``name`` there (``In``, ``get_ipython``, dunders...)."""
    hidden = shell.user_ns_hidden
    if name in hidden and shell.user_ns.get(name, NOTHING) is hidden[name]:
        return True
    return name.startswith("__") and name.endswith("__")


def digest_of(value: object, observed: ObservedNames | None = None) -> str:
    """Hash ``value`` as keys are hashed (``defaults["hash.*"]``)."""
    return value_digest(value, observed)
