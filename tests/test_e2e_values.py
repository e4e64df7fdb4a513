"""End to end: how argument and global *values* are identified across runs and edits.

Each case runs a script, edits it (or not), and runs it again in a new process; the
checkpointed functions print "Running" (or their name), so a re-run shows in the output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scriptcase import Step, check_case, run_steps

pytestmark = pytest.mark.slow


# --- state an object's own pickling drops -------------------------------------------------

_DROPPING = """
from checkpointing import checkpoint

class Scaler:
    def __init__(self, factor, transform):
        self.factor = factor
        self.transform = transform

    def __getstate__(self):
        return {"factor": self.factor}   # the transform is left out of its pickle

@checkpoint()
def apply(scaler, x):
    print("Running")
    return scaler.transform(x) * scaler.factor

print(apply(Scaler(2, TRANSFORM), 3))
"""


def test_attribute_dropped_by_getstate_is_seen(tmp_path: Path) -> None:
    """Changing an attribute that ``__getstate__`` leaves out re-runs the function."""
    check_case(
        tmp_path,
        _DROPPING.replace("TRANSFORM", "abs"),
        "Running\n6\n",
        _DROPPING.replace("TRANSFORM", "lambda v: v * 10"),
        "Running\n60\n",
    )


def test_ndarray_subclass_attribute_is_seen(tmp_path: Path) -> None:
    """Two runs with an ndarray subclass differing only in an attribute do not share a result."""
    script = """
    import numpy as np
    from checkpointing import checkpoint

    class Quantity(np.ndarray):
        pass

    @checkpoint()
    def describe(q):
        print("Running")
        return f"{q.sum()} {q.unit}"

    q = np.array([1.0, 2.0]).view(Quantity)
    q.unit = "UNIT"
    print(describe(q))
    """
    check_case(
        tmp_path,
        script.replace("UNIT", "m"),
        "Running\n3.0 m\n",
        script.replace("UNIT", "km"),
        "Running\n3.0 km\n",
    )


# --- equal values, however they were built ---------------------------------------------


def test_model_restored_from_the_cache_hits_like_the_live_one(tmp_path: Path) -> None:
    """A model returned by a cached step and restored later keeps the next step's key."""
    script = """
    from checkpointing import checkpoint

    COLUMNS = ["alpha", "beta", "gamma"]

    class Model:
        def __init__(self, names):
            self.names = list(names)   # the same string objects as COLUMNS when live
            self.weights = {name: len(name) for name in names}

    @checkpoint()
    def fit():
        print("fit")
        return Model(COLUMNS)

    @checkpoint()
    def score(model, columns):
        print("score")
        return sum(model.weights[c] for c in columns)

    print(score(fit(), COLUMNS))
    """
    run_steps(tmp_path, Step(script, "fit\nscore\n14\n"), Step(script, "14\n"))


def test_equal_strings_built_differently_hit(tmp_path: Path) -> None:
    """A list or string Series built from shared or from distinct equal strings is one value."""
    script = """
    import pandas as pd
    from checkpointing import checkpoint

    @checkpoint()
    def count(items, series):
        print("Running")
        return len(items) + len(series)

    word = "ab"
    items = ITEMS
    print(count(items, pd.Series(items)))
    """
    check_case(
        tmp_path,
        script.replace("ITEMS", "[word, word]"),
        "Running\n4\n",
        script.replace("ITEMS", "'ab ab'.split()"),
        "4\n",
    )


# --- library objects reached by name ---------------------------------------------------

_LIBRARY = """
import os

class Distribution:
    def __init__(self):
        self._random_state = os.urandom(16)   # differs in every process, like numpy's

    def ppf(self, q):
        return q * 2

t = Distribution()
"""


def test_library_singleton_with_random_state_hits_in_a_new_process(tmp_path: Path) -> None:
    """``from lib import t`` (a module-level library object) keeps its key in a new process."""
    script = """
    import sys
    sys.path.insert(0, "lib/site-packages")
    from checkpointing import checkpoint
    from fakedist import t

    @checkpoint()
    def quantile(q):
        print("Running")
        return t.ppf(q)

    print(quantile(0.25))
    """
    files = {"lib/site-packages/fakedist/__init__.py": _LIBRARY}
    run_steps(
        tmp_path,
        Step(script, "Running\n0.5\n", files=files),
        Step(script, "0.5\n"),
    )


# --- user code a library or a base class calls back -----------------------------------


def test_editing_a_plugin_found_through_subclasses_reruns(tmp_path: Path) -> None:
    """A plugin discovered with ``Base.__subclasses__()`` is part of the key; editing it re-runs."""
    script = """
    from checkpointing import checkpoint

    class Step:
        def apply(self, x):
            return x

    class Double(Step):
        def apply(self, x):
            return x * FACTOR

    @checkpoint()
    def pipeline(x):
        print("Running")
        for step in Step.__subclasses__():
            x = step().apply(x)
        return x

    print(pipeline(5))
    """
    check_case(
        tmp_path,
        script.replace("FACTOR", "2"),
        "Running\n10\n",
        script.replace("FACTOR", "3"),
        "Running\n15\n",
    )


def test_editing_a_pandas_accessor_reruns(tmp_path: Path) -> None:
    """Editing a user accessor re-runs a function that calls it on a DataFrame argument."""
    script = """
    import pandas as pd
    from checkpointing import checkpoint

    @pd.api.extensions.register_dataframe_accessor("stats")
    class Stats:
        def __init__(self, frame):
            self._frame = frame

        def spread(self):
            return float(self._frame["x"].max() - self._frame["x"].min()) * SCALE

    @checkpoint()
    def summary(frame):
        print("Running")
        return frame.stats.spread()

    print(summary(pd.DataFrame({"x": [1.0, 4.0]})))
    """
    check_case(
        tmp_path,
        script.replace("SCALE", "1"),
        "Running\n3.0\n",
        script.replace("SCALE", "2"),
        "Running\n6.0\n",
    )


def test_registered_token_decides_what_identifies_a_value(tmp_path: Path) -> None:
    """``__checkpointing_token__`` makes an object with an unhashable attribute cacheable."""
    script = """
    import threading
    from checkpointing import checkpoint

    class Table:
        def __init__(self, rows):
            self.rows = rows
            self.lock = threading.Lock()

        def __checkpointing_token__(self):
            return self.rows

    @checkpoint()
    def total(table):
        print("Running")
        return sum(table.rows)

    print(total(Table(ROWS)))
    """
    run_steps(
        tmp_path,
        Step(script.replace("ROWS", "[1, 2]"), "Running\n3\n"),
        Step(script.replace("ROWS", "[1, 2]"), "3\n"),
        Step(script.replace("ROWS", "[1, 5]"), "Running\n6\n"),
    )
