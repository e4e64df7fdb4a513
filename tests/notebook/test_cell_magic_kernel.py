"""``%%checkpoint`` in real kernels: a notebook run twice in one folder replays the cell.

Each run starts a fresh kernel, as a restart does; the cache on disk is all that is shared.
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.slow

SETUP = (
    "%load_ext checkpointing\n"
    "def bump():\n"
    "    with open('runs.txt', 'a') as f:\n"
    "        f.write('x')\n"
    "y = 21"
)
CACHED = (
    "%%checkpoint\n"
    "bump()\n"
    "print('computing')\n"
    "from IPython.display import HTML, display\n"
    "display(HTML('<b>bold</b>'))\n"
    "class Box:\n"
    "    def __init__(self, v):\n"
    "        self.v = v\n"
    "z = y * 2\n"
    "box = Box(z)\n"
    "z + 1"
)
AFTER = "print(z, box.v, isinstance(box, Box))"


def outputs_of(cell):
    """Return ``(output_type, text)`` for each output of a notebook cell."""
    found = []
    for output in cell["outputs"]:
        kind = output["output_type"]
        if kind == "stream":
            found.append((kind, output["text"]))
        elif kind == "error":
            found.append((kind, output["ename"]))
        else:
            data = output["data"]
            found.append((kind, data.get("text/html") or data.get("text/plain")))
    return found


def test_second_kernel_replays_the_cell_without_running_it(run_notebook, tmp_path):
    """After a restart the cell's outputs are replayed and its variables restored."""
    first = run_notebook([SETUP, CACHED, AFTER], tmp_path)
    assert outputs_of(first.notebook.cells[1]) == [
        ("stream", "computing\n"),
        ("display_data", "<b>bold</b>"),
        ("execute_result", "43"),
    ]
    second = run_notebook([SETUP, CACHED, AFTER], tmp_path)
    replay = outputs_of(second.notebook.cells[1])
    assert "loaded from cache, not run" in replay[0][1]
    assert replay[1:] == outputs_of(first.notebook.cells[1])
    assert second.outputs[2] == "42 42 True\n"
    assert (tmp_path / "runs.txt").read_text() == "x"  # the body ran once


def test_changed_input_runs_the_cell_in_a_new_kernel(run_notebook, tmp_path):
    """A different input value after the restart runs the cell again."""
    run_notebook([SETUP, CACHED], tmp_path)
    second = run_notebook([SETUP + "\ny = 1", CACHED, AFTER], tmp_path)
    assert "computing" in second.outputs[1]
    assert second.outputs[2] == "2 2 True\n"
    assert (tmp_path / "runs.txt").read_text() == "xx"


def test_failing_cell_shows_one_error_and_fails(run_notebook, tmp_path):
    """A failing cell shows its one traceback, fails and stores nothing; await is refused."""
    failing = "%%checkpoint\nbump()\nprint('before')\n1 / 0"
    awaiting = "%%checkpoint\nimport asyncio\nbump()\nawait asyncio.sleep(0)"
    run = run_notebook([SETUP, failing, awaiting], tmp_path, allow_errors=True)
    assert outputs_of(run.notebook.cells[1]) == [
        ("stream", "before\n"),
        ("error", "ZeroDivisionError"),
    ]
    # A cell magic cannot await in a running event loop: said up front, nothing runs.
    assert outputs_of(run.notebook.cells[2])[0][1].startswith("UsageError: top-level await")
    from nbclient.exceptions import CellExecutionError

    with pytest.raises(CellExecutionError) as failure:
        run_notebook([SETUP, failing, "print('never')"], tmp_path)
    assert "ZeroDivisionError" in str(failure.value)
    assert (tmp_path / "runs.txt").read_text() == "xx"
    assert not list((tmp_path / ".checkpointing").glob("*.pickle"))


def test_a_failing_cell_traceback_names_its_own_prompt_and_line(run_notebook, tmp_path):
    """A traceback from a ``%%checkpoint`` cell says ``In[N]`` of that cell and its line."""
    failing = "%%checkpoint\ny = 2\nz = 3\nraise ValueError('boom')\n"
    run = run_notebook(["%load_ext checkpointing", "x = 1", failing], tmp_path, allow_errors=True)
    cell = run.notebook.cells[2]
    (error,) = [o for o in cell["outputs"] if o["output_type"] == "error"]
    text = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error["traceback"]))
    assert f"Cell In[{cell['execution_count']}], line 4" in text
    assert "----> 4 raise ValueError('boom')" in text
