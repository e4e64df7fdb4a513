"""End to end: edit a script, run it again in a new process, and check what re-runs.

Each case is written like the documentation's "Caveats" page: the script of the first
run, its output, the edited script and the output of the second run. The checkpointed
functions print "Running", so a re-run shows in the output and a cache hit does not.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.scriptcase import Step, check_case, run_steps

pytestmark = pytest.mark.slow


# --- Edits that must be a cache hit --------------------------------------------------------


def test_comments_and_blank_lines_hit(tmp_path: Path) -> None:
    """Adding comments and blank lines, above and inside the function, is a hit."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x):
            print("Running")
            return x * 2

        print(foo(3))
        """,
        "Running\n6\n",
        """
        from checkpointing import checkpoint

        # The function below doubles its argument.


        @checkpoint()
        def foo(x):  # a comment on the signature
            print("Running")

            # and one in the body
            return x * 2


        print(foo(3))
        """,
        "6\n",
    )


def test_reformatting_hits(tmp_path: Path) -> None:
    """Reformatting (line breaks, parentheses, spacing, quote style) is a hit."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x, y):
            print("Running")
            return [x*2, y+1]

        print(foo(3, 4))
        """,
        "Running\n[6, 5]\n",
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(
            x,
            y,
        ):
            print('Running')
            return [
                (x * 2),
                y + 1,
            ]

        print(foo(3, 4))
        """,
        "[6, 5]\n",
    )


def test_signature_annotations_hit(tmp_path: Path) -> None:
    """Adding type annotations to the parameters and the return value is a hit."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x, y=1):
            print("Running")
            return x * 2 + y

        print(foo(3))
        """,
        "Running\n7\n",
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x: int, y: int = 1) -> int:
            print("Running")
            return x * 2 + y

        print(foo(3))
        """,
        "7\n",
    )


def test_local_variable_annotation_hits(tmp_path: Path) -> None:
    """Removing the annotation of a local variable is a hit."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x):
            print("Running")
            doubled: int = x * 2
            return doubled + 1

        print(foo(3))
        """,
        "Running\n7\n",
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x):
            print("Running")
            doubled = x * 2
            return doubled + 1

        print(foo(3))
        """,
        "7\n",
    )


def test_renamed_function_hits(tmp_path: Path) -> None:
    """Renaming the function and its call site is a hit."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x):
            print("Running")
            return x * 2

        print(foo(3))
        """,
        "Running\n6\n",
        """
        from checkpointing import checkpoint

        @checkpoint()
        def double(x):
            print("Running")
            return x * 2

        print(double(3))
        """,
        "6\n",
    )


def test_renamed_parameters_hit(tmp_path: Path) -> None:
    """Renaming the parameters (callers pass them by position) is a hit."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x, y):
            print("Running")
            return x - y

        print(foo(5, 2))
        """,
        "Running\n3\n",
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(minuend, subtrahend):
            print("Running")
            return minuend - subtrahend

        print(foo(5, 2))
        """,
        "3\n",
    )


def test_renamed_local_variables_hit(tmp_path: Path) -> None:
    """Renaming local variables is a hit."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x):
            print("Running")
            y = x * 2
            z = y + 1
            return [z, y]

        print(foo(3))
        """,
        "Running\n[7, 6]\n",
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x):
            print("Running")
            doubled = x * 2
            result = doubled + 1
            return [result, doubled]

        print(foo(3))
        """,
        "[7, 6]\n",
    )


def test_renamed_global_with_same_value_hits(tmp_path: Path) -> None:
    """Renaming a global the function reads, keeping its value, is a hit."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        FACTOR = 3

        @checkpoint()
        def foo(x):
            print("Running")
            return x * FACTOR

        print(foo(2))
        """,
        "Running\n6\n",
        """
        from checkpointing import checkpoint

        SCALE = 3

        @checkpoint()
        def foo(x):
            print("Running")
            return x * SCALE

        print(foo(2))
        """,
        "6\n",
    )


def test_changed_default_with_same_bound_value_hits(tmp_path: Path) -> None:
    """Changing a default the caller overrides (same bound value) is a hit."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x, k=2):
            print("Running")
            return x * k

        print(foo(3, k=5))
        """,
        "Running\n15\n",
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x, k=7):
            print("Running")
            return x * k

        print(foo(3, k=5))
        """,
        "15\n",
    )


def test_removed_default_when_callers_pass_the_value_hits(tmp_path: Path) -> None:
    """Removing a default while callers pass that same value is a hit."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x, k=2):
            print("Running")
            return x * k

        print(foo(3))
        """,
        "Running\n6\n",
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x, k):
            print("Running")
            return x * k

        print(foo(3, 2))
        """,
        "6\n",
    )


def test_explicit_default_and_keyword_arguments_hit(tmp_path: Path) -> None:
    """Passing the default explicitly, or by keyword instead of position, is a hit."""
    run_steps(
        tmp_path,
        Step(
            """
            from checkpointing import checkpoint

            @checkpoint()
            def foo(x, k=2):
                print("Running")
                return x * k

            print(foo(3))
            """,
            "Running\n6\n",
        ),
        Step(
            """
            from checkpointing import checkpoint

            @checkpoint()
            def foo(x, k=2):
                print("Running")
                return x * k

            print(foo(3, 2))
            print(foo(x=3, k=2))
            print(foo(k=2, x=3))
            """,
            "6\n6\n6\n",
        ),
    )


