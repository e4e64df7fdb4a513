"""``%%checkpoint`` in IPython's own shell: hits, misses, options and failure cases.

Every cached cell appends a line to ``runs.txt`` when its body really runs, so a test
can tell a replay from a run whatever the cell prints.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from checkpointing import CheckpointingWarning, PickleFileCache, events
from ipython_ext.cell import CellFailed, StoredCell, analyse_cell, cell_label
from ipython_ext.magics import split_line_options

COUNT = "_f = open('runs.txt', 'a'); _f.write('x'); _f.close(); del _f\n"
NOTE = "loaded from cache, not run"


def runs(path: Path) -> int:
    """Return how many times a cell body ran in ``path``."""
    counter = path / "runs.txt"
    return len(counter.read_text()) if counter.exists() else 0


def cell(shell: Any, code: str) -> tuple[Any, Any]:
    """Run ``code`` as a stored cell; return IPython's result and what it showed."""
    with capture_output() as shown:
        result = shell.run_cell(code, store_history=True)
    return result, shown


def ok(shell: Any, code: str) -> tuple[Any, Any]:
    """Run ``code`` and fail the test if the cell failed."""
    result, shown = cell(shell, code)
    result.raise_error()
    return result, shown


def entries(path: Path) -> list[Any]:
    """List the entries of the default cache under ``path``."""
    return PickleFileCache(path / ".checkpointing").entries()


def stored(path: Path) -> list[StoredCell]:
    """Load every stored cell under ``path``."""
    cache = PickleFileCache(path / ".checkpointing")
    return [cache.retrieve(info.context_id) for info in cache.entries()]


SLOW = (
    "%%checkpoint\n" + COUNT + "print('computing', y)\n"
    "from IPython.display import HTML, display\n"
    "display(HTML('<b>bold</b>'))\n"
    "z = y * 2\n"
    "z + 1\n"
)


# --------------------------------------------------------------------------- hits


def test_hit_restores_variables_and_replays_outputs_without_running(shell, tmp_path):
    """A hit sets the variables and shows stdout, rich output and the value, not running."""
    ok(shell, "y = 20")
    first, shown = ok(shell, SLOW)
    assert first.result == 41
    assert "computing 20" in shown.stdout
    assert [o.data.get("text/html") for o in shown.outputs] == ["<b>bold</b>"]
    ok(shell, "del z")
    second, replay = ok(shell, SLOW)
    assert runs(tmp_path) == 1
    assert shell.user_ns["z"] == 40
    assert second.result == 41
    assert replay.stdout.startswith("computing 20\n")
    html = [o.data.get("text/html") for o in replay.outputs]
    assert NOTE in html[0]
    assert html[1:] == ["<b>bold</b>"]


def test_replay_note_says_when_stored_how_long_it_ran_and_loaded(shell, tmp_path):
    """A hit's note gives the store time, the run's duration and the load's, with a marker."""
    ok(shell, "y = 1")
    body = SLOW.replace("z = y * 2\n", "import time\ntime.sleep(0.3)\nz = y * 2\n")
    ok(shell, body)
    _, replay = ok(shell, body)
    assert runs(tmp_path) == 1
    text = replay.outputs[0].data["text/plain"]
    html = replay.outputs[0].data["text/html"]
    today = time.strftime("%Y-%m-%d")
    assert f"stored {today}" in text
    took = re.search(r"the run took ([\d.]+) (ms|s)\b", text)
    assert took is not None
    seconds = float(took.group(1)) / (1000 if took.group(2) == "ms" else 1)
    assert 0.3 <= seconds < 30
    assert re.search(r"loaded in (<1|\d+) ms", text)
    assert "from cache" in html
    assert "checkpointing-replay" in html


def test_value_becomes_the_cells_result(shell, tmp_path):
    """The last value is the cell's result on a hit too: ``_`` and ``Out`` see it."""
    ok(shell, "y = 1")
    ok(shell, SLOW)
    result, _ = ok(shell, SLOW)
    assert shell.user_ns["_"] == 3
    assert shell.user_ns["Out"][result.execution_count] == 3


def test_semicolon_hides_the_value(shell, tmp_path):
    """``x;`` shows nothing on a miss or on a hit, as without the magic."""
    ok(shell, "y = 1")
    body = "%%checkpoint\n" + COUNT + "y + 1;\n"
    assert ok(shell, body)[0].result is None
    assert ok(shell, body)[0].result is None
    assert runs(tmp_path) == 1


def test_quiet_hit_shows_no_note(shell, tmp_path):
    """``-q`` replays without the "loaded from cache" note."""
    ok(shell, "y = 1")
    body = SLOW.replace("%%checkpoint", "%%checkpoint -q")
    ok(shell, body)
    _, replay = ok(shell, body)
    assert runs(tmp_path) == 1
    assert all(NOTE not in str(o.data) for o in replay.outputs)


