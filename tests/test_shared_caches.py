"""Team caches through the decorator: choosing one by URL, sharing between processes, failures.

Each sharing test runs real scripts in fresh processes against the real servers of
``tests/servers.py``: what one process computes is a hit in the next.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from checkpointing import CheckpointingWarning, PickleFileCache, checkpoint
from checkpointing.cache import StoreCache
from checkpointing.store.urls import open_cache
from tests.scriptcase import REPO_ROOT
from tests.servers import S3Server, free_port


def run_script(source: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run ``source`` in a fresh interpreter in ``cwd``; return stdout, failing on any stderr."""
    environment = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source)],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    return done.stdout


SHARED_SCRIPT = """
    import sys
    from checkpointing import checkpoint

    @checkpoint(cache=sys.argv[-1] if len(sys.argv) > 1 else None)
    def total(n):
        print("computing", n)
        return sum(range(n))

    print(total(10), total(20))
"""


@pytest.fixture(params=["redis", "s3"])
def shared_url(request: pytest.FixtureRequest) -> str:
    """Return the URL of an empty shared cache of each kind (credentials in the environment)."""
    if request.param == "redis":
        return str(request.getfixturevalue("redis_cache_url"))
    return str(request.getfixturevalue("s3_url"))


def test_cache_url_computed_once_then_hit_in_another_process(shared_url: str, tmp_path) -> None:
    """A result computed by one process through a cache URL is a hit in the next process."""
    script = SHARED_SCRIPT.replace("sys.argv[-1] if len(sys.argv) > 1 else None", repr(shared_url))
    first = run_script(script, tmp_path)
    assert first == "computing 10\ncomputing 20\n45 190\n"
    (tmp_path / "elsewhere").mkdir()
    second = run_script(script, tmp_path / "elsewhere")  # another directory: nothing local
    assert second == "45 190\n"
    assert not (tmp_path / ".checkpointing").exists()


def test_environment_variable_sets_the_default_cache(shared_url: str, tmp_path) -> None:
    """CHECKPOINTING_CACHE gives every decorator that names no cache the shared cache."""
    script = SHARED_SCRIPT.replace("sys.argv[-1] if len(sys.argv) > 1 else None", "None")
    env = {"CHECKPOINTING_CACHE": shared_url}
    assert run_script(script, tmp_path, env) == "computing 10\ncomputing 20\n45 190\n"
    assert run_script(script, tmp_path, env) == "45 190\n"
    assert not (tmp_path / ".checkpointing").exists()
    entries = open_cache(shared_url).entries()
    assert sorted(e.arguments for e in entries) == ["n=10", "n=20"]


def test_url_kinds(tmp_path, s3_url: str, redis_cache_url: str) -> None:
    """Paths and file:// are local directories; s3://, memory:// and redis:// are shared stores."""
    assert isinstance(open_cache(str(tmp_path / "a")), PickleFileCache)
    local = open_cache((tmp_path / "b").as_uri())
    assert isinstance(local, PickleFileCache)
    assert str(local.directory) == str(tmp_path / "b")
    for url, label in ((s3_url, "S3"), ("memory://team", "memory"), (redis_cache_url, "Redis")):
        cache = open_cache(url)
        assert isinstance(cache, StoreCache)
        assert cache.label == label
    with pytest.raises(ValueError, match="unknown cache URL scheme 'nosuch'"):
        open_cache("nosuch://x/y")
    with pytest.raises(ValueError, match="needs gcsfs"):
        open_cache("gs://bucket/prefix")


def test_large_array_through_object_storage(s3_url: str) -> None:
    """A 40 MB array stored on S3 comes back equal, as a writable array."""

    @checkpoint(cache=s3_url)
    def make(n: int) -> np.ndarray:
        return np.arange(n, dtype=np.float64)

    first = make(5_000_000)
    again = make(5_000_000)
    assert again is not first
    np.testing.assert_array_equal(again, first)
    again[0] = 1.0  # a loaded array is the caller's to modify


def test_unreachable_cache_is_one_warning_and_the_value() -> None:
    """With the server down, each call returns its value with exactly one warning."""
    port = free_port()
    calls = []

    @checkpoint(cache=f"redis://:sekrit-pass-42@127.0.0.1:{port}/0")
    def double(x: int) -> int:
        calls.append(x)
        return 2 * x

    for _ in range(2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert double(21) == 42
        assert len(caught) == 1, [str(w.message) for w in caught]
        assert issubclass(caught[0].category, CheckpointingWarning)
        assert "sekrit-pass-42" not in str(caught[0].message)
        assert f"127.0.0.1:{port}" in str(caught[0].message)
    assert calls == [21, 21]


def test_redis_entries_are_inspectable(redis_cache_url: str) -> None:
    """Entries in Redis list their function, arguments and size without loading results."""

    @checkpoint(cache=redis_cache_url)
    def square(x: int) -> list[int]:
        return [x * x] * 1000

    square(3)
    (entry,) = square.cache.entries()
    assert entry.function.endswith("square")
    assert entry.arguments == "x=3"
    assert entry.size > 1000
    assert square.cache.delete(entry.context_id)
    assert square.cache.entries() == []


def test_too_large_for_redis_warns_with_advice_and_returns(redis_cache_url: str) -> None:
    """A result over the Redis size limit is returned, with one warning that says what to use."""

    @checkpoint(cache=redis_cache_url + "&max_entry_size=100000")
    def big() -> bytes:
        return b"x" * 200_000

    with pytest.warns(CheckpointingWarning, match=r"max_entry_size.*object-storage cache"):
        assert big() == b"x" * 200_000


def test_s3_credentials_from_storage_options(s3_server: S3Server) -> None:
    """storage_options= reaches S3 without any AWS variable, and never shows the secret."""
    url = f"s3://{s3_server.bucket}/options"
    cache = open_cache(url, storage_options=s3_server.storage_options())

    @checkpoint(cache=cache)
    def one() -> int:
        return 1

    assert one() == 1
    assert [e.arguments for e in cache.entries()] == [""]
    assert s3_server.secret not in repr(cache) + cache.location + cache.identity