def test_unrelated_global_changed_hits(tmp_path: Path) -> None:
    """Changing a global the function does not read is a hit."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        USED = 2
        UNUSED = 1

        @checkpoint()
        def foo(x):
            print("Running")
            return x * USED

        print(foo(3), UNUSED)
        """,
        "Running\n6 1\n",
        """
        from checkpointing import checkpoint

        USED = 2
        UNUSED = 100

        @checkpoint()
        def foo(x):
            print("Running")
            return x * USED

        print(foo(3), UNUSED)
        """,
        "6 100\n",
    )


def test_augmented_assignment_rewritten_hits(tmp_path: Path) -> None:
    """Rewriting ``x += 1`` as ``x = x + 1`` is a hit."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x):
            print("Running")
            x += 1
            return x * 2

        print(foo(3))
        """,
        "Running\n8\n",
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x):
            print("Running")
            x = x + 1
            return x * 2

        print(foo(3))
        """,
        "8\n",
    )


SETS_AND_DICTS = """
from checkpointing import checkpoint

@checkpoint()
def foo(names, table, frozen):
    print("Running")
    return [sorted(names), sorted(table.items()), sorted(frozen)]

names = {f"name{i}" for i in range(50)}
table = {"alpha": {"x", "y", "z"}, "beta": {"u", "v", "w"}}
frozen = frozenset({"red", "green", "blue", "cyan", "magenta", "yellow"})
result = foo(names, table, frozen)
print(len(result[0]), result[1][0][0], result[2][0])
"""


def test_sets_and_dicts_of_strings_hit_in_another_process(tmp_path: Path) -> None:
    """The same call with sets and dicts of strings hits under another PYTHONHASHSEED."""
    run_steps(
        tmp_path,
        Step(SETS_AND_DICTS, "Running\n50 alpha blue\n"),
        Step(SETS_AND_DICTS, "50 alpha blue\n"),
        Step(SETS_AND_DICTS, "50 alpha blue\n"),
    )


GLOBAL_SET = """
from checkpointing import checkpoint

STOP_WORDS = {"a", "an", "and", "the", "of", "to", "in", "is", "it", "on", "for", "at"}

@checkpoint()
def count_words(text):
    print("Running")
    return len([w for w in text.split() if w not in STOP_WORDS])

print(count_words("the cat sat on the mat in the sun"))
"""


def test_global_set_of_strings_hits_in_another_process(tmp_path: Path) -> None:
    """A global set of strings the function reads hits under another PYTHONHASHSEED."""
    run_steps(
        tmp_path,
        Step(GLOBAL_SET, "Running\n4\n"),
        Step(GLOBAL_SET, "4\n"),
        Step(GLOBAL_SET, "4\n"),
    )


PLAIN_OBJECT = """
from checkpointing import checkpoint

class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y

@checkpoint()
def norm1(point):
    print("Running")
    return abs(point.x) + abs(point.y)

print(norm1(Point(3, -4)))
"""


def test_plain_object_argument_hits_in_another_process(tmp_path: Path) -> None:
    """An instance of a plain user class (repr with an address) hits in a new process."""
    run_steps(tmp_path, Step(PLAIN_OBJECT, "Running\n7\n"), Step(PLAIN_OBJECT, "7\n"))


ARRAYS = """
import numpy as np
import pandas as pd
from checkpointing import checkpoint

@checkpoint()
def total(array, frame, series):
    print("Running")
    return float(array.sum() + frame.to_numpy().sum() + series.sum())

array = np.linspace(0.0, 1.0, 1_000_001)
frame = pd.DataFrame({"a": [1.5, 2.5], "b": [3, 4]})
series = pd.Series([1, 2, 3], index=["x", "y", "z"])
print(total(array, frame, series))
"""


def test_equal_arrays_and_frames_hit_in_another_process(tmp_path: Path) -> None:
    """Equal numpy arrays and pandas objects, rebuilt in a new process, are a hit."""
    run_steps(tmp_path, Step(ARRAYS, "Running\n500017.5\n"), Step(ARRAYS, "500017.5\n"))


LIBRARY_CALLS = """
import math
import numpy as np
from checkpointing import checkpoint

@checkpoint()
def foo(x):
    print("Running")
    return round(math.sqrt(x) + float(np.mean(np.arange(x))), 3)

print(foo(16))
"""


def test_standard_library_and_numpy_calls_hit(tmp_path: Path) -> None:
    """A function calling the standard library and numpy hits in a new process."""
    run_steps(tmp_path, Step(LIBRARY_CALLS, "Running\n11.5\n"), Step(LIBRARY_CALLS, "11.5\n"))


def test_moved_script_hits(tmp_path: Path) -> None:
    """The same script moved to another path (same working directory) is a hit."""
    script = """
    from checkpointing import checkpoint

    @checkpoint()
    def foo(x):
        print("Running")
        return x * 2

    print(foo(3))
    """
    run_steps(
        tmp_path,
        Step(script, "Running\n6\n"),
        Step(script, "6\n", path="elsewhere/deeper/script.py"),
    )


def test_bare_decorator_same_as_called_decorator(tmp_path: Path) -> None:
    """Bare ``@checkpoint`` and ``@checkpoint()`` give the same key (a hit)."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x):
            print("Running")
            return x * 2

        print(foo(3))
        """,
        "Running\n6\n",
        """
        from checkpointing import checkpoint

        @checkpoint
        def foo(x):
            print("Running")
            return x * 2

        print(foo(3))
        """,
        "6\n",
    )


def test_docstring_edit_hits(tmp_path: Path) -> None:
    """Adding or editing the function's docstring is a hit."""
    run_steps(
        tmp_path,
        Step(
            """
            from checkpointing import checkpoint

            @checkpoint()
            def foo(x):
                print("Running")
                return x * 2

            print(foo(3))
            """,
            "Running\n6\n",
        ),
        Step(
            '''
            from checkpointing import checkpoint

            @checkpoint()
            def foo(x):
                """Double x."""
                print("Running")
                return x * 2

            print(foo(3))
            ''',
            "6\n",
        ),
        Step(
            '''
            from checkpointing import checkpoint

            @checkpoint()
            def foo(x):
                """Return twice the value of x.

                A longer explanation.
                """
                print("Running")
                return x * 2

            print(foo(3))
            ''',
            "6\n",
        ),
    )


