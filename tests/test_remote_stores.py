"""Object-storage and Redis stores against real servers: publishing, limits, secrets, failures.

The general store contract (put, get, list, delete...) runs against these stores in
``tests/test_store_contract.py``; this module checks what is particular to shared storage.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest

from checkpointing.exceptions import StorageError
from checkpointing.store.base import Store
from checkpointing.store.directory import DirectoryStore
from checkpointing.store.fsspec import FsspecStore
from checkpointing.store.locks import DirectoryLeases, LeaseFile
from checkpointing.store.redis import RedisStore
from checkpointing.store.tiered import TieredStore
from tests.scriptcase import REPO_ROOT
from tests.servers import S3Server, free_port


def make_remote(request: pytest.FixtureRequest, kind: str) -> Store:
    """Return an empty store of ``kind`` (redis, s3, memory), on its real server."""
    if kind == "redis":
        return RedisStore(request.getfixturevalue("redis_cache_url"))
    if kind == "s3":
        server: S3Server = request.getfixturevalue("s3_server")
        url = f"s3://{server.bucket}/t{uuid.uuid4().hex[:12]}"
        return FsspecStore(url, server.storage_options())
    return FsspecStore(f"memory://t{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["redis", "s3", "memory"])
def remote(request: pytest.FixtureRequest) -> Store:
    """Return an empty store of each remote kind, on its real server."""
    return make_remote(request, request.param)


@pytest.fixture(params=["redis", "s3"])
def networked(request: pytest.FixtureRequest) -> Store:
    """Return an empty store of each kind reached over the network."""
    return make_remote(request, request.param)


def read_all(store: Store, key: str) -> bytes | None:
    """Return the whole entry ``key`` of ``store``, or ``None``."""
    reader = store.get(key)
    if reader is None:
        return None
    with reader:
        data = bytearray(reader.size())
        reader.read_into(memoryview(data), 0)
    return bytes(data)


def test_large_entry_round_trip_in_parts(remote: Store) -> None:
    """An entry of several parts, larger than one read, comes back byte for byte."""
    big = os.urandom(3 << 20) * 7  # 21 MiB: several ranged reads / pieces
    remote.put("big", [b"head", memoryview(big), b"tail"])
    assert read_all(remote, "big") == b"head" + big + b"tail"
    reader = remote.get("big")
    assert reader is not None
    with reader:
        middle = bytearray(10)
        reader.read_into(memoryview(middle), 4 + (20 << 20))
        assert bytes(middle) == big[20 << 20 : (20 << 20) + 10]
        with pytest.raises(EOFError):
            reader.read_into(memoryview(bytearray(10)), reader.size() - 5)


def test_reader_never_sees_a_partial_entry(remote: Store) -> None:
    """While one writer replaces a large entry over and over, every read is one whole version."""
    size = 9 << 20
    versions = [bytes([n]) * size for n in (1, 2)]
    remote.put("k", [versions[0]])
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            remote.put("k", [versions[n % 2][: size // 2], versions[n % 2][size // 2 :]])

    writer = threading.Thread(target=write)
    writer.start()
    try:
        whole = replaced = 0
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                data = read_all(remote, "k")
            except StorageError as exc:  # the reader noticed the change: a miss, never a mix
                replaced += "replaced while being read" in str(exc)
                continue
            assert data in versions, "a read mixed two versions or saw a partial entry"
            whole += 1
        assert whole > 0
    finally:
        stop.set()
        writer.join()


def test_redis_refuses_an_entry_over_its_limit_with_advice(redis_cache_url: str) -> None:
    """A too-large entry raises StorageError saying to use object storage; nothing is stored."""
    store = RedisStore(redis_cache_url + "&max_entry_size=1000000")
    with pytest.raises(StorageError, match=r"over max_entry_size.*object-storage cache \(s3://"):
        store.put("k", [b"x" * 600_000, b"y" * 600_000])
    assert store.get("k") is None
    store.put("k", [b"x" * 999_999])
    assert list(store.list()) == ["k"]


def test_redis_lists_with_scan_on_a_server_without_keys(redis_cache_url: str) -> None:
    """Listing works on a server where KEYS is disabled, and only sees its own prefix."""
    store = RedisStore(redis_cache_url)
    other = RedisStore(redis_cache_url + "x")
    for n in range(2500):  # several SCAN pages
        store.client.set(f"{store.prefix}:entry:k{n}", b"v")
    other.put("foreign", [b"v"])
    keys = list(store.list())
    assert len(keys) == 2500
    assert set(keys) == {f"k{n}" for n in range(2500)}
    with pytest.raises(Exception, match="unknown command"):
        store.client.keys("*")


def test_secrets_never_shown(s3_server: S3Server, redis_url: str) -> None:
    """Credentials given in options or URLs appear in no repr, location, identity or error."""
    secret = s3_server.secret
    s3 = FsspecStore(f"s3://{s3_server.bucket}/p", s3_server.storage_options())
    bad = FsspecStore(
        "s3://no-such-bucket-here/p",
        {**s3_server.storage_options(), "secret": "wrong-secret-value-123"},
    )
    host_port = redis_url.split("//")[1].split("/")[0]
    redis = RedisStore(f"redis://user:pass-w0rd-xyz@{host_port}/0")
    texts = [t for s in (s3, bad, redis) for t in (repr(s), s.location, s.identity, s.label)]
    for store in (bad, redis):
        with pytest.raises(StorageError) as failure:
            store.put("k", [b"v"])
        texts.append(str(failure.value))
    joined = "\n".join(texts)
    for value in (secret, "wrong-secret-value-123", "pass-w0rd-xyz", s3_server.key):
        assert value not in joined
    assert "no-such-bucket-here" in joined  # the errors still say what went wrong


@pytest.mark.parametrize("kind", ["redis", "s3"])
def test_unreachable_server_is_a_miss_and_a_failed_write(kind: str) -> None:
    """With nothing listening, a read is a miss and a write raises StorageError, within seconds."""
    port = free_port()
    store: Store
    if kind == "redis":
        store = RedisStore(f"redis://127.0.0.1:{port}/0")
    else:
        options = {"endpoint_url": f"http://127.0.0.1:{port}", "key": "k", "secret": "s"}
        store = FsspecStore("s3://bucket/prefix", options)
    start = time.monotonic()
    assert store.get("k") is None
    with pytest.raises(StorageError, match="cannot write"):
        store.put("k", [b"v"])
    assert time.monotonic() - start < 30


def test_stores_pickle_to_another_process(networked: Store) -> None:
    """A store sent to another process (as dask does) reaches the same entries."""
    networked.put("k", [b"from the parent"])
    script = textwrap.dedent(
        """
        import pickle, sys
        store = pickle.loads(sys.stdin.buffer.read())
        reader = store.get("k")
        data = bytearray(reader.size())
        reader.read_into(memoryview(data), 0)
        store.put("back", [bytes(data) + b" and back"])
        print(store.identity)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=pickle.dumps(networked),
        capture_output=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        timeout=60,
    )
    assert done.stdout.decode().strip() == networked.identity
    assert read_all(networked, "back") == b"from the parent and back"


