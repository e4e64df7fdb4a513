"""Property tests of the entry codec (hypothesis): both ways of emitting give the same entry.

An entry is built in memory as parts (stores that send it whole) or streamed into a file
as it is pickled (the directory store). Whatever the result, signed or not, the two must
give the same bytes, and decoding them must give back an equal result.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkpointing.cache import codec
from checkpointing.cache._ids import codec_of
from checkpointing.store._files import FileReader, open_regular
from checkpointing.store.base import BytesReader, join_parts

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Pieces around the thresholds that matter: the 64 KB first read, the 1 MB write chunk,
# the 16 KB minimum of an out-of-band buffer.
pieces = st.one_of(
    st.integers(),
    st.text(max_size=20),
    st.binary(max_size=64),
    st.sampled_from([60_000, 70_000, 1_100_000, 3_000_000]).map(lambda n: b"b" * n),
    st.sampled_from([16_000, 20_000, 300_000]).map(lambda n: np.arange(n // 8)),
    st.integers(1, 3_000).map(lambda n: [f"w{i}" for i in range(n * 10)]),
)
results = st.lists(pieces, max_size=6)


def same(a: Any, b: Any) -> bool:
    """Compare two results exactly, arrays by dtype, shape and content."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    return type(a) is type(b) and bool(a == b)


@SETTINGS
@given(result=results, secret=st.sampled_from([None, b"key"]), run_time=st.floats(0, 10))
def test_parts_and_stream_give_the_same_entry(result: Any, secret: Any, run_time: float) -> None:
    """Encoding to parts and streaming to a file give identical bytes that decode equal."""
    ids = codec_of(("some", "id"))
    options = {
        "protocol": 5,
        "meta": codec.meta_bytes({"function": "f", "arguments": "x=1"}),
        "created": 1.5,
        "run_time": run_time,
        "flags": codec.FLAG_HAS_INFO,
        "secret": secret,
    }
    parts = join_parts(codec.encode(ids, result, **options))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "entry")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            codec.write_file(lambda: fd, ids, result, **options)
        finally:
            os.close(fd)
        with open(path, "rb") as file:
            streamed = file.read()
        assert streamed == parts
        with FileReader(*open_regular(path)) as reader:
            loaded, flags, stored_run_time = codec.decode(reader, ids, secret)
    assert same(loaded, result)
    assert (flags & codec.FLAG_HAS_INFO, stored_run_time) == (codec.FLAG_HAS_INFO, run_time)
    again, _, _ = codec.decode(BytesReader(parts), ids, secret)
    assert same(again, result)
    head = codec.read_head(BytesReader(parts))
    assert (head.size, head.meta["function"]) == (len(parts), "f")
