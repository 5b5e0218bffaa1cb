"""Every corpus pipeline and every example against its checked-in Tekton manifest.

The Tekton twin of test_golden.py: `make golden` regenerates both; a pipeline the Tekton
backend refuses has a `.error` golden holding the exact one-line message.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import translator
from translator.cli import dump_yaml

from .conftest import CORPUS, GOLDEN, REPO, UPDATE_GOLDEN, corpus_files

TEKTON = GOLDEN / "tekton"
EXAMPLES = sorted((REPO / "examples").glob("*.py"))
CASES = [(p, TEKTON / "corpus" / p.relative_to(CORPUS / "ir")) for p in corpus_files("valid")]
CASES += [(p, TEKTON / "corpus" / p.relative_to(CORPUS / "ir")) for p in corpus_files("argo_compatibility")]
CASES += [(p, TEKTON / "examples" / (p.stem + ".yaml")) for p in EXAMPLES]


def render(source: Path) -> tuple[str, str]:
    try:
        return "yaml", dump_yaml(translator.translate(str(source), backend="tekton"))
    except translator.TranslateError as exc:
        return "error", str(exc).replace(str(source), source.name) + "\n"


@pytest.mark.parametrize("source,golden", CASES, ids=[str(g.relative_to(TEKTON)) for _, g in CASES])
def test_tekton_golden(source: Path, golden: Path):
    kind, text = render(source)
    target = golden if kind == "yaml" else golden.with_suffix(".error")
    other = golden.with_suffix(".error") if kind == "yaml" else golden
    if UPDATE_GOLDEN:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        if other.exists():
            other.unlink()
        return
    assert not other.exists(), f"{other} is stale: run `make golden`"
    assert target.exists(), f"no Tekton golden for {source.name} ({kind}): run `make golden` and review"
    assert text == target.read_text(), f"{source.name} changed on Tekton: run `make golden` and review the diff"


def test_every_example_translates_to_tekton():
    for source in EXAMPLES:
        assert render(source)[0] == "yaml", render(source)[1]


def test_tekton_output_is_deterministic_across_hash_seeds():
    import os
    import subprocess
    import sys

    source = next(p for p, _ in CASES if p.name == "ml_training_pipeline.py")
    outs = {subprocess.run([sys.executable, "-m", "translator.cli", "--backend", "tekton", str(source)],
                           capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": seed},
                           check=True).stdout for seed in ("1", "2")}
    assert len(outs) == 1
