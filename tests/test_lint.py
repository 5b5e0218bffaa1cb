"""Argo's own offline lint (tools/argolint) and its Python wrapper, translator.lint.

The Go helper is built once per session. Without Go these tests skip, except
under CI (env CI set), where a missing Go toolchain is a failure.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from translator import gobuild, lint

BROKEN = Path(__file__).resolve().parent / "broken_manifests"


@pytest.fixture(scope="session")
def argolint() -> Path:
    if os.environ.get(lint.ENV_VAR):
        found = lint.find_linter()
        assert found is not None
        return found
    try:
        return lint.build_linter()
    except lint.GoNotFoundError as exc:
        message = f"cannot build tools/argolint: {exc}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def docs(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(textwrap.dedent(text)) if d is not None]


# --- valid manifests: each must lint clean ---------------------------------

DAG_WHEN_EXPRESSION = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: dag-when-
spec:
  entrypoint: main
  arguments:
    parameters:
    - name: threshold
      value: "3"
  templates:
  - name: main
    inputs:
      parameters:
      - name: mode
        value: fast
    dag:
      tasks:
      - name: flip-coin
        template: flip
      - name: count
        template: flip
      - name: heads
        depends: flip-coin.Succeeded && count
        template: echo
        when: >-
          {{= tasks['flip-coin'].outputs.parameters['side'] == 'heads'
              && asInt(workflow.parameters.threshold) > 2
              && inputs.parameters.mode == 'fast' }}
        arguments:
          parameters:
          - name: msg
            value: "{{tasks.flip-coin.outputs.parameters.side}}"
      - name: tails
        depends: flip-coin
        template: echo
        when: "{{tasks.flip-coin.outputs.parameters.side}} == tails"
        arguments:
          parameters:
          - name: msg
            value: tails
  - name: flip
    container:
      image: alpine:3.20
      command: [sh, -c, "echo heads > /tmp/side"]
    outputs:
      parameters:
      - name: side
        valueFrom:
          path: /tmp/side
  - name: echo
    inputs:
      parameters:
      - name: msg
    container:
      image: alpine:3.20
      command: [echo, "{{inputs.parameters.msg}}"]
"""

LOOPS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: loops-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: scalars
        template: echo
        withItems: [a, 2, 3.5, true]
        arguments:
          parameters:
          - name: msg
            value: "{{item}}"
      - name: maps
        template: echo
        withItems:
        - {lr: "0.1", depth: 3}
        - {lr: "0.01", depth: 5}
        arguments:
          parameters:
          - name: msg
            value: "{{item.lr}}-{{item.depth}}"
      - name: gen
        template: gen
      - name: fan-out
        depends: gen
        template: echo
        withParam: "{{tasks.gen.outputs.parameters.list}}"
        arguments:
          parameters:
          - name: msg
            value: "{{item}}"
      - name: fan-in
        depends: fan-out
        template: echo
        arguments:
          parameters:
          - name: msg
            value: "{{tasks.fan-out.outputs.parameters.out}}"
  - name: gen
    container:
      image: alpine:3.20
      command: [sh, -c, "echo '[1, 2, 3]' > /tmp/list"]
    outputs:
      parameters:
      - name: list
        valueFrom:
          path: /tmp/list
  - name: echo
    inputs:
      parameters:
      - name: msg
    container:
      image: alpine:3.20
      command: [sh, -c, "echo {{inputs.parameters.msg}} | tee /tmp/out"]
    outputs:
      parameters:
      - name: out
        valueFrom:
          path: /tmp/out
"""

MEMOIZE = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: memoize-
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - name: train
        template: train
        arguments:
          parameters:
          - name: lr
            value: "0.1"
          - name: data-digest
            value: sha256:0123
  - name: train
    inputs:
      parameters:
      - name: lr
      - name: data-digest
    memoize:
      key: "{{= sprig.sha256sum('comp-digest|' + inputs.parameters.lr + '|' + inputs.parameters['data-digest']) }}"
      maxAge: 24h
      cache:
        configMap:
          name: kfp-translate-cache
    container:
      image: python:3.12-slim
      command: [python3, -c, "print('training')"]
"""

