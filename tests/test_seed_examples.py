"""The examples of the original documentation, run unchanged, behave as documented.

The "Extending the Checkpoint" page's code blocks are copied as they are (only the
elided ``CustomizedCache``/``CustomizedIdentifier`` are filled in). Each case of the
"Caveats" page is run as written there, twice in one directory; where the page shows the
original package's wrong result, the test asserts the fixed behaviour instead.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.scriptcase import Step, cache_files, check_case, run_steps

# --- "Extending the Checkpoint" ----------------------------------------------------------

EXTENDING_EXAMPLE = """
from checkpointing import DecoratorCheckpoint, AutoFuncCallIdentifier, PickleFileCache
from checkpointing import CacheBase, CheckpointNotExist, FuncCallIdentifierBase

class CustomizedCache(CacheBase):
    hits = 0

    def __init__(self):
        self.results = {}

    def save(self, context_id, result):
        self.results[context_id] = result

    def retrieve(self, context_id):
        if context_id not in self.results:
            raise CheckpointNotExist
        type(self).hits += 1
        return self.results[context_id]

class CustomizedIdentifier(FuncCallIdentifierBase):
    def identify(self, context):
        return context.qualified_name

# If you only want to change how the results are saved
@DecoratorCheckpoint(AutoFuncCallIdentifier(), CustomizedCache()) 
def foo():
    return 0

# If you only want to change how re-execution is determined
@DecoratorCheckpoint(CustomizedIdentifier(), PickleFileCache()) 
def bar():
    return 0

# If you want to combine both
@DecoratorCheckpoint(CustomizedIdentifier(), CustomizedCache()) 
def qux():
    return 0
"""  # noqa: W291 - the trailing spaces are the seed's own

FUNC_NAME_IDENTIFIER = """
from checkpointing import (
    DecoratorCheckpoint, 
    FuncCallIdentifierBase, 
    PickleFileCache
)

class FuncNameIdentifier(FuncCallIdentifierBase):
    def identify(self, context):
        return context.name

@DecoratorCheckpoint(FuncNameIdentifier(), PickleFileCache())
def foo():
    return 0
"""  # noqa: W291 - the trailing spaces are the seed's own

DICT_CACHE = """
from checkpointing import (
    DecoratorCheckpoint,
    CacheBase,
    AutoFuncCallIdentifier,
    CheckpointNotExist
)

class DictCache(CacheBase):
    def __init__(self):
        self.d = {}

    def save(self, context_id, result):
        self.d[context_id] = result

    def retrieve(self, context_id):
        if context_id not in self.d:
            raise CheckpointNotExist
        else:
            return self.d[context_id]

@DecoratorCheckpoint(AutoFuncCallIdentifier(), DictCache())
def foo():
    return 0