def test_input_change_reruns_and_old_inputs_hit_again(shell, tmp_path):
    """Changing an input's value runs the cell; the earlier value hits its entry."""
    for value in (1, 2, 1):
        ok(shell, f"y = {value}")
        ok(shell, SLOW)
        assert shell.user_ns["z"] == 2 * value
    assert runs(tmp_path) == 2


def test_code_change_reruns(shell, tmp_path):
    """Editing the cell's code runs it again."""
    ok(shell, "y = 1")
    ok(shell, SLOW)
    ok(shell, SLOW.replace("y * 2", "y * 3"))
    assert runs(tmp_path) == 2
    assert shell.user_ns["z"] == 3


def test_comment_and_layout_changes_hit(shell, tmp_path):
    """Comments, blank lines and spacing do not change the key."""
    ok(shell, "y = 1")
    ok(shell, SLOW)
    edited = SLOW.replace("z = y * 2", "# doubled\n\nz  =  y*2   # twice")
    ok(shell, edited)
    assert runs(tmp_path) == 1


def test_rename_of_output_variable_reruns(shell, tmp_path):
    """Names are part of the code: renaming an output runs the cell."""
    ok(shell, "y = 1")
    ok(shell, SLOW)
    ok(shell, SLOW.replace("z", "w"))
    assert runs(tmp_path) == 2
    assert shell.user_ns["w"] == 2


def test_helper_function_edit_reruns(shell, tmp_path):
    """A function defined in another cell is an input by its code."""
    ok(shell, "def helper(v):\n    return v + 1")
    body = "%%checkpoint\n" + COUNT + "r = helper(1)\n"
    ok(shell, body)
    ok(shell, body)
    ok(shell, "def helper(v):\n    return v + 2")
    ok(shell, body)
    assert runs(tmp_path) == 2
    assert shell.user_ns["r"] == 3


def test_reads_inside_functions_and_comprehensions_are_inputs(shell, tmp_path):
    """Globals read by a lambda or comprehension in the cell join the key."""
    body = (
        "%%checkpoint\n" + COUNT + "f = lambda v: v * k\nr = [f(v) for v in range(3) if v > lo]\n"
    )
    ok(shell, "k = 2; lo = 0")
    ok(shell, body)
    ok(shell, "k = 3")
    ok(shell, body)
    ok(shell, "lo = 1")
    ok(shell, body)
    assert runs(tmp_path) == 3
    assert shell.user_ns["r"] == [6]


def test_shell_expansion_is_an_input(shell, tmp_path):
    """``$name`` in a shell command line is read from the namespace."""
    body = "%%checkpoint\n" + COUNT + "out = !echo $word\n"
    ok(shell, "word = 'one'")
    ok(shell, body)
    ok(shell, "word = 'two'")
    ok(shell, body)
    assert runs(tmp_path) == 2
    assert list(shell.user_ns["out"]) == ["two"]


# --------------------------------------------------------------------------- options


def test_rerun_runs_and_replaces_the_entry(shell, tmp_path):
    """``--rerun`` runs a stored cell and stores the new results."""
    # A clock, not random.random(): the global random state is an input of the cell.
    body = "%%checkpoint\n" + COUNT + "import time\nn = time.perf_counter_ns()\n"
    ok(shell, body)
    first = shell.user_ns["n"]
    ok(shell, body.replace("%%checkpoint", "%%checkpoint --rerun"))
    second = shell.user_ns["n"]
    ok(shell, body)
    assert runs(tmp_path) == 2
    assert second != first
    assert shell.user_ns["n"] == second
    assert len(entries(tmp_path)) == 1


def test_name_labels_the_entry_and_the_events(shell, tmp_path):
    """``--name`` is the entry's function name and the events' name, as ``cell:NAME``."""
    seen: list[events.CheckpointEvent] = []
    unsubscribe = events.subscribe(seen.append)
    try:
        ok(shell, "%%checkpoint -n load_data\na = 1\n")
        ok(shell, "%%checkpoint --name=load_data\na = 1\n")
    finally:
        unsubscribe()
    assert [info.function for info in entries(tmp_path)] == ["cell:load_data"]
    assert [(e.kind, e.function) for e in seen] == [
        ("miss", "cell:load_data"),
        ("hit", "cell:load_data"),
    ]
    assert seen[1].cache is seen[0].cache
    assert seen[1].context_id == seen[0].context_id


@pytest.mark.parametrize("quoted", ['"my slow cell"', "'my slow cell'", '"my slow cell" -q'])
def test_quoted_name_is_read_with_shell_rules(shell, tmp_path, quoted):
    """A quoted ``--name`` with blanks names the entry without its quotes."""
    ok(shell, f"%%checkpoint --name {quoted}\na = 1\n")
    assert [info.function for info in entries(tmp_path)] == ["cell:my slow cell"]


