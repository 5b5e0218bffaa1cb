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

from .conftest import CORPUS, GOLDEN, REPO, UPDATE_GOLDEN, corpus_files

EXAMPLES = sorted((REPO / "examples").glob("*.py"))
CASES = [(p, GOLDEN / "corpus" / p.relative_to(CORPUS / "ir")) for p in corpus_files("valid")]
CASES += [(p, GOLDEN / "corpus" / p.relative_to(CORPUS / "ir")) for p in corpus_files("argo_compatibility")]
CASES += [(p, GOLDEN / "examples" / (p.stem + ".yaml")) for p in EXAMPLES]


def _render(source: Path) -> tuple[str, str]:
    try:
        return "yaml", dump_yaml(translator.translate(str(source), backend="argo"))
    except translator.TranslateError as exc:
        message = str(exc).replace(str(source), source.name)
        return "error", message + "\n"


def test_corpus_is_present(corpus):
    assert len(corpus_files("valid")) >= 140


@pytest.mark.parametrize("source,golden", CASES, ids=[str(g.relative_to(GOLDEN)) for _, g in CASES])
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
    source = next(p for p, _ in CASES if p.name == "hello_world.yaml")
    assert _render(source) == _render(source)
