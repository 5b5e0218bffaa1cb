"""Shared fixtures: where the KFP corpus lives, and the golden-file switch."""
from __future__ import annotations

import os
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


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3-compatible server (moto's) on loopback for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
