"""translator.client without a cluster: real translations, real argparse, real connection
failures (a closed loopback port, an HTTP server on loopback answering as an API server without
the engine's group does), kustomize's own output for manifests/. The cluster half is
e2e/tests/test_client*.py."""
from __future__ import annotations

import http.server
import json
import os
import py_compile
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import yaml

import translator
from translator.client import Client, ClientError
from translator.client import schedules, uploads
from translator.client.runs import dns_label, label
from translator.client.timing import Timing

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from e2e.tests.client_pipelines import typed_outputs  # noqa: E402


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed once the block ends: connecting is refused


def _translate_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "translator.cli", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, **(env or {})}, timeout=120)


# ------------------------------------------------------------------------ connection errors


def test_no_cluster_reachable_is_one_line_naming_the_host():
    port = _closed_port()
    client = Client(host=f"https://127.0.0.1:{port}", token="t", backend="argo", namespace="kfp")
    with pytest.raises(ClientError) as err:
        client.get_run("some-run")
    text = str(err.value)
    assert f"no cluster reachable at https://127.0.0.1:{port}" in text
    assert "connection refused" in text and "\n" not in text


def test_cli_no_cluster_reachable_exit_2_no_traceback():
    port = _closed_port()
    done = _translate_cli("runs", "list", "--host", f"https://127.0.0.1:{port}", "--token", "t")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("translate runs: no cluster reachable at https://127.0.0.1:")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_missing_kubeconfig_is_one_line(tmp_path):
    with pytest.raises(ClientError, match=r"no cluster configured: kubeconfig .*nope does not exist"):
        Client(kubeconfig=str(tmp_path / "nope"))


class _NoEngineApiServer(http.server.BaseHTTPRequestHandler):
    """Answers every request as kube-apiserver does for an API group nobody installed: 404."""

    def do_GET(self):  # noqa: N802 - http.server's API
        body = json.dumps({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                           "message": "the server could not find the requested resource",
                           "reason": "NotFound", "code": 404}).encode()
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("backend,crd,install", [("argo", "workflows.argoproj.io", "manifests/engines/argo"),
                                                 ("tekton", "pipelineruns.tekton.dev", "manifests/engines/tekton")])
def test_missing_crds_name_the_engine_and_its_manifest(backend, crd, install):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NoEngineApiServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = Client(host=f"http://127.0.0.1:{server.server_address[1]}", token="t", backend=backend, namespace="ns1")
        with pytest.raises(ClientError) as err:
            client.list_runs()
    finally:
        server.shutdown()
    text = str(err.value)
    assert f"no CRD {crd}" in text and f"kubectl apply -k {install}" in text
    assert f"manifests/overlays/{backend} -n ns1" in text and "\n" not in text


# ----------------------------------------------------------------------------- the CLI


def test_cli_submit_needs_input_or_pipeline():
    done = _translate_cli("submit", "--backend", "argo")
    assert done.returncode == 2 and "give INPUT or --pipeline NAME" in done.stderr


def test_cli_commands_are_listed():
    done = _translate_cli("--help")
    for command in ("submit", "runs", "schedule", "upload", "pipelines", "experiments"):
        assert f"\n  {command}" in done.stdout


# -------------------------------------------------------------------- what is created


def test_tekton_typed_parameters_from_the_library():
    """The library passes typed values (an int); the Tekton backend took them for JSON text."""
    [run] = translator.translate(typed_outputs, backend="tekton", parameters={"n": 4, "word": "yo"})
    assert {p["name"]: p["value"] for p in run["spec"]["params"]} == {"n": "4", "word": "yo"}


def test_run_labels_experiment_and_run_name():
    [wf] = translator.translate(typed_outputs, backend="argo")
    label(wf, "ML Experiments", "training run 001")
    meta = wf["metadata"]
    assert meta["labels"]["kfp-translate.dev/experiment"] == "ml-experiments"
    assert meta["annotations"]["kfp-translate.dev/experiment-name"] == "ML Experiments"
    assert meta["annotations"]["kfp-translate.dev/run-name"] == "training run 001"
    assert meta["generateName"] == "training-run-001-"
    assert dns_label("001 run") == "x-001-run"


def test_tekton_schedule_objects():
    [run] = translator.translate(typed_outputs, backend="tekton")
    cronjob, template = schedules.tekton_cronjob(run, "nightly", Timing("0 2 * * *"), "Europe/Berlin", 1, True, "python:3.12-slim")
    spec = cronjob["spec"]
    assert spec["concurrencyPolicy"] == "Forbid" and spec["timeZone"] == "Europe/Berlin" and spec["suspend"] is False
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "kfp-translate-scheduler"
    assert {v["configMap"]["name"] for v in pod["volumes"]} == {"kfp-translate-scheduler", "nightly-run"}
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}
    assert env["KFPT_MAX_CONCURRENCY"] == "1" and env["KFPT_SCHEDULE"] == "nightly"
    stored = json.loads(template["data"]["pipelinerun.json"])
    assert stored["metadata"]["generateName"] == "nightly-"
    assert stored["metadata"]["labels"]["kfp-translate.dev/schedule"] == "nightly"
    assert stored["spec"]["pipelineSpec"] == run["spec"]["pipelineSpec"]
    many, _ = schedules.tekton_cronjob(run, "nightly", Timing("0 2 * * *"), None, 3, False, "python:3.12-slim")
    assert many["spec"]["concurrencyPolicy"] == "Allow" and many["spec"]["suspend"] is True


