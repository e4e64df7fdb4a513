"""The ``checkpointing`` command, run as ``python -m checkpointing`` in subprocesses.

Caches are filled in-process through the public API (with creation times set in the
past where a test needs old entries); every command then runs in a fresh process, and
its output and exit code are what a user or a script sees.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from checkpointing import EntryInfo, PickleFileCache, checkpoint

REPO_ROOT = Path(__file__).resolve().parents[1]
DAY = 86400.0


def run_cli(
    *args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m checkpointing ARGS`` in ``cwd``; return the finished process."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = str(REPO_ROOT)
    environment.pop("CHECKPOINTING_CACHE", None)
    environment["COLUMNS"] = "200"  # wide enough that tables never cut a cell
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "checkpointing", *args],
        cwd=cwd,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _info(function: str, arguments: str, created: float, run_time: float = 0.5) -> EntryInfo:
    return EntryInfo(None, function, created, 0, run_time, arguments, 0)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory whose ``.checkpointing`` cache holds entries of two functions, of mixed ages."""
    cache = PickleFileCache(tmp_path / ".checkpointing")
    now = time.time()
    for i in range(3):
        cache.save_entry(
            f"fit{i}", list(range(1000 * (i + 1))), _info("pkg.model.fit", f"n={i}", now - i * DAY)
        )
    cache.save_entry(
        "load0", b"x" * 50_000, _info("pkg.data.load", "path='a.csv'", now - 40 * DAY, 30.0)
    )
    return tmp_path


def _json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_ls_lists_every_entry_in_a_table(project: Path) -> None:
    """``ls`` shows function, arguments, size and ages of each entry, and a total."""
    done = run_cli("ls", cwd=project)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["function", "arguments", "size"]
    assert "last used" in lines[0]
    assert "hits" in lines[0]
    assert "saved" in lines[0]
    assert sum("pkg.model.fit" in line for line in lines) == 3
    assert any("pkg.data.load" in line and "path='a.csv'" in line for line in lines)
    assert lines[-1].startswith("4 entries, ")


def test_ls_json_is_machine_readable(project: Path) -> None:
    """``ls --json`` prints one object per entry with sizes in bytes and ISO times."""
    rows = _json(run_cli("ls", "--json", cwd=project))
    assert isinstance(rows, list)
    assert len(rows) == 4
    load = next(r for r in rows if r["function"] == "pkg.data.load")
    assert load["arguments"] == "path='a.csv'"
    assert load["size"] > 50_000
    assert load["run_time"] == 30.0
    assert load["created"].endswith("Z")
    assert set(load) >= {"hits", "last_used", "saved", "context_id"}


def test_ls_filters_by_function_and_sorts(project: Path) -> None:
    """``--function`` takes a short name or a pattern; ``--sort`` orders the rows."""
    rows = _json(run_cli("ls", "--json", "-f", "fit", "--sort", "created", cwd=project))
    assert [r["arguments"] for r in rows] == ["n=0", "n=1", "n=2"]  # newest first
    rows = _json(run_cli("ls", "--json", "-f", "pkg.*", "--sort", "size", "--reverse", cwd=project))
    assert [r["function"] for r in rows][-1] == "pkg.data.load"  # the largest, last
    rows = _json(run_cli("ls", "--json", "--limit", "2", cwd=project))
    assert len(rows) == 2
    assert _json(run_cli("ls", "--json", "-f", "nothing", cwd=project)) == []


def test_stats_totals_per_function(project: Path) -> None:
    """``stats`` sums entries and sizes per function, in a table and as JSON."""
    rows = _json(run_cli("stats", "--json", cwd=project))
    assert isinstance(rows, list)
    by_name = {r["function"]: r for r in rows}
    assert by_name["pkg.model.fit"]["entries"] == 3
    assert by_name["pkg.data.load"]["entries"] == 1
    done = run_cli("stats", cwd=project)
    assert done.returncode == 0
    assert "total" in done.stdout
    assert "pkg.model.fit" in done.stdout