def test_temporary_returned_immediately_hits(tmp_path: Path) -> None:
    """``y = x + 1; return y`` rewritten as ``return x + 1`` is a hit."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x):
            print("Running")
            y = x + 1
            return y

        print(foo(0))
        """,
        "Running\n1\n",
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x):
            print("Running")
            return x + 1

        print(foo(0))
        """,
        "1\n",
    )


def test_renamed_helper_with_identical_body_hits(tmp_path: Path) -> None:
    """Renaming a called helper whose body is unchanged is a hit."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        def bar(x):
            return x + 1

        @checkpoint()
        def foo(x):
            print("Running")
            return bar(x)

        print(foo(0))
        """,
        "Running\n1\n",
        """
        from checkpointing import checkpoint

        def qux(x):
            return x + 1

        @checkpoint()
        def foo(x):
            print("Running")
            return qux(x)

        print(foo(0))
        """,
        "1\n",
    )


def test_edit_of_helper_not_called_hits(tmp_path: Path) -> None:
    """Editing a function that the checkpointed function does not reach is a hit."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        def used(x):
            return x + 1

        def unused(x):
            return x + 100

        @checkpoint()
        def foo(x):
            print("Running")
            return used(x)

        print(foo(0), unused(0))
        """,
        "Running\n1 100\n",
        """
        from checkpointing import checkpoint

        def used(x):
            return x + 1

        def unused(x):
            return x + 200

        @checkpoint()
        def foo(x):
            print("Running")
            return used(x)

        print(foo(0), unused(0))
        """,
        "1 200\n",
    )


def test_global_shadowed_by_local_hits(tmp_path: Path) -> None:
    """Changing a global that a local variable of the same name shadows is a hit."""
    script = """
    from checkpointing import checkpoint

    FACTOR = {value}

    @checkpoint()
    def foo(x):
        print("Running")
        FACTOR = 2
        return x * FACTOR

    print(foo(3), FACTOR)
    """
    check_case(
        tmp_path,
        script.replace("{value}", "100"),
        "Running\n6 100\n",
        script.replace("{value}", "200"),
        "6 200\n",
    )


# --- Changes that must re-run ------------------------------------------------------------

ARGUMENT_SCRIPT = """
import numpy as np
import pandas as pd
from checkpointing import checkpoint

class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y

def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))
    if isinstance(a, (pd.DataFrame, pd.Series)):
        return a.equals(b)
    if isinstance(a, Point):
        return vars(a) == vars(b)
    return a == b

@checkpoint()
def identity(value):
    print("Running")
    return value

value = {value}
print(same(identity(value), value))
"""

ARGUMENT_VALUES = {
    "int": ("1", "2"),
    "str": ("'abc'", "'abd'"),
    "float in list": ("[0.1, 0.2]", "[0.1, 0.2 + 1e-12]"),
    "tuple": ("(1, 'a')", "(1, 'b')"),
    "int then float": ("1", "1.0"),
    "int then bool": ("1", "True"),
    "str then bytes": ("'a'", "b'a'"),
    "tuple then list": ("(1, 2)", "[1, 2]"),
    "ndarray content": ("np.array([1.0, 2.0, 3.0])", "np.array([1.0, 2.0, 4.0])"),
    "ndarray 12th decimal": ("np.array([0.1, 0.2])", "np.array([0.1, 0.2 + 1e-12])"),
    "large ndarray, middle element": (
        "np.arange(100_000.0)",
        "np.where(np.arange(100_000) == 50_000, -1.0, np.arange(100_000.0))",
    ),
    "ndarray dtype": ("np.array([1, 2, 3])", "np.array([1, 2, 3], dtype=np.float64)"),
    "ndarray shape": ("np.arange(6).reshape(2, 3)", "np.arange(6).reshape(3, 2)"),
    "DataFrame content": (
        "pd.DataFrame({'a': [1, 2], 'b': [3.0, 4.0]})",
        "pd.DataFrame({'a': [1, 2], 'b': [3.0, 4.5]})",
    ),
    "DataFrame columns": (
        "pd.DataFrame({'a': [1, 2], 'b': [3.0, 4.0]})",
        "pd.DataFrame({'a': [1, 2], 'c': [3.0, 4.0]})",
    ),
    "DataFrame index": (
        "pd.DataFrame({'a': [1, 2]}, index=[0, 1])",
        "pd.DataFrame({'a': [1, 2]}, index=[1, 0])",
    ),
    "Series content": ("pd.Series(['x', 'y'])", "pd.Series(['x', 'z'])"),
    "object attribute": ("Point(1, 2)", "Point(1, 3)"),
}


@pytest.mark.parametrize(("before", "after"), ARGUMENT_VALUES.values(), ids=ARGUMENT_VALUES)
def test_different_argument_value_reruns(tmp_path: Path, before: str, after: str) -> None:
    """A different argument value (compared by content, dtype and shape) re-runs."""
    check_case(
        tmp_path,
        ARGUMENT_SCRIPT.replace("{value}", before),
        "Running\nTrue\n",
        ARGUMENT_SCRIPT.replace("{value}", after),
        "Running\nTrue\n",
    )


def test_logic_change_reruns(tmp_path: Path) -> None:
    """Changing the function's logic (``return a`` to ``return a + 1``) re-runs."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(a):
            print("Running")
            return a

        print(foo(0))
        """,
        "Running\n0\n",
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(a):
            print("Running")
            return a + 1

        print(foo(0))
        """,
        "Running\n1\n",
    )


