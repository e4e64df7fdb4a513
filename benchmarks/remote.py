"""``python -m benchmarks.remote``: hits on shared caches against the engines' bare GET.

Starts Debian's ``redis-server`` and moto's S3 server on free ports of 127.0.0.1 (as the
tests do), then measures, each as the median of many calls in this process:

* a small hit through ``@checkpoint(cache=URL)`` beside one bare ``GET`` of a small value
  with the same client library (redis-py, s3fs): the floor no cache can beat;
* a hit on a 100 MB float64 array beside a bare ``GET`` of 100 MB.

The ratio hit / bare GET is what the issue asks about (aim: a small remote hit within 1.5x
one bare round trip). ``--smoke`` uses tiny sizes and few samples: it proves the cases run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _median(call: Callable[[], object], samples: int) -> float:
    """Return the median wall time of ``call`` in seconds over ``samples`` calls."""
    call()  # warm up: connections, imports, first-use caches
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _cases(redis_url: str, s3: Any, big: int, samples: int) -> list[tuple[str, float, float]]:
    """Measure each case; return ``(name, hit seconds, bare GET seconds)``."""
    import numpy as np
    import redis
    import s3fs

    from checkpointing import checkpoint, open_cache

    rows = []
    client = redis.Redis.from_url(redis_url)
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **s3.storage_options())
    bucket = s3.bucket
    small_value = b"\x80\x05K\x03."  # pickle of 3: what add(1, 2) returns
    client.set("bare-small", small_value)
    fs.pipe_file(f"{bucket}/bare-small", small_value)
    array = np.random.default_rng(0).random(big // 8)
    client.set("bare-big", array.tobytes())
    fs.pipe_file(f"{bucket}/bare-big", array.tobytes())

    caches = {
        "Redis": open_cache(f"{redis_url}?prefix=b{uuid.uuid4().hex[:8]}&max_entry_size={2 * big}"),
        "S3": open_cache(
            f"s3://{bucket}/b{uuid.uuid4().hex[:8]}", storage_options=s3.storage_options()
        ),
    }
    bare: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
        "Redis": (lambda: client.get("bare-small"), lambda: client.get("bare-big")),
        "S3": (
            lambda: fs.cat_file(f"{bucket}/bare-small"),
            lambda: fs.cat_file(f"{bucket}/bare-big"),
        ),
    }
    for name, cache in caches.items():

        @checkpoint(cache=cache)
        def add(a: int, b: int) -> int:
            return a + b

        @checkpoint(cache=cache)
        def make(n: int) -> Any:
            return array[:n].copy()

        add(1, 2)
        make(len(array))
        rows.append((f"{name} small hit", _median(lambda: add(1, 2), samples),
                     _median(bare[name][0], samples)))  # fmt: skip
        few = max(3, samples // 20)
        rows.append((f"{name} {big >> 20} MB array hit", _median(lambda: make(len(array)), few),
                     _median(bare[name][1], few)))  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    """Start the servers, run the remote cases and print a table of medians and ratios."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.remote", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, few samples")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.servers import start_redis, start_s3, stop_server

    big, samples = (1 << 20, 5) if args.smoke else (100 << 20, 200)
    redis_process, redis_url = start_redis(Path(tempfile.mkdtemp(prefix="bench-redis-")))
    s3_process, s3 = start_s3()
    try:
        rows = _cases(redis_url, s3, big, samples)
    finally:
        stop_server(redis_process)
        stop_server(s3_process)
    print(f"{'case':<26} {'hit':>12} {'bare GET':>12} {'ratio':>7}")
    for name, hit, floor in rows:
        print(f"{name:<26} {hit * 1e3:>9.3f} ms {floor * 1e3:>9.3f} ms {hit / floor:>6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
