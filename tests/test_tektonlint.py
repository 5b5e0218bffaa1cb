"""Tekton's own validation (tools/tektonlint) and the engine-by-kind dispatch of translate lint.

The Go helper is built once per session from github.com/tektoncd/pipeline v1.15.0. Without Go
these tests skip, except under CI (env CI set), where a missing Go toolchain is a failure.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from translator import lint
from translator.cli import dump_yaml

from .conftest import CORPUS, GOLDEN, REPO

BROKEN = REPO / "tests" / "broken_manifests" / "tekton"
BROKEN_FILES = sorted(BROKEN.glob("*.yaml"))
TEKTON_GOLDENS = sorted((GOLDEN / "tekton").rglob("*.yaml"))
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@pytest.fixture(scope="session")
def tektonlint() -> Path:
    if os.environ.get(lint.TEKTON_ENV_VAR):
        found = lint.find_linter("tekton")
        assert found is not None
        return found
    try:
        return lint.build_linter("tekton")
    except lint.GoNotFoundError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"cannot build tools/tektonlint: {exc}")
        pytest.skip(f"cannot build tools/tektonlint: {exc}")


def _with_placeholders(doc: dict) -> dict:
    """Values for required pipeline parameters, as `tkn pipeline start -p` would give."""
    if doc.get("kind") != "PipelineRun" or "pipelineSpec" not in doc["spec"]:
        return doc
    given = {p["name"] for p in doc["spec"].get("params", [])}
    missing = [p["name"] for p in doc["spec"]["pipelineSpec"].get("params", [])
               if "default" not in p and p["name"] not in given]
    if missing:
        doc["spec"].setdefault("params", []).extend({"name": n, "value": "placeholder"} for n in missing)
    return doc


def _expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <message fragment>'"
    return first.removeprefix("# expect: ")


def test_every_tekton_golden_passes_tekton_validation(tektonlint: Path, tmp_path: Path):
    assert len(TEKTON_GOLDENS) > 90
    copies = []
    for i, path in enumerate(TEKTON_GOLDENS):
        docs = [d for d in yaml.load_all(path.read_text(), Loader=LOADER) if d]
        patched = [_with_placeholders(json.loads(json.dumps(d))) for d in docs]
        if patched == docs:
            copies.append(path)  # linted exactly as checked in
            continue
        copy = tmp_path / f"{i:03d}-{path.name}"
        copy.write_text("".join("---\n" + json.dumps(d) + "\n" for d in patched))
        copies.append(copy)
    errors = lint.lint_files(copies, linter=tektonlint)
    names = {str(c): str(g.relative_to(GOLDEN)) for c, g in zip(copies, TEKTON_GOLDENS)}
    assert len(copies) == len(TEKTON_GOLDENS)
    assert [f"{names.get(e.file, e.file)}: {e.message}" for e in errors] == []


def test_required_parameters_are_caught_without_placeholders(tektonlint: Path):
    golden = GOLDEN / "tekton" / "corpus" / "valid" / "critical" / "add_numbers.yaml"
    docs = [d for d in yaml.load_all(golden.read_text(), Loader=LOADER) if d]
    errors = lint.lint_documents(docs, tektonlint)
    assert [e.kind for e in errors] == ["PipelineRun"]
    assert "pipelineRun missing parameters: [a b]" in errors[0].message


def test_broken_manifests_exist():
    assert len(BROKEN_FILES) >= 12


@pytest.mark.parametrize("path", BROKEN_FILES, ids=[p.stem for p in BROKEN_FILES])
def test_broken_tekton_manifest_fails(tektonlint: Path, path: Path):
    errors = lint.lint_files([path], tektonlint)
    assert errors, f"{path.name} passed Tekton's validation"
    assert any(_expected(path) in e.message for e in errors), [e.message for e in errors]
    assert {e.kind for e in errors} == {"PipelineRun"} and {e.file for e in errors} == {str(path)}


def test_broken_manifests_are_dispatched_to_tektonlint_by_kind(tektonlint: Path):
    env_errors = lint.lint_files(BROKEN_FILES)  # no linter given: chosen from the kind
    assert {e.file for e in env_errors} == {str(p) for p in BROKEN_FILES}


def test_alpha_feature_needs_the_flags_annotation(tektonlint: Path):
    [doc] = [d for d in yaml.safe_load_all((BROKEN / "cel-when-without-flag.yaml").read_text()) if d]
    assert lint.lint_documents([doc], tektonlint)
    doc["metadata"]["annotations"] = {"kfp-translate.io/tekton-feature-flags":
                                      "enable-api-fields=alpha,enable-cel-in-whenexpression=true"}
    assert lint.lint_documents([doc], tektonlint) == []


def test_pipeline_ref_resolves_against_a_pipeline_given_alongside(tektonlint: Path):
    pipeline = {"apiVersion": "tekton.dev/v1", "kind": "Pipeline", "metadata": {"name": "p"},
                "spec": {"params": [{"name": "msg", "type": "string"}],
                         "tasks": [{"name": "a", "params": [{"name": "msg", "value": "$(params.msg)"}],
                                    "taskSpec": {"params": [{"name": "msg"}],
                                                 "steps": [{"name": "main", "image": "alpine:3.20",
                                                            "command": ["echo", "$(params.msg)"]}]}}]}}
    run = {"apiVersion": "tekton.dev/v1", "kind": "PipelineRun", "metadata": {"generateName": "p-"},
           "spec": {"pipelineRef": {"name": "p"}}}
    [error] = lint.lint_documents([pipeline, run], tektonlint)
    assert error.kind == "PipelineRun" and "missing parameters: [msg]" in error.message
    run["spec"]["params"] = [{"name": "msg", "value": "hi"}]
    assert lint.lint_documents([pipeline, run], tektonlint) == []


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "translator.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=REPO)


def test_translate_lint_picks_the_engine_from_the_kind(tektonlint: Path, tmp_path: Path):
    argo_linter = lint.find_linter("argo") or lint.build_linter("argo")
    env = {lint.TEKTON_ENV_VAR: str(tektonlint), lint.ENV_VAR: str(argo_linter)}
    tekton = tmp_path / "run.yaml"
    tekton.write_text(dump_yaml([_with_placeholders(d) for d in yaml.load_all(
        (GOLDEN / "tekton" / "corpus" / "valid" / "sequential_v2.yaml").read_text(), Loader=LOADER) if d]))
    argo = GOLDEN / "corpus" / "valid" / "pipeline_with_utils.yaml"
    assert _cli("lint", str(tekton), str(argo), env=env).returncode == 0
    broken = BROKEN / "undeclared-result.yaml"
    argo_broken = REPO / "tests" / "broken_manifests" / "dag-cycle.yaml"
    proc = _cli("lint", str(broken), str(argo_broken), str(argo), env=env)
    assert proc.returncode == 1
    assert f"{broken}: PipelineRun/undeclared-result-: " in proc.stdout
    assert "is not a named result" in proc.stdout and "cycle" in proc.stdout


def test_translate_with_lint_for_tekton(tektonlint: Path, tmp_path: Path):
    env = {lint.TEKTON_ENV_VAR: str(tektonlint)}
    out = tmp_path / "run.yaml"
    source = CORPUS / "ir" / "valid" / "critical" / "add_numbers.yaml"
    if not source.exists():
        pytest.skip(f"the KFP corpus is not at {CORPUS}")
    proc = _cli("--backend", "tekton", str(source), "--lint", "-o", str(out), "-p", "a=1", "-p", "b=2", env=env)
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(out.read_text())["kind"] == "PipelineRun"
    out2 = tmp_path / "missing.yaml"
    proc = _cli("--backend", "tekton", str(source), "--lint", "-o", str(out2), env=env)
    assert proc.returncode == 1 and "pipelineRun missing parameters: [a b]" in proc.stderr
    assert not out2.exists()


def test_version_matches_go_mod(tektonlint: Path):
    out = subprocess.run([str(tektonlint), "-version"], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "github.com/tektoncd/pipeline v1.15.0"