def test_changed_default_used_by_caller_reruns(tmp_path: Path) -> None:
    """Changing a default the caller relies on (a different bound value) re-runs."""
    script = """
    from checkpointing import checkpoint

    @checkpoint()
    def foo(x, k={default}):
        print("Running")
        return x * k

    print(foo(3))
    """
    check_case(
        tmp_path,
        script.replace("{default}", "2"),
        "Running\n6\n",
        script.replace("{default}", "3"),
        "Running\n9\n",
    )


def test_swapped_parameter_names_rerun(tmp_path: Path) -> None:
    """Swapping the names of the function's own parameters (``def foo(b, a)``) re-runs."""
    script = """
    from checkpointing import checkpoint

    @checkpoint()
    def foo({parameters}):
        print("Running")
        return a - b

    print(foo(5, 2))
    """
    check_case(
        tmp_path,
        script.replace("{parameters}", "a, b"),
        "Running\n3\n",
        script.replace("{parameters}", "b, a"),
        "Running\n-3\n",
    )


def test_variadic_argument_values_rerun(tmp_path: Path) -> None:
    """A different value inside ``*args`` or ``**kwargs`` re-runs; the same one hits."""
    script = """
    from checkpointing import checkpoint

    @checkpoint()
    def foo(*args, **kwargs):
        print("Running")
        return [args, sorted(kwargs.items())]

    print(foo({arguments}))
    """
    run_steps(
        tmp_path,
        Step(script.replace("{arguments}", "1, 2, k=3"), "Running\n[(1, 2), [('k', 3)]]\n"),
        Step(script.replace("{arguments}", "1, 2, k=3"), "[(1, 2), [('k', 3)]]\n"),
        Step(script.replace("{arguments}", "1, 2, 3, k=3"), "Running\n[(1, 2, 3), [('k', 3)]]\n"),
        Step(script.replace("{arguments}", "1, 2, k=4"), "Running\n[(1, 2), [('k', 4)]]\n"),
    )


def test_swapped_global_values_rerun(tmp_path: Path) -> None:
    """Swapping the values of two globals the function reads re-runs."""
    script = """
    from checkpointing import checkpoint

    A = {a}
    B = {b}

    @checkpoint()
    def foo():
        print("Running")
        return A - B

    print(foo())
    """
    check_case(
        tmp_path,
        script.replace("{a}", "1").replace("{b}", "2"),
        "Running\n-1\n",
        script.replace("{a}", "2").replace("{b}", "1"),
        "Running\n1\n",
    )


def test_global_mutated_between_calls_reruns(tmp_path: Path) -> None:
    """A global mutated between two calls in one process is re-read: the second call re-runs."""
    script = """
    from checkpointing import checkpoint

    DATA = [1, 2]

    @checkpoint()
    def total():
        print("Running")
        return sum(DATA)

    print(total())
    DATA.append(3)
    print(total())
    """
    run_steps(tmp_path, Step(script, "Running\n3\nRunning\n6\n"), Step(script, "3\n6\n"))


NESTED_READS = {
    "inner function": "    def scaled(v):\n        return v * FACTOR\n    return scaled(x)",
    "lambda": "    scaled = lambda v: v * FACTOR\n    return scaled(x)",
    "list comprehension": "    return sum([v * FACTOR for v in range(x)])",
    "generator expression": "    return sum(v * FACTOR for v in range(x))",
}

NESTED_READ_SCRIPT = """
from checkpointing import checkpoint

FACTOR = {factor}

@checkpoint()
def foo(x):
    print("Running")
{body}

print(foo(3))
"""


@pytest.mark.parametrize("body", NESTED_READS.values(), ids=NESTED_READS)
def test_changed_global_read_in_nested_scope_reruns(tmp_path: Path, body: str) -> None:
    """A global read only inside a nested function, lambda or comprehension is tracked."""
    script = NESTED_READ_SCRIPT.replace("{body}", body)
    first = script.replace("{factor}", "2")
    run_steps(
        tmp_path,
        Step(first, "Running\n6\n"),
        Step(first, "6\n"),
        Step(script.replace("{factor}", "3"), "Running\n9\n"),
    )


GLOBAL_SCRIPT = """
import operator
import types
import numpy as np
from checkpointing import checkpoint

{assignment}

@checkpoint()
def foo():
    print("Running")
    return {expression}

print(foo())
"""

