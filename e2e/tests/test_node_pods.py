"""Real pods through the real API server on the single-machine cluster, run by the node agent:
env, volumes, termination messages, exec and logs through the API server, downward-API files
that follow annotations, PVC provisioning, restarts, deadlines, OOM kills and graceful deletion.
A missing cluster is an error (as in conftest.py): `make e2e-up` starts one."""
import os
import time
import uuid
from pathlib import Path

import pytest
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream

REPO = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("KFPT_E2E_STATE") or REPO / "e2e" / ".cluster")


@pytest.fixture(scope="module")
def kube():
    path = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or str(STATE / "kubeconfig")
    if not os.path.exists(path):
        pytest.fail(f"no cluster: {path} does not exist (run `make e2e-up`)", pytrace=False)
    api = config.new_client_from_config(config_file=path)
    _, active = config.list_kube_config_contexts(config_file=path)
    core = client.CoreV1Api(api)
    core.namespace = active["context"].get("namespace", "default")
    node = core.read_node("kfpt-node")
    assert any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)
    return core


def name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def create_pod(kube, pod_name, containers, **spec):
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod_name, **spec.pop("metadata", {})},
            "spec": {"restartPolicy": "Never", "containers": containers, **spec}}
    return kube.create_namespaced_pod(kube.namespace, body)


def wait_pod(kube, pod_name, until, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        pod = kube.read_namespaced_pod(pod_name, kube.namespace)
        if until(pod):
            return pod
        assert time.monotonic() < deadline, f"pod {pod_name} still {pod.status.phase}: {pod.status}"
        time.sleep(0.3)


def finished(pod):
    return pod.status.phase in ("Succeeded", "Failed")


def delete_pod(kube, pod_name):
    try:
        kube.delete_namespaced_pod(pod_name, kube.namespace, grace_period_seconds=0)
    except ApiException:
        pass


def test_env_volumes_init_and_termination_message(kube):
    ns, pod_name, cm = kube.namespace, name("node-env"), name("node-cm")
    kube.create_namespaced_config_map(ns, {"metadata": {"name": cm},
                                           "data": {"greeting": "hello $(NOT_EXPANDED)", "file.txt": "in a file"}})
    kube.create_namespaced_secret(ns, {"metadata": {"name": cm}, "stringData": {"password": "s3cr3t"}})
    # The kubelet expands $(POD) before the shell runs; $$HOME reaches the shell as $HOME; a
    # $(MISSING) in an env value stays as written.
    script = ('echo "$GREETING|$FROM_CM_greeting|$(POD)|$NS|$MEM|$CPU|$COMPOSED|$$HOME"; '
              "cat /work-dir/init.txt; cat /info/labels; echo; cat /single/one.txt; echo; "
              "(touch /info/new) 2>/dev/null && echo writable-downward; "
              "cat /sub/x/made-by-init; cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; echo; "
              "test -s /var/run/secrets/kubernetes.io/serviceaccount/token && echo token; "
              "grep -c BEGIN /var/run/secrets/kubernetes.io/serviceaccount/ca.crt; "
              "echo $KUBERNETES_SERVICE_HOST; (echo x >> /single/one.txt) 2>/dev/null || echo read-only; pwd; "
              "printf 'the result' > /dev/termination-log; exit 3")
    create_pod(kube, pod_name, [{
        "name": "main", "image": "python:3.11", "command": ["sh", "-c"], "args": [script],
        "workingDir": "/opt/work",
        "env": [{"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": cm, "key": "greeting"}}},
                {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
                {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "requests.cpu", "divisor": "1m"}}},
                {"name": "COMPOSED", "value": "$(POD)/$(NS)/$(MISSING)/$$(POD)"}],
        "envFrom": [{"prefix": "FROM_CM_", "configMapRef": {"name": cm}}],
        "resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "250m"}},
        "volumeMounts": [{"name": "work", "mountPath": "/work-dir"},
                         {"name": "info", "mountPath": "/info"},
                         {"name": "cm", "mountPath": "/single/one.txt", "subPath": "file.txt", "readOnly": True},
                         {"name": "work", "mountPath": "/sub", "subPath": "nested"}]}],
        initContainers=[{"name": "init", "image": "ubuntu:22.04", "command": ["sh", "-c",
                         "echo init-ran > /w/init.txt; mkdir -p /w/nested/x; echo from-init > /w/nested/x/made-by-init"],
                         "volumeMounts": [{"name": "work", "mountPath": "/w"}]}],
        volumes=[{"name": "work", "emptyDir": {}}, {"name": "cm", "configMap": {"name": cm}},
                 {"name": "info", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}],
        metadata={"labels": {"app": "demo", "quote": "a-b"}})
    try:
        pod = wait_pod(kube, pod_name, finished)
        log = kube.read_namespaced_pod_log(pod_name, ns, container="main")
        assert log.splitlines() == [
            f"hello $(NOT_EXPANDED)|hello $(NOT_EXPANDED)|{pod_name}|{ns}|256|250|{pod_name}/{ns}/$(MISSING)/$(POD)|/root",
            "init-ran", 'app="demo"', 'quote="a-b"', "in a file", "from-init", ns, "token", "1", "127.0.0.1",
            "read-only", "/opt/work"]
        assert pod.status.phase == "Failed"
        [main] = pod.status.container_statuses
        term = main.state.terminated
        assert (term.exit_code, term.reason, term.message) == (3, "Error", "the result")
        assert term.started_at and term.finished_at and main.container_id.startswith("kfpt://")
        [init] = pod.status.init_container_statuses
        assert (init.state.terminated.exit_code, init.state.terminated.reason) == (0, "Completed")
        conditions = {c.type: c for c in pod.status.conditions}
        assert conditions["PodScheduled"].status == "True" and conditions["Initialized"].status == "True"
        assert conditions["Ready"].status == "False" and conditions["Ready"].reason == "PodCompleted"
        assert all(c.last_transition_time for c in pod.status.conditions)
        assert pod.status.pod_ip == "127.0.0.1" and pod.spec.node_name == "kfpt-node"
    finally:
        delete_pod(kube, pod_name)
        kube.delete_namespaced_config_map(cm, ns)
        kube.delete_namespaced_secret(cm, ns)


