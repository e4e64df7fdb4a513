"""``%%checkpoint`` through the core's call engine: any cache (``--cache``), ``on_error``.

Every cached cell appends a line to ``runs.txt`` when its body really runs, so a test
can tell a replay from a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from checkpointing import CheckpointFailure, CheckpointingWarning, defaults, events

COUNT = "_f = open('runs.txt', 'a'); _f.write('x'); _f.close(); del _f\n"

# A user's own cache, defined in the notebook: results in a dict, metadata dropped.
USER_CACHE = """
from checkpointing import CacheBase, CheckpointNotExist

class DictCache(CacheBase):
    def __init__(self):
        self.data = {}
    def save(self, context_id, result):
        self.data[context_id] = result
    def retrieve(self, context_id):
        try:
            return self.data[context_id]
        except KeyError:
            raise CheckpointNotExist(context_id) from None

store = DictCache()
"""

# A cache written for the original package: save and retrieve only, no CacheBase.
SEED_CACHE = USER_CACHE.replace("(CacheBase)", "")

CACHES = {
    "seed": SEED_CACHE,
    "memory": "from checkpointing import MemoryCache\nstore = MemoryCache()\n",
    "file": "from checkpointing import PickleFileCache\nstore = PickleFileCache('elsewhere')\n",
    "user": USER_CACHE,
}


def runs(path: Path) -> int:
    """Return how many times a cell body ran in ``path``."""
    counter = path / "runs.txt"
    return len(counter.read_text()) if counter.exists() else 0


def cell(shell: Any, code: str) -> tuple[Any, Any]:
    """Run ``code`` as a stored cell; return IPython's result and what it showed."""
    with capture_output() as shown:
        result = shell.run_cell(code, store_history=True)
    return result, shown


def ok(shell: Any, code: str) -> Any:
    """Run ``code`` and fail the test if the cell failed; return what it showed."""
    result, shown = cell(shell, code)
    result.raise_error()
    return shown


@pytest.mark.parametrize("kind", sorted(CACHES))
def test_cache_option_uses_the_cache_a_variable_holds(shell, tmp_path, kind):
    """``--cache NAME`` stores in that cache and replays from it, for any CacheBase."""
    ok(shell, CACHES[kind] + "x = 20\n")
    body = "%%checkpoint --cache store\n" + COUNT + "y = x + 1\nprint('y is', y)\n"
    assert "y is 21" in ok(shell, body).stdout
    del shell.user_ns["y"]
    assert "y is 21" in ok(shell, body).stdout
    assert shell.user_ns["y"] == 21
    assert runs(tmp_path) == 1
    assert not (tmp_path / ".checkpointing").exists()  # nothing went to the default cache
    ok(shell, "x = 30")
    ok(shell, body)
    assert (shell.user_ns["y"], runs(tmp_path)) == (31, 2)


def test_cache_option_with_a_file_cache_survives_a_new_shell_object(shell, tmp_path):
    """A ``PickleFileCache`` named by ``--cache`` really holds the entry on disk."""
    ok(shell, CACHES["file"] + "x = 1\n")
    ok(shell, "%%checkpoint --cache store\n" + COUNT + "y = x * 3\n")
    assert len(shell.user_ns["store"].entries()) == 1
    assert shell.user_ns["store"].entries()[0].function.startswith("cell:")