GLOBAL_VALUES = {
    "int": ("FACTOR = 2", "FACTOR = 3", "FACTOR * 10", "20", "30"),
    "dict content": (
        "SETTINGS = {'k': 1}",
        "SETTINGS = {'k': 2}",
        "SETTINGS['k']",
        "1",
        "2",
    ),
    "ndarray": (
        "WEIGHTS = np.array([1, 2])",
        "WEIGHTS = np.array([1, 3])",
        "int(WEIGHTS.sum())",
        "3",
        "4",
    ),
    "standard library function": ("OP = operator.add", "OP = operator.sub", "OP(5, 2)", "7", "3"),
    "object attribute": (
        "CONFIG = types.SimpleNamespace(scale=2)",
        "CONFIG = types.SimpleNamespace(scale=5)",
        "CONFIG.scale",
        "2",
        "5",
    ),
}


@pytest.mark.parametrize(
    ("before", "after", "expression", "output1", "output2"),
    GLOBAL_VALUES.values(),
    ids=GLOBAL_VALUES,
)
def test_changed_global_value_reruns(
    tmp_path: Path, before: str, after: str, expression: str, output1: str, output2: str
) -> None:
    """A change of value of a global the function reads re-runs."""
    script = GLOBAL_SCRIPT.replace("{expression}", expression)
    check_case(
        tmp_path,
        script.replace("{assignment}", before),
        f"Running\n{output1}\n",
        script.replace("{assignment}", after),
        f"Running\n{output2}\n",
    )


def test_changed_global_read_by_helper_reruns(tmp_path: Path) -> None:
    """A change of value of a global read only by a called helper re-runs."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        OFFSET = 1

        def shift(x):
            return x + OFFSET

        @checkpoint()
        def foo(x):
            print("Running")
            return shift(x)

        print(foo(0))
        """,
        "Running\n1\n",
        """
        from checkpointing import checkpoint

        OFFSET = 2

        def shift(x):
            return x + OFFSET

        @checkpoint()
        def foo(x):
            print("Running")
            return shift(x)

        print(foo(0))
        """,
        "Running\n2\n",
    )


CLOSURE_SCRIPT = """
from checkpointing import checkpoint

def make_scaler(k):
    @checkpoint()
    def scale(x):
        print("Running")
        return x * k
    return scale

{calls}
"""


def test_changed_closure_variable_reruns(tmp_path: Path) -> None:
    """A function decorated inside another one re-runs when its closure value changes."""
    check_case(
        tmp_path,
        CLOSURE_SCRIPT.replace("{calls}", "print(make_scaler(2)(5))"),
        "Running\n10\n",
        CLOSURE_SCRIPT.replace("{calls}", "print(make_scaler(3)(5))"),
        "Running\n15\n",
    )


def test_closure_scope_is_used(tmp_path: Path) -> None:
    """A function decorated inside another one hits only for the same closure value."""
    script = CLOSURE_SCRIPT.replace(
        "{calls}", "print(make_scaler(2)(5))\nprint(make_scaler(3)(5))\nprint(make_scaler(2)(5))"
    )
    run_steps(
        tmp_path,
        Step(script, "Running\n10\nRunning\n15\n10\n"),
        Step(script, "10\n15\n10\n"),
    )


RERUN = """
from checkpointing import checkpoint

@checkpoint()
def load(name):
    print("Running")
    with open(name) as f:
        return f.read()

{calls}
"""


def test_rerun_runs_and_overwrites(tmp_path: Path) -> None:
    """``.rerun(...)`` always runs the function and overwrites the stored result."""
    # The file's content is not part of the call context: the second run starts with a
    # (deliberately) stale hit, then .rerun refreshes the stored result.
    load = 'print(load("data.txt"))'
    rerun = 'print(load.rerun("data.txt"))'
    run_steps(
        tmp_path,
        Step(RERUN.replace("{calls}", load), "Running\na\n", files={"data.txt": "a"}),
        Step(
            RERUN.replace("{calls}", f"{load}\n{rerun}\n{load}"),
            "a\nRunning\nb\nb\n",
            files={"data.txt": "b"},
        ),
        Step(RERUN.replace("{calls}", load), "b\n"),
    )


