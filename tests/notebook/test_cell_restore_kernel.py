"""A ``%%checkpoint`` hit leaves the namespace and library state a run leaves, in real kernels.

Each test runs a notebook, restarts the kernel (a new one over the same folder) and runs it
again: the cached cell hits, and the cells after it must show exactly what they showed
after the run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

LOAD = "%load_ext checkpointing"
COUNT = "with open('runs.txt', 'a') as _f:\n    _f.write('x')\ndel _f\n"
NOTE = "loaded from cache, not run"


def runs(folder: Path) -> int:
    """Return how many times the cached cell's body ran."""
    counter = folder / "runs.txt"
    return len(counter.read_text()) if counter.exists() else 0


def run_twice(run_notebook, folder: Path, cells: list[str], cached: int = 1):
    """Run ``cells`` in two kernels; check the second replayed cell ``cached``; return both."""
    first = run_notebook(cells, folder)
    second = run_notebook(cells, folder)
    assert NOTE in second.outputs[cached]
    assert runs(folder) == 1
    assert "Warning" not in second.outputs[cached], second.outputs[cached]
    return first, second


def test_submodule_imports_are_usable_after_a_hit(run_notebook, tmp_path):
    """``import urllib.request`` and friends leave the submodule usable after a hit."""
    cached = (
        "%%checkpoint\n" + COUNT + "import urllib.request\nimport xml.dom.minidom\n"
        "import email.mime.text as mime\nfrom os import path as os_path\n"
        "from json import decoder\n"
    )
    probe = (
        "print(urllib.request.Request('http://x').full_url, "
        "xml.dom.minidom.parseString('<a/>').documentElement.tagName, "
        "mime.MIMEText('hi').get_payload(), os_path.join('a', 'b'), decoder.JSONDecoder)"
    )
    first, second = run_twice(run_notebook, tmp_path, [LOAD, cached, probe])
    assert "http://x a hi a/b" in first.outputs[2]
    assert second.outputs[2] == first.outputs[2]


def test_aliases_keep_the_identities_a_run_gives(run_notebook, tmp_path):
    """Aliases, elements of inputs, in-place changes and array views stay shared."""
    setup = (
        LOAD + "\nimport numpy as np\n"
        "a = [1]\nb = a\nrows = [[1], [2]]\ncfg = {'k': 1}\nholder = {'a': a}\n"
        "base = np.zeros(6)\n"
    )
    cached = (
        "%%checkpoint\n" + COUNT + "lst = [1, 2]\nlst2 = lst\ncfg2 = cfg\n"
        "a.append(2)\nfirst = rows[0]\narr = np.arange(10)\nview = arr[2:5]\n"
        "in_view = base[1:3]\nbase[0] = 9\npair = (lst, lst2)\n"
    )
    probe = (
        "lst.append(3)\narr[3] = 100\nin_view[0] = 7\n"
        "print(lst2 is lst, cfg2 is cfg, b is a, b, holder['a'] is a, first is rows[0], "
        "view[1], base[1], base[0], pair[0] is lst, lst2)"
    )
    first, second = run_twice(run_notebook, tmp_path, [setup, cached, probe])
    assert first.outputs[2] == "True True True [1, 2] True True 100 7.0 9.0 True [1, 2, 3]\n"
    assert second.outputs[2] == first.outputs[2]


def test_an_edited_input_reruns_and_aliases_follow(run_notebook, tmp_path):
    """After an upstream edit the cell runs again; its alias sees the new in-place change."""
    cached = "%%checkpoint\n" + COUNT + "a.append(len(a))\n"
    probe = "print(b is a, b)"
    run_notebook([LOAD + "\na = [0]\nb = a", cached, probe], tmp_path)
    edited = run_notebook([LOAD + "\na = [5, 6]\nb = a", cached, probe], tmp_path)
    assert NOTE not in edited.outputs[1]
    assert edited.outputs[2] == "True [5, 6, 2]\n"
    again = run_notebook([LOAD + "\na = [5, 6]\nb = a", cached, probe], tmp_path)
    assert NOTE in again.outputs[1]
    assert again.outputs[2] == "True [5, 6, 2]\n"
    assert runs(tmp_path) == 2