S3_KEY_ONLY_ARTIFACTS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: artifacts-
spec:
  entrypoint: main
  artifactRepositoryRef:
    configMap: artifact-repositories
    key: default
  templates:
  - name: main
    dag:
      tasks:
      - name: produce
        template: produce
      - name: consume
        depends: produce
        template: consume
        arguments:
          artifacts:
          - name: data
            from: "{{tasks.produce.outputs.artifacts.data}}"
  - name: produce
    retryStrategy:
      limit: "2"
      retryPolicy: OnError
    container:
      image: alpine:3.20
      command: [sh, -c, "mkdir -p /kfp/outputs && echo hi > /kfp/outputs/data"]
      env:
      - name: KFPT_POD
        value: "{{pod.name}}"
      - name: KFPT_WORKFLOW
        value: "{{workflow.name}}"
    outputs:
      artifacts:
      - name: data
        path: /kfp/outputs/data
        archive:
          none: {}
        s3:
          key: "kfp/{{workflow.name}}/{{pod.name}}/data"
      - name: report
        path: /kfp/outputs/report
        optional: true
        archive:
          none: {}
        s3:
          key: "kfp/{{workflow.name}}/{{pod.name}}/report"
  - name: consume
    inputs:
      artifacts:
      - name: data
        path: /kfp/inputs/data
      - name: shared
        path: /kfp/inputs/shared
        s3:
          key: "kfp/shared/prefix"
    container:
      image: alpine:3.20
      command: [cat, /kfp/inputs/data]
"""

CRON_SCHEDULES = """
apiVersion: argoproj.io/v1alpha1
kind: CronWorkflow
metadata:
  name: nightly-training
spec:
  schedules: ["0 2 * * *", "30 4 * * 1"]
  timezone: Europe/Berlin
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: 120
  successfulJobsHistoryLimit: 3
  workflowSpec:
    entrypoint: main
    arguments:
      parameters:
      - name: run-date
        value: "{{workflow.scheduledTime}}"
    templates:
    - name: main
      container:
        image: alpine:3.20
        command: [echo, "{{workflow.parameters.run-date}}"]
"""

TEMPLATE_REFS = """
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: pipeline
spec:
  entrypoint: main
  arguments:
    parameters:
    - name: msg
  templates:
  - name: main
    dag:
      tasks:
      - name: say
        templateRef:
          name: shared-steps
          template: echo
          clusterScope: true
        arguments:
          parameters:
          - name: msg
            value: "{{workflow.parameters.msg}}"
---
apiVersion: argoproj.io/v1alpha1
kind: ClusterWorkflowTemplate
metadata:
  name: shared-steps
spec:
  templates:
  - name: echo
    inputs:
      parameters:
      - name: msg
    container:
      image: alpine:3.20
      command: [echo, "{{inputs.parameters.msg}}"]
---
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  generateName: from-template-
spec:
  workflowTemplateRef:
    name: pipeline
  arguments:
    parameters:
    - name: msg
      value: hello
