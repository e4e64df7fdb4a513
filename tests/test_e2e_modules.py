"""End to end: what a function depends on beyond its code, arguments and plain globals.

Project modules reached as values, packages named like the standard library,
monkeypatched library functions and ambient library state (random seeds, rcParams,
options).

Each case runs a script, edits a project file (or the script), and runs again in a new
process: a re-run shows as "Running" in the output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scriptcase import Step, run_steps

pytestmark = pytest.mark.slow

BACKEND = """
FACTOR = {factor}

def run(x):
    return x * FACTOR
"""
OTHER = """
def run(x):
    return x + 100
"""

# How the checkpointed function reaches the module `fast`: each must see edits of fast.py.
MODULE_VALUE_PATTERNS = {
    "local": (
        "from backends import fast, slow",
        "impl = fast if flag else slow\n    return impl.run(x)",
        "foo(3, True)",
    ),
    "dict": (
        "from backends import fast, slow\nREGISTRY = {'fast': fast, 'slow': slow}",
        "return REGISTRY['fast' if flag else 'slow'].run(x)",
        "foo(3, True)",
    ),
    "list": (
        "from backends import fast, slow\nCHOICES = [slow, fast]",
        "return CHOICES[int(flag)].run(x)",
        "foo(3, True)",
    ),
    "argument": (
        "from backends import fast",
        "return flag.run(x)",
        "foo(3, fast)",
    ),
    "getattr": (
        "from backends import fast",
        "return getattr(fast, 'run')(x) if flag else x",
        "foo(3, True)",
    ),
    "closure": (
        "from backends import fast",
        "return inner(x)",
        "foo(3, True)",
    ),
    "import-module-value": (
        "import importlib\nmod = importlib.import_module('backends.fast')",
        "return mod.run(x)",
        "foo(3, True)",
    ),
}


def _module_value_script(pattern: str) -> str:
    imports, body, call = MODULE_VALUE_PATTERNS[pattern]
    if pattern == "closure":
        define = (
            "def make():\n"
            "    backend = fast\n"
            "    def inner(x):\n"
            "        return backend.run(x)\n"
            "    return inner\n"
            "inner = make()\n"
        )
    else:
        define = ""
    return (
        f"{imports}\nfrom checkpointing import checkpoint\n{define}\n"
        "@checkpoint()\n"
        "def foo(x, flag):\n"
        "    print('Running')\n"
        f"    {body}\n\n"
        f"print({call})\n"
    )


@pytest.mark.parametrize("pattern", sorted(MODULE_VALUE_PATTERNS))
def test_edited_project_module_used_as_a_value_reruns(tmp_path: Path, pattern: str) -> None:
    """A project module reached as a value (local, dict, list, argument...) counts by content."""
    script = _module_value_script(pattern)
    files = {
        "backends/__init__.py": "",
        "backends/fast.py": BACKEND.replace("{factor}", "2"),
        "backends/slow.py": OTHER,
    }
    run_steps(
        tmp_path,
        Step(script, "Running\n6\n", files=files),
        Step(script, "6\n"),
        # Comments and formatting in the module are not semantic: still a hit.
        Step(
            script, "6\n", files={"backends/fast.py": "# note\n" + BACKEND.replace("{factor}", "2")}
        ),
        Step(script, "Running\n15\n", files={"backends/fast.py": BACKEND.replace("{factor}", "5")}),
    )


def test_edited_function_body_in_module_value_reruns(tmp_path: Path) -> None:
    """Editing the code of a function in a module passed as an argument re-runs."""
    script = _module_value_script("argument")
    edited = "FACTOR = 2\n\ndef run(x):\n    return x * FACTOR + 1\n"
    run_steps(
        tmp_path,
        Step(
            script,
            "Running\n6\n",
            files={
                "backends/__init__.py": "",
                "backends/fast.py": BACKEND.replace("{factor}", "2"),
            },
        ),
        Step(script, "Running\n7\n", files={"backends/fast.py": edited}),
        Step(script, "7\n"),
    )


def test_module_global_rebound_at_run_time_reruns(tmp_path: Path) -> None:
    """A project module's global set by the script (``settings.SCALE = 4``) is seen."""
    script = """
    import settings
    from checkpointing import checkpoint

    @checkpoint()
    def foo(x, config):
        print("Running")
        return x * config.SCALE

    print(foo(2, settings))
    settings.SCALE = {scale}
    print(foo(2, settings))
    """
    run_steps(
        tmp_path,
        Step(
            script.replace("{scale}", "4"),
            "Running\n6\nRunning\n8\n",
            files={"settings.py": "SCALE = 3\n"},
        ),
        Step(script.replace("{scale}", "4"), "6\n8\n"),
        Step(script.replace("{scale}", "5"), "6\nRunning\n10\n"),
    )


