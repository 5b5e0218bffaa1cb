"""Shared fixtures: where the KFP corpus lives, the golden-file switch, a real S3 server (MinIO)."""
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
CORPUS = Path(os.environ.get("KFP_CORPUS", REPO.parent / "shared" / "kfp-corpus"))
GOLDEN = REPO / "tests" / "golden"
UPDATE_GOLDEN = os.environ.get("KFP_TRANSLATE_UPDATE_GOLDEN") == "1"


def corpus_files(kind: str = "valid") -> list[Path]:
    root = CORPUS / "ir" / kind
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "ir").is_dir():
        pytest.fail(f"the KFP corpus is missing at {CORPUS} (set KFP_CORPUS)")
    return CORPUS


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
