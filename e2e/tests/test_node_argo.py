"""Argo's own workflow-controller with the node agent: a hello-world Workflow, and a Workflow
stopped while its step runs (Argo stops pods through the kubelet's exec API: `argoexec kill`)."""
import time
import uuid


def workflow(name, command):
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": name},
            "spec": {"entrypoint": "main", "templates": [
                {"name": "main", "container": {"image": "ubuntu:22.04", "command": command}}]}}


def delete_workflow(cluster, name):
    """The workflow, and with it (owner references, garbage collector) its pods."""
    cluster.custom.delete_namespaced_custom_object("argoproj.io", "v1alpha1", cluster.namespace, "workflows", name)


def test_hello_world(cluster):
    name = f"node-hello-{uuid.uuid4().hex[:6]}"
    try:
        hello(cluster, name)
    finally:
        delete_workflow(cluster, name)


def hello(cluster, name):
    run = cluster.run_argo(workflow(name, ["sh", "-c", "echo hello from $(hostname)"]), timeout=120)
    assert run.phase == "Succeeded", cluster.report(run)
    [pod] = cluster.core.list_namespaced_pod(
        cluster.namespace, label_selector=f"workflows.argoproj.io/workflow={name}").items
    logs = cluster.core.read_namespaced_pod_log(pod.metadata.name, cluster.namespace, container="main")
    assert "hello from " in logs


def test_stopped_workflow_ends_and_its_pod_stops(cluster):
    name = f"node-stop-{uuid.uuid4().hex[:6]}"
    cluster.submit_argo(workflow(name, ["sleep", "600"]))
    try:
        stop_while_running(cluster, name)
    finally:
        delete_workflow(cluster, name)


def stop_while_running(cluster, name):
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
    # Argo may end the workflow before the pod has finished stopping: wait for the pod too.
    pod_deadline = time.monotonic() + 30
    while True:
        pod = cluster.core.read_namespaced_pod(running[0].metadata.name, cluster.namespace)
        if pod.status.phase in ("Failed", "Succeeded") or time.monotonic() > pod_deadline:
            break
        time.sleep(0.5)
    assert pod.status.phase == "Failed", pod.status
    main = next(c for c in pod.status.container_statuses if c.name == "main")
    # SIGTERM from `argoexec kill 15 1`, run by the controller through the node's exec API
    assert main.state.terminated is not None and main.state.terminated.exit_code == 143, pod.status
    assert time.monotonic() - started < 60, "the step was stopped, not left to run its 600 s"


def test_resource_template_runs_as_argos_non_root_user(cluster):
    """Argo's resource templates run `argoexec resource` as uid 8737 with /tmp from an emptyDir
    through subPath `0`: it writes the manifest there and its result to the termination log."""
    name = f"node-res-{uuid.uuid4().hex[:6]}"
    claim = f"{name}-claim"
    manifest = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name},
                "spec": {"entrypoint": "main", "templates": [{"name": "main", "resource": {
                    "action": "create", "setOwnerReference": True,
                    "manifest": f"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {claim}\n"
                                "spec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n"
                                "      storage: 1Mi\n"}}]}}
    try:
        run = cluster.run_argo(manifest, timeout=120)
        assert run.phase == "Succeeded", cluster.report(run)
        assert cluster.core.read_namespaced_persistent_volume_claim(claim, cluster.namespace).metadata.name == claim
    finally:
        delete_workflow(cluster, name)
        try:
            cluster.core.delete_namespaced_persistent_volume_claim(claim, cluster.namespace)
        except Exception:  # noqa: BLE001 - the owner reference may have removed it already
            pass
