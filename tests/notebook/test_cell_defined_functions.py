"""``@checkpoint()`` on code defined in IPython cells, including where ``inspect`` fails or lies.

Each case checks two things: the profile was built from source (not the bytecode
fallback), and what the user sees: a hit on the second call, a re-run after an edit.
Bodies report runs by printing "Running"; the kernel tests run whole notebooks in fresh
kernels to prove keys survive a restart and ignore cell names, counts and line numbers.
"""

from __future__ import annotations

import inspect
import linecache
from pathlib import Path
from types import FunctionType, SimpleNamespace
from typing import Any

import pytest

from checkpointing._profile import profile_of
from ipython_ext.history_source import HistorySource


def runs(capsys: pytest.CaptureFixture[str]) -> int:
    """Return how many times a body printed "Running" since the last look."""
    return capsys.readouterr().out.count("Running")


def source_of(func: Any) -> str | None:
    """Return the source the core built ``func``'s profile from (None: bytecode)."""
    return profile_of(getattr(func, "__wrapped__", func)).source


BODY = "@checkpoint()\ndef f(x):\n    print('Running')\n    return x + {n}\n"
# How a cell can define f; {n} is what an edit changes. Only the first one has source
# that inspect.getsource can read.
DEFINITIONS = {
    "plain cell": BODY,
    "%%time": "%%time\n" + BODY,
    "%%time with IPython syntax": "%%time\nhere = %pwd\n" + BODY,
    "%%prun": "%%prun -q\n" + BODY,
    "exec": f"exec({BODY!r})",
    "exec in its own namespace": (
        f"ns = {{'checkpoint': checkpoint}}\nexec({BODY!r}, ns)\nf = ns['f']"
    ),
    "linecache cleared": "import linecache\nlinecache.clearcache()\n" + BODY,
}


def define(shell: Any, run_cell: Any, template: str, n: int) -> Any:
    """Run the cell that defines f (with ``x + n``) and return f."""
    run_cell(shell, template.replace("{n}", str(n)))
    return shell.user_ns["f"]


@pytest.mark.parametrize("template", DEFINITIONS.values(), ids=DEFINITIONS.keys())
def test_cell_defined_function_is_profiled_from_source_and_cached(
    shell: Any, run_cell: Any, capsys: pytest.CaptureFixture[str], template: str
) -> None:
    """With the extension, f's profile comes from its source; it hits, and an edit re-runs."""
    run_cell(shell, "from checkpointing import checkpoint")
    f = define(shell, run_cell, template, 1)
    source = source_of(f)
    assert source is not None
    assert "def f(x):" in source
    assert "x + 1" in source
    runs(capsys)
    assert run_cell(shell, "f(1)") == 2
    assert run_cell(shell, "f(1)") == 2
    assert runs(capsys) == 1
    f = define(shell, run_cell, template, 2)
    assert "x + 2" in (source_of(f) or "")
    runs(capsys)
    assert run_cell(shell, "f(1)") == 3
    assert run_cell(shell, "f(1)") == 3
    assert runs(capsys) == 1
    define(shell, run_cell, template, 1)  # back to the first version: its result is kept
    runs(capsys)
    assert run_cell(shell, "f(1)") == 2
    assert runs(capsys) == 0


@pytest.mark.parametrize("template", DEFINITIONS.values(), ids=DEFINITIONS.keys())
def test_without_the_extension_cell_functions_still_cache(
    bare_shell: Any, run_cell: Any, capsys: pytest.CaptureFixture[str], template: str
) -> None:
    """Without the extension f still hits and re-runs on edits; only a plain cell has source."""
    run_cell(bare_shell, "from checkpointing import checkpoint")
    f = define(bare_shell, run_cell, template, 1)
    assert (source_of(f) is not None) == (template == BODY)
    runs(capsys)
    assert run_cell(bare_shell, "f(1)") == 2
    assert run_cell(bare_shell, "f(1)") == 2
    assert runs(capsys) == 1
    define(bare_shell, run_cell, template, 2)
    assert run_cell(bare_shell, "f(1)") == 3
    assert runs(capsys) == 1