def test_unquoted_name_with_blanks_says_to_quote(shell, tmp_path):
    """``--name my slow cell`` fails with a hint to quote the name; nothing runs."""
    result, _ = cell(shell, "%%checkpoint --name my slow cell\n" + COUNT)
    assert isinstance(result.error_in_exec, UsageError)
    assert "'slow cell'" in str(result.error_in_exec)
    assert "quote" in str(result.error_in_exec)
    assert runs(tmp_path) == 0


def test_default_label_is_the_first_code_line(shell, tmp_path):
    """Without ``--name`` the label is the first line of code, shortened."""
    ok(
        shell,
        "%%checkpoint\n# a comment\n\nvalue = 'a very long line of code that goes on and on'\n",
    )
    (info,) = entries(tmp_path)
    assert info.function.startswith("cell:value = 'a very long line")
    label, _, identity = info.function.rpartition(" #")
    assert label.endswith("…")
    assert len(label) <= len("cell:") + 40
    assert len(identity) == 6
    assert cell_label("  \n# only\n  x = 1  \n") == "x = 1"


@pytest.mark.parametrize(
    ("body", "label"),
    [
        ("import os\nfrom collections import (\n    Counter,\n)\ntotal = 1\n", "total = 1"),
        ("# setup\nimport math as m\n\nradius = m.pi\n", "radius = m.pi"),
        ("import os\n", "import os"),  # only imports: the first line
        ("import os\n!echo hi\nx = 1\n", "!echo hi"),  # IPython syntax: read line by line
    ],
)
def test_the_label_is_the_first_line_that_does_work(body, label):
    """Imports at the top of a cell do not name it: the first other statement does."""
    assert cell_label(body) == label


def test_cells_that_begin_alike_are_grouped_and_cleared_apart(shell, tmp_path):
    """Two different cells with the same first line get two names; clearing one keeps the other."""
    ok(shell, "%%checkpoint\nimport time\nwait = 0\nfirst = 1\n")
    ok(shell, "%%checkpoint\nimport time\nwait = 0\nsecond = 2\n")
    ok(
        shell,
        "%%checkpoint\nimport time\nwait = 0  # a comment does not change the cell\nfirst = 1\n",
    )
    names = sorted(info.function for info in entries(tmp_path))
    assert len(set(names)) == 2, names
    assert all(name.startswith("cell:wait = 0 #") for name in names)
    cache = PickleFileCache(tmp_path / ".checkpointing")
    assert cache.clear(names[0]) == 1
    assert [info.function for info in entries(tmp_path)] == [names[1]]


def test_manual_input_joins_the_key(shell, tmp_path):
    """``--inputs`` adds a value the analysis cannot see (read through ``eval``)."""
    body = "%%checkpoint -i k\n" + COUNT + "r = eval('k') * 2\n"
    ok(shell, "k = 1")
    ok(shell, body)
    ok(shell, "k = 5")
    ok(shell, body)
    assert runs(tmp_path) == 2
    assert shell.user_ns["r"] == 10


def test_manual_output_is_stored(shell, tmp_path):
    """``--outputs`` stores an object the cell changes only through a function."""
    ok(shell, "registry = []\ndef add():\n    registry.append(1)")
    body = "%%checkpoint -o registry\n" + COUNT + "add()\n"
    ok(shell, body)
    ok(shell, "registry = []")
    ok(shell, body)
    assert runs(tmp_path) == 1
    assert shell.user_ns["registry"] == [1]


def test_excluded_name_is_neither_hashed_nor_stored(shell, tmp_path):
    """``--exclude`` leaves a name out of the key and out of the stored variables."""
    ok(shell, "import threading\nlock = threading.Lock()")
    body = "%%checkpoint -x lock,tmp\n" + COUNT + "with lock:\n    tmp = 1\n    r = 2\n"
    ok(shell, body)
    ok(shell, "lock = threading.Lock(); del tmp")
    ok(shell, body)
    assert runs(tmp_path) == 1
    assert shell.user_ns["r"] == 2
    assert "tmp" not in shell.user_ns


def test_dir_option_chooses_the_cache(shell, tmp_path):
    """``--dir`` stores entries in the given directory."""
    ok(shell, "%%checkpoint -d other_cache\na = 1\n")
    assert len(PickleFileCache(tmp_path / "other_cache").entries()) == 1
    assert not (tmp_path / ".checkpointing").exists()


