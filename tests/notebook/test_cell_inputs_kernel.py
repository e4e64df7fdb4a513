"""``%%checkpoint`` inputs beyond plain names, in real kernels restarted between runs.

Project modules by content, module attributes set in other cells, IPython's output
history, library state (rcParams, random seeds) and monkeypatched library functions.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

LOAD = "%load_ext checkpointing"


HIT = "loaded from cache"  # the note a replay starts with (the replay repeats the output)


def _cached(body: str) -> str:
    return "%%checkpoint\n" + body + "\nprint('computing')"


def test_edited_project_module_reruns_the_cell(run_notebook, tmp_path):
    """After ``import helpers`` in one cell, editing helpers.py re-runs ``helpers.f(x)``."""
    (tmp_path / "helpers.py").write_text("def f(x):\n    return x + 1\n")
    cells = [LOAD + "\nimport helpers\nx = 2", _cached("y = helpers.f(x)"), "print(y)"]
    first = run_notebook(cells, tmp_path)
    assert first.outputs[1:] == ["computing\n", "3\n"]
    second = run_notebook(cells, tmp_path)
    assert HIT in second.outputs[1]
    assert second.outputs[2] == "3\n"
    (tmp_path / "helpers.py").write_text("def f(x):\n    return x + 10\n")
    third = run_notebook(cells, tmp_path)
    assert third.outputs[1:] == ["computing\n", "12\n"]


def test_module_value_reached_through_a_registry_reruns(run_notebook, tmp_path):
    """A project module kept in a dict (a registry of backends) counts by its content."""
    (tmp_path / "fast.py").write_text("def run(x):\n    return x * 2\n")
    cells = [
        LOAD + "\nimport fast\nBACKENDS = {'fast': fast}",
        _cached("r = BACKENDS['fast'].run(5)"),
        "print(r)",
    ]
    assert run_notebook(cells, tmp_path).outputs[1:] == ["computing\n", "10\n"]
    (tmp_path / "fast.py").write_text("def run(x):\n    return x * 3\n")
    assert run_notebook(cells, tmp_path).outputs[1:] == ["computing\n", "15\n"]


def test_module_attribute_set_in_another_cell_is_an_input(run_notebook, tmp_path):
    """``settings.SCALE = 4`` in an earlier cell is seen by a cell reading ``settings.SCALE``."""
    (tmp_path / "settings.py").write_text("SCALE = 3\n")
    cells = [LOAD + "\nimport settings", "settings.SCALE = 4", _cached("z = settings.SCALE * 2")]
    assert run_notebook(cells, tmp_path).outputs[2] == "computing\n"
    assert HIT in run_notebook(cells, tmp_path).outputs[2]
    cells[1] = "settings.SCALE = 5"
    assert run_notebook([*cells, "print(z)"], tmp_path).outputs[2:] == ["computing\n", "10\n"]


def test_library_module_setting_set_in_another_cell_is_an_input(run_notebook, tmp_path):
    """A plain setting stored on a library module in an earlier cell is an input."""
    cells = [LOAD + "\nimport json", "json.MY_INDENT = 2", _cached("n = json.MY_INDENT + 1")]
    assert run_notebook([*cells, "print(n)"], tmp_path).outputs[2:] == ["computing\n", "3\n"]
    cells[1] = "json.MY_INDENT = 4"
    assert run_notebook([*cells, "print(n)"], tmp_path).outputs[2:] == ["computing\n", "5\n"]


@pytest.mark.parametrize("read", ["_", "Out[2]", "_2"])
def test_output_history_read_by_the_cell_is_an_input(run_notebook, tmp_path, read):
    """A cell reading ``_``, ``Out[N]`` or ``_N`` re-runs when that output changed."""
    cells = [LOAD, "20 + 1", _cached(f"w = {read} * 2"), "print(w)"]
    assert run_notebook(cells, tmp_path).outputs[2:] == ["computing\n", "42\n"]
    assert HIT in run_notebook(cells, tmp_path).outputs[2]
    cells[1] = "20 + 2"
    assert run_notebook(cells, tmp_path).outputs[2:] == ["computing\n", "44\n"]


def test_rc_settings_changed_in_an_earlier_cell_rerun_a_figure_cell(run_notebook, tmp_path):
    """``plt.rc(...)`` in an uncached cell re-runs a cached cell drawing with matplotlib."""
    pytest.importorskip("matplotlib")
    setup = LOAD + "\nimport matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt"
    draw = _cached(
        "fig, ax = plt.subplots()\n(line,) = ax.plot([0, 1])\n"
        "width = line.get_linewidth()\nplt.close(fig)"
    )
    cells = [setup, "plt.rc('lines', linewidth=2)", draw, "print(width)"]
    assert run_notebook(cells, tmp_path).outputs[2:] == ["computing\n", "2.0\n"]
    assert HIT in run_notebook(cells, tmp_path).outputs[2]
    cells[1] = "plt.style.use('default')\nplt.rc('lines', linewidth=3)"
    assert run_notebook(cells, tmp_path).outputs[2:] == ["computing\n", "3.0\n"]


def test_seed_set_in_an_earlier_cell_is_an_input(run_notebook, tmp_path):
    """``np.random.seed(n)`` earlier re-runs a cached cell drawing from the global state."""
    cells = [
        LOAD + "\nimport numpy as np\nimport random",
        "np.random.seed(1)\nrandom.seed(1)",
        _cached("a = float(np.random.rand())\nb = random.random()"),
        "np.random.seed(1)\nrandom.seed(1)\n"
        "print(a == float(np.random.rand()), b == random.random())",
    ]
    assert run_notebook(cells, tmp_path).outputs[2:] == ["computing\n", "True True\n"]
    second = run_notebook(cells, tmp_path)
    assert HIT in second.outputs[2]
    assert second.outputs[3] == "True True\n"
    cells[1] = "np.random.seed(2)\nrandom.seed(2)"
    cells[3] = cells[3].replace("seed(1)", "seed(2)")
    assert run_notebook(cells, tmp_path).outputs[2:] == ["computing\n", "True True\n"]


def test_monkeypatched_library_function_is_followed_in_a_cell(run_notebook, tmp_path):
    """A library function replaced in an earlier cell counts by the replacement's code."""
    patch = "import math\ndef my_sqrt(x):\n    return x * {n}\nmath.sqrt = my_sqrt"
    cells = [LOAD, patch.replace("{n}", "2"), _cached("r = math.sqrt(3)"), "print(r)"]
    assert run_notebook(cells, tmp_path).outputs[2:] == ["computing\n", "6\n"]
    cells[1] = patch.replace("{n}", "3")
    assert run_notebook(cells, tmp_path).outputs[2:] == ["computing\n", "9\n"]
