"""dask.distributed: a checkpointed function mapped over process workers shares its cache.

The client script runs as ``__main__`` in its own interpreter, so dask ships the function
to the workers by value (cloudpickle), as it does from a notebook: the workers have no
source for it, and must still compute the keys the client computes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.scriptcase import REPO_ROOT

CLIENT_SCRIPT = """
import sys, time
from distributed import Client
from checkpointing import checkpoint

address, url, counter = sys.argv[1:4]

@checkpoint(cache=url)
def work(x):
    with open(counter, "a") as f:
        f.write(f"{x}\\n")
    time.sleep(0.3)
    return x * x

client = Client(address)
print(sorted(client.gather(client.map(work, [1, 2, 3, 1, 2, 3], pure=False))))
print(work(2), work(5))
print(client.gather(client.map(work, [5, 5], pure=False)))
client.close()
"""


@pytest.fixture(params=["directory", "redis"])
def cluster_cache(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return a cache URL reachable by the client and every worker process."""
    if request.param == "directory":
        return str(tmp_path / "cache")
    return str(request.getfixturevalue("redis_cache_url"))


@pytest.mark.slow
def test_workers_and_client_share_keys(
    dask_client: Any, cluster_cache: str, tmp_path: Path
) -> None:
    """Each key is computed once across workers; worker results hit in the client and back."""
    counter = tmp_path / "count"
    address = dask_client.scheduler.address
    # A file, so the client has the function's source and the workers do not.
    (tmp_path / "client.py").write_text(CLIENT_SCRIPT)
    done = subprocess.run(
        [sys.executable, "client.py", address, cluster_cache, str(counter)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[1, 1, 4, 4, 9, 9]", "4 25", "[25, 25]"]
    # 1, 2 and 3 once each on the workers (dedup across them), 5 once in the client.
    assert sorted(counter.read_text().split()) == ["1", "2", "3", "5"]
