"""Shared fixtures: where the KFP corpus lives, the golden-file switch, a real S3
server (MinIO).

The project's own tests stand alone. Tests over the KFP corpus (KFP's own test data) run when
it is present (`KFP_CORPUS`, `../shared/kfp-corpus` beside the checkout as in CI, or
`.cache/kfp-corpus` from `make corpus`); otherwise they are reported as skipped under one line
saying how to get it. CI sets `KFP_CORPUS_REQUIRED=1`, so a missing corpus fails there.
"""
from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "golden"
UPDATE_GOLDEN = os.environ.get("KFP_TRANSLATE_UPDATE_GOLDEN") == "1"


def _find_corpus() -> Path:
    if os.environ.get("KFP_CORPUS"):
        return Path(os.environ["KFP_CORPUS"])
    candidates = [REPO.parent / "shared" / "kfp-corpus", REPO / ".cache" / "kfp-corpus"]
    return next((c for c in candidates if (c / "ir").is_dir()), candidates[0])


CORPUS = _find_corpus()
HAVE_CORPUS = (CORPUS / "ir").is_dir()
CORPUS_MISSING = (f"KFP corpus not found at {CORPUS}: corpus tests skipped; `make corpus` fetches KFP's "
                  "test data at a pinned tag (needs github.com), or set KFP_CORPUS=DIR")
requires_corpus = pytest.mark.requires_corpus


def corpus_files(kind: str = "valid") -> list[Path]:
    root = CORPUS / "ir" / kind
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file())


def corpus_params(values: list, arity: int = 1) -> list:
    """Parameters of a test over the corpus; without the corpus, one placeholder that is skipped."""
    if HAVE_CORPUS:
        return values
    placeholder = (None,) * arity
    return [pytest.param(*placeholder, marks=requires_corpus, id="no-corpus")]


@pytest.fixture(scope="session")
def corpus() -> Path:
    return CORPUS  # tests using it are skipped without the corpus (pytest_collection_modifyitems)


def pytest_configure(config):
    config.addinivalue_line("markers", "requires_corpus: needs the KFP corpus (skipped without it)")


# The longest test files (minutes each), started first so parallel workers (`make test`, pytest-xdist
# with one file per worker) do not end waiting on one of them; the rest keep their order.
LONGEST_FIRST = ("test_runner_seed.py", "test_scale.py", "test_differential.py", "test_run_control.py",
                 "test_robustness.py", "test_podshim.py", "test_compat.py", "test_tekton_run.py",
                 "test_report.py", "test_first_use.py", "test_runner_cli.py", "test_tektonlint.py")


def _file_rank(item) -> int:
    name = item.path.name
    return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)


def pytest_collection_modifyitems(config, items):
    items.sort(key=_file_rank)  # stable: the order within a file is kept
    if HAVE_CORPUS:
        return
    needing = [i for i in items if i.get_closest_marker("requires_corpus") or "corpus" in getattr(i, "fixturenames", ())]
    if needing and os.environ.get("KFP_CORPUS_REQUIRED") == "1":
        raise pytest.UsageError(f"KFP_CORPUS_REQUIRED=1 but the KFP corpus is missing at {CORPUS}")
    for item in needing:
        item.add_marker(pytest.mark.skip(reason=CORPUS_MISSING))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Report every corpus skip at one place, so `-ra` prints one line for all of them."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and isinstance(report.longrepr, tuple) and str(report.longrepr[2]).endswith(CORPUS_MISSING):
        report.longrepr = (str(Path(__file__)), None, report.longrepr[2])


@dataclass(frozen=True)
class S3Server:
    """A real S3 server (MinIO) on loopback: where it listens and its root credentials."""

    endpoint: str  # http://127.0.0.1:PORT
    access_key: str
    secret_key: str

    @property
    def address(self) -> str:  # host:port, as an Argo S3 artifact's `endpoint`
        return self.endpoint.split("://", 1)[1]

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name="us-east-1")

    def store(self, bucket: str, **kw):
        from translator.runner.store import S3Store

        return S3Store(self.endpoint, bucket, self.access_key, self.secret_key, **kw)


def minio_binary() -> Path:
    """`<e2e cache>/bin/minio`, or the versioned build the e2e set-up caches (`bin/minio-<version>`)."""
    cache = Path(os.environ.get("KFPT_E2E_CACHE") or Path.home() / ".cache" / "kfp-translate" / "e2e")
    plain = cache / "bin" / "minio"
    if plain.exists():
        return plain
    built = sorted((p for p in cache.glob("bin/minio-*") if p.is_file() and not p.name.endswith(".partial")),
                   key=lambda p: p.stat().st_mtime)
    return built[-1] if built else plain


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def minio(tmp_path_factory) -> S3Server:
    """MinIO started on a free loopback port with a temp data dir, stopped after the session.
    Without the binary the S3 tests skip with one line, unless KFPT_REQUIRE_S3=1 (CI): then fail."""
    binary = minio_binary()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        reason = f"S3 tests need the MinIO server at {binary} (built by the e2e set-up; set KFPT_E2E_CACHE)"
        if os.environ.get("KFPT_REQUIRE_S3") == "1":
            pytest.fail(reason + " and KFPT_REQUIRE_S3=1")
        pytest.skip(reason)
    data = tmp_path_factory.mktemp("minio-data")
    server = S3Server("", "kfpt-test", "kfpt-test-secret")
    env = dict(os.environ, MINIO_ROOT_USER=server.access_key, MINIO_ROOT_PASSWORD=server.secret_key,
               MINIO_BROWSER="off")
    log = open(data.parent / f"{data.name}.log", "wb")
    for _attempt in range(3):  # a free port can be taken between choosing and binding it
        port = _free_port()
        proc = subprocess.Popen([str(binary), "server", str(data), "--address", f"127.0.0.1:{port}", "--quiet"],
                                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/minio/health/live", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        if proc.poll() is None and time.time() < deadline:
            break
        proc.kill()
        proc.wait()
    else:
        pytest.fail(f"MinIO did not start: {(data.parent / f'{data.name}.log').read_text(errors='replace')[-400:]}")
    try:
        yield S3Server(f"http://127.0.0.1:{port}", server.access_key, server.secret_key)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