"""


@pytest.fixture
def import_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[str, str], ModuleType]:
    """Write a code block to a module in a fresh working directory and import it."""
    monkeypatch.chdir(tmp_path)

    def load(name: str, source: str) -> ModuleType:
        path = tmp_path / f"{name}.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, module)
        spec.loader.exec_module(module)
        return module

    return load


def test_three_ways_to_combine_identifier_and_cache(
    tmp_path: Path, import_example: Callable[[str, str], ModuleType]
) -> None:
    """The three DecoratorCheckpoint examples cache; only PickleFileCache writes a file."""
    example = import_example("seed_extending", EXTENDING_EXAMPLE)
    for _ in range(2):
        assert (example.foo(), example.bar(), example.qux()) == (0, 0, 0)
    assert example.CustomizedCache.hits == 2
    assert cache_files(tmp_path / ".checkpointing") == ["bar.pickle"]


@pytest.mark.slow
def test_func_name_identifier_reruns_only_when_renamed(tmp_path: Path) -> None:
    """With FuncNameIdentifier, ``foo`` is stored as ``foo.pickle`` and re-runs only if renamed."""
    cache = tmp_path / ".checkpointing"
    run_steps(tmp_path, Step(FUNC_NAME_IDENTIFIER + "\nprint(foo())\n", "0\n"))
    assert cache_files(cache) == ["foo.pickle"]
    changed_logic = FUNC_NAME_IDENTIFIER.replace("return 0", "return 1")
    run_steps(tmp_path, Step(changed_logic + "\nprint(foo())\n", "0\n"))
    renamed = changed_logic.replace("def foo", "def baz")
    run_steps(tmp_path, Step(renamed + "\nprint(baz())\n", "1\n"))
    assert cache_files(cache) == ["baz.pickle", "foo.pickle"]


def test_dict_cache_keeps_results_in_memory(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    import_example: Callable[[str, str], ModuleType],
) -> None:
    """With the DictCache example, the result is held in the dict under a hex digest."""
    example = import_example("seed_dict_cache", DICT_CACHE)
    caches: list[Any] = []
    retrieve = example.DictCache.retrieve

    def spy(self: Any, context_id: Any) -> Any:
        caches.append(self)
        return retrieve(self, context_id)

    monkeypatch.setattr(example.DictCache, "retrieve", spy)
    assert example.foo() == 0
    assert example.foo() == 0
    assert len(caches) == 2
    assert caches[0] is caches[1]
    [(key, value)] = caches[0].d.items()
    assert value == 0
    assert isinstance(key, str)
    int(key, 16)  # a hex digest
    assert not (tmp_path / ".checkpointing").exists()


# --- "Caveats" ---------------------------------------------------------------------------


@pytest.mark.slow
def test_how_the_cases_are_written(tmp_path: Path) -> None:
    """The page's format example (no checkpoint at all) prints each version's output."""
    check_case(
        tmp_path,
        """
        def foo():
            print("Output before the code change")

        if __name__ == "__main__":
            foo()
        """,
        "Output before the code change\n",
        """
        def foo():
            print("Output after the code change")

        if __name__ == "__main__":
            foo()
        """,
        "Output after the code change\n",
    )


@pytest.mark.slow
def test_changing_reference_function_reruns(tmp_path: Path) -> None:
    """Caveat "Changing reference function": editing ``bar`` now gives the new value."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        def bar(x):
            return x

        @checkpoint()
        def foo(x):
            return bar(x)

        if __name__ == "__main__":
            print(foo(0))
        """,
        "0\n",
        """
        from checkpointing import checkpoint

        def bar(x):
            return x + 1

        @checkpoint()
        def foo(x):
            return bar(x)

        if __name__ == "__main__":
            print(foo(0))
        """,
        "1\n",  # the original printed a stale 0
    )


@pytest.mark.slow
def test_renaming_reference_function_hits(tmp_path: Path) -> None:
    """Caveat: renaming ``bar`` to ``qux`` with the same body is now a hit."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        def bar(x):
            return x

        @checkpoint()
        def foo(x):
            print("Running")
            return bar(x)

        if __name__ == "__main__":
            print(foo(0))
        """,
        "Running\n0\n",
        """
        from checkpointing import checkpoint

        def qux(x):
            return x

        @checkpoint()
        def foo(x):
            print("Running")
            return qux(x)

        if __name__ == "__main__":
            print(foo(0))
        """,
        "0\n",  # the original re-ran
    )


DECOUPLED = """
from checkpointing import checkpoint

def bar(x):
    return x + 1

@checkpoint()
def foo(x):
    return x

if __name__ == "__main__":
    x = 0
    y = bar(x) # The change in `bar` can be reflected by y,
    z = foo(y) # and thus can be correctly captured by `foo`
"""


@pytest.mark.slow
def test_decoupled_suggestion_runs(tmp_path: Path) -> None:
    """The page's suggestion (pass the helper's result as argument) runs and stores per value."""
    cache = tmp_path / ".checkpointing"
    run_steps(tmp_path, Step(DECOUPLED, ""))
    assert [name.endswith(".pickle") for name in cache_files(cache)] == [True]
    run_steps(tmp_path, Step(DECOUPLED.replace("x + 1", "x + 2"), ""))
    assert [name.endswith(".pickle") for name in cache_files(cache)] == [True, True]


OBJECT_METHOD = """
from checkpointing import checkpoint

class Bar:
    def __init__(self) -> None:
        self.x = 0

    def baz(self):
        {body}

