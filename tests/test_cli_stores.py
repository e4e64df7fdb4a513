"""The ``checkpointing`` command on shared stores: Redis and S3 servers on 127.0.0.1.

Each cache is filled in-process through its URL, then every command runs in a fresh
process with ``--cache URL``, as on a team's shared cache.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from checkpointing import checkpoint
from checkpointing.store.urls import open_cache
from tests.test_cli import run_cli

pytestmark = pytest.mark.slow  # servers and a dozen subprocesses


@pytest.fixture(params=["redis", "s3"])
def cache_url(request: pytest.FixtureRequest) -> str:
    """A fresh cache URL on a real Redis server, then on a real S3 server."""
    fixture = "redis_cache_url" if request.param == "redis" else "s3_url"
    return str(request.getfixturevalue(fixture))


def _fill(url: str) -> Any:
    """Store three entries of one function (one of them hit once) in the cache at ``url``."""
    cache = open_cache(url)

    @checkpoint(cache=cache)
    def power(x: int, n: int = 2) -> bytes:
        return bytes(1000 * x)

    for x in (1, 2, 3):
        power(x)
    power(1)  # x=1 becomes the most recently used
    cache.entries()  # asking for usage writes this process's pending hit counts
    return cache


def _json(done: Any) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_command_works_on_a_shared_store(cache_url: str, tmp_path: Path) -> None:
    """ls, stats, explain, verify, prune and clear work through a store URL."""
    cache = _fill(cache_url)
    rows = _json(run_cli("--cache", cache_url, "ls", "--json", cwd=tmp_path))
    assert sorted(r["arguments"] for r in rows) == ["x=1, n=2", "x=2, n=2", "x=3, n=2"]
    (total,) = _json(run_cli("--cache", cache_url, "stats", "--json", cwd=tmp_path))
    assert total["entries"] == 3
    done = run_cli("--cache", cache_url, "explain", "power", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "argument 'x' differs" in done.stdout
    report = _json(run_cli("--cache", cache_url, "verify", "--json", cwd=tmp_path))
    assert report["checked"] == 3
    assert report["corrupt"] == []
    (used,) = (r for r in rows if r["arguments"] == "x=1, n=2")
    assert used["hits"] == 1
    assert used["last_used"] is not None
    limit = str(max(r["size"] for r in rows))
    pruned = _json(
        run_cli("--cache", cache_url, "prune", "--max-size", limit, "--json", cwd=tmp_path)
    )
    assert pruned["remaining"] == 1
    # Least recently used went first: x=1 was created first but hit last.
    assert [e.arguments for e in cache.entries()] == ["x=1, n=2"]
    done = run_cli("--cache", cache_url, "clear", "--yes", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert cache.entries() == []


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_server_exits_3(tmp_path: Path) -> None:
    """A Redis URL nothing answers at is reported, with exit code 3, within seconds."""
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    start = time.monotonic()
    done = run_cli("--cache", url, "ls", cwd=tmp_path)
    assert done.returncode == 3
    assert f"cannot use cache {url!r}" in done.stderr
    assert "Traceback" not in done.stderr
    assert time.monotonic() - start < 60


def test_unknown_scheme_is_bad_input(tmp_path: Path) -> None:
    """A URL scheme that no store handles is bad input (exit 2) naming the scheme."""
    done = run_cli("--cache", "nosuch://host/x", "ls", cwd=tmp_path)
    assert done.returncode == 2
    assert "unknown cache URL scheme 'nosuch'" in done.stderr
    assert "Traceback" not in done.stderr
