"""The client's CLI on the cluster: `translate submit --wait/--watch` exit statuses and progress,
`translate runs ...`, and the CI example's GitHub Actions steps run here as they are written."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from e2e.harness import kubeconfig_path
from translator.client import Client

from .test_client import client_selected, manifests, selectable  # noqa: F401 - the fixtures

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PIPELINES = REPO / "e2e" / "tests" / "client_pipelines.py"


def translate(*args: str, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "translate"), *args, "--kubeconfig", str(kubeconfig_path())], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO, env={**os.environ, **(env or {})})


@selectable
@pytest.mark.parametrize("backend", ["argo", "tekton"])
def test_submit_wait_exit_status_and_runs_commands(manifests, backend):  # noqa: F811
    ok = translate("submit", f"{PIPELINES}:typed_outputs", "--backend", backend, "-p", "n=2", "-p", "word=a b",
                   "--run-name", f"cli-{uuid.uuid4().hex[:5]}", "--experiment", "cli-tests", "--watch")
    assert ok.returncode == 0, ok.stderr + ok.stdout
    run_id = ok.stdout.split()[1]
    assert f"run {run_id}: SUCCEEDED" in ok.stdout and '"count": 4' in ok.stdout
    progress = ok.stderr.splitlines()
    assert any(line.split()[-2:] == ["produce", "RUNNING"] for line in progress), ok.stderr
    assert any(line.split()[-2:] == ["shout", "SUCCEEDED"] for line in progress), ok.stderr
    listed = translate("runs", "list", "--backend", backend, "--experiment", "cli-tests")
    assert run_id in listed.stdout
    got = translate("runs", "get", run_id, "--backend", backend, "-o", "json")
    assert '"Output": "A B!"' in got.stdout
    logs = translate("runs", "logs", run_id, "--backend", backend, "--task", "produce")
    assert "[produce] client-e2e log line: n=2 word=a b" in logs.stdout
    missing = translate("runs", "logs", run_id, "--backend", backend, "--task", "nope")
    assert missing.returncode == 2 and "has no task 'nope'" in missing.stderr
    assert translate("runs", "delete", run_id, "--backend", backend).returncode == 0
    gone = translate("runs", "get", run_id, "--backend", backend)
    assert gone.returncode == 2 and gone.stderr.strip() == f"translate runs: {run_id}: no run '{run_id}' in namespace kfp " \
                                                            f"(no {'Workflow' if backend == 'argo' else 'PipelineRun'} of that name)"
    bad = translate("submit", f"{PIPELINES}:fails", "--backend", backend, "--wait")
    failed_id = bad.stdout.split()[1]
    try:
        assert bad.returncode == 1, bad.stderr + bad.stdout
        assert f"run {failed_id}: FAILED" in bad.stdout
        again = translate("runs", "retry", failed_id, "--backend", backend)
        assert again.returncode == 0, again.stderr
        retry_id = again.stdout.split()[1]
        waited = translate("runs", "wait", retry_id, "--backend", backend)
        assert waited.returncode == 1 and f"run {retry_id}: FAILED" in waited.stdout
        translate("runs", "delete", retry_id, "--backend", backend)
    finally:
        translate("runs", "delete", failed_id, "--backend", backend)


def _steps() -> tuple[dict, list[dict]]:
    flow = yaml.safe_load((REPO / "examples" / "ci" / "ml-pipeline.yml").read_text())
    [job] = flow["jobs"].values()
    return flow["env"], [s for s in job["steps"] if "run" in s]


@selectable
@pytest.mark.parametrize("backend", ["argo", "tekton"])
def test_ci_example_runs_here(manifests, backend, tmp_path):  # noqa: F811
    """Each `run:` step of examples/ci/ml-pipeline.yml, in order, with the job's environment
    filled in as GitHub would (the install step is skipped: this venv is the install)."""
    env_spec, steps = _steps()
    assert set(env_spec) == {"KFP_NAMESPACE", "BACKEND", "VERSION", "KUBECONFIG", "KUBECONFIG_DATA"}
    version = uuid.uuid4().hex
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "KFP_NAMESPACE": manifests,
           "BACKEND": backend, "VERSION": version, "KUBECONFIG": str(tmp_path / "kubeconfig"),
           "KUBECONFIG_DATA": kubeconfig_path().read_text()}
    client = Client(backend=backend, kubeconfig=str(kubeconfig_path()))
    try:
        for step in steps:
            if step.get("id") == "install":
                continue
            done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=REPO, env=env,
                                  capture_output=True, text=True, timeout=1200)
            assert done.returncode == 0, f"step {step['name']!r} failed:\n{done.stdout}\n{done.stderr}"
        assert "SUCCEEDED" in done.stdout and "ci-training" not in done.stderr
        [run] = [r for r in client.list_runs(experiment_name="ci") if r.display_name == f"ci-{version[:12]}"]
        assert run.state == "SUCCEEDED"
        assert isinstance(client.get_run(run.run_id).outputs["Output"], float)
        client.delete_run(run.run_id)
    finally:
        for v in client.list_pipeline_versions("ml-training-v2"):
            if v.version == version[:12]:
                client.delete_pipeline_version(v.pipeline_version_id)