def test_local_copy_serves_the_second_hit(tmp_path, s3_server: S3Server) -> None:
    """After one read through, the entry is served by the local copy (the shared one can go)."""
    shared = FsspecStore(f"s3://{s3_server.bucket}/tier", s3_server.storage_options())
    tiered = TieredStore(DirectoryStore(tmp_path / "local"), shared)
    shared.put("k", [b"CKPT computed elsewhere"])
    assert read_all(tiered, "k") == b"CKPT computed elsewhere"
    shared.delete("k")
    assert read_all(tiered, "k") == b"CKPT computed elsewhere"
    tiered.put("j", [b"CKPT written here"])
    assert read_all(shared, "j") == b"CKPT written here"
    assert tiered.identity == shared.identity
    assert sorted(tiered.list()) == ["j"]


def test_lock_is_exclusive_and_expires(remote: Store) -> None:
    """One caller holds a key's lock; others fail to take it until it expires or is released."""
    first, second = remote.lock("k", 1.0), remote.lock("k", 1.0)
    assert first is not None
    assert second is not None
    assert first.acquire()
    assert not second.acquire()
    assert first.refresh()
    time.sleep(1.3)  # first stops refreshing, as a dead holder would
    assert second.acquire()
    assert not first.refresh()  # the lost lock is reported as lost
    first.release()  # releasing a lost lock leaves the new holder alone
    third = remote.lock("k", 1.0)
    assert third is not None
    assert not third.acquire()
    second.release()
    assert third.acquire()
    third.release()


def test_lock_of_a_killed_local_process_is_taken_over_at_once(tmp_path) -> None:
    """A lock file whose holder process died is stale without waiting for its expiry."""
    script = textwrap.dedent(
        f"""
        import time
        from checkpointing.store.locks import DirectoryLeases, LeaseFile
        lock = LeaseFile(DirectoryLeases({str(tmp_path)!r}), "k.lock", 3600)
        assert lock.acquire()
        print("held", flush=True)
        time.sleep(600)
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == b"held"
        waiter = LeaseFile(DirectoryLeases(str(tmp_path)), "k.lock", 3600)
        assert not waiter.acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        assert waiter.acquire()
        waiter.release()
        assert not (tmp_path / "k.lock").exists()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()