def test_class_and_function_state_changed_by_calls_is_restored(run_notebook, tmp_path):
    """``Config.items.append(1)`` and other changes to upstream classes come back."""
    setup = (
        LOAD + "\nclass Config:\n    items = []\n    count = 0\n    table = {}\n"
        "def helper():\n    pass\nkeep = Config.items\n"
    )
    cached = (
        "%%checkpoint\n" + COUNT + "Config.items.append(1)\nConfig.count += 1\n"
        "Config.table['k'] = 'v'\nhelper.calls = 2\nConfig.extra = [Config.count]\n"
    )
    probe = (
        "print(Config.items, keep is Config.items, Config.count, Config.table, "
        "helper.calls, Config.extra)"
    )
    first, second = run_twice(run_notebook, tmp_path, [setup, cached, probe])
    assert first.outputs[2] == "[1] True 1 {'k': 'v'} 2 [1]\n"
    assert second.outputs[2] == first.outputs[2]


def test_definitions_come_back_as_a_run_leaves_them(run_notebook, tmp_path):
    """Registrations named ``_``, registries, wrappers, early defaults, class chains."""
    cached = (
        "%%checkpoint\n" + COUNT + "import functools\nfrom dataclasses import dataclass\n"
        "@functools.singledispatch\ndef show(x):\n    return 'obj'\n"
        "@show.register\ndef _(x: int):\n    return 'int'\n"
        "@show.register\ndef _(x: str):\n    return 'str'\n"
        "REG = {}\ndef register(fn):\n    REG[fn.__name__] = fn\n    return fn\n"
        "@register\ndef alpha():\n    return 'a'\n"
        "@register\ndef beta():\n    return 'b'\n"
        "def slow(x):\n    print('slow', x)\n    return x * 2\n"
        "slow = functools.lru_cache(slow)\n"
        "n = 3\ndef g(m=n):\n    return m\nclass K:\n    size = n * 10\nn = 0\n"
        "@dataclass\nclass Base:\n    x: int = 1\n"
        "@dataclass\nclass Child(Base):\n    y: int = 2\n"
        "child = Child()\n"
    )
    probe = (
        "print(show(1), show('s'), show(1.5), sorted(REG), REG['beta'] is beta, "
        "slow(2), slow(2), slow.cache_info().hits, g(), K.size, n, Child(), "
        "isinstance(child, Base), type(child) is Child)"
    )
    first, second = run_twice(run_notebook, tmp_path, [LOAD, cached, probe])
    assert first.outputs[2] == (
        "slow 2\nint str obj ['alpha', 'beta'] True 4 4 1 3 30 0 Child(x=1, y=2) True True\n"
    )
    assert second.outputs[2] == first.outputs[2]


def test_library_settings_and_seeds_are_restored(run_notebook, tmp_path):
    """Options set on modules however bound, seeds and plot styles come back on a hit."""
    (tmp_path / "settings.py").write_text("SCALE = 1\n")
    cached = (
        "%%checkpoint\n" + COUNT + "import pandas as pd\nimport numpy as np\nimport random\n"
        "import matplotlib.pyplot as plt\nimport os\nimport settings\n"
        "pd.options.display.max_rows = 5\npd.set_option('display.precision', 2)\n"
        "opts = pd.options\nopts.display.max_columns = 7\n"
        "np.random.seed(0)\nrandom.seed(1)\nplt.style.use('ggplot')\n"
        "plt.rc('lines', linewidth=3)\nos.environ['CELL_FLAG'] = 'yes'\n"
        "settings.SCALE = 4\nnp.set_printoptions(precision=2)\n"
    )
    probe = (
        "print(pd.get_option('display.max_rows'), pd.get_option('display.precision'), "
        "pd.get_option('display.max_columns'), np.random.rand(), random.random(), "
        "plt.rcParams['lines.linewidth'], plt.rcParams['axes.facecolor'], "
        "os.environ.get('CELL_FLAG'), settings.SCALE, np.array([1.23456]))"
    )
    first, second = run_twice(run_notebook, tmp_path, [LOAD, cached, probe])
    assert first.outputs[2].startswith("5 2 7 0.548813")
    assert "3.0 #E5E5E5 yes 4 [1.23]" in first.outputs[2]
    assert second.outputs[2] == first.outputs[2]