def test_line_form_caches_one_statement(shell, tmp_path):
    """``%checkpoint x = f(y)`` caches one statement, options first."""
    ok(
        shell,
        "def slow(v):\n"
        "    with open('runs.txt', 'a') as f:\n"
        "        f.write('x')\n"
        "    return v * 10",
    )
    ok(shell, "y = 4")
    ok(shell, "%checkpoint w = slow(y)")
    ok(shell, "del w")
    _, shown = ok(shell, "%checkpoint w = slow(y)")
    assert shell.user_ns["w"] == 40
    assert runs(tmp_path) == 1
    assert NOTE in shown.outputs[0].data["text/plain"]
    _, shown = ok(shell, "%checkpoint -q -n tens w = slow(y)")
    assert runs(tmp_path) == 1
    assert not shown.outputs
    result, _ = ok(shell, "%checkpoint slow(y) + 1")
    assert result.result == 41


def test_panel_magic_shows_the_panel(shell, tmp_path):
    """``%checkpoint_panel`` returns the panel as the cell's value; arguments are refused."""
    from ipython_ext.panel import CheckpointPanel

    result, _ = ok(shell, "%checkpoint_panel")
    panel = result.result
    try:
        assert isinstance(panel, CheckpointPanel)
    finally:
        panel.close()
    result, _ = cell(shell, "%checkpoint_panel now")
    assert isinstance(result.error_in_exec, UsageError)


def test_nested_runs_are_reentrant(shell, tmp_path):
    """Cell hooks fire once per cell (not for the nested run); nested %%checkpoint works."""
    seen: list[bool] = []

    def hook(result: Any) -> None:
        seen.append(result.info.store_history)

    shell.events.register("post_run_cell", hook)
    try:
        body = "%%checkpoint\n%%checkpoint -n inner\n" + COUNT + "q = 5\n"
        ok(shell, body)
        ok(shell, "del q")
        ok(shell, body)
    finally:
        shell.events.unregister("post_run_cell", hook)
    assert runs(tmp_path) == 1
    assert shell.user_ns["q"] == 5
    assert seen == [True, True, True]  # three cells, each once


def test_split_line_options():
    """Options are split from the statement, which is kept verbatim."""
    assert split_line_options("x = f('a  b')") == ("", "x = f('a  b')")
    assert split_line_options("-q -n 'my name' x = 1") == ("-q -n 'my name'", "x = 1")
    assert split_line_options("--dir=/tmp/c -rq y") == ("--dir=/tmp/c -rq", "y")
    assert split_line_options("-i a,b x = a + b") == ("-i a,b", "x = a + b")


# --------------------------------------------------------------------------- what is stored


def test_modified_input_object_is_stored(shell, tmp_path):
    """``df["c"] = ...`` and ``items.append(...)`` store the changed objects."""
    setup = "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})\nitems = []"
    body = "%%checkpoint\n" + COUNT + "df['c'] = df['a'] * 2\nitems.append(len(df))\n"
    ok(shell, setup)
    ok(shell, body)
    ok(shell, setup)
    ok(shell, body)
    assert runs(tmp_path) == 1
    assert list(shell.user_ns["df"]["c"]) == [2, 4]
    assert shell.user_ns["items"] == [2]


def test_functions_and_classes_are_defined_again(shell, tmp_path):
    """Functions, classes and lambdas of the cell come back by running their definitions."""
    body = (
        "%%checkpoint\n" + COUNT + "N = 3\n"
        "def scale(v, n=N):\n    return v * n\n"
        "class Point:\n    def __init__(self, x):\n        self.x = x\n"
        "square = lambda v: v * v\n"
        "p = Point(scale(2))\n"
        "handlers = {'square': square}\n"
    )
    ok(shell, body)
    ok(shell, "del N, scale, Point, square, p, handlers")
    ok(shell, body)
    ns = shell.user_ns
    assert runs(tmp_path) == 1
    assert ns["scale"](2) == 6
    assert ns["square"](3) == 9
    assert isinstance(ns["p"], ns["Point"])
    assert ns["p"].x == 6
    assert ns["handlers"]["square"] is ns["square"]


def test_checkpointed_function_defined_in_the_cell_still_caches(shell, tmp_path):
    """A ``@checkpoint()`` function defined in a cached cell works after a hit."""
    body = (
        "%%checkpoint\nfrom checkpointing import checkpoint\n"
        "@checkpoint()\ndef twice(v):\n"
        "    with open('runs.txt', 'a') as f:\n"
        "        f.write('t')\n"
        "    return 2 * v\n"
    )
    ok(shell, body)
    ok(shell, "twice(2)")
    ok(shell, "del twice")
    ok(shell, body)
    result, _ = ok(shell, "twice(2)")
    assert result.result == 4
    assert runs(tmp_path) == 1


