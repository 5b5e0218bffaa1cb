"""Every corpus pipeline and every example against its checked-in manifest.

Regenerate after an intended change with `make golden` and review the diff. A pipeline we cannot
translate yet has a `.error` golden holding the exact one-line message, so both what we emit and
what we refuse are pinned.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import translator
from translator.cli import dump_yaml

from .conftest import CORPUS, GOLDEN, REPO, UPDATE_GOLDEN, corpus_files, corpus_params

EXAMPLES = sorted((REPO / "examples").glob("*.py"))
CORPUS_CASES = [(p, GOLDEN / "corpus" / p.relative_to(CORPUS / "ir")) for p in corpus_files("valid")]
CORPUS_CASES += [(p, GOLDEN / "corpus" / p.relative_to(CORPUS / "ir")) for p in corpus_files("argo_compatibility")]
EXAMPLE_CASES = [(p, GOLDEN / "examples" / (p.stem + ".yaml")) for p in EXAMPLES]
CASES = CORPUS_CASES + EXAMPLE_CASES


def _render(source: Path) -> tuple[str, str]:
    try:
        return "yaml", dump_yaml(translator.translate(str(source), backend="argo"))
    except translator.TranslateError as exc:
        message = str(exc).replace(str(source), source.name)
        return "error", message + "\n"


def test_corpus_is_present(corpus):
    assert len(corpus_files("valid")) >= 140


def _golden_params(cases: list) -> list:
    return [pytest.param(s, g, id=str(g.relative_to(GOLDEN))) for s, g in cases]


@pytest.mark.parametrize("source,golden", corpus_params(_golden_params(CORPUS_CASES), 2) + _golden_params(EXAMPLE_CASES))
def test_golden(source: Path, golden: Path):
    kind, text = _render(source)
    target = golden if kind == "yaml" else golden.with_suffix(".error")
    other = golden.with_suffix(".error") if kind == "yaml" else golden
    if UPDATE_GOLDEN:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        if other.exists():
            other.unlink()
        return
    assert not other.exists(), f"{other} is stale: run `make golden`"
    assert target.exists(), f"no golden for {source.name} ({kind}): run `make golden` and review"
    assert text == target.read_text(), f"{source.name} changed: run `make golden` and review the diff"


def test_output_is_deterministic():
    source = next(p for p, _ in EXAMPLE_CASES if p.name == "ml_training_pipeline.py")
    assert _render(source) == _render(source)