def test_widgets_and_progress_bars_replay_as_text(run_notebook, tmp_path):
    """A progress bar and a displayed widget replay as their final text, with a note."""
    cached = (
        "%%checkpoint\n" + COUNT + "from tqdm.notebook import tqdm\nimport ipywidgets\n"
        "from IPython.display import display\n"
        "total = 0\nfor i in tqdm(range(5), desc='work'):\n    total += i\n"
        "w = ipywidgets.IntSlider()\ndisplay(w)\nw.value = 4\ndel w\nprint(total)\n"
    )
    first, second = run_twice(run_notebook, tmp_path, [LOAD, cached, "print(total)"])
    assert "widgets shown as text" in second.outputs[1]
    assert "work: 100%" in second.outputs[1]
    assert "5/5" in second.outputs[1]
    assert "IntSlider(value=4)" in second.outputs[1]
    assert second.outputs[1].endswith("10\n")
    assert second.outputs[2] == first.outputs[2] == "10\n"


def test_a_cell_binding_a_widget_runs_each_time_and_warns_once(run_notebook, tmp_path):
    """A cell that keeps a live widget is not cached, warns once per session, still works."""
    cached = (
        "%%checkpoint\n" + COUNT + "import ipywidgets\nslider = ipywidgets.IntSlider(value=2)\n"
        "slider\n"
    )
    run = run_notebook([LOAD, cached, cached, "print(slider.value)"], tmp_path)
    assert "live widget" in run.outputs[1]
    assert "-x" not in run.outputs[1]
    assert "Warning" not in run.outputs[2]
    assert run.outputs[3] == "2\n"
    assert runs(tmp_path) == 2


def test_figures_replay_when_pyplot_was_already_in_use(run_notebook, tmp_path):
    """A figure drawn in a cached cell after earlier plots is stored and replayed."""
    setup = LOAD + "\nimport matplotlib.pyplot as plt\nplt.plot([0, 1])\nplt.show()"
    cached = "%%checkpoint\n" + COUNT + "plt.plot([1, 2, 3])\nprint('drawn')\n"
    first, second = run_twice(run_notebook, tmp_path, [setup, cached])
    kinds = [o["output_type"] for o in second.notebook.cells[1]["outputs"]]
    assert kinds == ["display_data", "stream", "display_data"]
    assert "image/png" in second.notebook.cells[1]["outputs"][2]["data"]
    assert first.outputs[1] == "drawn\n<Figure size 640x480 with 1 Axes>\n"


def test_other_extensions_cell_hooks_fire_once(run_notebook, tmp_path):
    """A miss runs the body once: other extensions' pre/post cell hooks fire once per cell."""
    setup = (
        LOAD + "\nseen = []\nip = get_ipython()\n"
        "ip.events.register('pre_execute', lambda: seen.append('pre_execute'))\n"
        "ip.events.register('pre_run_cell', lambda info: seen.append('pre'))\n"
        "ip.events.register('post_execute', lambda: seen.append('post_execute'))\n"
        "ip.events.register('post_run_cell', lambda result: seen.append('post'))\n"
    )
    cached = "%%checkpoint\n" + COUNT + "x = 1\n"
    run = run_notebook([setup, cached, "print(seen)"], tmp_path)
    once = "'pre_execute', 'pre', 'post_execute', 'post'"
    # The setup cell's post hooks, the cached cell's four, the printing cell's pre hooks.
    assert run.outputs[2] == f"['post_execute', 'post', {once}, 'pre_execute', 'pre']\n"