def test_clear_asks_before_deleting(project: Path) -> None:
    """Without ``--yes`` and no terminal to ask on, ``clear`` deletes nothing and exits 1."""
    done = run_cli("clear", cwd=project, stdin="")
    assert done.returncode == 1
    assert "--yes" in done.stderr
    assert len(PickleFileCache(project / ".checkpointing").entries()) == 4


def test_clear_one_function_with_yes(project: Path) -> None:
    """``clear FUNCTION --yes`` removes that function's entries only."""
    done = run_cli("clear", "fit", "--yes", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "removed 3 entries" in done.stdout
    left = PickleFileCache(project / ".checkpointing").entries()
    assert [e.function for e in left] == ["pkg.data.load"]


def test_clear_older_than(project: Path) -> None:
    """``--older-than 30d`` removes only entries created more than 30 days ago."""
    done = run_cli("clear", "--older-than", "30d", "--yes", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "removed 1 entries" in done.stdout
    left = PickleFileCache(project / ".checkpointing").entries()
    assert sorted(e.function for e in left) == ["pkg.model.fit"] * 3


def test_clear_dry_run_and_clear_all(project: Path) -> None:
    """``--dry-run`` only counts; ``clear --yes`` empties the cache."""
    done = run_cli("clear", "--dry-run", cwd=project)
    assert "would remove 4 entries" in done.stdout
    assert len(PickleFileCache(project / ".checkpointing").entries()) == 4
    assert run_cli("clear", "-y", cwd=project).returncode == 0
    assert PickleFileCache(project / ".checkpointing").entries() == []


def test_prune_by_size_evicts_least_recently_used_first(project: Path) -> None:
    """``prune --max-size`` removes the oldest-used entries until the cache fits."""
    cache = PickleFileCache(project / ".checkpointing")
    total = sum(e.size for e in cache.entries())
    load = next(e for e in cache.entries() if e.function == "pkg.data.load")
    limit = str(total - load.size)  # exactly the least recently used entry must go
    done = run_cli("prune", "--max-size", limit, cwd=project)
    assert done.returncode == 0, done.stderr
    assert "removed 1 entries" in done.stdout
    assert sorted(e.function for e in cache.entries()) == ["pkg.model.fit"] * 3


def test_prune_keep_expensive_spares_a_slow_entry(tmp_path: Path) -> None:
    """With ``--keep-expensive`` a one-minute entry outlives cheap, more recent ones."""
    cache = PickleFileCache(tmp_path / "c")
    now = time.time()
    cache.save_entry("slow", b"s" * 1000, _info("m.slow", "", now - 10 * 3600, run_time=60.0))
    for i in range(3):
        cache.save_entry(f"cheap{i}", b"c" * 1000, _info("m.cheap", f"i={i}", now - i * 3600, 0.01))
    limit = str(2 * max(e.size for e in cache.entries()))
    done = run_cli("--cache", "c", "prune", "--max-size", limit, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "m.slow" not in {e.function for e in cache.entries()}  # plain LRU: oldest goes
    cache.save_entry("slow", b"s" * 1000, _info("m.slow", "", now - 10 * 3600, run_time=60.0))
    cache.save_entry("cheap2", b"c" * 1000, _info("m.cheap", "i=2", now - 2 * 3600, 0.01))
    done = run_cli("--cache", "c", "prune", "--max-size", limit, "--keep-expensive", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(e.function for e in cache.entries()) == ["m.cheap", "m.slow"]


def test_prune_by_age_and_dry_run(project: Path) -> None:
    """``--max-age 1.5d`` removes entries unused for longer; ``--dry-run`` removes nothing."""
    done = run_cli("prune", "--max-age", "1.5d", "--dry-run", "--json", cwd=project)
    assert _json(done) == {
        "removed": 2,
        "freed": pytest.approx(_json(done)["freed"]),
        "remaining": 2,
        "remaining_size": _json(done)["remaining_size"],
        "dry_run": True,
    }
    assert len(PickleFileCache(project / ".checkpointing").entries()) == 4
    done = run_cli("prune", "--max-age", "1.5d", cwd=project)
    assert "removed 2 entries" in done.stdout
    left = sorted(e.arguments for e in PickleFileCache(project / ".checkpointing").entries())
    assert left == ["n=0", "n=1"]


def test_prune_needs_a_limit(project: Path) -> None:
    """``prune`` without a limit is a usage error (exit 2)."""
    done = run_cli("prune", cwd=project)
    assert done.returncode == 2
    assert "--max-size" in done.stderr


@pytest.mark.parametrize("size", ["5 potatoes", "lots", "-3GB", "1e3"])
def test_unparseable_size_is_a_usage_error(project: Path, size: str) -> None:
    """A size that cannot be read is refused with exit code 2 and an example of what works."""
    done = run_cli("prune", "--max-size", size, cwd=project)
    assert done.returncode == 2
    assert f"cannot read {size!r} as a size" in done.stderr
    assert len(PickleFileCache(project / ".checkpointing").entries()) == 4


def test_unparseable_age_is_a_usage_error(project: Path) -> None:
    """An age that cannot be read is refused with exit code 2."""
    done = run_cli("clear", "--older-than", "a while", "--yes", cwd=project)
    assert done.returncode == 2
    assert "cannot read 'a while' as an age" in done.stderr
    assert len(PickleFileCache(project / ".checkpointing").entries()) == 4


def test_verify_reports_and_fixes_a_corrupt_entry(project: Path) -> None:
    """``verify`` finds a truncated entry (exit 1); ``--fix`` removes only it (exit 0)."""
    cache_dir = project / ".checkpointing"
    assert run_cli("verify", cwd=project).returncode == 0
    victim = max(cache_dir.glob("*.pickle"), key=lambda p: p.stat().st_size)
    victim.write_bytes(victim.read_bytes()[:-100])
    done = run_cli("verify", cwd=project)
    assert done.returncode == 1
    assert "1 corrupt" in done.stdout
    done = run_cli("verify", "--fix", "--json", cwd=project)
    report = _json(done)
    assert isinstance(report, dict)
    assert report["removed"] == 1
    assert len(report["corrupt"]) == 1
    assert run_cli("verify", cwd=project).returncode == 0
    assert len(PickleFileCache(cache_dir).entries()) == 3


def test_verify_finds_a_damaged_payload(tmp_path: Path) -> None:
    """An entry whose pickled result cannot be loaded is reported as corrupt."""
    cache = PickleFileCache(tmp_path / "c")
    cache.save_entry("k", {"a": 1}, _info("m.f", "", time.time()))
    (path,) = (tmp_path / "c").glob("*.pickle")
    data = bytearray(path.read_bytes())
    data[-3:] = b"\xff\xff\xff"  # the end of the pickle stream: no valid STOP
    path.write_bytes(bytes(data))
    done = run_cli("--cache", "c", "verify", cwd=tmp_path)
    assert done.returncode == 1
    assert "corrupt: m.f" in done.stdout


def test_explain_command_shows_how_entries_differ(tmp_path: Path) -> None:
    """``explain FUNCTION`` lists each entry and what differs from the most recent one."""

    @checkpoint(str(tmp_path / "c"))
    def area(width: int, height: int = 2) -> int:
        return width * height

    area(3)
    area(4)
    done = run_cli("--cache", "c", "explain", "area", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "2 entries of tests.test_cli" in done.stdout
    assert "the most recent entry" in done.stdout
    assert "argument 'width' differs" in done.stdout
    assert "height" not in done.stdout.split("differs")[0].split("\n")[-1]
    done = run_cli("--cache", "c", "explain", "nothing", cwd=tmp_path)
    assert done.returncode == 2
    assert "no entries of 'nothing'" in done.stderr


def test_cache_from_environment_variable(project: Path, tmp_path: Path) -> None:
    """``CHECKPOINTING_CACHE`` names the cache when ``--cache`` is not given."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"CHECKPOINTING_CACHE": str(project / ".checkpointing")}
    rows = _json(run_cli("ls", "--json", cwd=elsewhere, env=env))
    assert isinstance(rows, list)
    assert len(rows) == 4
    rows = _json(
        run_cli("--cache", f"file://{project / '.checkpointing'}", "ls", "--json", cwd=elsewhere)
    )
    assert isinstance(rows, list)
    assert len(rows) == 4


def test_missing_cache_directory_is_named(tmp_path: Path) -> None:
    """A cache path that does not exist is an error naming it (exit 2), not an empty list."""
    done = run_cli("--cache", "no/such/dir", "ls", cwd=tmp_path)
    assert done.returncode == 2
    assert "no cache at 'no/such/dir'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_file_is_not_a_cache(tmp_path: Path) -> None:
    """Pointing ``--cache`` at a file is refused (exit 2)."""
    (tmp_path / "notes.txt").write_text("hello")
    done = run_cli("--cache", "notes.txt", "ls", cwd=tmp_path)
    assert done.returncode == 2
    assert "is a file, not a cache directory" in done.stderr


def test_a_project_folder_is_not_a_cache_and_is_left_alone(tmp_path: Path) -> None:
    """A directory of other files is not a cache: ``clear --yes`` refuses and deletes nothing."""
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "main.py").write_text("print('hi')\n")
    done = run_cli("--cache", "src", "clear", "--yes", cwd=tmp_path)
    assert done.returncode == 2
    assert "is not a checkpointing cache" in done.stderr
    assert (folder / "main.py").exists()


def test_unknown_url_scheme_is_named(tmp_path: Path) -> None:
    """A URL no store understands is a clear error (exit 2), not a traceback."""
    done = run_cli("--cache", "nosuchscheme://host/x", "ls", cwd=tmp_path)
    assert done.returncode == 2
    assert "nosuchscheme" in done.stderr
    assert "Traceback" not in done.stderr


def test_empty_cache_directory_lists_nothing(tmp_path: Path) -> None:
    """An existing empty directory is an empty cache: every command succeeds."""
    (tmp_path / ".checkpointing").mkdir()
    assert run_cli("ls", cwd=tmp_path).stdout.strip() == "no entries"
    assert run_cli("stats", cwd=tmp_path).returncode == 0
    assert run_cli("verify", cwd=tmp_path).returncode == 0
    assert run_cli("prune", "--max-size", "1MB", cwd=tmp_path).returncode == 0


def test_help_and_version(tmp_path: Path) -> None:
    """``--help`` lists the commands and exit codes; ``--version`` prints the version."""
    done = run_cli("--help", cwd=tmp_path)
    assert done.returncode == 0
    for command in ("ls", "stats", "clear", "prune", "verify", "explain"):
        assert command in done.stdout
    assert "Exit codes" in done.stdout
    done = run_cli("--version", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.startswith("checkpointing, version ")


def test_import_checkpointing_does_not_import_the_cli_libraries() -> None:
    """``import checkpointing`` (and a limit given as a number) never imports click or rich."""
    code = (
        "import sys, checkpointing\n"
        "checkpointing.MemoryCache().set_limits(max_size=10**9, max_age=86400)\n"
        "print(sorted(m for m in ('click', 'rich', 'humanfriendly', 'checkpointing.cli')"
        " if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]"


def test_hits_last_use_and_time_saved_are_listed(tmp_path: Path) -> None:
    """Hits counted by the cache show in ``ls`` and ``stats``; ``verify`` does not count as one."""

    @checkpoint(str(tmp_path / "c"))
    def slow(x: int) -> int:
        time.sleep(0.2)
        return x

    slow(1)
    slow(1)
    slow(1)
    slow.cache.entries()  # asking for usage writes this process's pending hit counts
    assert run_cli("--cache", "c", "verify", cwd=tmp_path).returncode == 0
    (row,) = _json(run_cli("--cache", "c", "ls", "--json", cwd=tmp_path))
    assert row["hits"] == 2
    assert row["last_used"] is not None
    assert row["saved"] == pytest.approx(2 * row["run_time"])
    assert row["run_time"] >= 0.2
    (total,) = _json(run_cli("--cache", "c", "stats", "--json", cwd=tmp_path))
    assert total["hits"] == 2