def test_edited_helper_reruns(tmp_path: Path) -> None:
    """Editing the body of a helper the checkpointed function calls re-runs."""
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

        print(foo(0))
        """,
        "Running\n0\n",
        """
        from checkpointing import checkpoint

        def bar(x):
            return x + 1

        @checkpoint()
        def foo(x):
            print("Running")
            return bar(x)

        print(foo(0))
        """,
        "Running\n1\n",
    )


def test_edited_helper_two_levels_down_reruns(tmp_path: Path) -> None:
    """Editing a helper reached through another helper re-runs."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        def inner(x):
            return x * 2

        def outer(x):
            return inner(x) + 1

        @checkpoint()
        def foo(x):
            print("Running")
            return outer(x)

        print(foo(1))
        """,
        "Running\n3\n",
        """
        from checkpointing import checkpoint

        def inner(x):
            return x * 3

        def outer(x):
            return inner(x) + 1

        @checkpoint()
        def foo(x):
            print("Running")
            return outer(x)

        print(foo(1))
        """,
        "Running\n4\n",
    )


def test_edited_method_of_argument_class_reruns(tmp_path: Path) -> None:
    """Editing a method of the user class of an argument re-runs."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        class Bar:
            def __init__(self):
                self.x = 0

            def baz(self):
                self.x += 1

        @checkpoint()
        def foo(bar):
            print("Running")
            bar.baz()
            return bar.x

        print(foo(Bar()))
        """,
        "Running\n1\n",
        """
        from checkpointing import checkpoint

        class Bar:
            def __init__(self):
                self.x = 0

            def baz(self):
                self.x += 2

        @checkpoint()
        def foo(bar):
            print("Running")
            bar.baz()
            return bar.x

        print(foo(Bar()))
        """,
        "Running\n2\n",
    )


def test_edited_method_of_instantiated_class_reruns(tmp_path: Path) -> None:
    """Editing a method of a user class the function instantiates itself re-runs."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        class Counter:
            def __init__(self, start):
                self.value = start

            def step(self):
                return self.value + 1

        @checkpoint()
        def foo(x):
            print("Running")
            return Counter(x).step()

        print(foo(0))
        """,
        "Running\n1\n",
        """
        from checkpointing import checkpoint

        class Counter:
            def __init__(self, start):
                self.value = start

            def step(self):
                return self.value + 2

        @checkpoint()
        def foo(x):
            print("Running")
            return Counter(x).step()

        print(foo(0))
        """,
        "Running\n2\n",
    )


def test_changed_default_of_helper_reruns(tmp_path: Path) -> None:
    """Changing a default value of a called helper re-runs."""
    script = """
    from checkpointing import checkpoint

    def add(x, k={default}):
        return x + k

    @checkpoint()
    def foo(x):
        print("Running")
        return add(x)

    print(foo(10))
    """
    check_case(
        tmp_path,
        script.replace("{default}", "1"),
        "Running\n11\n",
        script.replace("{default}", "2"),
        "Running\n12\n",
    )


def test_changed_decorator_argument_of_helper_reruns(tmp_path: Path) -> None:
    """Changing the argument of a decorator applied to a called helper re-runs."""
    script = """
    from checkpointing import checkpoint

    def repeat(n):
        def decorate(f):
            def run(a):
                for _ in range(n):
                    a = f(a)
                return a
            return run
        return decorate

    @repeat({times})
    def step(a):
        return a + 1

    @checkpoint()
    def foo(x):
        print("Running")
        return step(x)

    print(foo(0))
    """
    check_case(
        tmp_path,
        script.replace("{times}", "2"),
        "Running\n2\n",
        script.replace("{times}", "3"),
        "Running\n3\n",
    )


def test_edited_module_level_lambda_reruns(tmp_path: Path) -> None:
    """Editing a module-level lambda the function calls re-runs."""
    script = """
    from checkpointing import checkpoint

    transform = lambda v: v + {offset}

    @checkpoint()
    def foo(x):
        print("Running")
        return transform(x)

    print(foo(0))
    """
    check_case(
        tmp_path,
        script.replace("{offset}", "1"),
        "Running\n1\n",
        script.replace("{offset}", "2"),
        "Running\n2\n",
    )


def test_changed_class_attribute_reruns(tmp_path: Path) -> None:
    """Changing a class attribute of a user class the function reads re-runs."""
    script = """
    from checkpointing import checkpoint

    class Config:
        scale = {scale}

    @checkpoint()
    def foo(x):
        print("Running")
        return x * Config.scale

    print(foo(1))
    """
    check_case(
        tmp_path,
        script.replace("{scale}", "2"),
        "Running\n2\n",
        script.replace("{scale}", "3"),
        "Running\n3\n",
    )


def test_edited_base_class_method_of_argument_reruns(tmp_path: Path) -> None:
    """Editing a method inherited from a user base class of an argument re-runs."""
    script = """
    from checkpointing import checkpoint

    class Base:
        def value(self):
            return {value}

    class Child(Base):
        pass

    @checkpoint()
    def foo(obj):
        print("Running")
        return obj.value()

    print(foo(Child()))
    """
    check_case(
        tmp_path,
        script.replace("{value}", "1"),
        "Running\n1\n",
        script.replace("{value}", "2"),
        "Running\n2\n",
    )


PROJECT_MODULE_SCRIPT = """
{imports}
from checkpointing import checkpoint

@checkpoint()
def foo(x):
    print("Running")
    return {expression}

