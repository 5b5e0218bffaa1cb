"""e2e fixtures: the cluster (the single-machine one, or any in KUBECONFIG) and translation helpers.

A missing cluster is an error, not a skip: `make e2e` starts one first."""
from __future__ import annotations

import http.server
import random
import threading
from pathlib import Path

import pytest

import translator
from e2e.harness import Cluster

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    try:
        return Cluster.connect()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def argo(cluster):
    """Translate a pipeline for Argo, ready to submit to the cluster's namespace."""
    def make(source, **options):
        options.setdefault("namespace", cluster.namespace)
        [workflow] = translator.translate(source, backend="argo", **options)
        return workflow
    return make


@pytest.fixture(scope="session")
def data_server():
    """A loopback HTTP server for input data: pods on this node share the host's network."""
    root = Path(__import__("tempfile").mkdtemp(prefix="kfpt-e2e-www-"))
    rng = random.Random(7)
    rows = ["f0,f1,f2,f3,target"]
    for _ in range(400):
        f = [round(rng.gauss(0, 1), 4) for _ in range(4)]
        rows.append(",".join(map(str, f + [int(f[0] + 0.5 * f[1] + rng.gauss(0, 0.3) > 0)])))
    (root / "data.csv").write_text("\n".join(rows) + "\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
