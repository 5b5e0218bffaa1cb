"""Shared fixtures: where the KFP corpus lives, and the golden-file switch.

The project's own tests stand alone. Tests over the KFP corpus (KFP's own test data) run when
it is present (`KFP_CORPUS`, `../shared/kfp-corpus` beside the checkout as in CI, or
`.cache/kfp-corpus` from `make corpus`); otherwise they are reported as skipped under one line
saying how to get it. CI sets `KFP_CORPUS_REQUIRED=1`, so a missing corpus fails there.
"""
from __future__ import annotations

import os
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


def pytest_collection_modifyitems(config, items):
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


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3-compatible server (moto's) on loopback for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