def test_modules_are_imported_again(shell, tmp_path):
    """Imported modules are restored by importing them, not pickled."""
    body = "%%checkpoint\nimport json as js\nfrom os import path\n"
    ok(shell, body)
    ok(shell, "del js, path")
    ok(shell, body)
    import json
    import os.path

    assert shell.user_ns["js"] is json
    assert shell.user_ns["path"] is os.path


def test_large_arrays_round_trip(shell, tmp_path):
    """Large and small arrays made by the cell are restored equal, writable and typed."""
    body = (
        "%%checkpoint\nimport numpy as np\n"
        "big = np.arange(1_000_000, dtype='float32').reshape(1000, 1000)\n"
        "small = np.arange(3)\nview = big[::2, 1]\n"
    )
    ok(shell, body)
    ok(shell, "del big, small, view")
    ok(shell, body)
    ns = shell.user_ns
    assert ns["big"].dtype == "float32"
    assert ns["big"].shape == (1000, 1000)
    assert float(ns["big"][999, 999]) == 999_999.0
    assert list(ns["small"]) == [0, 1, 2]
    assert ns["view"][1] == 2001.0
    ns["big"][0, 0] = 1.0  # writable


def test_aliases_of_inputs_stay_aliases(shell, tmp_path):
    """``y = data`` restores ``y`` as the input object itself, not a copy."""
    ok(shell, "import numpy as np\ndata = np.arange(100_000)")
    body = "%%checkpoint\nalias = data\nboth = [data, data]\n"
    ok(shell, body)
    ok(shell, "del alias, both")
    ok(shell, body)
    ns = shell.user_ns
    assert ns["alias"] is ns["data"]
    assert ns["both"][1] is ns["data"]
    (entry,) = stored(tmp_path)
    assert len(entry.variables) < 10_000  # the array is not stored


def test_deleted_names_are_deleted_on_a_hit(shell, tmp_path):
    """A name the cell deletes is deleted by the replay too."""
    body = "%%checkpoint\nr = scratch + 1\ndel scratch\n"
    ok(shell, "scratch = 1")
    ok(shell, body)
    ok(shell, "scratch = 1")
    ok(shell, body)
    assert "scratch" not in shell.user_ns
    assert shell.user_ns["r"] == 2


def test_ipython_names_are_never_stored(shell, tmp_path):
    """``_``, ``_N``, ``_iN``, ``In``, ``Out`` and ``_exit_code`` are not stored."""
    ok(shell, "1 + 1")
    ok(shell, "%%checkpoint\nr = _ + 1\n_ = 5\n_1 = 6\n!true\nIn = []\n_i9 = ''\n")
    (entry,) = stored(tmp_path)
    assert entry.names == ("r",)


def test_widget_views_are_replayed_as_text_with_a_note(shell, tmp_path):
    """A displayed widget is replayed as its last state in text; the note says so."""
    body = (
        "%%checkpoint\nfrom IPython.display import display\nimport ipywidgets\n"
        "w = ipywidgets.IntSlider()\ndisplay(w)\nw.value = 7\ndel w\nprint('done')\n"
    )
    ok(shell, body)
    _, replay = ok(shell, body)
    (entry,) = stored(tmp_path)
    assert entry.events == (
        ("display", {"text/plain": "IntSlider(value=7)"}, {}, {}, False),
        ("stdout", "done\n"),
    )
    assert replay.stdout == "done\n"
    assert "1 widget shown as text" in replay.outputs[0].data["text/plain"]
    assert replay.outputs[1].data == {"text/plain": "IntSlider(value=7)"}


def test_clear_output_keeps_only_the_final_state(shell, tmp_path):
    """Output cleared by the cell is not replayed."""
    body = (
        "%%checkpoint\nfrom IPython.display import clear_output\n"
        "print('step 1')\nclear_output(wait=True)\nprint('final')\n"
    )
    ok(shell, body)
    (entry,) = stored(tmp_path)
    assert entry.events == (("stdout", "final\n"),)


# --------------------------------------------------------------------------- failures


def test_failing_cell_fails_once_and_caches_nothing(shell, tmp_path):
    """A failing cell shows one traceback, fails, stores nothing and runs again next time."""
    body = "%%checkpoint\n" + COUNT + "a = 1\nb = 1 / 0\n"
    result, shown = cell(shell, body)
    assert isinstance(result.error_in_exec, CellFailed)
    assert isinstance(result.error_in_exec.__cause__, ZeroDivisionError)
    assert shown.stdout.count("Traceback") == 1
    assert shown.stdout.count("ZeroDivisionError") == 2  # the header and the last line
    assert entries(tmp_path) == []
    cell(shell, body)
    assert runs(tmp_path) == 2


