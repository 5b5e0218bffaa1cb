"""A pod shaped the way Tekton's controller builds a TaskRun's pod, run by the node: the
`prepare` init container copies Tekton's entrypoint into /tekton/bin, the step waits for the
`tekton.dev/ready` annotation to reach its downward-API file, writes a result, and Tekton's
entrypoint puts it into the termination message, where Tekton's controller reads results."""
import json
import time

from e2e.cluster import up
from e2e.tests.test_node_pods import create_pod, delete_pod, finished, kube, name, wait_pod  # noqa: F401

INTERNAL = ["bin", "run-0", "results", "steps", "home"]
MOUNTS = {"bin": "/tekton/bin", "run-0": "/tekton/run/0", "results": "/tekton/results",
          "steps": "/tekton/steps", "home": "/tekton/home"}


def tekton_pod(kube, pod_name):
    volumes = [{"name": f"tekton-internal-{v}", "emptyDir": {}} for v in INTERNAL]
    volumes.append({"name": "tekton-internal-downward", "downwardAPI": {"items": [
        {"path": "ready", "fieldRef": {"fieldPath": "metadata.annotations['tekton.dev/ready']"}}]}})
    prepare = {"name": "prepare", "image": up.TEKTON_IMAGES["entrypoint"],
               "command": ["/ko-app/entrypoint", "init", "/ko-app/entrypoint", "/tekton/bin/entrypoint", "step-answer"],
               "workingDir": "/", "volumeMounts": [
                   {"name": "tekton-internal-bin", "mountPath": "/tekton/bin"},
                   {"name": "tekton-internal-steps", "mountPath": "/tekton/steps"}]}
    step = {"name": "step-answer", "image": "python:3.11-slim", "command": ["/tekton/bin/entrypoint"],
            "args": ["-wait_file", "/tekton/downward/ready", "-wait_file_content",
                     "-post_file", "/tekton/run/0/out", "-termination_path", "/tekton/termination",
                     "-step_metadata_dir", "/tekton/run/0/status", "-results", "answer",
                     "-entrypoint", "sh", "--", "-c", "printf 42 > /tekton/results/answer"],
            "terminationMessagePath": "/tekton/termination", "terminationMessagePolicy": "File",
            "volumeMounts": [{"name": f"tekton-internal-{v}", "mountPath": MOUNTS[v]} for v in INTERNAL]
            + [{"name": "tekton-internal-downward", "mountPath": "/tekton/downward", "readOnly": True}]}
    step["volumeMounts"][0]["readOnly"] = True  # /tekton/bin, as Tekton mounts it
    return create_pod(kube, pod_name, [step], initContainers=[prepare], volumes=volumes)


def test_tekton_shaped_pod_reports_its_result(kube):
    pod_name = name("node-tekton")
    tekton_pod(kube, pod_name)
    try:
        wait_pod(kube, pod_name, lambda p: p.status.phase == "Running" and all(
            c.ready and c.started for c in p.status.container_statuses or []), timeout=60)
        time.sleep(1.5)  # the step waits for the annotation (Tekton's controller sets it now)
        assert kube.read_namespaced_pod(pod_name, kube.namespace).status.phase == "Running"
        kube.patch_namespaced_pod(pod_name, kube.namespace, {"metadata": {"annotations": {"tekton.dev/ready": "READY"}}})
        pod = wait_pod(kube, pod_name, finished, timeout=30)
        [step] = pod.status.container_statuses
        assert pod.status.phase == "Succeeded", kube.read_namespaced_pod_log(pod_name, kube.namespace, container="step-answer")
        results = {r["key"]: r["value"] for r in json.loads(step.state.terminated.message)}
        assert results["answer"] == "42"
    finally:
        delete_pod(kube, pod_name)
