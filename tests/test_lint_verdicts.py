"""`translate --lint` (documents piped to argolint as JSON) and `translate lint FILE` (the YAML we
write) give the same verdict on the same manifest, over the whole corpus in one argolint run
each. (Raw U+FFFF, our ABSENT value, once made 32 of 74 verdicts "yaml: control characters are
not allowed" under --lint.)"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

import translator
from translator import lint
from translator.cli import dump_yaml

from .conftest import corpus_files, requires_corpus
from .test_lint import argolint  # noqa: F401  (session fixture: builds the Go helper)
from .test_robustness import cli


def _manifests() -> list[dict]:
    docs = []
    for i, path in enumerate(corpus_files("valid")):
        try:
            [wf] = translator.translate(str(path), name=f"corpus-{i:03d}")
        except translator.TranslateError:
            continue  # pinned by its .error golden
        for p in wf["spec"].get("arguments", {}).get("parameters", []):
            p.setdefault("value", "placeholder")
        docs.append(wf)
    return docs


@requires_corpus
def test_lint_verdicts_agree_over_the_corpus(argolint, tmp_path: Path):  # noqa: F811
    docs = _manifests()
    assert len(docs) >= 140
    absent = sum("\uffff" in json.dumps(d, ensure_ascii=False) for d in docs)
    assert absent >= 20  # the case that differed: optional parameters without a default
    piped = lint.lint_documents(docs, linter=argolint)
    files = []
    for doc in docs:
        path = tmp_path / f"{doc['metadata']['name']}.yaml"
        path.write_text(dump_yaml([doc]), encoding="utf-8")
        files.append(path)
    written = lint.lint_files(files, linter=argolint)
    by_doc = sorted((e.name, e.message) for e in piped)
    by_file = sorted((Path(e.file).stem, e.message) for e in written)
    assert by_doc == by_file
    assert by_doc == []


def test_cli_lint_and_translate_lint_agree_on_an_absent_default(argolint, tmp_path: Path):  # noqa: F811
    src = tmp_path / "opt.py"
    src.write_text("from typing import Optional\nfrom kfp import dsl\n\n"
                   "@dsl.component(base_image='python:3.11-slim')\ndef c(x: Optional[str] = None) -> str:\n    return str(x)\n\n"
                   "@dsl.pipeline(name='optional')\ndef p(x: Optional[str] = None):\n    c(x=x)\n")
    env = {lint.ENV_VAR: str(argolint)}
    out = tmp_path / "wf.yaml"
    piped = cli(str(src), "--lint", "-o", str(out), env=env)
    assert piped.returncode == 0, piped.stderr
    assert "\uffff" in json.dumps(yaml.safe_load(out.read_text(encoding="utf-8")), ensure_ascii=False)
    written = cli("lint", str(out), env=env)
    assert written.returncode == 0, written.stdout + written.stderr