def test_top_level_await_works_outside_a_running_loop(shell, tmp_path):
    """In a terminal shell (no running loop) a cell with ``await`` is cached too."""
    from IPython.core.async_helpers import get_asyncio_loop

    body = "%%checkpoint\nimport asyncio\n" + COUNT + "await asyncio.sleep(0)\nr = 1\n"
    try:
        ok(shell, body)
        ok(shell, body)
    finally:
        get_asyncio_loop().close()  # IPython makes a new one when it needs one again
    assert runs(tmp_path) == 1
    assert shell.user_ns["r"] == 1


def test_syntax_error_is_reported_as_usual(shell, tmp_path):
    """A cell that does not parse shows IPython's SyntaxError and stores nothing."""
    result, shown = cell(shell, "%%checkpoint\nx = (\n")
    assert isinstance(result.error_in_exec, CellFailed)
    assert isinstance(result.error_in_exec.__cause__, SyntaxError)
    assert "SyntaxError" in shown.stdout
    assert entries(tmp_path) == []


@pytest.mark.parametrize(
    ("make", "kind"),
    [("(i for i in range(3))", "generator"), ("__import__('threading').Lock()", "lock")],
)
def test_unpicklable_output_warns_and_caches_nothing(shell, tmp_path, make, kind):
    """An unpicklable variable: a warning naming it, the cell's effects kept, nothing stored."""
    body = "%%checkpoint\n" + COUNT + f"g = {make}\nr = 1\nprint('ran')\n"
    with pytest.warns(CheckpointingWarning, match=rf"variable 'g' \({kind}\).*-x g") as caught:
        _, shown = ok(shell, body)
    assert len(caught) == 1
    assert shown.stdout == "ran\n"
    assert shell.user_ns["r"] == 1
    assert "g" in shell.user_ns
    assert entries(tmp_path) == []
    with pytest.warns(CheckpointingWarning):
        ok(shell, body)
    assert runs(tmp_path) == 2


@pytest.mark.parametrize(
    ("setup", "change", "check"),
    [
        ("class Config:\n    size = 1", "Config.size = 2", "Config.size == 2"),
        ("class Config:\n    items = []", "Config.items.append(1)", "Config.items == [1]"),
        ("", "def f():\n    pass\nf.calls = 0", "f.calls == 0"),
        ("def f():\n    pass", "f.calls = 3", "f.calls == 3"),
        ("", "class C:\n    x = 1\nC.x = 2\nC.y = [C.x]", "C.x == 2 and C.y == [2]"),
    ],
)
def test_changes_to_classes_and_functions_are_restored(shell, tmp_path, setup, change, check):
    """Attributes a cell sets on a class or function, or changes by a call, come back."""
    ok(shell, setup)
    body = "%%checkpoint\n" + COUNT + change + "\n"
    ok(shell, body)
    ok(shell, setup)  # as after a restart: the class or function as it was before the cell
    _, replay = ok(shell, body)
    assert NOTE in replay.outputs[0].data["text/plain"]
    assert runs(tmp_path) == 1
    result, _ = ok(shell, check)
    assert result.result is True


def test_unpicklable_last_value_is_replayed_as_shown(shell, tmp_path):
    """A last value that cannot be pickled is replayed as it was displayed."""
    body = "%%checkpoint\n" + COUNT + "r = 1\n(i for i in range(r))\n"
    first, _ = ok(shell, body)
    second, replay = ok(shell, body)
    assert runs(tmp_path) == 1
    assert second.result is None
    assert "generator object" in replay.outputs[-1].data["text/plain"]
    assert first.result is not None


def test_unhashable_input_warns_and_runs(shell, tmp_path):
    """An input that cannot be hashed: a warning that suggests ``-x``, the cell runs."""
    ok(shell, "import threading\nlock = threading.Lock()")
    body = "%%checkpoint\n" + COUNT + "with lock:\n    r = 1\n"
    with pytest.warns(CheckpointingWarning, match=r"input 'lock' \(lock\).*-x lock"):
        ok(shell, body)
    assert shell.user_ns["r"] == 1
    assert runs(tmp_path) == 1
    assert entries(tmp_path) == []


def test_unknown_option_is_a_usage_error(shell, tmp_path):
    """An unknown option fails the cell with a one-line UsageError; the body does not run."""
    result, shown = cell(shell, "%%checkpoint --frobnicate\n" + COUNT)
    assert isinstance(result.error_in_exec, UsageError)
    assert "unknown option '--frobnicate'" in str(result.error_in_exec)
    assert "Traceback" not in shown.stdout
    assert runs(tmp_path) == 0


@pytest.mark.parametrize("line", ["-i 'a b-c'", "-o 1x", "-x a,,b;", "extra"])
def test_bad_option_values_are_usage_errors(shell, tmp_path, line):
    """Names that are not Python names, or stray words, are UsageErrors."""
    result, _ = cell(shell, f"%%checkpoint {line}\n" + COUNT)
    assert isinstance(result.error_in_exec, UsageError)
    assert runs(tmp_path) == 0