def test_exec_and_logs_through_the_api_server(kube):
    ns, pod_name = kube.namespace, name("node-exec")
    create_pod(kube, pod_name, [{"name": "box", "image": "ubuntu:22.04", "command": ["sh", "-c",
               "for i in 1 2 3 4 5; do echo line$i; done; while :; do sleep 0.2; done"],
               "env": [{"name": "IN_ENV", "value": "from-the-pod"}], "workingDir": "/srv"}])
    try:
        wait_pod(kube, pod_name, lambda p: p.status.phase == "Running")
        out = stream(kube.connect_get_namespaced_pod_exec, pod_name, ns, container="box",
                     command=["sh", "-c", "echo $IN_ENV $(pwd) $(hostname); echo oops >&2"],
                     stderr=True, stdin=False, stdout=True, tty=False)
        assert sorted(out.splitlines()) == sorted([f"from-the-pod /srv {pod_name}", "oops"])  # two streams
        resp = stream(kube.connect_get_namespaced_pod_exec, pod_name, ns, container="box",
                      command=["sh", "-c", "exit 42"], stderr=True, stdin=False, stdout=True, tty=False,
                      _preload_content=False)
        resp.run_forever(timeout=20)
        assert resp.returncode == 42
        for _ in range(50):
            log = kube.read_namespaced_pod_log(pod_name, ns)
            if log.count("\n") == 5:
                break
            time.sleep(0.1)
        assert log == "line1\nline2\nline3\nline4\nline5\n"
        assert kube.read_namespaced_pod_log(pod_name, ns, tail_lines=2) == "line4\nline5\n"
        follow = kube.read_namespaced_pod_log(pod_name, ns, follow=True, _preload_content=False)
        kube.delete_namespaced_pod(pod_name, ns, grace_period_seconds=1)
        assert follow.read().decode().startswith("line1\n"), "a follow ends when the container stops"
    finally:
        delete_pod(kube, pod_name)