def test_argo_schedule_objects():
    [wf] = translator.translate(typed_outputs, backend="argo")
    cron, semaphore = schedules.argo_cron(wf["spec"], wf["metadata"], "nightly", Timing("0 2 * * *"), None, 1, True)
    assert cron["spec"]["concurrencyPolicy"] == "Forbid" and semaphore is None
    assert cron["spec"]["workflowMetadata"]["labels"]["kfp-translate.dev/schedule"] == "nightly"
    cron, semaphore = schedules.argo_cron(wf["spec"], wf["metadata"], "nightly", Timing("0 2 * * *"), None, 3, True)
    assert semaphore["data"] == {"limit": "3"}
    assert cron["spec"]["workflowSpec"]["synchronization"]["semaphores"][0]["configMapKeyRef"]["name"] == "nightly-concurrency"


def test_scheduler_script_compiles(tmp_path):
    py_compile.compile(str(REPO / "manifests/components/tekton/create_run.py"), str(tmp_path / "x.pyc"), doraise=True)


def test_bad_cron_expression_is_refused_before_any_call():
    port = _closed_port()
    client = Client(host=f"https://127.0.0.1:{port}", token="t")
    with pytest.raises(translator.TranslateError, match="cron schedule '61 \\* \\* \\* \\*' is malformed"):
        client.create_recurring_run("x", "61 * * * *", pipeline_func=typed_outputs)


@pytest.mark.parametrize("backend", ["argo", "tekton"])
def test_uploaded_ir_translates_as_the_function(backend):
    """upload_pipeline stores IR text; a run by reference translates that text: the same manifest."""
    text = uploads.ir_text(typed_outputs)
    assert translator.translate(text, backend=backend) == translator.translate(typed_outputs, backend=backend)


# -------------------------------------------------------------------------- manifests/


def _kubectl_kustomize(path: Path) -> list[dict]:
    done = subprocess.run(["kubectl", "kustomize", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d]


def _key(doc: dict) -> tuple:
    return doc["kind"], doc["metadata"]["name"]


@pytest.mark.parametrize("folder", ["", "overlays/argo", "overlays/tekton"])
def test_up_applies_what_kubectl_apply_k_applies(folder):
    """e2e's `up` builds manifests/ itself (no kubectl there): it must equal kustomize's build."""
    if not shutil.which("kubectl"):
        pytest.skip("kubectl (with its kustomize) is not installed here: nothing to compare e2e's build with")
    from e2e.cluster.apply import kustomize_build

    ours = sorted(kustomize_build(REPO / "manifests" / folder), key=_key)
    theirs = sorted(_kubectl_kustomize(REPO / "manifests" / folder), key=_key)
    assert ours == theirs


def test_every_manifest_is_in_the_kustomization():
    from e2e.cluster.apply import kustomize_build, load_documents

    built = {_key(d) for d in kustomize_build(REPO / "manifests")}
    for file in (REPO / "manifests").rglob("*.yaml"):
        if "engines" in file.parts or file.name == "kustomization.yaml":
            continue
        for doc in load_documents(file):
            assert _key(doc) in built, f"{file} is not part of manifests/kustomization.yaml"


def test_readme_client_flow_matches_the_api():
    """Every `client.METHOD(...)` call of the README's client flow exists and takes those arguments
    (inspect.signature.bind): the README cannot drift from the API. (Running the seed's pipeline
    itself takes over 15 minutes on the e2e cluster; the calls run there in e2e/tests/test_client*.py.)"""
    import ast
    import inspect

    text = (REPO / "README.md").read_text()
    start = text.index("from translator.client import Client")
    block = text[text.rindex("```python", 0, start) + len("```python"):text.index("```", start)]
    calls = [n for n in ast.walk(ast.parse(block)) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
             and isinstance(n.func.value, ast.Name) and n.func.value.id == "client"]
    assert len(calls) >= 8
    for call in calls:
        method = getattr(Client, call.func.attr)
        inspect.signature(method).bind(None, *[None] * len(call.args), **{k.arg: None for k in call.keywords})
    for call in [n for n in ast.walk(ast.parse(block)) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
                 and n.func.id == "Client"]:
        inspect.signature(Client).bind(**{k.arg: None for k in call.keywords})


def test_cli_artifact_store_flag_is_tekton_only():
    done = _translate_cli("submit", "x.yaml", "--backend", "argo", "--artifact-store", "mine")
    assert done.returncode == 2 and done.stderr.strip() == "translate submit: --artifact-store: applies to --backend tekton only"