print(foo(1))
"""

HELPER_FUNCTION = "def f(x):\n    return x + {n}\n"
HELPER_CLASS = "class Thing:\n    def g(self, x):\n        return x + {n}\n"

PROJECT_MODULES = {
    "import module, function": ("import helpers", "helpers.f(x)", "helpers.py", HELPER_FUNCTION),
    "from module import function": ("from helpers import f", "f(x)", "helpers.py", HELPER_FUNCTION),
    "import module, class": ("import helpers", "helpers.Thing().g(x)", "helpers.py", HELPER_CLASS),
    "from module import class": (
        "from helpers import Thing",
        "Thing().g(x)",
        "helpers.py",
        HELPER_CLASS,
    ),
    "import package.module, function": (
        "import pkg.mod",
        "pkg.mod.f(x)",
        "pkg/mod.py",
        HELPER_FUNCTION,
    ),
}


@pytest.mark.parametrize(
    ("imports", "expression", "module", "source"), PROJECT_MODULES.values(), ids=PROJECT_MODULES
)
def test_edited_helper_in_project_module_reruns(
    tmp_path: Path, imports: str, expression: str, module: str, source: str
) -> None:
    """Editing a function or class in another module of the project re-runs."""
    script = PROJECT_MODULE_SCRIPT.replace("{imports}", imports).replace("{expression}", expression)
    first = {module: source.replace("{n}", "10")}
    if module.startswith("pkg/"):
        first["pkg/__init__.py"] = ""
    run_steps(
        tmp_path,
        Step(script, "Running\n11\n", files=first),
        Step(script, "11\n"),
        Step(script, "Running\n21\n", files={module: source.replace("{n}", "20")}),
    )


def test_changed_constant_of_project_module_reruns(tmp_path: Path) -> None:
    """A change of a constant read as ``helpers.SCALE`` from a project module re-runs."""
    script = """
    import helpers
    from checkpointing import checkpoint

    @checkpoint()
    def foo(x):
        print("Running")
        return x * helpers.SCALE

    print(foo(1))
    """
    run_steps(
        tmp_path,
        Step(script, "Running\n2\n", files={"helpers.py": "SCALE = 2\n"}),
        Step(script, "2\n"),
        Step(script, "Running\n3\n", files={"helpers.py": "SCALE = 3\n"}),
    )


def test_changed_constant_read_by_project_module_helper_reruns(tmp_path: Path) -> None:
    """A constant read by a helper inside its own module (another namespace) is tracked."""
    script = """
    from helpers import shift
    from checkpointing import checkpoint

    OFFSET = 1000

    @checkpoint()
    def foo(x):
        print("Running")
        return shift(x)

    print(foo(1))
    """
    helpers = "OFFSET = {offset}\n\ndef shift(x):\n    return x + OFFSET\n"
    run_steps(
        tmp_path,
        Step(script, "Running\n11\n", files={"helpers.py": helpers.replace("{offset}", "10")}),
        Step(script, "11\n"),
        Step(script, "Running\n21\n", files={"helpers.py": helpers.replace("{offset}", "20")}),
    )


def test_swapped_lambda_parameters_rerun(tmp_path: Path) -> None:
    """Swapping the parameters of an inner lambda re-runs."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x, y):
            print("Running")
            sub = lambda a, b: a - b
            return sub(x, y)

        print(foo(5, 2))
        """,
        "Running\n3\n",
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x, y):
            print("Running")
            sub = lambda b, a: a - b
            return sub(x, y)

        print(foo(5, 2))
        """,
        "Running\n-3\n",
    )


def test_swapped_inner_function_parameters_rerun(tmp_path: Path) -> None:
    """Swapping the parameters of an inner function re-runs."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x, y):
            print("Running")
            def sub(a, b):
                return a - b
            return sub(x, y)

        print(foo(5, 2))
        """,
        "Running\n3\n",
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x, y):
            print("Running")
            def sub(b, a):
                return a - b
            return sub(x, y)

        print(foo(5, 2))
        """,
        "Running\n-3\n",
    )


INNER_DEFAULT_SCRIPT = """
from checkpointing import checkpoint

@checkpoint()
def foo(x):
    print("Running")
{definition}
    return add(x)

print(foo(10))
"""

INNER_DEFAULTS = {
    "function": (
        "    def add(a, k=1):\n        return a + k",
        "    def add(a, k=2):\n        return a + k",
    ),
    "keyword-only": (
        "    def add(a, *, k=1):\n        return a + k",
        "    def add(a, *, k=2):\n        return a + k",
    ),
    "lambda": ("    add = lambda a, k=1: a + k", "    add = lambda a, k=2: a + k"),
}


@pytest.mark.parametrize(("before", "after"), INNER_DEFAULTS.values(), ids=INNER_DEFAULTS)
def test_changed_default_of_inner_function_reruns(tmp_path: Path, before: str, after: str) -> None:
    """Changing a default value of an inner function or lambda re-runs."""
    check_case(
        tmp_path,
        INNER_DEFAULT_SCRIPT.replace("{definition}", before),
        "Running\n11\n",
        INNER_DEFAULT_SCRIPT.replace("{definition}", after),
        "Running\n12\n",
    )


INNER_DECORATOR_SCRIPT = """
from checkpointing import checkpoint

def repeat(n):
    def decorate(f):
        def run(a):
            for _ in range(n):
                a = f(a)
            return a
        return run
    return decorate

def double(f):
    return lambda a: 2 * f(a)

def add_one(f):
    return lambda a: f(a) + 1

@checkpoint()
def foo(x):
    print("Running")
{decorators}
    def step(a):
        return a + 1
    return step(x)

print(foo(0))
"""

INNER_DECORATORS = {
    "decorator argument": ("    @repeat(2)", "    @repeat(3)", "2", "3"),
    "decorator order": ("    @double\n    @add_one", "    @add_one\n    @double", "4", "3"),
}


@pytest.mark.parametrize(
    ("before", "after", "output1", "output2"), INNER_DECORATORS.values(), ids=INNER_DECORATORS
)
def test_changed_decorator_of_inner_function_reruns(
    tmp_path: Path, before: str, after: str, output1: str, output2: str
) -> None:
    """Changing the decorators of an inner function (argument, order) re-runs."""
    check_case(
        tmp_path,
        INNER_DECORATOR_SCRIPT.replace("{decorators}", before),
        f"Running\n{output1}\n",
        INNER_DECORATOR_SCRIPT.replace("{decorators}", after),
        f"Running\n{output2}\n",
    )


def test_changed_constant_in_nested_function_reruns(tmp_path: Path) -> None:
    """Changing a constant inside a function nested two levels deep re-runs."""
    check_case(
        tmp_path,
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x):
            print("Running")
            def outer(a):
                def inner(b):
                    return b * 2
                return inner(a) + 1
            return outer(x)

        print(foo(1))
        """,
        "Running\n3\n",
        """
        from checkpointing import checkpoint

        @checkpoint()
        def foo(x):
            print("Running")
            def outer(a):
                def inner(b):
                    return b * 3
                return inner(a) + 1
            return outer(x)

        print(foo(1))
        """,
        "Running\n4\n",
    )