def test_downward_api_files_follow_annotations(kube):
    """Tekton's entrypoint waits for /tekton/downward/ready, which appears after the pod starts."""
    ns, pod_name = kube.namespace, name("node-ready")
    create_pod(kube, pod_name, [{"name": "step", "image": "ubuntu:22.04", "command": ["sh", "-c",
               "until [ -s /downward/ready ]; do sleep 0.1; done; cat /downward/ready > /dev/termination-log"],
               "volumeMounts": [{"name": "downward", "mountPath": "/downward"}]}],
               volumes=[{"name": "downward", "downwardAPI": {"items": [
                   {"path": "ready", "fieldRef": {"fieldPath": "metadata.annotations['tekton.dev/ready']"}}]}}])
    try:
        wait_pod(kube, pod_name, lambda p: p.status.phase == "Running")
        time.sleep(1)
        assert kube.read_namespaced_pod(pod_name, ns).status.phase == "Running", "waits for the annotation"
        kube.patch_namespaced_pod(pod_name, ns, {"metadata": {"annotations": {"tekton.dev/ready": "READY"}}})
        pod = wait_pod(kube, pod_name, finished, timeout=20)
        assert pod.status.phase == "Succeeded"
        assert pod.status.container_statuses[0].state.terminated.message == "READY"
    finally:
        delete_pod(kube, pod_name)


