"""retry_run's reset logic (translator.client.retry.formulate) on real Workflow statuses.

tests/fixtures/retry/*.json are Workflows captured from the real Argo v4.0.7 controller by
e2e/tests/test_client_retry.py (KFPT_E2E_CAPTURE=tests/fixtures/retry): a failed three-task
chain, and a loop whose iteration failed through its retryStrategy inside an exit handler.
Each is compared with Argo's own FormulateRetryWorkflow, built from its Go module
(tests/retry_oracle; `KFPT_GO_ORACLE=1`, as CI sets), and the chain's result is also spelled out
by hand."""
from __future__ import annotations

import base64
import copy
import gzip
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from translator import gobuild
from translator.client import ClientError
from translator.client.retry import formulate, pod_name

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "retry"
NOW = "2026-12-01T18:00:00Z"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def by_task(nodes: dict) -> dict[str, dict]:
    return {n.get("displayName"): n for n in nodes.values()}


def test_failed_chain_resets_the_dag_and_removes_the_failed_task_and_what_follows():
    wf = load("failed-workflow.json")
    name = wf["metadata"]["name"]
    old = by_task(wf["status"]["nodes"])
    plan = formulate(wf, now=NOW)
    new = plan.workflow
    assert plan.removed == ["flaky", "measure"]
    assert plan.pods == [pod_name(wf, old["flaky"])]
    assert plan.reset == [old[name]["id"]]
    nodes = new["status"]["nodes"]
    assert set(nodes) == {old[name]["id"], old["first"]["id"]}
    first = {k: v for k, v in old["first"].items() if k != "children"}  # its child, flaky, is gone
    assert nodes[old["first"]["id"]] == first  # otherwise untouched: phase, times, outputs; it will not run again
    root = nodes[old[name]["id"]]
    assert (root["phase"], root["startedAt"], root["finishedAt"]) == ("Running", NOW, None)
    assert root["children"] == [old["first"]["id"]] and "outboundNodes" not in root
    assert "workflows.argoproj.io/completed" not in new["metadata"]["labels"]
    status = new["status"]
    assert "phase" not in status and status["finishedAt"] is None and status["startedAt"] == NOW
    assert {"type": "Completed", "status": "False"} in status["conditions"]
    assert new["metadata"]["resourceVersion"] == wf["metadata"]["resourceVersion"]  # a guarded write
    assert wf == load("failed-workflow.json")  # the input is not changed


def test_pod_names_are_argos():
    """Argo's v2 pod names (the captured pods' real names) and v1 names (the node id)."""
    wf = load("failed-loop-workflow.json")
    real = load("failed-loop-pods.json")
    assert real
    for node_id, name in real.items():
        assert pod_name(wf, wf["status"]["nodes"][node_id]) == name
    v1 = copy.deepcopy(wf)
    v1["metadata"].setdefault("annotations", {})["workflows.argoproj.io/pod-name-format"] = "v1"
    node_id = next(iter(real))
    assert pod_name(v1, v1["status"]["nodes"][node_id]) == node_id


def test_loop_retry_keeps_succeeded_iterations_and_drops_failed_attempts():
    wf = load("failed-loop-workflow.json")
    nodes = wf["status"]["nodes"]
    plan = formulate(wf, now=NOW)
    kept = plan.workflow["status"]["nodes"]
    for node_id, node in nodes.items():
        if node.get("type") == "Pod" and node["phase"] == "Succeeded" and not node["name"].endswith(".onExit"):
            same = {k: v for k, v in kept[node_id].items() if k != "children"}
            assert same == {k: v for k, v in node.items() if k != "children"}, node["name"]
        if node.get("type") == "Pod" and node["phase"] in ("Failed", "Error"):
            assert node_id not in kept, node["name"]
    retries = [i for i, n in nodes.items() if n.get("type") == "Retry" and n["phase"] == "Failed"]
    assert retries and all(kept[i]["phase"] == "Running" and "children" not in kept[i] for i in retries)


