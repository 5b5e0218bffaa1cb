"""Every golden manifest passes Argo's own offline lint (argolint, Argo v4's validate code).

Workflows whose pipelines have required parameters get a placeholder value in a copy, as
`argo submit -p` would give; everything else is linted exactly as checked in.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from translator import lint
from translator.cli import dump_yaml

from .conftest import GOLDEN
from .test_lint import argolint  # noqa: F401  (session fixture: builds the Go helper)


def _with_placeholders(doc: dict) -> dict:
    spec = doc["spec"]["workflowSpec"] if doc["kind"] == "CronWorkflow" else doc["spec"]
    for p in spec.get("arguments", {}).get("parameters", []):
        p.setdefault("value", "placeholder")
    return doc


def test_every_golden_manifest_passes_argo_lint(argolint, tmp_path: Path):  # noqa: F811
    goldens = sorted(p for p in GOLDEN.rglob("*.yaml") if p.relative_to(GOLDEN).parts[0] != "tekton")
    assert len(goldens) > 100
    copies = []
    for i, path in enumerate(goldens):
        docs = [_with_placeholders(d) for d in yaml.safe_load_all(path.read_text()) if d]
        copy = tmp_path / f"{i:03d}-{path.name}"
        copy.write_text(dump_yaml(docs))
        copies.append(copy)
    errors = lint.lint_files(copies, linter=argolint)
    names = {str(c): str(g.relative_to(GOLDEN)) for c, g in zip(copies, goldens)}
    assert [f"{names.get(e.file, e.file)}: {e.message}" for e in errors] == []


def _cli(*args: str, env: dict | None = None):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "translator.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def test_translate_lint_cli_reports_file_kind_and_name(argolint, tmp_path: Path):  # noqa: F811
    from .conftest import REPO

    env = {lint.ENV_VAR: str(argolint)}
    good = GOLDEN / "examples" / "ml_training_pipeline.yaml"
    copy = tmp_path / "good.yaml"
    copy.write_text(dump_yaml([_with_placeholders(d) for d in yaml.safe_load_all(good.read_text()) if d]))
    assert _cli("lint", str(copy), env=env).returncode == 0
    broken = REPO / "tests" / "broken_manifests" / "dag-cycle.yaml"
    proc = _cli("lint", str(broken), env=env)
    assert proc.returncode == 1 and str(broken) in proc.stdout and "cycle" in proc.stdout
    out = tmp_path / "wf.yaml"
    proc = _cli("--backend", "argo", str(REPO / "examples" / "ml_training_pipeline.py"), "--lint", "-o", str(out),
                "--kind", "WorkflowTemplate", "--name", "ml", env=env)
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(out.read_text())["kind"] == "WorkflowTemplate"
