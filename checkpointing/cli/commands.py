"""The click commands: tables and progress bars by rich, ``--json`` for scripts.

Each command reads or changes the cache through the public cache API; what they all
share (the cache opened on first use, failures turned into exit codes, the consoles,
progress bars and JSON output) is in :mod:`checkpointing.cli._shared`. Progress bars and
spinners go to standard error and only when it is a terminal, so piped output and
``--json`` stay clean.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import Any

import click
from rich.table import Table

from checkpointing.cache.base import EntryInfo
from checkpointing.cli import _humans as human
from checkpointing.cli._entries import SORT_KEYS, matches, saved, select, sort_entries, stats
from checkpointing.cli._open import EXIT_FOUND_PROBLEMS, BadCache
from checkpointing.cli._shared import State, emit_json, entry_json, out, progress_bar
from checkpointing.explain import compare
from checkpointing.limits import CacheLimits, evict, last_use

__all__ = ["cli"]

DEFAULT_CACHE = ".checkpointing"


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--cache",
    "spec",
    envvar="CHECKPOINTING_CACHE",
    default=DEFAULT_CACHE,
    show_default=True,
    metavar="PATH_OR_URL",
    help="The cache: a directory, file://, or a store URL (also CHECKPOINTING_CACHE).",
)
@click.version_option(package_name="checkpointing", prog_name="checkpointing")
@click.pass_context
def cli(ctx: click.Context, spec: str) -> None:
    """Inspect and manage a checkpointing cache.

    Exit codes: 0 success, 1 problems found (verify) or declined, 2 bad input
    (including a path that is not a cache), 3 the cache cannot be reached.
    """
    ctx.obj = State(spec)


_function_option = click.option(
    "--function",
    "-f",
    "functions",
    multiple=True,
    metavar="NAME",
    help="Only this function (full name, short name or pattern like 'pkg.*'); repeatable.",
)


@cli.command("ls")
@_function_option
@click.option(
    "--sort",
    "sort_key",
    type=click.Choice(sorted(SORT_KEYS)),
    default="last-used",
    show_default=True,
    help="Order (largest or newest first; names A to Z).",
)
@click.option("--reverse", "-r", is_flag=True, help="Reverse the order.")
@click.option("--limit", "-n", type=click.IntRange(min=1), help="Show at most this many entries.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def list_entries(
    state: State,
    functions: Sequence[str],
    sort_key: str,
    reverse: bool,
    limit: int | None,
    as_json: bool,
) -> None:
    """List the entries: function, arguments, size, created, last used, hits, time saved."""
    chosen = sort_entries(select(state.entries(), functions), sort_key, reverse)
    shown = chosen[:limit] if limit else chosen
    if as_json:
        emit_json([entry_json(e) for e in shown])
        return
    if not shown:
        click.echo("no entries" + (" of " + ", ".join(functions) if functions else ""))
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    table.add_column("function")
    table.add_column("arguments", overflow="fold")
    for column in ("size", "created", "last used", "hits", "saved"):
        table.add_column(column, justify="right")
    now = time.time()
    for e in shown:
        table.add_row(
            e.function,
            e.arguments,
            human.size(e.size),
            human.ago(e.created, now),
            human.ago(e.last_used, now) if e.hits or e.last_used else "never",
            str(e.hits),
            human.duration(saved(e)),
        )
    out.print(table)
    more = f" (showing {len(shown)})" if len(shown) < len(chosen) else ""
    total = sum(e.size for e in chosen)
    click.echo(f"{len(chosen)} entries, {human.size(total)}{more}")


@cli.command("stats")
@_function_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def show_stats(state: State, functions: Sequence[str], as_json: bool) -> None:
    """Totals per function: entries, size, hits and run time saved."""
    rows = stats(select(state.entries(), functions))
    if as_json:
        emit_json(
            [
                {
                    "function": r.function,
                    "entries": r.entries,
                    "size": r.size,
                    "hits": r.hits,
                    "saved": r.saved,
                    "last_used": human.iso(r.last_used),
                }
                for r in rows
            ]
        )
        return
    table = Table(box=None, pad_edge=False, header_style="bold", show_footer=len(rows) > 1)
    table.add_column("function", footer="total")
    table.add_column("entries", justify="right", footer=str(sum(r.entries for r in rows)))
    table.add_column("size", justify="right", footer=human.size(sum(r.size for r in rows)))
    table.add_column("hits", justify="right", footer=str(sum(r.hits for r in rows)))
    table.add_column("saved", justify="right", footer=human.duration(sum(r.saved for r in rows)))
    table.add_column("last used", justify="right")
    now = time.time()
    for r in rows:
        table.add_row(
            r.function,
            str(r.entries),
            human.size(r.size),
            str(r.hits),
            human.duration(r.saved),
            human.ago(r.last_used, now),
        )
    if not rows:
        click.echo("no entries")
        return
    out.print(table)


def _delete(state: State, doomed: Sequence[EntryInfo], what: str) -> tuple[int, int]:
    """Delete entries with a progress bar; return (removed, bytes freed)."""
    removed = freed = 0
    with state.reaching(), progress_bar() as progress:
        task = progress.add_task(what, total=len(doomed))
        for entry in doomed:
            if state.cache.delete(entry.context_id):
                removed += 1
                freed += entry.size
            progress.advance(task)
    return removed, freed


@cli.command("clear")
@click.argument("functions", nargs=-1, metavar="[FUNCTION]...")
@click.option(
    "--older-than",
    type=human.AGE,
    metavar="AGE",
    help="Only entries created longer ago (e.g. 30d, 12h).",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Say what would be removed, remove nothing.")
@click.pass_obj
def clear(
    state: State, functions: Sequence[str], older_than: float | None, yes: bool, dry_run: bool
) -> None:
    """Remove entries: all of them, or those of FUNCTION..., or older than --older-than."""
    doomed = select(state.entries(), functions, older_than)
    size = human.size(sum(e.size for e in doomed))
    scope = "of " + ", ".join(functions) if functions else "in the cache"
    if older_than is not None:
        scope += f" older than {human.duration(older_than)}"
    if not doomed:
        click.echo(f"no entries {scope}")
        return
    summary = f"{len(doomed)} entries {scope} ({size})"
    if dry_run:
        click.echo(f"would remove {summary}")
        return
    if not yes:
        if not sys.stdin.isatty():
            click.echo(f"not removing {summary}: pass --yes to remove without asking", err=True)
            sys.exit(EXIT_FOUND_PROBLEMS)
        if not click.confirm(f"Remove {summary}?", default=False, err=True):
            click.echo("nothing removed", err=True)
            sys.exit(EXIT_FOUND_PROBLEMS)
    if not functions and older_than is None:
        with state.reaching():
            removed = state.cache.clear()  # also removes damaged entries
        click.echo(f"removed {removed} entries ({size})")
        return
    removed, freed = _delete(state, doomed, "Removing")
    click.echo(f"removed {removed} entries ({human.size(freed)})")


@cli.command("prune")
@click.option(
    "--max-size", type=human.SIZE, metavar="SIZE", help="Keep the cache under this size (e.g. 5GB)."
)
@click.option(
    "--max-age", type=human.AGE, metavar="AGE", help="Remove entries unused for longer (e.g. 30d)."
)
@click.option(
    "--keep-expensive", is_flag=True, help="Prefer keeping entries that took long to compute."
)
@click.option("--dry-run", is_flag=True, help="Say what would be removed, remove nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def prune(
    state: State,
    max_size: int | None,
    max_age: float | None,
    keep_expensive: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Evict least recently used entries until the cache is within the limits."""
    if max_size is None and max_age is None:
        raise click.UsageError("give --max-size, --max-age or both")
    limits = CacheLimits.create(max_size, max_age, keep_expensive)
    entries = state.entries()
    if dry_run:
        from checkpointing.limits import plan_eviction

        doomed = plan_eviction(entries, limits)
        freed = sum(e.size for e in doomed)
        removed, remaining = len(doomed), len(entries) - len(doomed)
        remaining_size = sum(e.size for e in entries) - freed
    else:
        with state.reaching(), progress_bar() as progress:
            task = progress.add_task("Pruning", total=None)
            result = evict(state.cache, limits, entries, lambda _: progress.advance(task))
        removed, freed = result.removed, result.freed
        remaining, remaining_size = result.remaining, result.remaining_size
    if as_json:
        emit_json(
            {
                "removed": removed,
                "freed": freed,
                "remaining": remaining,
                "remaining_size": remaining_size,
                "dry_run": dry_run,
            }
        )
        return
    verb = "would remove" if dry_run else "removed"
    click.echo(
        f"{verb} {removed} entries ({human.size(freed)}); "
        f"{remaining} entries ({human.size(remaining_size)}) remain"
    )