def test_mutated_list_in_module_value_reruns(tmp_path: Path) -> None:
    """A list global of a module value changed in place between calls is seen."""
    script = """
    import registry
    from checkpointing import checkpoint

    @checkpoint()
    def total(mod):
        print("Running")
        return sum(mod.ITEMS)

    print(total(registry))
    registry.ITEMS.append(10)
    print(total(registry))
    """
    run_steps(
        tmp_path,
        Step(script, "Running\n3\nRunning\n13\n", files={"registry.py": "ITEMS = [1, 2]\n"}),
        Step(script, "3\n13\n"),
    )


def test_module_with_a_lock_stays_cacheable(tmp_path: Path) -> None:
    """A module value holding an unpicklable global (a lock) is still cached without warning."""
    script = """
    import worker
    from checkpointing import checkpoint

    @checkpoint()
    def foo(x, mod):
        print("Running")
        return mod.double(x)

    print(foo(2, worker))
    """
    source = "import threading\nLOCK = threading.Lock()\n\ndef double(x):\n    return {expr}\n"
    run_steps(
        tmp_path,
        Step(script, "Running\n4\n", files={"worker.py": source.replace("{expr}", "2 * x")}),
        Step(script, "4\n"),
        Step(script, "Running\n5\n", files={"worker.py": source.replace("{expr}", "2 * x + 1")}),
    )


HELPER = "def f(x):\n    return x + {n}\n"


@pytest.mark.parametrize(
    ("files", "imports", "call"),
    [
        (
            {"code/__init__.py": "", "code/helpers.py": HELPER},
            "from code import helpers",
            "helpers.f",
        ),
        ({"statistics.py": HELPER}, "import statistics", "statistics.f"),
        ({"csv/__init__.py": "", "csv/helpers.py": HELPER}, "import csv.helpers", "csv.helpers.f"),
        ({"difflib.py": HELPER}, "import difflib as dl", "dl.f"),
        # Names checkpointing itself uses: it must keep the real module for its own work.
        (
            {"json/__init__.py": "", "json/helpers.py": HELPER},
            "from json import helpers",
            "helpers.f",
        ),
        (
            {"email/__init__.py": "", "email/helpers.py": HELPER},
            "import email.helpers",
            "email.helpers.f",
        ),
        ({"http/__init__.py": HELPER}, "import http", "http.f"),
    ],
    ids=["code", "statistics", "csv", "difflib", "json", "email", "http"],
)
def test_project_package_named_like_stdlib_is_followed(
    tmp_path: Path, files: dict[str, str], imports: str, call: str
) -> None:
    """A project package called ``code``, ``statistics``... is user code: its edits re-run."""
    script = f"""
    {imports}
    from checkpointing import checkpoint

    @checkpoint()
    def foo(x):
        print("Running")
        return {call}(x)

    print(foo(1))
    """
    first = {name: text.replace("{n}", "10") for name, text in files.items()}
    second = {name: text.replace("{n}", "20") for name, text in files.items()}
    run_steps(
        tmp_path,
        Step(script, "Running\n11\n", files=first),
        Step(script, "11\n"),
        Step(script, "Running\n21\n", files=second),
    )


def test_project_package_named_like_stdlib_as_value_reruns(tmp_path: Path) -> None:
    """A project package named ``code`` passed as a value is hashed by content."""
    script = """
    import code
    from checkpointing import checkpoint

    @checkpoint()
    def foo(x, mod):
        print("Running")
        return mod.encode(x)

    print(foo(1, code))
    """
    source = "def encode(x):\n    return str(x) + '{suffix}'\n"
    run_steps(
        tmp_path,
        Step(script, "Running\n1a\n", files={"code/__init__.py": source.replace("{suffix}", "a")}),
        Step(script, "1a\n"),
        Step(script, "Running\n1b\n", files={"code/__init__.py": source.replace("{suffix}", "b")}),
    )