def test_line_form_without_statement_is_a_usage_error(shell):
    """``%checkpoint`` alone says how to use it."""
    result, _ = cell(shell, "%checkpoint -q")
    assert isinstance(result.error_in_exec, UsageError)
    assert "%%checkpoint" in str(result.error_in_exec)


@pytest.mark.parametrize("directory", ["taken", "taken/cache"])
def test_cache_directory_that_is_a_file_warns_and_runs(shell, tmp_path, directory):
    """A --dir that is (under) a file: a warning to choose another; the cell runs."""
    (tmp_path / "taken").write_text("")
    body = f"%%checkpoint -d {directory}\n" + COUNT + "r = 1\nprint('ran')\n"
    with pytest.warns(CheckpointingWarning, match="is a file; running it without the cache.*--dir"):
        _, shown = ok(shell, body)
    assert shown.stdout == "ran\n"
    assert shell.user_ns["r"] == 1
    assert runs(tmp_path) == 1


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_cache_directory_that_cannot_be_created_warns_and_runs(shell, tmp_path):
    """A --dir nobody can create (even root, in /proc): a warning; the cell's effects stay."""
    body = "%%checkpoint -d /proc/checkpointing-cache\n" + COUNT + "r = 1\nprint('ran')\n"
    with pytest.warns(CheckpointingWarning, match="not cached: cannot create .*--dir DIR"):
        _, shown = ok(shell, body)
    assert shown.stdout == "ran\n"
    assert shell.user_ns["r"] == 1
    with pytest.warns(CheckpointingWarning):
        ok(shell, body)
    assert runs(tmp_path) == 2


def test_a_long_cache_error_gives_a_short_warning(shell, tmp_path):
    """A cache failing with a paragraph of text gives a warning of one line and its remedy."""
    ok(
        shell,
        "from checkpointing import CacheBase, CheckpointNotExist\n"
        "class Broken(CacheBase):\n"
        "    def save(self, key, result):\n"
        "        raise OSError('disk says ' + 'no, ' * 300 + '\\nand more lines')\n"
        "    def retrieve(self, key):\n"
        "        raise CheckpointNotExist(key)\n"
        "broken = Broken()",
    )
    with pytest.warns(CheckpointingWarning) as record:
        _, shown = ok(shell, "%%checkpoint --cache broken\n" + COUNT + "print('ran')\n")
    assert shown.stdout == "ran\n"
    (message,) = [str(w.message) for w in record]
    assert "disk says no, no," in message
    assert "--cache NAME" in message
    assert "\n" not in message
    assert len(message) < 300


def test_other_custom_exception_handlers_still_work(shell):
    """Quieting ``CellFailed`` keeps a handler another extension registered."""
    handled: list[str] = []
    shell.set_custom_exc((KeyError,), lambda *args, **kwargs: handled.append("key"))
    cell(shell, "%%checkpoint\n1 / 0\n")
    result, _ = cell(shell, "{}['missing']")
    assert handled == ["key"]
    assert isinstance(result.error_in_exec, KeyError)


# --------------------------------------------------------------------------- analysis


@pytest.mark.parametrize(
    ("code", "inputs", "bound"),
    [
        ("x = y + 1\nz = x * 2", ["y"], ["x", "z"]),
        ("total = total + 1", ["total"], ["total"]),
        ("total += 1", ["total"], ["total"]),
        ("if c:\n    a = 1\nb = a", ["c", "a"], ["a", "b"]),
        ("if c:\n    a = 1\nelse:\n    a = 2\nb = a", ["c"], ["a", "b"]),
        ("for i in data:\n    last = i\nprint(last)", ["data", "print", "last"], ["i", "last"]),
        ("def f(v, n=N):\n    return v * k + g(v)\nk = 3", ["N", "g"], ["f", "k"]),
        ("class P:\n    s = S\n    def m(self):\n        return G", ["S", "G"], ["P"]),
        ("r = [v * t for v in vals if v > lo]", ["vals", "t", "lo"], ["r"]),
        ("if (n := len(s)) > 3:\n    pass\nprint(n)", ["len", "s", "print"], ["n"]),
        ("get_ipython().system('ls $d {e + 1}')", ["get_ipython", "d", "e"], []),
        ("get_ipython().run_line_magic('time', 'z = f(w)')", ["get_ipython", "f", "w"], ["z"]),
        ("import numpy as np, os.path\nfrom math import sqrt", [], ["np", "os", "sqrt"]),
        ("try:\n    import foo\nexcept ImportError:\n    foo = None", ["ImportError"], ["foo"]),
        ("match m:\n    case [a, *rest]:\n        r = a", ["m"], ["a", "r", "rest"]),
    ],
)
def test_analysis_finds_inputs_and_outputs(code, inputs, bound):
    """Reads before binding are inputs; bindings of any kind are outputs."""
    analysis = analyse_cell(code)
    assert sorted(analysis.inputs) == sorted(inputs)
    assert sorted(analysis.bound) == sorted(bound)


