"""Argo's own workflow-controller with the node agent: a hello-world Workflow, and a Workflow
stopped while its step runs (Argo stops pods through the kubelet's exec API: `argoexec kill`)."""
import time
import uuid


def workflow(name, command):
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": name},
            "spec": {"entrypoint": "main", "templates": [
                {"name": "main", "container": {"image": "ubuntu:22.04", "command": command}}]}}


def test_hello_world(cluster):
    name = f"node-hello-{uuid.uuid4().hex[:6]}"
    run = cluster.run_argo(workflow(name, ["sh", "-c", "echo hello from $(hostname)"]), timeout=120)
    assert run.phase == "Succeeded", cluster.report(run)
    [pod] = cluster.core.list_namespaced_pod(
        cluster.namespace, label_selector=f"workflows.argoproj.io/workflow={name}").items
    logs = cluster.core.read_namespaced_pod_log(pod.metadata.name, cluster.namespace, container="main")
    assert "hello from " in logs


def test_stopped_workflow_ends_and_its_pod_stops(cluster):
    name = f"node-stop-{uuid.uuid4().hex[:6]}"
    cluster.submit_argo(workflow(name, ["sleep", "600"]))
    deadline = time.monotonic() + 90
    while True:
        pods = cluster.core.list_namespaced_pod(
            cluster.namespace, label_selector=f"workflows.argoproj.io/workflow={name}").items
        running = [p for p in pods if p.status.phase == "Running" and all(
            c.state.running for c in p.status.container_statuses or [])]
        if running:
            break
        assert time.monotonic() < deadline, f"workflow {name}: no running pod after 90 s"
        time.sleep(0.5)
    started = time.monotonic()
    cluster.stop_workflow(name, "Stop")
    run = cluster.wait_workflow(name, timeout=60)
    assert run.phase == "Failed" and "Stopped" in run.workflow["status"].get("message", ""), cluster.report(run)
    pod = cluster.core.read_namespaced_pod(running[0].metadata.name, cluster.namespace)
    assert pod.status.phase == "Failed"
    main = next(c for c in pod.status.container_statuses if c.name == "main")
    # SIGTERM from `argoexec kill 15 1`, run by the controller through the node's exec API
    assert main.state.terminated is not None and main.state.terminated.exit_code == 143, pod.status
    assert time.monotonic() - started < 60, "the step was stopped, not left to run its 600 s"