"""

VALID = {
    "dag-depends-when-expression": DAG_WHEN_EXPRESSION,
    "withItems-withParam": LOOPS,
    "memoize": MEMOIZE,
    "s3-key-only-artifacts": S3_KEY_ONLY_ARTIFACTS,
    "cron-schedules": CRON_SCHEDULES,
    "template-refs": TEMPLATE_REFS,
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_manifests_pass(argolint: Path, name: str) -> None:
    assert lint.lint_documents(docs(VALID[name]), argolint) == []


# --- broken manifests: each must fail with the message in its '# expect:' line ---


def _expected(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <message fragment>'"
    return first.removeprefix("# expect: ")


BROKEN_FILES = sorted(BROKEN.glob("*.yaml"))


def test_broken_manifests_exist() -> None:
    assert len(BROKEN_FILES) >= 8


@pytest.mark.parametrize("path", BROKEN_FILES, ids=[p.stem for p in BROKEN_FILES])
def test_broken_manifest_fails(argolint: Path, path: Path) -> None:
    errors = lint.lint_files([path], argolint)
    assert errors, f"{path.name} linted clean"
    expected = _expected(path)
    assert any(expected in e.message for e in errors), [e.message for e in errors]
    for e in errors:
        assert e.file == str(path)
        assert e.kind in {"Workflow", "CronWorkflow", "WorkflowTemplate", "ClusterWorkflowTemplate"}


def test_broken_manifests_in_one_run(argolint: Path) -> None:
    errors = lint.lint_files(BROKEN_FILES, argolint)
    assert {e.file for e in errors} == {str(p) for p in BROKEN_FILES}


# --- what Argo's lint does NOT catch (pinned so an Argo bump that changes it shows up) ---


def _workflow(template_patch: dict, task_patch: dict | None = None) -> dict:
    echo = {
        "name": "echo",
        "inputs": {"parameters": [{"name": "msg"}]},
        "container": {"image": "alpine:3.20", "command": ["echo", "{{inputs.parameters.msg}}"]},
    }
    echo.update(template_patch)
    task = {"name": "a", "template": "echo", "arguments": {"parameters": [{"name": "msg", "value": "x"}]}}
    task.update(task_patch or {})
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "blind-spot-"},
        "spec": {
            "entrypoint": "main",
            "templates": [{"name": "main", "dag": {"tasks": [task]}}, echo],
        },
    }


MEMO = {"maxAge": "24h", "cache": {"configMap": {"name": "c"}}}
BLIND_SPOTS = {
    # (A literal memoize key outside ^[a-zA-Z0-9][-a-zA-Z0-9]*$ and a maxAge that is no Go
    # duration pass Argo's lint but fail the step at run time; argolint's runtime_checks.go
    # reports them: see tests/broken_manifests/memoize-*.yaml.)
    # Expression tags are skipped by lint (util/template.Validate): references and syntax unchecked.
    "when-expression-unknown-task": _workflow({}, {"when": "{{= tasks.nope.outputs.parameters.x == 'a' }}"}),
    "when-expression-syntax-error": _workflow({}, {"when": "{{= ( }}"}),
    "memoize-expression-unknown-input": _workflow(
        {"memoize": {"key": "{{= sprig.sha256sum(inputs.parameters.nope) }}", **MEMO}}
    ),
    # Tags outside Argo's variable prefixes are left alone, by lint and by the controller.
    "unknown-braces-in-args": _workflow(
        {"container": {"image": "alpine:3.20", "args": ["{{$}}", "{{ foo }}", "{{item}}", "{{x.y}}"]}}
    ),
    # A literal withParam is only parsed as a JSON list at run time.
    "withParam-not-json": _workflow({}, {"withParam": "not json", "arguments": {"parameters": [{"name": "msg", "value": "{{item}}"}]}}),
    # govaluate syntax of a plain `when` is only checked at run time.
    "when-govaluate-syntax-error": _workflow({}, {"when": "my-value == a b"}),
}


@pytest.mark.parametrize("name", sorted(BLIND_SPOTS))
def test_argo_lint_blind_spots(argolint: Path, name: str) -> None:
    assert lint.lint_documents([BLIND_SPOTS[name]], argolint) == []


# --- the wrapper ------------------------------------------------------------


def test_lint_documents_reports_kind_and_name(argolint: Path) -> None:
    wf = _workflow({}, {"template": "ghost"})
    wf["metadata"] = {"name": "named"}
    [error] = lint.lint_documents([wf], argolint)
    assert (error.file, error.kind, error.name) == ("-", "Workflow", "named")
    assert "template name 'ghost' undefined" in error.message
    with pytest.raises(dataclasses.FrozenInstanceError):
        error.message = "changed"  # type: ignore[misc]


def test_multi_document_file_and_cross_file_references(argolint: Path, tmp_path: Path) -> None:
    templates, workflow = tmp_path / "templates.yaml", tmp_path / "workflow.yaml"
    parts = textwrap.dedent(TEMPLATE_REFS).split("\n---\n")
    templates.write_text("\n---\n".join(parts[:2]) + "\n---\n# trailing empty document\n")
    workflow.write_text(parts[2])
    assert lint.lint_files([templates, workflow], argolint) == []
    # Alone, the Workflow cannot resolve its WorkflowTemplate.
    [error] = lint.lint_files([workflow], argolint)
    assert 'workflowtemplates.argoproj.io "pipeline" not found' in error.message


def test_other_kinds_are_ignored_but_needed_objects(argolint: Path) -> None:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"x": "y"}}
    assert lint.lint_documents([config_map, _workflow({})], argolint) == []
    [error] = lint.lint_documents([config_map], argolint)
    assert (error.kind, error.name) == ("", "")
    assert "no Workflow, WorkflowTemplate, ClusterWorkflowTemplate or CronWorkflow found" in error.message


def test_yaml_syntax_error(argolint: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Workflow\nmetadata: {name: a\n")
    [error] = lint.lint_files([bad], argolint)
    assert error.kind == "" and error.message.startswith("document 1: yaml:")


def test_lint_files_without_paths() -> None:
    assert lint.lint_files([]) == []


def test_missing_file_is_a_tool_error(argolint: Path, tmp_path: Path) -> None:
    with pytest.raises(lint.LintToolError, match="exit 2"):
        lint.lint_files([tmp_path / "absent.yaml"], argolint)


# --- the Go program's interface --------------------------------------------


def test_json_output_and_exit_codes(argolint: Path, tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(yaml.safe_dump(_workflow({})))
    bad.write_text(yaml.safe_dump(_workflow({}, {"template": "ghost"})))

    clean = subprocess.run([argolint, good], capture_output=True, text=True, check=False)
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout) == [{"file": str(good), "errors": []}]

    dirty = subprocess.run([argolint, good, bad], capture_output=True, text=True, check=False)
    assert dirty.returncode == 1
    results = json.loads(dirty.stdout)
    assert [r["file"] for r in results] == [str(good), str(bad)]
    [error] = results[1]["errors"]
    assert set(error) == {"file", "kind", "name", "message"}
    assert (error["file"], error["kind"], error["name"]) == (str(bad), "Workflow", "blind-spot-")

    from_dir = subprocess.run([argolint, tmp_path], capture_output=True, text=True, check=False)
    assert from_dir.returncode == 1
    assert sorted(r["file"] for r in json.loads(from_dir.stdout)) == sorted([str(good), str(bad)])

    stdin = subprocess.run([argolint, "-"], input=good.read_text(), capture_output=True, text=True, check=False)
    assert stdin.returncode == 0
    assert json.loads(stdin.stdout) == [{"file": "-", "errors": []}]


def test_usage_and_io_errors_exit_2(argolint: Path, tmp_path: Path) -> None:
    for args in ([], [str(tmp_path / "absent.yaml")], ["-", "-"], ["-no-such-flag"]):
        proc = subprocess.run([argolint, *args], input="", capture_output=True, text=True, check=False)
        assert proc.returncode == 2, args
        assert proc.stdout == ""


def test_version_matches_go_mod(argolint: Path) -> None:
    proc = subprocess.run([argolint, "-version"], capture_output=True, text=True, check=True)
    pinned = next(
        line.split()[1]
        for line in (lint.TOOL_DIR / "go.mod").read_text().splitlines()
        if line.strip().startswith("github.com/argoproj/argo-workflows/")
    )
    assert proc.stdout.strip().endswith(" " + pinned)


# --- finding and building (no Go needed) -----------------------------------


def test_find_linter_prefers_env_var(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "argolint"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv(lint.ENV_VAR, str(fake))
    assert lint.find_linter() == fake
    monkeypatch.setenv(lint.ENV_VAR, str(tmp_path / "absent"))
    with pytest.raises(lint.LintToolError, match=lint.ENV_VAR):
        lint.find_linter()


def test_find_linter_falls_back_to_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(lint.ENV_VAR, raising=False)
    monkeypatch.setattr(lint, "BUILT_LINTER", tmp_path / "not-built")
    monkeypatch.setenv(gobuild.CACHE_ENV, str(tmp_path / "cache"))  # not one an earlier lint built
    monkeypatch.setenv("PATH", str(tmp_path))
    assert lint.find_linter() is None
    on_path = tmp_path / "argolint"
    on_path.write_text("#!/bin/sh\n")
    on_path.chmod(0o755)
    assert lint.find_linter() == on_path


def test_build_linter_without_go(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(lint.GoNotFoundError, match=r"'go' on PATH"):
        lint.build_linter()


def test_lint_without_linter_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(lint.ENV_VAR, raising=False)
    monkeypatch.setattr(lint, "BUILT_LINTER", tmp_path / "not-built")
    monkeypatch.setenv(gobuild.CACHE_ENV, str(tmp_path / "cache"))  # not one an earlier lint built
    monkeypatch.setenv("PATH", str(tmp_path))
    # No binary and no Go: one line that says what to install (the helper is built on demand).
    with pytest.raises(gobuild.GoMissingError, match=r"install Go \(https://go.dev/dl/"):
        lint.lint_documents([_workflow({})])
