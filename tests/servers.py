"""Real servers on 127.0.0.1 for the shared-cache tests, started and stopped by fixtures.

Nothing here is mocked: ``redis-server`` is Debian's binary (``.ci/run`` installs it), the
S3 API is moto's standalone server reached by s3fs over HTTP exactly as a real bucket, and
the dask cluster is a ``LocalCluster`` of worker processes. Each server gets a free port,
runs in its own process and is stopped when the test session ends.

Servers start on first use and stop when the test process exits; besides the fixtures,
``session_redis_url()`` and ``session_s3_server()`` reach them from plain functions (the
contract suites' factory tables). Fixtures (session-scoped unless noted):
    ``redis_url``   ``redis://127.0.0.1:PORT/0`` of a running server; flushed per test by
                    ``redis_cache_url`` (function-scoped), which returns a URL with a fresh
                    key prefix so tests never see each other's entries.
    ``s3_server``   an :class:`S3Server` with its endpoint and credentials; ``s3_url``
                    (function-scoped) is ``s3://BUCKET/PREFIX`` with a fresh prefix, and sets
                    the AWS variables (``AWS_ENDPOINT_URL``...) the way a user would.
    ``dask_client`` a ``distributed.Client`` on a ``LocalCluster`` of 2 process workers.
"""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

__all__ = ["S3Server", "free_port", "start_redis", "start_s3", "stop_server"]

_START_TIMEOUT = 60.0


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    """Wait until ``port`` accepts connections, failing if ``process`` exits first."""
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode} while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{what} did not listen on port {port} within {_START_TIMEOUT} s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Stop a server process started here, killing it if it does not exit in time."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def start_redis(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start Debian's redis-server on a free port; return the process and its URL."""
    binary = shutil.which("redis-server")
    if binary is None:  # a missing install is a failure, never a skip (see .ci/run)
        raise RuntimeError("redis-server is not installed: apt-get install redis-server")
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(directory)]
    # KEYS is disabled, as many production servers do: listing must use SCAN.
    command += ["--rename-command", "KEYS", ""]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for_port(port, process, "redis-server")
    return process, f"redis://127.0.0.1:{port}/0"


@dataclass(frozen=True)
class S3Server:
    """A running S3 API server: where it listens and the credentials it accepts."""

    endpoint: str
    key: str
    secret: str
    bucket: str

    def storage_options(self) -> dict[str, Any]:
        """Return the fsspec options that reach this server, as a user would pass them."""
        return {"endpoint_url": self.endpoint, "key": self.key, "secret": self.secret}

    def environment(self) -> dict[str, str]:
        """Return the standard AWS variables that reach this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.key,
            "AWS_SECRET_ACCESS_KEY": self.secret,
            "AWS_DEFAULT_REGION": "us-east-1",
        }


def start_s3() -> tuple[subprocess.Popen[bytes], S3Server]:
    """Start moto's S3 server on a free port and create a bucket; return process and server."""
    port = free_port()
    binary = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for_port(port, process, "moto_server")
    server = S3Server(
        endpoint=f"http://127.0.0.1:{port}",
        key="test-key-id",
        secret="test-secret-never-printed",
        bucket="team-cache",
    )
    import s3fs

    s3fs.S3FileSystem(skip_instance_cache=True, **server.storage_options()).mkdir(server.bucket)
    return process, server


class _Running:
    """The servers of this test process, started on first use and stopped at exit.

    Plain functions (not only fixtures) reach them, so the contract suites' factory
    tables can build stores on them.
    """

    redis: str | None = None
    s3: S3Server | None = None
    processes: ClassVar[list[subprocess.Popen[bytes]]] = []

    @classmethod
    def stop_all(cls) -> None:
        for process in cls.processes:
            stop_server(process)
        cls.processes.clear()


atexit.register(_Running.stop_all)


def session_redis_url() -> str:
    """Return the URL of this process's redis-server, starting it on first use."""
    if _Running.redis is None:
        process, _Running.redis = start_redis(Path(tempfile.mkdtemp(prefix="redis-")))
        _Running.processes.append(process)
    return _Running.redis


def session_s3_server() -> S3Server:
    """Return this process's S3 server, starting it on first use."""
    if _Running.s3 is None:
        process, _Running.s3 = start_s3()
        _Running.processes.append(process)
    return _Running.s3


def fresh_prefix() -> str:
    """Return a new key prefix, so tests sharing a server never see each other's entries."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Return the URL of a redis-server started for this test session."""
    return session_redis_url()


@pytest.fixture
def redis_cache_url(redis_url: str) -> str:
    """Return a Redis cache URL with a key prefix of its own for this test."""
    return f"{redis_url}?prefix={fresh_prefix()}"


@pytest.fixture(scope="session")
def s3_server() -> S3Server:
    """Return a moto S3 server started for this test session, with one bucket."""
    return session_s3_server()


@pytest.fixture
def s3_url(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """Return ``s3://bucket/prefix`` (fresh prefix) with the AWS variables set to reach it."""
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    return f"s3://{s3_server.bucket}/{fresh_prefix()}"


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    """Return a dask Client on a LocalCluster of two single-threaded worker processes."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
        silence_logs=40,
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
