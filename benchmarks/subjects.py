"""The functions being cached, and the payloads they take and return.

They live in a module file because both libraries read a function's source: joblib to
notice edits, checkpointing to normalize it. Results that are big (arrays, frames) are
built once per process by a ``functools.cache``-d builder, so a timed miss measures
storing the result and not computing it; the ``tag`` argument only makes each call a
new cache key.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt
    import pandas as pd

__all__ = [
    "add",
    "array_result",
    "describe",
    "first_value",
    "frame_result",
    "frame_shape",
    "random_array",
    "random_frame",
]


def add(a: int, b: int) -> int:  # noqa: D103 - the 2-line function: a docstring makes it 3
    return a + b


def describe(a: int, b: int) -> tuple[float, ...]:
    """Summarise two numbers the long way: 20 lines whose hit must cost what add's does."""
    total = a + b
    difference = a - b
    product = a * b
    ratio = a / b if b else float("inf")
    values = [a, b, total, difference, product]
    largest = values[0]
    smallest = values[0]
    for value in values[1:]:
        if value > largest:
            largest = value
        if value < smallest:
            smallest = value
    spread = largest - smallest
    mean = sum(values) / len(values)
    squares = [(value - mean) ** 2 for value in values]
    variance = sum(squares) / len(squares)
    deviation = variance**0.5
    return (total, difference, product, ratio, spread, mean, deviation)


def first_value(array: npt.NDArray[np.float64]) -> float:
    """Return a small result from a big argument: the cost of a hit is hashing the array."""
    return float(array.flat[0])


def frame_shape(frame: pd.DataFrame) -> tuple[int, int]:
    """Return a small result from a DataFrame argument."""
    return frame.shape


def array_result(size: int, tag: int) -> npt.NDArray[np.float64]:
    """Return the ``size``-byte array of this process (the same object every call)."""
    return _cached_array(size)


def frame_result(rows: int, tag: int) -> pd.DataFrame:
    """Return the ``rows``-row DataFrame of this process (the same object every call)."""
    return _cached_frame(rows)


@functools.cache
def _cached_array(size: int) -> npt.NDArray[np.float64]:
    return random_array(size)


@functools.cache
def _cached_frame(rows: int) -> pd.DataFrame:
    return random_frame(rows, with_strings=False)


def random_array(size: int) -> npt.NDArray[np.float64]:
    """Return a new float64 array of ``size`` bytes of random values (incompressible)."""
    return np.random.default_rng(size).random(size // 8)


def immutable_copy(array: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Return a read-only copy of ``array`` over a ``bytes`` object: memory nothing can change."""
    return np.frombuffer(array.tobytes(), dtype=array.dtype).reshape(array.shape)


def random_frame(rows: int, with_strings: bool) -> pd.DataFrame:
    """Return a typical table: floats, integers, timestamps, a categorical, maybe strings.

    Without strings a row takes 33 bytes (four 8-byte columns and a 1-byte category
    code); the string column holds Python ``str`` objects, as pandas does without pyarrow.
    """
    import pandas as pd

    rng = np.random.default_rng(rows)
    labels = [f"group-{i}" for i in range(100)]
    columns: dict[str, Any] = {
        "x": rng.random(rows),
        "y": rng.normal(size=rows),
        "n": rng.integers(0, 1_000_000, rows),
        "t": pd.date_range("2020-01-01", periods=rows, freq="s"),
        "k": pd.Categorical.from_codes(rng.integers(0, 100, rows), categories=pd.Index(labels)),
    }
    if with_strings:
        columns["s"] = pd.array([f"item-{i % 10_000}" for i in range(rows)], dtype="str")
    return pd.DataFrame(columns)
