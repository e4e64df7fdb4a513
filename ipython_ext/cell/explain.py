"""Why would this cell re-run? ``%%checkpoint --explain``: ``f.explain`` for cells.

A stored cell records, besides its key, the digest of each component the key is made
of: the normalized cell code (with its text, for a diff), each input variable's value,
the options that change what is stored and the Python version. Explaining a cell
computes its plan (code and input digests, as a run would, without running it) and
compares it with the stored cells of the same label, or with every stored cell when the
label (the cell's first line) was edited too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from checkpointing.cache.base import EntryInfo
from checkpointing.explain import CODE_TEXTS_KEY, COMPONENTS_KEY, Explanation, explain_key
from ipython_ext.cell.plan import Plan, digest_of
from ipython_ext.cell.source import normalized_cell_code

__all__ = ["cell_components", "explain_plan"]

_PYTHON = "{}.{}".format(*sys.version_info[:2])
_SHORT = 16  # hex digits kept per digest: enough to tell values apart in a report


def cell_components(
    plan: Plan, outputs: tuple[str, ...], exclude: tuple[str, ...]
) -> dict[str, Any]:
    """Return the components of a planned cell, for its entry's metadata."""
    components = {
        "python": _PYTHON,
        "code:cell": digest_of(normalized_cell_code(plan.source))[:_SHORT],
    }
    for name, digest in plan.digests.items():
        components[f"global:{name}"] = digest[:_SHORT]
    if outputs:
        components["option:--outputs"] = ",".join(sorted(set(outputs)))
    if exclude:
        components["option:--exclude"] = ",".join(sorted(set(exclude)))
    return {COMPONENTS_KEY: components, CODE_TEXTS_KEY: {"cell": plan.source.strip()}}


def _is_cell(entry: EntryInfo) -> bool:
    return entry.function.startswith("cell:")


def explain_plan(plan: Plan, summary: str, components: Callable[[], dict[str, Any]]) -> Explanation:
    """Explain whether ``plan``'s cell is stored and, if not, what changed since."""
    return explain_key(
        plan.function, summary, plan.key, plan.cache.entries(), components, fallback=_is_cell
    )