def test_unrecoverable_source_falls_back_to_the_code(
    shell: Any, run_cell: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Source built at run time cannot be found: f caches by its bytecode instead."""
    run_cell(shell, "from checkpointing import checkpoint")
    run_cell(
        shell, "exec('@checkpoint()\\ndef f(x):\\n    print(\"Running\")\\n    return x' + ' + 1')"
    )
    f = shell.user_ns["f"]
    assert source_of(f) is None
    runs(capsys)
    assert run_cell(shell, "f(1)") == 2
    assert run_cell(shell, "f(1)") == 2
    assert runs(capsys) == 1


# -- helpers and classes profiled after their cell is gone from linecache ---------------
HELPER = "def helper(x):\n    return x * {n}\n"
MODEL = (
    "class Model:\n"
    "    def __init__(self, k):\n"
    "        self.k = k\n\n"
    "    def scale(self):\n"
    "        return self.k * {n}\n"
)
USER = (
    "@checkpoint()\ndef f(x, model):\n    print('Running')\n    return helper(x) + model.scale()\n"
)


def _cell_name_set(monkeypatch: pytest.MonkeyPatch, shell: Any, run_cell: Any) -> None:
    monkeypatch.setenv("IPYKERNEL_CELL_NAME", "/tmp/ipykernel_debug/cell.py")


def _linecache_cleared(monkeypatch: pytest.MonkeyPatch, shell: Any, run_cell: Any) -> None:
    run_cell(shell, "import linecache\nlinecache.clearcache()")


def _only_database_left(monkeypatch: pytest.MonkeyPatch, shell: Any, run_cell: Any) -> None:
    run_cell(shell, "%reset -f in")  # empties In[]: only the SQLite history keeps the cells
    run_cell(shell, "import linecache\nlinecache.clearcache()")


# When each happens: "before" the cells define anything, "after" they did.
LOSSES = {
    "IPYKERNEL_CELL_NAME": ("before", _cell_name_set),
    "linecache.clearcache()": ("after", _linecache_cleared),
    "In[] reset, linecache cleared": ("after", _only_database_left),
}


@pytest.mark.parametrize(("when", "lose"), LOSSES.values(), ids=LOSSES.keys())
def test_helpers_and_classes_are_recovered_where_inspect_fails_or_lies(
    shell: Any,
    run_cell: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    when: str,
    lose: Any,
) -> None:
    """A helper and a class method get their own source; edits to either re-run f."""
    if when == "before":
        lose(monkeypatch, shell, run_cell)
    run_cell(shell, "from checkpointing import checkpoint")
    run_cell(shell, HELPER.replace("{n}", "2"))
    run_cell(shell, MODEL.replace("{n}", "10"))
    run_cell(shell, USER)
    if when == "after":
        lose(monkeypatch, shell, run_cell)
    run_cell(shell, "unrelated = 1")  # the last cell, which IPYKERNEL_CELL_NAME lets inspect read
    runs(capsys)
    assert run_cell(shell, "f(1, Model(1))") == 12
    assert run_cell(shell, "f(1, Model(1))") == 12
    assert runs(capsys) == 1
    helper, scale = shell.user_ns["helper"], shell.user_ns["Model"].scale
    assert source_of(helper) == HELPER.replace("{n}", "2")
    assert source_of(scale) == "def scale(self):\n    return self.k * 10\n"
    with pytest.raises((OSError, TypeError)):
        inspect.getsource(shell.user_ns["Model"])  # what the extension works around
    run_cell(shell, HELPER.replace("{n}", "3"))  # edit the helper
    assert run_cell(shell, "f(1, Model(1))") == 13
    run_cell(shell, MODEL.replace("{n}", "20"))  # edit the method
    assert run_cell(shell, "f(1, Model(1))") == 23
    run_cell(shell, MODEL.replace("{n}", "20"))  # re-run the class cell unchanged
    run_cell(shell, "unrelated = 2")  # edit an unrelated cell
    assert run_cell(shell, "f(1, Model(1))") == 23
    assert runs(capsys) == 2


def test_inspect_returns_the_wrong_cell_under_ipykernel_cell_name(
    shell: Any, run_cell: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With IPYKERNEL_CELL_NAME set, inspect reads the last cell; the extension does not."""
    monkeypatch.setenv("IPYKERNEL_CELL_NAME", "/tmp/ipykernel_debug/cell.py")
    run_cell(shell, "def helper(x):\n    return x * 2\n")
    run_cell(shell, "first = 1\nsecond = 2\n")
    helper = shell.user_ns["helper"]
    assert inspect.getsource(helper) != "def helper(x):\n    return x * 2\n"
    assert source_of(helper) == "def helper(x):\n    return x * 2\n"


def test_cells_run_outside_history_are_remembered(
    shell: Any, run_cell: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cell run with store_history=False is kept by the post_run_cell hook as a candidate."""
    monkeypatch.setenv("IPYKERNEL_CELL_NAME", "/tmp/ipykernel_debug/cell.py")
    shell.run_cell("def hidden(x):\n    return x - 1\n", store_history=False).raise_error()
    run_cell(shell, "later = 1")
    assert source_of(shell.user_ns["hidden"]) == "def hidden(x):\n    return x - 1\n"


def test_two_classes_with_same_method_name_each_get_their_own(shell: Any, run_cell: Any) -> None:
    """Among same-named methods in one cell, the one whose bytecode matches is returned."""
    run_cell(
        shell,
        "class A:\n    def m(self):\n        return 1\n\n"
        "class B:\n    def m(self):\n        return 2\n",
    )
    linecache.clearcache()
    assert source_of(shell.user_ns["B"].m) == "def m(self):\n    return 2\n"
    assert source_of(shell.user_ns["A"].m) == "def m(self):\n    return 1\n"


def test_lambda_defined_through_exec_is_recovered(
    shell: Any, run_cell: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """A checkpointed lambda made by exec gets its statement as source, and caches."""
    run_cell(shell, "from checkpointing import checkpoint")
    run_cell(shell, "exec('g = checkpoint()(lambda x: print(\"Running\") or x * 2)')")
    g = shell.user_ns["g"]
    assert source_of(g) == 'g = checkpoint()(lambda x: print("Running") or x * 2)\n'
    runs(capsys)
    assert run_cell(shell, "g(2)") == 4
    assert run_cell(shell, "g(2)") == 4
    assert runs(capsys) == 1


JSON_BODY = "@checkpoint()\ndef f(x):\n    print('Running')\n    return json.dumps(x)\n"


@pytest.mark.parametrize(
    "cell",
    ["import json\n" + JSON_BODY, "%%time\nimport json\n" + JSON_BODY],
    ids=["import in the same cell", "import in the same %%time body"],
)
def test_function_calling_a_module_imported_in_its_cell_has_source(
    shell: Any, run_cell: Any, capsys: pytest.CaptureFixture[str], cell: str
) -> None:
    """A function calling a module imported in its own cell or %%time body has source."""
    run_cell(shell, "from checkpointing import checkpoint")
    run_cell(shell, cell)
    assert "return json.dumps(x)" in (source_of(shell.user_ns["f"]) or "")
    runs(capsys)
    assert run_cell(shell, "f([1])") == "[1]"
    assert run_cell(shell, "f([1])") == "[1]"
    assert runs(capsys) == 1


class _OnlyNamespace:
    """A shell that fails the test if anything but the quick-reject attributes is read."""

    def __init__(self) -> None:
        self.user_ns: dict[str, Any] = {}
        self.compile = SimpleNamespace(_filename_map={"/tmp/ipykernel_1/1.py": 1})

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the quick reject read shell.{name}")


def test_module_functions_are_rejected_without_reading_history() -> None:
    """The finder answers None for a module's function at once, touching no history."""
    finder = HistorySource(_OnlyNamespace())
    for func in (runs, inspect.getsource):
        assert isinstance(func, FunctionType)
        assert finder(func) is None


# -- real kernels: keys ignore cell file names, execution counts and line numbers -----------
SETUP = "from checkpointing import checkpoint\n%load_ext checkpointing"
KERNEL_HELPER = "def helper(x):\n    return x * {n}"
KERNEL_MODEL = (
    "class Model:\n"
    "    def __init__(self, k):\n"
    "        self.k = k\n\n"
    "    def scale(self):\n"
    "        return self.k + {n}"
)
KERNEL_USER = (
    "@checkpoint()\n"
    "def compute(x, model):\n"
    "    print('Running')\n"
    "    return helper(x) + model.scale()"
)
CALL = "print('result', compute(3, Model(1)))"


def notebook(helper: int = 2, model: int = 100, unrelated: str = "note = 'a'") -> list[str]:
    """Return the cells of the test notebook with the given edits."""
    return [
        SETUP,
        KERNEL_HELPER.replace("{n}", str(helper)),
        unrelated,
        KERNEL_MODEL.replace("{n}", str(model)),
        KERNEL_USER,
        CALL,
    ]


@pytest.mark.slow
def test_results_survive_restarts_and_follow_edits_in_real_kernels(
    run_notebook: Any, tmp_path: Path
) -> None:
    """Across fresh kernels: a hit after restart and shifted cells; edits re-run only f's code."""
    work = tmp_path / "work"
    work.mkdir()
    first = run_notebook(notebook(), work)
    assert first.outputs[-1] == "Running\nresult 107\n"
    shifted = ["x = 1", "y = 2\nz = 3\n\n\n", *notebook()]  # new counts and line numbers
    assert run_notebook(shifted, work).outputs[-1] == "result 107\n"
    assert run_notebook(notebook(helper=3), work).outputs[-1] == "Running\nresult 110\n"
    assert run_notebook(notebook(helper=3, model=200), work).outputs[-1] == (
        "Running\nresult 210\n"
    )
    edited = notebook(helper=3, model=200, unrelated="note = 'b'\nprint('other')")
    assert run_notebook(edited, work).outputs[-1] == "result 210\n"


@pytest.mark.slow
def test_recovery_in_a_kernel_under_ipykernel_cell_name(run_notebook: Any, tmp_path: Path) -> None:
    """In a kernel with IPYKERNEL_CELL_NAME set, a helper's edit re-runs and restarts hit."""
    env = {"IPYKERNEL_CELL_NAME": str(tmp_path / "debug_cell.py")}
    probe = (
        "import os\n"
        "from checkpointing._profile import profile_of\n"
        "name = helper.__code__.co_filename\n"
        "print('one cell name:', name == os.environ['IPYKERNEL_CELL_NAME'])\n"
        "print('helper source:', profile_of(helper).source is not None)"
    )
    cells = [*notebook(), probe]
    first = run_notebook(cells, tmp_path, env=env)
    assert first.outputs[-2:] == [
        "Running\nresult 107\n",
        "one cell name: True\nhelper source: True\n",
    ]
    again = run_notebook(cells, tmp_path, env=env)
    assert again.outputs[-2] == "result 107\n"
    edited = run_notebook([*notebook(helper=3), probe], tmp_path, env=env)
    assert edited.outputs[-2] == "Running\nresult 110\n"


def test_function_reading_globals_by_name_hits_across_cells_and_sees_edits(
    shell: Any, run_cell: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """``globals()[name]`` in a cell's function: other cells and history leave it a hit."""
    run_cell(shell, "from checkpointing import checkpoint\nSCALE = 2")
    run_cell(
        shell,
        "@checkpoint()\ndef f(x):\n    print('Running')\n    return x * globals()['SCALE']\n",
    )
    assert run_cell(shell, "f(3)") == 6
    assert runs(capsys) == 1
    run_cell(shell, "1 + 1")  # new history entries: _, _N, Out, In
    assert run_cell(shell, "f(3)") == 6
    assert runs(capsys) == 0
    run_cell(shell, "SCALE = 5")
    assert run_cell(shell, "f(3)") == 15
    assert runs(capsys) == 1