@pytest.mark.parametrize(
    ("setup", "call"),
    [
        ("import math\nmath.sqrt = my_sqrt", "math.sqrt(x)"),
        ("import math as m\nm.sqrt = my_sqrt", "m.sqrt(x)"),
        ("import colorsys\ncolorsys.rgb_to_yiq = my_sqrt", "colorsys.rgb_to_yiq(x)"),
        (
            "import xml.sax.saxutils\nxml.sax.saxutils.quoteattr = my_sqrt",
            "xml.sax.saxutils.quoteattr(x)",
        ),
    ],
)
def test_monkeypatched_library_function_is_followed(tmp_path: Path, setup: str, call: str) -> None:
    """A library function replaced by the script's own function counts by its code."""
    script = """
    from checkpointing import checkpoint

    def my_sqrt(x):
        return x * {n}

    {setup}

    @checkpoint()
    def foo(x):
        print("Running")
        return {call}

    print(foo(3))
    """.replace("{setup}", setup.replace("\n", "\n    ")).replace("{call}", call)
    run_steps(
        tmp_path,
        Step(script.replace("{n}", "2"), "Running\n6\n"),
        Step(script.replace("{n}", "2"), "6\n"),
        Step(script.replace("{n}", "3"), "Running\n9\n"),
    )


def test_monkeypatch_in_project_module_is_followed(tmp_path: Path) -> None:
    """A patch made by a project module (``patches.py``) on a library module is followed."""
    script = """
    import math
    import patches
    from checkpointing import checkpoint

    @checkpoint()
    def foo(x):
        print("Running")
        return math.floor(x)

    print(foo(3.5))
    """
    patch = "import math\n\ndef floor(x):\n    return int(x) + {n}\n\nmath.floor = floor\n"
    run_steps(
        tmp_path,
        Step(script, "Running\n4\n", files={"patches.py": patch.replace("{n}", "1")}),
        Step(script, "4\n"),
        Step(script, "Running\n5\n", files={"patches.py": patch.replace("{n}", "2")}),
    )


# --- ambient library state ------------------------------------------------------------

RANDOM_CASES = {
    "numpy": ("import numpy as np", "np.random.seed({seed})", "float(np.random.rand())"),
    "numpy-from": (
        "import numpy as np\nfrom numpy.random import rand",
        "np.random.seed({seed})",
        "float(rand())",
    ),
    "random": ("import random", "random.seed({seed})", "random.random()"),
    "random-from": (
        "import random\nfrom random import choice",
        "random.seed({seed})",
        "choice(range(1000))",
    ),
}


@pytest.mark.parametrize("case", sorted(RANDOM_CASES))
def test_global_random_seed_is_an_input(tmp_path: Path, case: str) -> None:
    """A function drawing from a global random state hits for the same seed, re-runs for another."""
    imports, seed, draw = RANDOM_CASES[case]
    lines = [
        *imports.splitlines(),
        "from checkpointing import checkpoint",
        "",
        "@checkpoint()",
        "def draw():",
        "    print('Running')",
        f"    return {draw}",
        "",
        seed,
        "value = draw()",
        seed,
        f"print(value == {draw})",  # what running it now gives: a stale value differs
    ]
    script = "\n".join(lines) + "\n"
    run_steps(
        tmp_path,
        Step(script.replace("{seed}", "1"), "Running\nTrue\n"),
        Step(script.replace("{seed}", "1"), "True\n"),
        Step(script.replace("{seed}", "2"), "Running\nTrue\n"),
    )


def test_function_seeding_itself_hits_in_a_new_process(tmp_path: Path) -> None:
    """A function that seeds the global state itself is not keyed by the state before it."""
    script = """
    import numpy as np
    import random
    from checkpointing import checkpoint

    @checkpoint()
    def draw():
        print("Running")
        np.random.seed(0)
        random.seed(0)
        return round(float(np.random.rand()) + random.random(), 6)

    random.random()
    print(draw())
    """
    run_steps(tmp_path, Step(script, "Running\n1.393235\n"), Step(script, "1.393235\n"))


