"""e2e fixtures: the cluster (the single-machine one, or any in KUBECONFIG), the loopback data
server, and the session's batch: every case of `cases.py` translated once, submitted to Argo
(several at a time) and run through `translate run` side by side, before any test looks at them.

A missing cluster is an error, not a skip: `make e2e` starts one first."""
from __future__ import annotations

import contextlib
import http.server
import os
import tempfile
import threading
import uuid
from pathlib import Path

import pytest

import translator
from e2e.harness import Cluster
from tests.seed_data import write_seed_csv

from .batch import Batch

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def cluster(request, tmp_path_factory):
    """The single-machine cluster, the one in KUBECONFIG, or (KFPT_E2E_KIND=1) a kind cluster made
    by pytest-kind with the released engines installed (e2e/kind.py)."""
    with contextlib.ExitStack() as stack:
        if os.environ.get("KFPT_E2E_KIND") == "1":
            from e2e.kind import kind_environment

            kind = request.getfixturevalue("kind_cluster")  # pytest-kind: creates it, deletes it after
            stack.enter_context(kind_environment(kind, tmp_path_factory.mktemp("kind")))
        try:
            found = Cluster.connect()
        except RuntimeError as exc:
            pytest.fail(str(exc), pytrace=False)
        yield found


@pytest.fixture(scope="session")
def argo(cluster):
    """Translate a pipeline for Argo, ready to submit to the cluster's namespace."""
    def make(source, **options):
        options.setdefault("namespace", cluster.namespace)
        [workflow] = translator.translate(source, backend="argo", **options)
        return workflow
    return make


class _DataServer:
    """Files for pipelines to download, and `/count/<key>`: a counter per key (1, 2, ...), the
    state a retried step needs (pods share no files)."""

    def __init__(self, root: Path):
        self.root = root
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()

    def handler(self):
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(server.root), **kwargs)

            def do_GET(self):  # noqa: N802 - the http.server API
                if not self.path.startswith("/count/"):
                    return super().do_GET()
                with server.lock:
                    server.counts[self.path] = n = server.counts.get(self.path, 0) + 1
                body = str(n).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass
        return Handler


@pytest.fixture(scope="session")
def data_server():
    """An HTTP server on this machine for input data. Pods reach it on loopback where they share the
    host's network (the single-machine cluster); elsewhere KFPT_E2E_DATA_HOST names this machine's
    address as pods see it (on kind: the gateway of Docker's `kind` network) and the server listens
    on all interfaces; KFPT_E2E_HOST_NETWORK=0 skips the cases that need it."""
    if os.environ.get("KFPT_E2E_HOST_NETWORK", "1") == "0":
        pytest.skip("pods do not share this host's network (KFPT_E2E_HOST_NETWORK=0): no loopback data server")
    root = Path(tempfile.mkdtemp(prefix="kfpt-e2e-www-"))
    write_seed_csv(root / "data.csv")
    (root / "small.csv").write_text("a,b\n1,2\n")
    state = _DataServer(root)
    host = os.environ.get("KFPT_E2E_DATA_HOST")
    server = http.server.ThreadingHTTPServer(("0.0.0.0" if host else "127.0.0.1", 0), state.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://{host or '127.0.0.1'}:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def corpus_dir() -> Path | None:
    from tests.conftest import CORPUS

    return CORPUS if (CORPUS / "ir").is_dir() else None


@pytest.fixture(scope="session")
def session_id() -> str:
    return uuid.uuid4().hex[:5]


@pytest.fixture(scope="session")
def batch(cluster, data_server, corpus_dir, session_id, tmp_path_factory):
    """Every case, on Argo and through the runner, started once for the whole session."""
    b = Batch(cluster, data_server, corpus_dir, session_id, tmp_path_factory.mktemp("batch"))
    b.start()
    yield b
    b.close()