def test_claims_are_provisioned_and_removed(kube):
    ns, pod_name, claim = kube.namespace, name("node-pvc"), name("node-claim")
    kube.create_namespaced_persistent_volume_claim(ns, {"metadata": {"name": claim}, "spec": {
        "accessModes": ["ReadWriteOnce"], "storageClassName": "", "resources": {"requests": {"storage": "1Gi"}}}})
    create_pod(kube, pod_name, [{"name": "w", "image": "ubuntu:22.04", "command": ["sh", "-c", "echo kept > /data/f"],
               "volumeMounts": [{"name": "d", "mountPath": "/data"}]}],
               volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": claim}}])
    try:
        pod = wait_pod(kube, pod_name, finished, timeout=90)
        assert pod.status.phase == "Succeeded"
        pvc = kube.read_namespaced_persistent_volume_claim(claim, ns)
        folder = STATE / "volumes" / pvc.spec.volume_name
        assert pvc.status.phase == "Bound" and (folder / "f").read_text() == "kept\n"
    finally:
        delete_pod(kube, pod_name)
        kube.delete_namespaced_persistent_volume_claim(claim, ns)
    deadline = time.monotonic() + 60
    while folder.exists() or _exists(kube.read_persistent_volume, pvc.spec.volume_name):
        assert time.monotonic() < deadline, f"{pvc.spec.volume_name} not removed after its claim went"
        time.sleep(0.5)


def _exists(read, *args):
    try:
        read(*args)
        return True
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise


def test_restart_on_failure_then_success(kube):
    pod_name = name("node-restart")
    create_pod(kube, pod_name, [{"name": "flaky", "image": "ubuntu:22.04", "command": ["sh", "-c",
               "if [ -e /state/once ]; then echo second; exit 0; fi; touch /state/once; echo first; exit 1"],
               "volumeMounts": [{"name": "state", "mountPath": "/state"}]}],
               restartPolicy="OnFailure", volumes=[{"name": "state", "emptyDir": {}}])
    try:
        pod = wait_pod(kube, pod_name, finished)
        [status] = pod.status.container_statuses
        assert pod.status.phase == "Succeeded" and status.restart_count == 1
        assert status.last_state.terminated.exit_code == 1
    finally:
        delete_pod(kube, pod_name)


def test_active_deadline_fails_the_pod(kube):
    pod_name = name("node-deadline")
    create_pod(kube, pod_name, [{"name": "slow", "image": "ubuntu:22.04", "command": ["sleep", "600"]}],
               activeDeadlineSeconds=2, terminationGracePeriodSeconds=1)
    try:
        pod = wait_pod(kube, pod_name, finished, timeout=30)
        assert (pod.status.phase, pod.status.reason) == ("Failed", "DeadlineExceeded")
        assert pod.status.container_statuses[0].state.terminated.exit_code == 137
    finally:
        delete_pod(kube, pod_name)


def test_memory_limit_is_an_oom_kill(kube):
    pod_name = name("node-oom")
    create_pod(kube, pod_name, [{"name": "hog", "image": "python:3.11",
               "command": ["python", "-c", "x = bytearray(512 * 1024 * 1024)"],
               "resources": {"limits": {"memory": "64Mi"}}}])
    try:
        pod = wait_pod(kube, pod_name, finished)
        term = pod.status.container_statuses[0].state.terminated
        assert (pod.status.phase, term.reason, term.exit_code) == ("Failed", "OOMKilled", 137)
    finally:
        delete_pod(kube, pod_name)


def test_graceful_deletion_stops_the_pod_and_removes_its_folder(kube):
    pod_name = name("node-delete")
    pod = create_pod(kube, pod_name, [{"name": "svc", "image": "ubuntu:22.04", "command": ["sh", "-c",
                     "trap 'echo stopping; exit 0' TERM; while :; do sleep 0.1; done"],
                     "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]}],
                     volumes=[{"name": "scratch", "emptyDir": {}}], terminationGracePeriodSeconds=20)
    folder = STATE / "pods" / pod.metadata.uid
    wait_pod(kube, pod_name, lambda p: p.status.phase == "Running")
    assert (folder / "pod.json").exists()
    started = time.monotonic()
    kube.delete_namespaced_pod(pod_name, kube.namespace)
    while _exists(kube.read_namespaced_pod, pod_name, kube.namespace):
        assert time.monotonic() - started < 15, "the pod should go as soon as its container stops"
        time.sleep(0.2)
    for _ in range(50):
        if not folder.exists():
            break
        time.sleep(0.1)
    assert not folder.exists()


def test_swapping_in_tektons_nop_image_stops_a_sidecar(kube):
    """Tekton stops sidecars by replacing their image with nop: the kubelet kills the container
    and starts it again from the new image, where its own command does not exist."""
    from e2e.cluster import up
    nop = up.TEKTON_IMAGES["nop"]
    pod_name = name("node-swap")
    create_pod(kube, pod_name, [{"name": "side", "image": "ubuntu:22.04", "command": ["sleep", "600"]}])
    try:
        wait_pod(kube, pod_name, lambda p: p.status.phase == "Running")
        kube.patch_namespaced_pod(pod_name, kube.namespace, {"spec": {"containers": [
            {"name": "side", "image": nop}]}})
        pod = wait_pod(kube, pod_name, finished, timeout=30)
        [status] = pod.status.container_statuses
        assert status.restart_count == 1 and status.last_state.terminated.exit_code == 137
        assert (status.state.terminated.reason, status.state.terminated.exit_code) == ("StartError", 128)
        assert status.image == nop
    finally:
        delete_pod(kube, pod_name)


def test_the_aws_cli_image_runs_its_entrypoint(kube):
    pod_name = name("node-aws")
    create_pod(kube, pod_name, [{"name": "aws", "image": "amazon/aws-cli:2.15.0", "args": ["--version"]}])
    try:
        pod = wait_pod(kube, pod_name, finished)
        log = kube.read_namespaced_pod_log(pod_name, kube.namespace)
        assert pod.status.phase == "Succeeded", log
        assert log.startswith("aws-cli/")
    finally:
        delete_pod(kube, pod_name)


def test_non_root_user_gets_a_writable_sub_path_and_termination_log(kube):
    """Argo runs resource templates as uid 8737 with its emptyDir at /tmp through subPath `0`."""
    pod_name = name("node-nonroot")
    create_pod(kube, pod_name, [{"name": "main", "image": "ubuntu:22.04", "command": ["sh", "-c",
               "touch /tmp/x && echo tmp-ok; printf done > /dev/termination-log"],
               "securityContext": {"runAsUser": 8737, "runAsNonRoot": True},
               "volumeMounts": [{"name": "tmp", "mountPath": "/tmp", "subPath": "0"}]}],
               volumes=[{"name": "tmp", "emptyDir": {}}])
    try:
        pod = wait_pod(kube, pod_name, finished)
        assert kube.read_namespaced_pod_log(pod_name, kube.namespace) == "tmp-ok\n"
        term = pod.status.container_statuses[0].state.terminated
        assert (pod.status.phase, term.message) == ("Succeeded", "done")
    finally:
        delete_pod(kube, pod_name)