def test_seeded_generator_instance_hits(tmp_path: Path) -> None:
    """default_rng(seed) and Random(seed) do not depend on the global states."""
    script = """
    import random
    import numpy as np
    from checkpointing import checkpoint

    @checkpoint()
    def draw():
        print("Running")
        return round(float(np.random.default_rng(0).random()) + random.Random(0).random(), 6)

    np.random.rand()
    random.random()
    print(draw())
    """
    run_steps(tmp_path, Step(script, "Running\n1.481384\n"), Step(script, "1.481384\n"))


def test_pandas_option_is_an_input(tmp_path: Path) -> None:
    """A pandas option changed before the call re-runs a function that uses pandas."""
    script = """
    import pandas as pd
    from checkpointing import checkpoint

    pd.set_option("display.max_rows", {rows})

    @checkpoint()
    def show(n):
        print("Running")
        return len(repr(pd.DataFrame({"a": range(n)})).splitlines())

    print(show(20))
    """
    run_steps(
        tmp_path,
        Step(script.replace("{rows}", "60"), "Running\n21\n"),
        Step(script.replace("{rows}", "60"), "21\n"),
        Step(script.replace("{rows}", "4"), "Running\n8\n"),
    )


def test_matplotlib_rc_change_is_an_input(tmp_path: Path) -> None:
    """``plt.rc(...)`` before the call re-runs a function that draws with matplotlib."""
    pytest.importorskip("matplotlib")
    script = """
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from checkpointing import checkpoint

    plt.rc("lines", linewidth={width})

    @checkpoint()
    def width():
        print("Running")
        fig, ax = plt.subplots()
        (line,) = ax.plot([0, 1])
        plt.close(fig)
        return line.get_linewidth()

    print(width())
    """
    run_steps(
        tmp_path,
        Step(script.replace("{width}", "2"), "Running\n2.0\n"),
        Step(script.replace("{width}", "2"), "2.0\n"),
        Step(script.replace("{width}", "3"), "Running\n3.0\n"),
    )


def test_registered_library_state_is_an_input(tmp_path: Path) -> None:
    """A library's state registered with ``register_ambient_state`` joins the key."""
    script = """
    import os
    import sys
    sys.path.insert(0, os.path.abspath("site-packages"))  # where libraries live
    import framework
    import checkpointing
    from checkpointing import checkpoint

    checkpointing.register_ambient_state("framework", lambda lib: lib._SEED)
    framework.manual_seed({seed})

    @checkpoint()
    def run():
        print("Running")
        return framework.compute()

    print(run())
    """
    library = (
        "_SEED = 0\n\n"
        "def manual_seed(n):\n    global _SEED\n    _SEED = n\n\n"
        "def compute():\n    return _SEED * 2\n"
    )
    files = {"site-packages/framework/__init__.py": library}
    run_steps(
        tmp_path,
        Step(script.replace("{seed}", "1"), "Running\n2\n", files=files),
        Step(script.replace("{seed}", "1"), "2\n"),
        Step(script.replace("{seed}", "2"), "Running\n4\n"),
    )


def test_edited_class_in_module_value_reruns(tmp_path: Path) -> None:
    """Editing a method of a class defined in a module reached as a value re-runs."""
    script = """
    import models
    from checkpointing import checkpoint

    def build(mod):
        return mod.Model()

    @checkpoint()
    def predict(x, mod):
        print("Running")
        return build(mod).predict(x)

    print(predict(1, models))
    """
    source = "class Model:\n    def predict(self, x):\n        return x + {n}\n"
    run_steps(
        tmp_path,
        Step(script, "Running\n2\n", files={"models.py": source.replace("{n}", "1")}),
        Step(script, "2\n"),
        Step(script, "Running\n3\n", files={"models.py": source.replace("{n}", "2")}),
    )


def test_module_value_passed_on_to_a_helper_reruns(tmp_path: Path) -> None:
    """A module handed from the checkpointed function to a helper counts by content."""
    script = """
    import plugins
    from checkpointing import checkpoint

    def apply(mod, x):
        return mod.transform(x)

    @checkpoint()
    def run(x):
        print("Running")
        chosen = plugins
        return apply(chosen, x)

    print(run(5))
    """
    source = "OFFSET = {n}\n\ndef transform(x):\n    return x + OFFSET\n"
    run_steps(
        tmp_path,
        Step(script, "Running\n6\n", files={"plugins.py": source.replace("{n}", "1")}),
        Step(script, "6\n"),
        Step(script, "Running\n7\n", files={"plugins.py": source.replace("{n}", "2")}),
    )
