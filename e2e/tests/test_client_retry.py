"""retry_run on the real Argo controller: a failed Workflow retried in place, as `argo retry`
does. The middle task of client_pipelines.retried fails until its ConfigMap (read at pod start)
says `pass`; after the flip, the same Workflow succeeds, the upstream task that had succeeded
keeps its node, pod and outputs (it does not run again), and the typed outputs read back.

KFPT_E2E_CAPTURE=DIR also writes the failed Workflow there (how
tests/fixtures/retry/failed-workflow.json, the reset logic's unit-test input, was captured)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kubernetes import client as k8s

from e2e.harness import kubeconfig_path
from translator.client import Client, ClientError

from translator.client.retry import pod_name

from .client_pipelines import retried, retried_loop
from .test_client import bare_namespace, client_selected, role_client, selectable, unique  # noqa: F401 - fixtures

REPO = Path(__file__).resolve().parents[2]


def _pods(cluster, namespace: str, workflow: str) -> dict[str, tuple[str, str]]:
    """node id -> (pod uid, pod name) of the Workflow's pods."""
    found = k8s.CoreV1Api(cluster.api).list_namespaced_pod(
        namespace, label_selector=f"workflows.argoproj.io/workflow={workflow}").items
    return {p.metadata.annotations.get("workflows.argoproj.io/node-id", p.metadata.name): (p.metadata.uid, p.metadata.name)
            for p in found}


def _nodes_by_task(workflow: dict) -> dict[str, dict]:
    return {n["displayName"]: n for n in workflow["status"]["nodes"].values() if n.get("type") == "Pod"}


def _switch(cluster, namespace: str, name: str, value: str) -> None:
    body = k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name=name), data={"switch": value})
    core = k8s.CoreV1Api(cluster.api)
    try:
        core.replace_namespaced_config_map(name, namespace, body)
    except k8s.exceptions.ApiException as exc:
        if exc.status != 404:
            raise
        core.create_namespaced_config_map(namespace, body)


@selectable
def test_retry_run_in_place_reruns_only_the_failed_task(cluster, bare_namespace):  # noqa: F811
    c = role_client(cluster, bare_namespace)
    switch = unique("retry-switch")
    _switch(cluster, bare_namespace, switch, "fail")
    run = c.create_run_from_pipeline_func(retried(switch), arguments={"word": "abc"}, run_name="retry me")
    failed = c.wait_for_run_completion(run.run_id, timeout=300)
    assert failed.state == "FAILED", failed.message
    assert failed.task("first").state == "SUCCEEDED" and failed.task("flaky").state == "FAILED"
    before = failed.raw
    if os.environ.get("KFPT_E2E_CAPTURE"):
        Path(os.environ["KFPT_E2E_CAPTURE"], "failed-workflow.json").write_text(json.dumps(before, indent=1, sort_keys=True))
    first_before = _nodes_by_task(before)["first"]
    pods_before = _pods(cluster, bare_namespace, run.run_id)
    flaky_before = _nodes_by_task(before)["flaky"]
    assert set(pods_before) == {first_before["id"], flaky_before["id"]}  # no pod GC: both pods are there
    assert pods_before[flaky_before["id"]][1] == pod_name(before, flaky_before)  # Argo's pod name, computed

    with pytest.raises(ClientError) as err:  # a finished run that succeeded, or a running one, is refused
        c.retry_run(unique("no-such-run"))
    assert "no run" in str(err.value)

    _switch(cluster, bare_namespace, switch, "pass")
    again = c.retry_run(run.run_id)
    assert again.run_id == run.run_id and again.state in ("PENDING", "RUNNING")
    done = c.wait_for_run_completion(run.run_id, timeout=300)
    assert done.state == "SUCCEEDED", done.message
    assert done.outputs == {"Output": 6}  # len("ABCABC"), an int as KFP types it
    assert done.task("first").outputs == {"Output": "abcabc"}
    assert done.task("flaky").outputs == {"Output": "ABCABC"}

    first_after = _nodes_by_task(done.raw)["first"]
    assert first_after["id"] == first_before["id"]
    assert (first_after["startedAt"], first_after["finishedAt"]) == (first_before["startedAt"], first_before["finishedAt"])
    pods_after = _pods(cluster, bare_namespace, run.run_id)
    assert pods_after[first_before["id"]] == pods_before[first_before["id"]]  # the very same pod, not a new one
    flaky_id = flaky_before["id"]
    assert pods_after[flaky_id][1] == pods_before[flaky_id][1]  # same node, same pod name ...
    assert pods_after[flaky_id][0] != pods_before[flaky_id][0]  # ... but a new pod: the failed one was deleted
    assert len(pods_after) == 3  # first (kept), flaky (again), measure (new)
    assert any("first ran with abc" == line.text for line in c.logs(run.run_id, task="first"))
    assert len(c.list_runs()) == 1  # no second run was created

    with pytest.raises(ClientError) as err:
        c.retry_run(run.run_id)
    assert err.value.message == f"run {run.run_id} is Succeeded: only a Failed or Error Workflow can be retried"


