"""Property tests of value hashing (hypothesis): equal values, equal keys; different, different.

Equal means "the same value however it was built": copies, pickle round trips, strings
rebuilt character by character, another process with another hash seed. Different means
anything Python, numpy or pandas would compute with differently: ``-0.0`` and ``0.0``,
``1``, ``1.0`` and ``True``, NaNs with different payloads, dtypes, shapes, index, column
order. Example counts are bounded so the suite stays fast.
"""

from __future__ import annotations

import copy
import math
import pickle
import struct
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from checkpointing._hashing import hash_values, hasher_factory

XXH = hasher_factory("xxh3_128")
REPO = Path(__file__).resolve().parents[2]
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def key(value: object) -> str:
    """Hash ``value`` the way the identifier does."""
    return hash_values(value, XXH, 5).hexdigest()


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.complex_numbers(allow_nan=False),
)
hashable = st.recursive(scalars, lambda inner: st.tuples(inner, inner), max_leaves=6)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=4), inner, max_size=4),
        st.frozensets(hashable, max_size=4),
        st.sets(hashable, max_size=4),
    ),
    max_leaves=12,
)


def rebuilt(value: Any) -> Any:
    """Return an equal value made of new objects: every string and container is rebuilt."""
    if isinstance(value, str):
        return "".join(list(value))  # a distinct str object with the same characters
    if isinstance(value, list):
        return [rebuilt(v) for v in value]
    if isinstance(value, tuple):
        return tuple(rebuilt(v) for v in value)
    if isinstance(value, dict):
        return {rebuilt(k): rebuilt(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return type(value)(rebuilt(v) for v in reversed(list(value)))
    return value


@FAST
@given(values)
def test_equal_values_built_differently_give_equal_keys(value: Any) -> None:
    """Copies, pickle round trips and rebuilt strings and containers keep the key."""
    expected = key(value)
    assert key(copy.deepcopy(value)) == expected
    assert key(pickle.loads(pickle.dumps(value))) == expected
    assert key(rebuilt(value)) == expected
    assert key([value, value]) == key([value, rebuilt(value)])


@settings(max_examples=3, deadline=None)
@given(st.lists(values, min_size=10, max_size=10), st.integers(1, 2**32 - 1))
def test_keys_are_equal_across_processes_and_hash_seeds(batch: list[Any], seed: int) -> None:
    """Another process with another PYTHONHASHSEED computes the same keys."""
    probe = (
        "import pickle, sys\n"
        "from checkpointing._hashing import hash_values, hasher_factory\n"
        "values = pickle.loads(sys.stdin.buffer.read())\n"
        "for v in values: print(hash_values(v, hasher_factory('xxh3_128'), 5).hexdigest())\n"
    )
    arrays = [np.arange(3, dtype=np.int16), pd.DataFrame({"a": [1.5], "b": ["x"]})]
    payload = [*batch, *arrays]
    done = subprocess.run(
        [sys.executable, "-c", probe],
        input=pickle.dumps(payload),
        capture_output=True,
        check=True,
        env={"PYTHONHASHSEED": str(seed), "PYTHONPATH": str(REPO)},
    )
    assert done.stdout.decode().split() == [key(v) for v in payload]


def same(a: Any, b: Any) -> bool:
    """Tell whether ``a`` and ``b`` are the same value: same types, floats bit for bit."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, frozenset | set):
        return a == b and key(sorted(map(repr, a))) == key(sorted(map(repr, b)))
    return bool(a == b)


@FAST
@given(values, values)
def test_different_values_give_different_keys(first: Any, second: Any) -> None:
    """Two values that are not the same value get different keys."""
    if not same(first, second):
        assert key(first) != key(second)


def nan_with_payload(payload: int) -> float:
    """Return a quiet NaN carrying ``payload`` in its mantissa."""
    value: float = struct.unpack("<d", struct.pack("<Q", 0x7FF8_0000_0000_0000 | payload))[0]
    return value


@FAST
@given(st.integers(1, 2**51 - 1))
def test_numbers_python_tells_apart_get_different_keys(payload: int) -> None:
    """-0.0/0.0, 1/1.0/True and NaNs with different payloads never share a key."""
    assert key(-0.0) != key(0.0)
    assert len({key(1), key(1.0), key(True), key(1 + 0j)}) == 4
    nan = nan_with_payload(payload)
    assert math.isnan(nan)
    assert key(nan) != key(nan_with_payload(0))
    assert key(np.array([nan])) != key(np.array([nan_with_payload(0)]))
    assert key(nan) == key(nan_with_payload(payload))


@FAST
@given(hnp.arrays(dtype=hnp.scalar_dtypes(), shape=hnp.array_shapes(max_dims=3, max_side=4)))
def test_arrays_differ_by_dtype_and_shape(array: np.ndarray[Any, Any]) -> None:
    """The same numbers in another dtype or shape get another key; a copy keeps it."""
    assert key(array) == key(array.copy())
    assert key(array) == key(np.asfortranarray(array))
    assert key(array) != key(array.reshape(-1, 1) if array.ndim != 2 else array.reshape(-1))
    other = np.float32 if array.dtype != np.float32 else np.float64
    if array.dtype.kind not in "OVUSMmc":
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # casting may overflow: still another dtype
            cast = array.astype(other)
        assert key(array) != key(cast)


frames = st.integers(1, 4).flatmap(
    lambda columns: st.lists(
        st.lists(st.floats(allow_nan=False, width=32), min_size=columns, max_size=columns),
        min_size=1,
        max_size=5,
    )
)


@FAST
@given(frames)
def test_frames_differ_by_index_column_order_and_dtype(rows: list[list[float]]) -> None:
    """Index, column order and dtypes change a DataFrame's key; its block layout does not."""
    frame = pd.DataFrame(rows, columns=[f"c{i}" for i in range(len(rows[0]))])
    expected = key(frame)
    rebuilt_frame = pd.DataFrame({name: frame[name].to_list() for name in frame.columns})
    assert key(rebuilt_frame) == expected
    assert key(frame.set_axis(frame.index + 1)) != expected
    assert key(frame.astype("float32")) != expected
    if frame.shape[1] > 1:
        assert key(frame[list(reversed(frame.columns))]) != expected
    assert key(frame["c0"]) != key(frame["c0"].set_axis(frame.index * 2 + 1))
