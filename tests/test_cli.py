"""The `translate` command as users run it: real subprocesses, real files."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import REPO, corpus_files, corpus_params

EXAMPLE = REPO / "examples" / "ml_training_pipeline.py"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "translator.cli", *args], capture_output=True, text=True, cwd=cwd or REPO)


@pytest.mark.parametrize("bad", corpus_params(corpus_files("invalid")), ids=lambda p: getattr(p, "name", "no-corpus"))
def test_invalid_input_is_one_line_exit_2_and_writes_nothing(bad: Path, tmp_path: Path):
    out = tmp_path / "out.yaml"
    proc = run("--backend", "argo", str(bad), "-o", str(out))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(bad) in lines[0]
    assert "Traceback" not in proc.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_missing_file(tmp_path: Path):
    proc = run(str(tmp_path / "nope.yaml"))
    assert proc.returncode == 2 and "nope.yaml: no such file" in proc.stderr


def test_python_file_compiles_in_process_and_is_deterministic(tmp_path: Path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert run("--backend", "argo", str(EXAMPLE), "-o", str(a)).returncode == 0
    assert run("--backend", "argo", f"{EXAMPLE}:ml_training_pipeline", "-o", str(b)).returncode == 0
    assert a.read_bytes() == b.read_bytes()
    wf = yaml.safe_load(a.read_text())
    assert wf["kind"] == "Workflow" and wf["metadata"]["generateName"] == "ml-training-pipeline-"


def test_unknown_function_names_the_candidates():
    proc = run(f"{EXAMPLE}:nope")
    assert proc.returncode == 2
    assert "no @dsl.pipeline function named 'nope'" in proc.stderr and "ml_training_pipeline" in proc.stderr


def test_parameter_overrides_are_typed(tmp_path: Path):
    proc = run(str(EXAMPLE), "-p", "n_estimators=200", "-p", "accuracy_threshold=0.9", "-p", "dataset_url=s3://b/k.csv")
    assert proc.returncode == 0, proc.stderr
    args = {p["name"]: p["value"] for p in yaml.safe_load(proc.stdout)["spec"]["arguments"]["parameters"]}
    assert args["n_estimators"] == "200" and args["accuracy_threshold"] == "0.9" and args["dataset_url"] == "s3://b/k.csv"
    assert args["max_depth"] == "6"  # the IR says 6.0; an int stays an int


@pytest.mark.parametrize("override,message", [
    ("n_estimators=2.5", "is not a valid NUMBER_INTEGER"),
    ("nope=1", "has no parameter 'nope'"),
])
def test_bad_parameter_overrides(override: str, message: str):
    proc = run(str(EXAMPLE), "-p", override)
    assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_kinds_and_metadata(tmp_path: Path):
    proc = run(str(EXAMPLE), "--kind", "WorkflowTemplate", "--name", "ml-train", "-n", "ml", "--service-account", "runner")
    wt = yaml.safe_load(proc.stdout)
    assert wt["kind"] == "WorkflowTemplate" and wt["metadata"] == {**wt["metadata"], "name": "ml-train", "namespace": "ml"}
    assert wt["spec"]["serviceAccountName"] == "runner"
    proc = run(str(EXAMPLE), "--kind", "CronWorkflow", "--schedule", "0 2 * * *", "--concurrency-policy", "Forbid")
    cron = yaml.safe_load(proc.stdout)
    assert cron["spec"]["schedules"] == ["0 2 * * *"] and cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["workflowSpec"]["entrypoint"] == "main"
    proc = run(str(EXAMPLE), "--kind", "CronWorkflow")
    assert proc.returncode == 2 and "needs --schedule" in proc.stderr


def test_artifact_repository_ref():
    proc = run(str(EXAMPLE), "--artifact-repository", "my-repo:s3-main")
    ref = yaml.safe_load(proc.stdout)["spec"]["artifactRepositoryRef"]
    assert ref == {"configMap": "my-repo", "key": "s3-main"}