@selectable
def test_cli_runs_retry_waits_in_place(cluster, bare_namespace):  # noqa: F811
    c = role_client(cluster, bare_namespace)
    switch = unique("retry-switch")
    _switch(cluster, bare_namespace, switch, "fail")
    run = c.create_run_from_pipeline_func(retried(switch), arguments={"word": "z"})
    assert c.wait_for_run_completion(run.run_id, timeout=300).state == "FAILED"
    _switch(cluster, bare_namespace, switch, "pass")
    env = {**os.environ, "KUBECONFIG": str(kubeconfig_path())}
    done = subprocess.run([sys.executable, "-m", "translator.cli", "runs", "retry", run.run_id, "-n", bare_namespace,
                           "--wait", "--timeout", "300"], capture_output=True, text=True, cwd=REPO, env=env, timeout=400)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"run {run.run_id} retried in place (its failed tasks and those after them run again)\n"
                                  f"run {run.run_id}: SUCCEEDED")


def _capture(name: str, obj: dict) -> None:
    if os.environ.get("KFPT_E2E_CAPTURE"):
        Path(os.environ["KFPT_E2E_CAPTURE"], name).write_text(json.dumps(obj, indent=1, sort_keys=True) + "\n")


@selectable
def test_retry_run_in_place_loop_retry_strategy_exit_handler(cluster, bare_namespace):  # noqa: F811
    """Iteration 2 of a loop fails through its own retryStrategy (a Retry node with two failed
    attempts) inside an exit handler; after the retry only iteration 2 runs again."""
    c = role_client(cluster, bare_namespace)
    switch = unique("retry-switch")
    _switch(cluster, bare_namespace, switch, "fail")
    run = c.create_run_from_pipeline_func(retried_loop(switch), arguments={"word": "q"})
    failed = c.wait_for_run_completion(run.run_id, timeout=300)
    assert failed.state == "FAILED", failed.message
    before = failed.raw
    _capture("failed-loop-workflow.json", before)
    pods_before = _pods(cluster, bare_namespace, run.run_id)
    _capture("failed-loop-pods.json", {node: name for node, (_, name) in sorted(pods_before.items())})
    pods = {n["id"]: n for n in before["status"]["nodes"].values() if n.get("type") == "Pod"}
    assert all(pods_before[i][1] == pod_name(before, n) for i, n in pods.items() if i in pods_before)
    ok_before = {i: n for i, n in pods.items() if n["phase"] == "Succeeded"}

    _switch(cluster, bare_namespace, switch, "pass")
    assert c.retry_run(run.run_id).run_id == run.run_id
    done = c.wait_for_run_completion(run.run_id, timeout=300)
    assert done.state == "SUCCEEDED", done.message
    _capture("retried-loop-workflow.json", done.raw)
    after = done.raw["status"]["nodes"]
    for node_id, node in ok_before.items():  # every pod that had succeeded: same node, same times, same pod
        assert node_id in after, node["displayName"]
        assert (after[node_id]["startedAt"], after[node_id]["phase"]) == (node["startedAt"], "Succeeded")
        if node_id in pods_before:
            assert _pods(cluster, bare_namespace, run.run_id)[node_id] == pods_before[node_id]
    hook = next(n for n in before["status"]["nodes"].values() if n["name"].endswith(".exit-handler-1.onExit"))
    assert after[hook["id"]]["startedAt"] == hook["startedAt"]  # the exit handler ran once, before the retry (README)
    items = sorted(t.outputs["Output"] for t in done.tasks if t.name == "flaky-item" and t.state == "SUCCEEDED")
    assert items == [10, 20, 30]