def test_analysis_marks_objects_changed_in_place():
    """Subscript and attribute assignments mark the base name as modified."""
    analysis = analyse_cell("df['c'] = df.a * 2\nobj.x.y = 1\nlst[0] += 1\ndel cache[k]")
    assert analysis.modified == {"df", "obj", "lst", "cache"}
    assert set(analysis.inputs) == {"df", "obj", "lst", "cache", "k"}


def test_last_value_replayed_is_the_cells_own_after_an_in_place_change(shell, tmp_path):
    """A cell mutating a dict and ending in an expression replays that expression's value."""
    body = "%%checkpoint -q\n" + COUNT + "d = {}\nd['a'] = 1\n5\n"
    first, _ = ok(shell, body)
    second, _ = ok(shell, body)
    assert runs(tmp_path) == 1
    assert first.result == 5
    assert second.result == 5
    assert shell.user_ns["d"] == {"a": 1}


# --------------------------------------------------------------------------- minimum run time


def test_a_cell_faster_than_min_run_time_is_not_stored(shell, tmp_path):
    """``--min-run-time`` leaves a quick cell uncached: it runs each time, nothing stored."""
    for _ in range(2):
        ok(shell, "%%checkpoint --min-run-time 30\n" + COUNT + "q = 1\n")
    assert runs(tmp_path) == 2
    assert entries(tmp_path) == []
    ok(shell, "%%checkpoint --min-run-time 0\n" + COUNT + "q = 1\n")
    ok(shell, "%%checkpoint --min-run-time 0\n" + COUNT + "q = 1\n")
    assert runs(tmp_path) == 3  # stored once it is allowed, then replayed


def test_the_min_run_time_setting_applies_to_cells(shell, tmp_path):
    """``defaults["checkpoint.min_run_time"]`` applies to cells without the option."""
    from checkpointing import defaults

    defaults["checkpoint.min_run_time"] = 30
    ok(shell, "%%checkpoint\n" + COUNT + "q = 2\n")
    ok(shell, "%%checkpoint\n" + COUNT + "q = 2\n")
    assert runs(tmp_path) == 2
    assert entries(tmp_path) == []


# --------------------------------------------------------------------------- advice


ESTIMATOR = "class Est:\n    def __init__(self, f):\n        self.steps = [('scale', f)]\n"


def test_an_object_holding_a_lambda_gets_advice_to_name_the_function(shell, tmp_path):
    """The warning names the lambda inside the object and says to use def, not -x."""
    ok(shell, ESTIMATOR)
    with pytest.warns(CheckpointingWarning, match="model.steps") as caught:
        ok(shell, "%%checkpoint\nmodel = Est(lambda x: x * 2)\n")
    text = str(caught[0].message)
    assert "is a lambda" in text
    assert "def" in text
    assert "-x" not in text
    ok(shell, "def double(x):\n    return x * 2\n")
    for _ in range(2):
        ok(shell, "%%checkpoint\n" + COUNT + "model = Est(double)\n")
    assert runs(tmp_path) == 1  # with a named function the cell is cached


def test_warnings_are_shown_without_a_file_and_line(shell):
    """With the extension loaded a checkpointing warning prints as category and message only."""
    import warnings

    text = warnings.formatwarning(
        "not cached", CheckpointingWarning, "/tmp/ipykernel_1/2.py", 4, "x = f()"
    )
    assert text == "CheckpointingWarning: not cached\n"
    other = warnings.formatwarning("old", DeprecationWarning, "mod.py", 3, "")
    assert other.startswith("mod.py:3: DeprecationWarning: old")
    shell.run_cell("%unload_ext checkpointing")
    plain = warnings.formatwarning("not cached", CheckpointingWarning, "%%checkpoint", 1, "")
    assert plain.startswith("%%checkpoint:1: CheckpointingWarning")


@pytest.mark.parametrize("read", ["eval('K * 2')", "globals()['K'] * 2", "globals().get('K') * 2"])
def test_name_read_through_a_constant_string_is_an_input(shell, tmp_path, read):
    """``eval("K * 2")`` or ``globals()["K"]`` in a cell: a new ``K`` re-runs it."""
    body = "%%checkpoint\n" + COUNT + f"y = {read}\n"
    ok(shell, "K = 1")
    ok(shell, body)
    ok(shell, body)
    assert (runs(tmp_path), shell.user_ns["y"]) == (1, 2)
    ok(shell, "K = 5")
    ok(shell, body)
    assert (runs(tmp_path), shell.user_ns["y"]) == (2, 10)