def test_events_of_a_cell_name_its_cache(shell, tmp_path):
    """The engine publishes a miss then a hit for a cell, with the cache it used."""
    seen: list[Any] = []
    stop = events.subscribe(seen.append)
    try:
        ok(shell, CACHES["memory"] + "x = 1\n")
        body = "%%checkpoint --cache store\n" + COUNT + "y = x\n"
        ok(shell, body)
        ok(shell, body)
    finally:
        stop()
    cells = [e for e in seen if e.function.startswith("cell:")]
    assert [e.kind for e in cells] == ["miss", "hit"]
    assert all(e.cache is shell.user_ns["store"] for e in cells)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--cache nothing_here", "no notebook variable"),
        ("--cache x", "--cache x"),
        ("--cache store --dir d", "not both"),
        ("--on-error loudly", "invalid choice"),
    ],
)
def test_bad_cache_or_policy_is_a_usage_error(shell, tmp_path, line, message):
    """A ``--cache`` naming no cache, or an unknown policy: UsageError, nothing runs."""
    ok(shell, CACHES["memory"] + "x = 1\n")
    result, _ = cell(shell, f"%%checkpoint {line}\n" + COUNT)
    assert isinstance(result.error_in_exec, UsageError)
    assert message in str(result.error_in_exec)
    assert runs(tmp_path) == 0


UNHASHABLE = "import threading\nlock = threading.Lock()\n"
USES_LOCK = COUNT + "with lock:\n    r = 1\n"


def test_on_error_raise_fails_the_cell_before_it_runs(shell, tmp_path):
    """``--on-error raise``: an input that cannot be hashed raises CheckpointFailure."""
    ok(shell, UNHASHABLE)
    result, _ = cell(shell, "%%checkpoint --on-error raise\n" + USES_LOCK)
    assert isinstance(result.error_in_exec, CheckpointFailure)
    assert "input 'lock'" in str(result.error_in_exec)
    assert runs(tmp_path) == 0


def test_on_error_ignore_runs_the_cell_silently(shell, tmp_path, recwarn):
    """``--on-error ignore``: the cell runs uncached and nothing is shown about it."""
    ok(shell, UNHASHABLE)
    ok(shell, "%%checkpoint --on-error ignore\n" + USES_LOCK)
    assert shell.user_ns["r"] == 1
    assert runs(tmp_path) == 1
    assert not [w for w in recwarn if issubclass(w.category, CheckpointingWarning)]


def test_on_error_setting_applies_to_cells(shell, tmp_path):
    """``defaults["checkpoint.on_error"]`` is the policy of cells without ``--on-error``."""
    ok(shell, UNHASHABLE)
    defaults["checkpoint.on_error"] = "raise"
    result, _ = cell(shell, "%%checkpoint\n" + USES_LOCK)
    assert isinstance(result.error_in_exec, CheckpointFailure)
    with pytest.warns(CheckpointingWarning, match="input 'lock'"):
        ok(shell, "%%checkpoint --on-error warn\n" + USES_LOCK)


def test_on_error_raise_for_a_result_that_cannot_be_stored(shell, tmp_path):
    """``--on-error raise``: an unpicklable output raises after the cell ran; not stored."""
    body = "%%checkpoint --on-error raise --cache store\n" + COUNT + "g = (i for i in [1])\n"
    ok(shell, "from checkpointing import PickleFileCache\nstore = PickleFileCache('c')\n")
    result, _ = cell(shell, body)
    assert isinstance(result.error_in_exec, CheckpointFailure)
    assert "variable 'g'" in str(result.error_in_exec)
    assert runs(tmp_path) == 1
    assert shell.user_ns["store"].entries() == []


def test_backend_setting_chooses_the_cells_cache(shell, tmp_path):
    """``defaults["cache.backend"] = "memory"``: cells go to the process's memory cache."""
    defaults["cache.backend"] = "memory"
    body = "%%checkpoint\n" + COUNT + "y = 5\n"
    ok(shell, body)
    ok(shell, body)
    assert runs(tmp_path) == 1
    assert not (tmp_path / ".checkpointing").exists()


def test_memory_cache_entry_is_not_changed_by_later_in_place_edits(shell, tmp_path):
    """A cell stored in a MemoryCache replays the value it made, not a later mutation."""
    ok(shell, CACHES["memory"] + "import numpy as np\n")
    body = "%%checkpoint --cache store\n" + COUNT + "a = np.arange(100_000)\n"
    ok(shell, body)
    ok(shell, "a[:] = -1")
    ok(shell, body)
    assert runs(tmp_path) == 1
    assert int(shell.user_ns["a"][5]) == 5
