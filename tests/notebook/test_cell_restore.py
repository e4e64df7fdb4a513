"""A ``%%checkpoint`` hit leaves the namespace a run leaves (IPython shell, fast variations).

The kernel-level tests are in ``test_cell_restore_kernel.py``; these cover more shapes of
the same mechanisms in one in-process shell, re-creating the upstream state before the hit
as a restart followed by re-running the upstream cells would.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from IPython.utils.capture import capture_output

COUNT = "_f = open('runs.txt', 'a'); _f.write('x'); _f.close(); del _f\n"
NOTE = "loaded from cache, not run"


def ok(shell: Any, code: str) -> Any:
    """Run ``code`` as a cell, fail on error; return what it showed."""
    with capture_output() as shown:
        result = shell.run_cell(code, store_history=True)
    result.raise_error()
    return shown


def hit_matches_run(shell: Any, tmp_path: Any, setup: str, body: str, probe: str) -> str:
    """Run setup, the cell and the probe; redo setup, hit the cell, probe: same output."""
    ok(shell, setup)
    ok(shell, "%%checkpoint\n" + COUNT + body)
    after_run = ok(shell, probe).stdout
    ok(shell, setup)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a hit that restores faithfully says nothing
        replay = ok(shell, "%%checkpoint\n" + COUNT + body)
    assert NOTE in replay.outputs[0].data["text/plain"]
    assert (tmp_path / "runs.txt").read_text() == "x"
    assert ok(shell, probe).stdout == after_run
    return after_run


@pytest.mark.parametrize(
    ("setup", "body", "probe", "expected"),
    [
        (
            "import pandas as pd\ndf = pd.DataFrame({'a': [1, 2]})\nholder = {'df': df}",
            "df['c'] = df['a'] * 2\n",
            "print(holder['df'] is df, list(holder['df'].columns))",
            "True ['a', 'c']\n",
        ),
        (
            "class Box:\n    def __init__(self):\n        self.items = []\nbox = Box()\nkeep = box",
            "box.items.append(1)\nbox.tag = 'x'\n",
            "print(keep is box, keep.items, keep.tag)",
            "True [1] x\n",
        ),
        (
            "data = {'rows': [[1], [2]]}\nfirst_row = data['rows'][0]",
            "data['rows'][0].append(9)\nlast = data['rows'][-1]\n",
            "print(first_row, last is data['rows'][1])",
            "[1, 9] True\n",
        ),
        (
            "s = {1}\nt = s\nba = bytearray(b'ab')\nbb = ba",
            "s.add(2)\nba += b'c'\n",
            "print(t is s, sorted(t), bb is ba, bytes(bb))",
            "True [1, 2] True b'abc'\n",
        ),
        (
            "from collections import Counter, OrderedDict, defaultdict, deque\n"
            "c = Counter(a=1)\nd = defaultdict(list)\nq = deque([1])\no = OrderedDict(x=1)\n"
            "held = [c, d, q, o]",
            "c.update(a=2, b=1)\nd['k'].append(1)\nq.append(2)\no['y'] = 2\n",
            "print(held[0] is c, dict(held[0]), dict(held[1]), list(held[2]), list(held[3]))",
            "True {'a': 3, 'b': 1} {'k': [1]} [1, 2] ['x', 'y']\n",
        ),
        (
            "class P:\n    __slots__ = ('x', 'y')\np = P()\np.x = 1\nq = p\nbag = [p]",
            "p.x = 2\np.y = [p.x]\n",
            "print(q is p, bag[0] is p, q.x, q.y)",
            "True True 2 [2]\n",
        ),
        (
            "import numpy as np\nimage = np.zeros(4)\nsame = image",
            "image[1:3] = 5\nhalf = image[:2]\n",
            "half[0] = 1\nprint(same is image, same.tolist())",
            "True [1.0, 5.0, 5.0, 0.0]\n",
        ),
    ],
)
def test_in_place_changes_keep_identities(shell, tmp_path, setup, body, probe, expected):
    """Objects changed in place stay the objects other names and containers hold."""
    assert hit_matches_run(shell, tmp_path, setup, body, probe) == expected


def test_class_with_members_of_every_kind_keeps_them(shell, tmp_path):
    """Properties, static, class methods and enum members stay; changed data comes back."""
    setup = (
        "import enum\nclass Color(enum.Enum):\n    RED = 1\n"
        "class Config:\n    items = []\n    @property\n    def size(self):\n        return 2\n"
        "    @staticmethod\n    def s():\n        return 's'\n"
        "    @classmethod\n    def c(cls):\n        return len(cls.items)\n"
        "    class Inner:\n        pass\n"
    )
    body = "Config.items.append(Color.RED)\nConfig.note = 'n'\n"
    probe = "print(Config.items, Config().size, Config.s(), Config.c(), Config.note)"
    assert hit_matches_run(shell, tmp_path, setup, body, probe) == "[<Color.RED: 1>] 2 s 1 n\n"


def test_carriage_returns_replay_as_the_final_line(shell, tmp_path):
    """Text that rewrites its line (a terminal progress bar) replays as what was left."""
    body = (
        "import sys\nfor i in range(3):\n    sys.stderr.write(f'\\r{i}/2')\n"
        "sys.stderr.write('\\n')\n"
    )
    ok(shell, "%%checkpoint\n" + COUNT + body)
    replay = ok(shell, "%%checkpoint\n" + COUNT + body)
    assert replay.stderr == "2/2\n"


def test_a_function_defined_in_a_block_is_not_cached_with_a_reason(shell, tmp_path):
    """A function a replay cannot re-create: one warning saying where to define it."""
    from checkpointing import CheckpointingWarning

    with pytest.warns(CheckpointingWarning, match="inside a block.*top level"):
        ok(shell, "%%checkpoint\nif True:\n    def f():\n        return 1\n")
    assert shell.user_ns["f"]() == 1


def test_a_setting_that_cannot_be_stored_warns_once_and_runs(shell, tmp_path):
    """A module setting whose value cannot be pickled: one short warning, the cell runs."""
    from checkpointing import CheckpointingWarning

    body = "%%checkpoint\n" + COUNT + "import threading, json\njson.LOCK = threading.Lock()\n"
    with pytest.warns(CheckpointingWarning, match=r"changes json\.LOCK, which cannot be stored"):
        ok(shell, body)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ok(shell, body)  # said once per session
    assert (tmp_path / "runs.txt").read_text() == "xx"
    import json

    del json.LOCK  # type: ignore[attr-defined]


def test_library_states_changed_by_calls_come_back(shell, tmp_path):
    """Seeds, print options and sys.path set by calls in the cell are set again on a hit."""
    import random
    import sys

    import numpy as np

    body = (
        "import random, sys\nimport numpy as np\nrandom.seed(5)\nnp.random.seed(6)\n"
        "np.set_printoptions(precision=3)\nsys.path.append('/cell-added-path')\n"
    )
    saved = random.getstate(), np.random.get_state(), np.get_printoptions(), list(sys.path)
    try:
        probe = "print(random.random(), np.random.rand(), np.array([1/3]), sys.path[-1])"
        ok(shell, "%%checkpoint\n" + COUNT + body)
        after_run = ok(shell, probe).stdout
        random.seed(0)  # as after a restart: other states
        np.random.seed(0)
        np.set_printoptions(precision=8)
        sys.path.remove("/cell-added-path")
        replay = ok(shell, "%%checkpoint\n" + COUNT + body)
        assert NOTE in replay.outputs[0].data["text/plain"]
        assert ok(shell, probe).stdout == after_run
        assert after_run.endswith("[0.333] /cell-added-path\n")
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        np.set_printoptions(**saved[2])
        sys.path[:] = saved[3]


def test_registering_on_an_upstream_dispatcher_hits_without_warnings(shell, tmp_path):
    """``@process.register`` on an upstream singledispatch function is replayed, not refused."""
    setup = (
        "from functools import singledispatch\n@singledispatch\ndef process(x):\n"
        "    return 'obj'\nclass Base:\n    pass"
    )
    body = "@process.register\ndef _(x: int):\n    return 'int'\nclass Sub(Base):\n    pass\n"
    probe = "print(process(1), process('s'), [c.__name__ for c in Base.__subclasses__()])"
    assert hit_matches_run(shell, tmp_path, setup, body, probe) == "int obj ['Sub']\n"


def test_a_layout_edit_still_hits_and_defines_the_same_things(shell, tmp_path):
    """Comments and blank lines added between runs: a hit, definitions re-created right."""
    body = "n = 2\n\ndef f(m=n):\n    return m\n"
    edited = "# setup\nn = 2\n\n\n# the function\ndef f(m=n):  # default from n\n    return m\n"
    ok(shell, "%%checkpoint\n" + COUNT + body)
    ok(shell, "del n, f")
    replay = ok(shell, "%%checkpoint\n" + COUNT + edited)
    assert NOTE in replay.outputs[0].data["text/plain"]
    assert shell.user_ns["f"]() == 2