MUTUAL_RECURSION = """
from checkpointing import checkpoint

def is_even(n):
    return True if n == 0 else is_odd(n - 1)

def is_odd(n):
    return {base} if n == 0 else is_even(n - 1)

@checkpoint()
def foo(n):
    print("Running")
    return is_even(n)

print(foo(9))
"""


def test_mutual_recursion_between_helpers(tmp_path: Path) -> None:
    """Mutually recursive helpers are identified (no endless loop); editing one re-runs."""
    script = MUTUAL_RECURSION.replace("{base}", "False")
    run_steps(
        tmp_path,
        Step(script, "Running\nFalse\n"),
        Step(script, "False\n"),
        Step(MUTUAL_RECURSION.replace("{base}", "True"), "Running\nTrue\n"),
    )


def test_bare_decorator_reads_the_function_scope(tmp_path: Path) -> None:
    """Bare ``@checkpoint`` sees globals named like decorator internals, and closures."""
    script = """
    from checkpointing import checkpoint

    func = {func}
    args = 10

    def make(kwargs):
        @checkpoint
        def total():
            print("Running")
            return func + args + kwargs
        return total

    print(make({kwargs})())
    """
    run_steps(
        tmp_path,
        Step(script.replace("{func}", "1").replace("{kwargs}", "100"), "Running\n111\n"),
        Step(script.replace("{func}", "2").replace("{kwargs}", "100"), "Running\n112\n"),
        Step(script.replace("{func}", "2").replace("{kwargs}", "200"), "Running\n212\n"),
        Step(script.replace("{func}", "2").replace("{kwargs}", "200"), "212\n"),
    )


# --- Recursion, shared decorators, code without source, async --------------------------

FIB = """
from checkpointing import checkpoint

@checkpoint()
def fib(n):
    print(f"Running fib({n})")
    return n if n < 2 else fib(n - 1) + fib(n - 2)

print(fib(6))
"""


def test_recursive_function(tmp_path: Path) -> None:
    """A recursive checkpointed function terminates, reuses its sub-results and hits."""
    run_steps(
        tmp_path,
        Step(FIB, "".join(f"Running fib({n})\n" for n in range(6, -1, -1)) + "8\n"),
        Step(FIB, "8\n"),
    )


SHARED_DECORATOR = """
from checkpointing import AutoFuncCallIdentifier, DecoratorCheckpoint, PickleFileCache

shared = DecoratorCheckpoint(AutoFuncCallIdentifier(), PickleFileCache())

value = 10

def make_foo(value):
    @shared
    def foo():
        print("Running foo")
        return value
    return foo

foo = make_foo({closure})

@shared
def bar():
    print("Running bar")
    return value * 2

print(foo(), bar())
"""


def test_shared_decorator_instance_keeps_each_function_scope(tmp_path: Path) -> None:
    """Two functions decorated by one ``DecoratorCheckpoint`` each use their own scope."""
    run_steps(
        tmp_path,
        Step(SHARED_DECORATOR.replace("{closure}", "1"), "Running foo\nRunning bar\n1 20\n"),
        Step(SHARED_DECORATOR.replace("{closure}", "2"), "Running foo\n2 20\n"),
        Step(
            SHARED_DECORATOR.replace("{closure}", "2").replace("value = 10", "value = 11"),
            "Running bar\n2 22\n",
        ),
    )


INLINE = """
from checkpointing import checkpoint

@checkpoint()
def triple(x):
    print("Running")
    return {body}

print(triple(4))
"""


def test_python_dash_c_uses_code_object(tmp_path: Path) -> None:
    """A function from ``python -c`` (no source) hits for the same code, re-runs when edited."""
    same = INLINE.replace("{body}", "3 * x")
    run_steps(
        tmp_path,
        Step(same, "Running\n12\n", inline=True),
        Step(same, "12\n", inline=True),
        Step(INLINE.replace("{body}", "4 * x"), "Running\n16\n", inline=True),
    )


EXEC = '''
from checkpointing import checkpoint

SOURCE = """
@checkpoint()
def triple(x):
    print("Running")
    return {body}
"""

exec(SOURCE)
print(triple(4))
'''


def test_exec_defined_function_uses_code_object(tmp_path: Path) -> None:
    """A function defined by ``exec`` (no source) hits for the same code, re-runs when edited."""
    same = EXEC.replace("{body}", "3 * x")
    run_steps(
        tmp_path,
        Step(same, "Running\n12\n"),
        Step(same, "12\n"),
        Step(EXEC.replace("{body}", "4 * x"), "Running\n16\n"),
    )


ASYNC = """
import asyncio
from checkpointing import checkpoint

@checkpoint()
async def fetch(x):
    print("Running")
    await asyncio.sleep(0)
    return x * 2

print(asyncio.run(fetch({argument})))
"""


def test_async_function_result_is_cached(tmp_path: Path) -> None:
    """An async function's awaited result is cached and returned on a hit in a new process."""
    run_steps(
        tmp_path,
        Step(ASYNC.replace("{argument}", "21"), "Running\n42\n"),
        Step(ASYNC.replace("{argument}", "21"), "42\n"),
        Step(ASYNC.replace("{argument}", "5"), "Running\n10\n"),
    )