@checkpoint()
def foo(bar):
    bar.baz()
    return bar

if __name__ == "__main__":
    bar = Bar()
    result = foo(bar)
    print(result.x)
"""


@pytest.mark.slow
def test_changing_object_method_reruns(tmp_path: Path) -> None:
    """Caveat "Changing object method": editing ``Bar.baz`` now gives the new value."""
    check_case(
        tmp_path,
        OBJECT_METHOD.replace("{body}", "self.x += 1"),
        "1\n",
        OBJECT_METHOD.replace("{body}", "pass"),
        "0\n",  # the original printed a stale 1
    )


RENAMED_METHOD = """
from checkpointing import checkpoint

class Bar:
    def __init__(self) -> None:
        self.x = 0

    def {name}(self):
        self.x += 1

@checkpoint()
def foo(bar):
    print("Running")
    bar.{name}()
    return bar

if __name__ == "__main__":
    bar = Bar()
    result = foo(bar)
    print(result.x)
"""


@pytest.mark.slow
def test_renaming_object_method_reruns(tmp_path: Path) -> None:
    """Caveat: renaming ``baz`` to ``qux`` edits ``foo``'s own code, so it re-runs."""
    check_case(
        tmp_path,
        RENAMED_METHOD.replace("{name}", "baz"),
        "Running\n1\n",
        RENAMED_METHOD.replace("{name}", "qux"),
        "Running\n1\n",
    )


# The page uses scikit-learn's LogisticRegression(solver="saga"); this small model has the
# same shape: random initial weights, reproducible only when given a random_state.
RANDOMNESS = """
import numpy as np
from checkpointing import checkpoint


class LogisticRegression:
    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y):
        rng = np.random.default_rng(self.random_state)
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        self.coef_ = rng.normal(size=X.shape[1])
        self.intercept_ = rng.normal()
        for _ in range(100):
            for i in rng.permutation(len(y)):
                p = 1 / (1 + np.exp(-(X[i] @ self.coef_ + self.intercept_)))
                self.coef_ = self.coef_ - 0.5 * (p - y[i]) * X[i]
                self.intercept_ = self.intercept_ - 0.5 * (p - y[i])
        return self

    def predict(self, X):
        return (np.asarray(X, dtype=float) @ self.coef_ + self.intercept_ > 0).astype(int)


def build_model():
    X = [[0], [1], [2], [3]]
    y = [0, 0, 1, 1]
    model = LogisticRegression({arguments})
    return model.fit(X, y)


@checkpoint()
def predict(model):
    print("Running")
    X = [[0], [1], [2], [3]]
    return model.predict(X).tolist()


if __name__ == "__main__":
    model = build_model()
    prediction = predict(model)
    print(prediction)
"""


@pytest.mark.slow
def test_randomness_without_seed_reruns(tmp_path: Path) -> None:
    """Caveat "Randomness": a model fitted without a seed differs, so ``predict`` re-runs."""
    script = RANDOMNESS.replace("{arguments}", "")
    run_steps(
        tmp_path,
        Step(script, "Running\n[0, 0, 1, 1]\n"),
        Step(script, "Running\n[0, 0, 1, 1]\n"),
    )


@pytest.mark.slow
def test_randomness_with_seed_hits(tmp_path: Path) -> None:
    """Caveat "Randomness": with ``random_state=42`` the model is equal, so ``predict`` hits."""
    script = RANDOMNESS.replace("{arguments}", "random_state=42")
    run_steps(
        tmp_path,
        Step(script, "Running\n[0, 0, 1, 1]\n"),
        Step(script, "[0, 0, 1, 1]\n"),
    )


@pytest.mark.slow
def test_code_changes_temporary_hits(tmp_path: Path) -> None:
    """Caveat "Code changes": dropping a temporary returned at once is now a hit."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x):
            print("Running")
            y = x + 1
            return y

        if __name__ == "__main__":
            print(foo(0))
        """,
        "Running\n1\n",
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x):
            print("Running")
            return x + 1

        if __name__ == "__main__":
            print(foo(0))
        """,
        "1\n",  # the original re-ran
    )
