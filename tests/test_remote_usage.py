"""Hit counts and last use on the Redis and S3 stores, against real servers on 127.0.0.1.

Several processes share one cache, as a team does: each counts its hits in memory and
writes them in batches; the ``checkpointing`` command in yet another process reports the
sum, and size limits evict the least recently used entry, not the oldest one.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from checkpointing.store import _object_usage
from checkpointing.store.fsspec import FsspecStore
from checkpointing.store.redis import RedisStore
from checkpointing.store.urls import open_cache
from tests.scriptcase import REPO_ROOT
from tests.servers import S3Server
from tests.test_cli import run_cli

_SCRIPT = """
import sys
from checkpointing import checkpoint, open_cache

cache = open_cache(sys.argv[1])

@checkpoint(cache=cache)
def power(x, n=2):
    return bytes(1000 * x)

for x in sys.argv[2:]:
    power(int(x))
"""


@pytest.fixture(params=["redis", "s3"])
def cache_url(request: pytest.FixtureRequest) -> str:
    """A fresh cache URL on a real Redis server, then on a real S3 server."""
    fixture = "redis_cache_url" if request.param == "redis" else "s3_url"
    return str(request.getfixturevalue(fixture))


def _calls(tmp_path: Path, url: str, *xs: int) -> subprocess.Popen[str]:
    """Start a process that calls ``power(x)`` for each of ``xs`` through the cache at ``url``."""
    script = tmp_path / "calls.py"
    script.write_text(textwrap.dedent(_SCRIPT))
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, str(script), url, *map(str, xs)]
    return subprocess.Popen(command, cwd=tmp_path, env=environment, text=True,
                            stderr=subprocess.PIPE)  # fmt: skip


def _run_calls(tmp_path: Path, url: str, *xs: int) -> None:
    """Call ``power(x)`` for each of ``xs`` in a new process and wait for it to exit."""
    process = _calls(tmp_path, url, *xs)
    _, errors = process.communicate(timeout=120)
    assert process.returncode == 0, errors


def _rows(url: str, tmp_path: Path) -> dict[str, Any]:
    """Return ``checkpointing ls --json`` of the cache at ``url``, by argument summary."""
    done = run_cli("--cache", url, "ls", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return {row["arguments"]: row for row in json.loads(done.stdout)}


@pytest.mark.slow
def test_hits_of_two_processes_add_up_in_ls(cache_url: str, tmp_path: Path) -> None:
    """Hits made by two processes at once are all reported by ``ls --json``, with last use."""
    _run_calls(tmp_path, cache_url, 1, 2)  # computes both: no hits yet
    start = time.time()
    both = [_calls(tmp_path, cache_url, 1, 1, 1, 2), _calls(tmp_path, cache_url, 1, 1)]
    for process in both:
        _, errors = process.communicate(timeout=120)
        assert process.returncode == 0, errors
    rows = _rows(cache_url, tmp_path)
    assert rows["x=1, n=2"]["hits"] == 5
    assert rows["x=2, n=2"]["hits"] == 1
    last = datetime.datetime.fromisoformat(rows["x=1, n=2"]["last_used"]).timestamp()
    assert start - 2 <= last <= time.time() + 1


@pytest.mark.slow
def test_prune_evicts_the_least_recently_used(cache_url: str, tmp_path: Path) -> None:
    """`prune` keeps the entries hit last, although they were created first."""
    _run_calls(tmp_path, cache_url, 1, 2, 3, 4)  # created in this order: 1 is the oldest
    time.sleep(1.1)  # so that a hit is clearly later than any creation
    _run_calls(tmp_path, cache_url, 2, 1)
    rows = _rows(cache_url, tmp_path)
    limit = str(rows["x=1, n=2"]["size"] + rows["x=2, n=2"]["size"])
    done = run_cli("--cache", cache_url, "prune", "--max-size", limit, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["removed"] == 2
    assert sorted(_rows(cache_url, tmp_path)) == ["x=1, n=2", "x=2, n=2"]


def test_size_limit_evicts_the_least_recently_used(cache_url: str) -> None:
    """A cache over its size limit drops the entry least recently hit, on its next store."""
    cache = open_cache(cache_url)
    from checkpointing import checkpoint

    @checkpoint(cache=cache)
    def blob(x: int) -> bytes:
        return bytes(1000)

    for x in (1, 2, 3):
        blob(x)
    time.sleep(0.05)
    blob(1)  # a hit: 2 is now the least recently used, 1 the oldest created
    size = max(entry.size for entry in cache.entries())
    cache.set_limits(max_size=3 * size + size // 2)
    blob(4)  # over the limit by one entry
    assert sorted(entry.arguments for entry in cache.entries()) == ["x=1", "x=3", "x=4"]


@pytest.mark.slow
def test_clear_forgets_the_hits(cache_url: str, tmp_path: Path) -> None:
    """After ``clear``, a result stored again under the same key starts with no hits."""
    _run_calls(tmp_path, cache_url, 1, 1, 1)
    assert _rows(cache_url, tmp_path)["x=1, n=2"]["hits"] == 2
    done = run_cli("--cache", cache_url, "clear", "--yes", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    _run_calls(tmp_path, cache_url, 1)  # computed again
    row = _rows(cache_url, tmp_path)["x=1, n=2"]
    assert (row["hits"], row["last_used"]) == (0, None)


def test_redis_hits_are_sent_in_one_batch(redis_cache_url: str) -> None:
    """Many hits within a second cost the server one usage write, not one per hit."""
    store = RedisStore(redis_cache_url)
    store.put("k", [b"value"])
    store.usage("k")  # load the script now, so only batches are counted below
    before = _script_calls(store)
    for _ in range(200):
        store.touch("k")
    assert store.usage("k")[0] == 200
    assert _script_calls(store) - before <= 2
    keys = {name.decode() for name in store.client.scan_iter(match=f"{store.prefix}:*")}
    assert keys == {f"{store.prefix}:{name}" for name in ("entry:k", "usage:hits", "usage:used")}


def _script_calls(store: RedisStore) -> int:
    """Return how many script calls the Redis server has run so far."""
    stats = store.client.info("commandstats")
    return sum(
        int(stats.get(name, {}).get("calls", 0)) for name in ("cmdstat_evalsha", "cmdstat_eval")
    )


def test_s3_hits_write_few_objects_and_compact(s3_server: S3Server) -> None:
    """Hits add a usage object per batch, never per hit; many objects merge into one."""
    url = f"s3://{s3_server.bucket}/u{time.time_ns()}"
    writers = [FsspecStore(url, s3_server.storage_options()) for _ in range(3)]
    writers[0].put("k", [b"value"])
    writers[0].put("other", [b"value"])
    for _ in range(500):
        writers[0].touch("k")
    writers[0].usage("k")
    usage = writers[0]._usage
    assert len(usage._names()) <= 2
    batches = 2 * _object_usage.COMPACT_ABOVE
    for round_ in range(batches):  # many batches, as from many processes
        writer = writers[round_ % 3]
        writer.touch("k")
        writer.touch("other")
        writer._usage.flush()
    reader = FsspecStore(url, s3_server.storage_options())
    counts = reader.usages(["k", "other"])
    assert counts["k"][0] == 500 + batches
    assert counts["other"][0] == batches
    assert len(usage._names()) <= _object_usage.COMPACT_ABOVE  # merged, not one per batch
    assert reader.usages(["k", "other"]) == counts  # the merged object says the same


def _touch_and_wait(store: RedisStore, done: Any) -> None:
    """In a forked child: count a hit, then stay alive until the parent has seen it."""
    store.touch("k")
    done.wait(30)


def test_a_forked_child_sends_its_hits_while_running(redis_cache_url: str) -> None:
    """A forked worker's hits reach the server while it runs, and no hit is sent twice."""
    import multiprocessing

    store = RedisStore(redis_cache_url)
    store.put("k", [b"value"])
    store.touch("k")
    assert store.usage("k")[0] == 1  # the parent's writer thread is running now
    store.touch("k")  # pending in the parent when it forks: the child must not send it
    context = multiprocessing.get_context("fork")
    done = context.Event()
    child = context.Process(target=_touch_and_wait, args=(store, done))
    child.start()
    try:
        reader = RedisStore(redis_cache_url)
        deadline = time.monotonic() + 10
        while reader.usage("k")[0] < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)  # a second batch would arrive by now
        assert reader.usage("k")[0] == 3  # two hits of the parent, one of the child
    finally:
        done.set()
        child.join(30)
    assert child.exitcode == 0
    assert store.usage("k")[0] == 3