@cli.command("verify")
@_function_option
@click.option("--fix", is_flag=True, help="Remove the corrupt entries found.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def verify(state: State, functions: Sequence[str], fix: bool, as_json: bool) -> None:
    """Read every entry completely and report corrupt ones (exit code 1 if any remain)."""
    from checkpointing.cli._check import damaged_unlisted, remove_unlisted

    entries = select(state.entries(), functions)
    corrupt: list[tuple[str, str, Any]] = []
    with state.reaching(), progress_bar() as progress:
        task = progress.add_task("Verifying", total=len(entries))
        for entry in entries:
            problem = state.cache.check_entry(entry.context_id)
            if problem is not None:
                corrupt.append((entry.function, problem, entry.context_id))
            progress.advance(task)
        unlisted = damaged_unlisted(state.cache) if not functions else []
    corrupt += [("?", problem, None) for problem in unlisted]
    removed = 0
    if fix and corrupt:
        with state.reaching():
            for _, _, context_id in corrupt:
                if context_id is not None:
                    removed += bool(state.cache.delete(context_id))
            removed += remove_unlisted(state.cache)
    if as_json:
        emit_json(
            {
                "checked": len(entries),
                "corrupt": [{"function": f, "problem": p} for f, p, _ in corrupt],
                "removed": removed,
            }
        )
    else:
        for function, problem, _ in corrupt:
            click.echo(f"corrupt: {function}: {problem}")
        state_text = f", removed {removed}" if fix else ""
        click.echo(f"checked {len(entries)} entries: {len(corrupt)} corrupt{state_text}")
    if corrupt and not fix:
        sys.exit(EXIT_FOUND_PROBLEMS)


@cli.command("explain")
@click.argument("function")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_obj
def explain(state: State, function: str, as_json: bool) -> None:
    """Show why FUNCTION has several entries: how each differs from the most recent one.

    To ask why one call re-runs, use f.explain(...) in Python (or %checkpoint_explain).
    """
    entries = [e for e in state.entries() if matches(e.function, [function])]
    if not entries:
        raise BadCache(f"no entries of {function!r} in {state.spec!r}")
    entries.sort(key=lambda e: e.created, reverse=True)
    latest = entries[0]
    rows = []
    for entry in entries:
        changes = compare(latest.extra, entry.extra) if entry is not latest else []
        rows.append((entry, [c.describe().replace("changed", "differs") for c in changes]))
    if as_json:
        emit_json([{**entry_json(e), "differs_from_latest": describe} for e, describe in rows])
        return
    click.echo(f"{len(entries)} entries of {', '.join(sorted({e.function for e in entries}))}")
    now = time.time()
    for entry, describe in rows:
        recorded = bool(entry.extra.get("components")) if entry.extra else False
        when, used = human.ago(entry.created, now), human.ago(last_use(entry), now)
        click.echo(f"* ({entry.arguments}) stored {when}, {human.size(entry.size)}, used {used}")
        if entry is latest:
            click.echo("    the most recent entry")
        elif not recorded:
            click.echo("    no components recorded (stored before explain existed)")
        else:
            for line in describe or ["no recorded component differs"]:
                click.echo(f"    {line}")
