"""Measure, with tracemalloc, the memory a directory cache needs beyond a result.

Run as ``python -m tests.memory_probe CASE DIRECTORY``: it builds one result, stores it
in a fresh ``PickleFileCache``, loads it back, and prints a JSON object with the pickled
size and the peaks of traced memory while storing and while loading, beyond the result
itself (the result's own memory is never counted). Runs alone in its process so nothing
else allocates meanwhile.
"""

from __future__ import annotations

import gc
import json
import pickle
import sys
import tracemalloc
from typing import Any

from checkpointing import PickleFileCache

CASES = {
    "bytes-list": "200,000 byte strings of 500 bytes",
    "short-strings": "a list of 1,000,000 short strings",
    "big-bytes": "one 50 MB bytes object",
    "array": "an 80 MB numpy array",
}


def build(case: str) -> Any:
    """Return the result of ``case``."""
    if case == "bytes-list":
        return [i.to_bytes(4, "little") * 125 for i in range(200_000)]
    if case == "short-strings":
        return [f"s{i}" for i in range(1_000_000)]
    if case == "big-bytes":
        return bytes(range(256)) * (50_000_000 // 256)
    if case == "array":
        import numpy as np

        return np.random.default_rng(0).random(10_000_000)
    raise ValueError(f"unknown case {case!r}; known: {', '.join(CASES)}")


def measure(case: str, directory: str) -> dict[str, float]:
    """Store and load the result of ``case``; return pickled size and peaks in bytes."""
    value = build(case)
    pickled = len(pickle.dumps(value, protocol=5))
    cache = PickleFileCache(directory)
    cache.save("warm", [1, 2])  # first-use work (directory, imports) is not the result's
    cache.retrieve("warm")
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    cache.save("value", value)
    store_peak = tracemalloc.get_traced_memory()[1] - before
    del value
    gc.collect()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    loaded = cache.retrieve("value")
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(loaded) > 0
    return {
        "pickled": pickled,
        "store_beyond": store_peak,
        "load_beyond": peak - after,
        "result": after - before,
    }


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], sys.argv[2])))