def test_compressed_nodes_are_inflated():
    wf = load("failed-workflow.json")
    packed = copy.deepcopy(wf)
    packed["status"]["compressedNodes"] = base64.b64encode(gzip.compress(json.dumps(wf["status"]["nodes"]).encode())).decode()
    del packed["status"]["nodes"]
    plan, expected = formulate(packed, now=NOW), formulate(wf, now=NOW)
    assert plan.workflow["status"]["nodes"] == expected.workflow["status"]["nodes"] and plan.pods == expected.pods
    assert "compressedNodes" not in plan.workflow["status"]


@pytest.mark.parametrize("phase", ["Succeeded", "Running", None])
def test_only_failed_or_error_workflows(phase):
    wf = load("failed-workflow.json")
    wf["status"]["phase"] = phase
    with pytest.raises(ClientError) as err:
        formulate(wf)
    assert err.value.message == (f"run {wf['metadata']['name']} is {phase or 'Pending'}: "
                                 "only a Failed or Error Workflow can be retried")


def test_offloaded_status_is_refused_in_one_line():
    wf = load("failed-workflow.json")
    wf["status"]["offloadNodeStatusVersion"] = "fnv:1234"
    with pytest.raises(ClientError, match="offloaded to the Argo server's database"):
        formulate(wf)


# ------------------------------------------------------------------ Argo's own code as oracle


@pytest.fixture(scope="module")
def oracle(tmp_path_factory) -> Path:
    if os.environ.get("KFPT_RETRY_ORACLE"):  # a retry_oracle built before (go build -o PATH in tests/retry_oracle)
        return Path(os.environ["KFPT_RETRY_ORACLE"])
    go = shutil.which("go")
    if os.environ.get("KFPT_GO_ORACLE") != "1" or not go:
        pytest.skip("set KFPT_GO_ORACLE=1 (needs go and the Go module proxy) to compare with Argo's "
                    "FormulateRetryWorkflow (tests/retry_oracle)")
    out = tmp_path_factory.mktemp("oracle") / "retry_oracle"
    env = {**os.environ, **gobuild.BUILD_ENV}  # workflow/util's imports reach go-sqlite3: its C is not needed here
    # The project's Go build flags, as e2e/cluster/build.py builds Argo's workflow-controller: the
    # packages they share come from Go's build cache once `make e2e-build` ran (as in .ci/run)
    done = subprocess.run([go, "build", *gobuild.BUILD_FLAGS, "-o", str(out), "."], cwd=HERE / "retry_oracle", capture_output=True, text=True,
                          timeout=1800, env=env)
    assert done.returncode == 0, done.stderr
    return out


def _comparable(wf: dict) -> dict:
    """What a retry decides: per node its phase, children and outbound nodes, message, and
    whether its times were reset; the Workflow's labels, phase and Completed condition."""
    status = wf.get("status") or {}
    nodes = {i: (n.get("phase"), sorted(n.get("children") or []), sorted(n.get("outboundNodes") or []),
                 n.get("message") or "", bool(n.get("finishedAt"))) for i, n in (status.get("nodes") or {}).items()}
    completed = [c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Completed"]
    return {"nodes": nodes, "labels": wf["metadata"].get("labels") or {}, "phase": status.get("phase") or "",
            "completed": completed, "finished": bool(status.get("finishedAt")), "shutdown": wf["spec"].get("shutdown")}


@pytest.mark.parametrize("fixture", ["failed-workflow.json", "failed-loop-workflow.json"])
def test_same_decisions_as_argos_formulate_retry_workflow(oracle, fixture):
    wf = load(fixture)
    done = subprocess.run([str(oracle)], input=json.dumps(wf), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    theirs = json.loads(done.stdout)
    ours = formulate(wf, now=NOW)
    assert ours.pods == theirs["pods"]
    assert _comparable(ours.workflow) == _comparable(theirs["workflow"])
