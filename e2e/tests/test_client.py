"""translator.client on the single-machine cluster, both engines: a run from a pipeline function
with typed outputs, artifacts and logs read back, runs per experiment, terminate, upload and run
by reference, the errors of a namespace without manifests/ and of refused credentials.

Recurring runs are in test_client_schedules.py (they wait for cron ticks); the CLI and the CI
example in test_client_cli.py."""
from __future__ import annotations

import os
import time
import uuid

import pytest
from kubernetes import client as k8s

from e2e.harness import kubeconfig_path
from translator.client import Client, ClientError

from .client_pipelines import napper, typed_outputs

ENGINES = ["argo", "tekton"]


def _wanted() -> list[str]:
    return [p.strip() for p in os.environ.get("KFPT_E2E_CLIENT", "").split(",") if p.strip()]


def selectable(test):
    """KFPT_E2E_CLIENT=part,part,...: run only the client tests whose id holds one of the parts
    (`name` or `name[param]`; CI's subset); unset: all of them, as `make e2e` alone runs
    everything. A mark, so an unselected test sets up no fixture (no cluster objects, no apiserver)."""
    chosen = not _wanted() or any(p.split("[")[0] in test.__name__ for p in _wanted())
    return pytest.mark.skipif(not chosen, reason=f"not selected by KFPT_E2E_CLIENT={os.environ.get('KFPT_E2E_CLIENT')}")(test)


@pytest.fixture(autouse=True)
def client_selected(request):
    """The `name[param]` half of KFPT_E2E_CLIENT: one parameter of a selected test."""
    if _wanted() and not any(p in request.node.nodeid for p in _wanted()):
        pytest.skip(f"client test not selected by KFPT_E2E_CLIENT={os.environ['KFPT_E2E_CLIENT']}")


@pytest.fixture(scope="module")
def manifests(cluster):
    """This branch's manifests/ applied as `up` applies them (the Tekton scheduler pieces are new)."""
    from e2e.cluster.apply import Applier
    from e2e.cluster.up import project_objects

    Applier(cluster.api).apply_all(project_objects(), cluster.namespace)
    return cluster.namespace


def make_client(backend: str, **kw) -> Client:
    return Client(backend=backend, kubeconfig=str(kubeconfig_path()), **kw)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@selectable
@pytest.mark.parametrize("backend", ENGINES)
def test_run_from_pipeline_func_typed_outputs_logs_experiment(manifests, backend):
    c = make_client(backend, ui_url="https://ui.example")
    experiment = unique("Client Exp")
    exp = c.create_experiment(experiment, description="from the e2e suite")
    assert exp.display_name == experiment
    run = c.create_run_from_pipeline_func(typed_outputs, arguments={"n": 4, "word": "yo"}, run_name="typed run",
                                          experiment_name=experiment)
    try:
        assert run.run_id.startswith("typed-run-") and run.namespace == manifests
        assert run.url and run.run_id in run.url
        done = c.wait_for_run_completion(run.run_id, timeout=300)
        assert done.state == "SUCCEEDED", done.message
        assert done.outputs == {"Output": "YO!"}
        produce = done.task("produce")
        assert produce.outputs == {"count": 8, "ratio": 1.0, "ok": True, "items": ["yo", 4],
                                   "info": {"word": "yo", "n": 4}, "text": "yo!"}
        assert type(produce.outputs["count"]) is int and type(produce.outputs["ratio"]) is float
        art = produce.artifacts["out_data"]
        assert art.uri.startswith("s3://kfp-artifacts/") and art.metadata == {"rows": 4}
        assert c.read_artifact(art.uri) == b"yoyoyoyo"
        lines = [line.text for line in c.logs(run.run_id, task="produce")]
        assert "client-e2e log line: n=4 word=yo" in lines
        assert [r.run_id for r in c.list_runs(experiment_name=experiment)] == [run.run_id]
        assert exp.experiment_id in {e.experiment_id for e in c.list_experiments()}
        assert run.run_id not in {r.run_id for r in c.list_runs(experiment_name=unique("other"))}
    finally:
        c.delete_run(run.run_id)
        c.delete_experiment(exp.experiment_id)
    with pytest.raises(ClientError, match=f"no run '{run.run_id}'"):
        c.get_run(run.run_id)


@selectable
@pytest.mark.parametrize("backend", ENGINES)
def test_logs_follow_and_terminate_a_running_run(manifests, backend):
    c = make_client(backend)
    run = c.create_run_from_pipeline_func(napper, arguments={"seconds": 600}, run_name=unique("nap"))
    try:
        for seen in c.watch_run(run.run_id, timeout=180, poll=0.5):
            if any(t.name == "nap" and t.state == "RUNNING" for t in seen.tasks):
                break
        else:
            pytest.fail(f"run {run.run_id} ended before its step ran: {seen.state} {seen.message}")
        streamed = c.logs(run.run_id, task="nap", follow=True)  # a running step's log, as it is written
        assert any(line.text == "napping" for line in streamed)
        streamed.close()
        started = time.monotonic()
        c.terminate_run(run.run_id)
        done = c.wait_for_run_completion(run.run_id, timeout=120)
        assert done.state == "CANCELED", (done.state, done.message)
        assert time.monotonic() - started < 120
        assert done.task("nap").state != "SUCCEEDED"
    finally:
        c.delete_run(run.run_id)


@selectable
@pytest.mark.parametrize("backend", ENGINES)
def test_uploaded_pipeline_runs_by_reference(manifests, backend):
    c = make_client(backend)
    name = unique("client-up")
    v1 = c.upload_pipeline(typed_outputs, pipeline_name=name, description="typed outputs")
    v2 = c.upload_pipeline_version(typed_outputs, "second", pipeline_name=name)
    try:
        assert (v1.version, v2.version) == ("v1", "second")
        assert [v.version for v in c.list_pipeline_versions(name)] == ["v1", "second"]
        run = c.run_pipeline(pipeline_name=name, arguments={"n": 2, "word": "ab"}, run_name=unique("by-ref"))
        kind_ref = "workflowTemplateRef" if backend == "argo" else "pipelineRef"
        assert run.raw["spec"][kind_ref]["name"] == v2.pipeline_version_id
        done = c.wait_for_run_completion(run.run_id, timeout=300)
        assert done.state == "SUCCEEDED", done.message
        assert done.outputs == {"Output": "AB!"} and done.task("produce").outputs["count"] == 4
        c.delete_run(run.run_id)
        with pytest.raises(ClientError, match="caching is fixed when a pipeline is uploaded"):
            c.create_recurring_run(unique("never"), "0 2 * * *", pipeline_name=name, enable_caching=True)
    finally:
        c.delete_pipeline(name)
    assert c.list_pipeline_versions(name) == []


# -------------------------------------------------------------------------------- errors


@selectable
def test_unauthorized_is_one_line(cluster):
    host = cluster.api.configuration.host
    c = Client(host=host, token="not-a-token", backend="argo", namespace="kfp",
               ssl_ca_cert=cluster.api.configuration.ssl_ca_cert)
    with pytest.raises(ClientError) as err:
        c.list_runs()
    assert str(err.value).startswith(f"unauthorized at {host}: the API server refused the credentials")


@pytest.fixture
def bare_namespace(cluster):
    """A namespace without this project's manifests/ (deleted afterwards)."""
    name = unique("kfpt-client-bare")
    core = k8s.CoreV1Api(cluster.api)
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


@selectable
def test_missing_prerequisites_name_the_manifest(manifests, bare_namespace, cluster):
    argo = make_client("argo", namespace=bare_namespace)
    with pytest.raises(ClientError) as err:
        argo.create_run_from_pipeline_func(typed_outputs)
    assert str(err.value) == (
        f"prerequisites: artifact repository (ConfigMap artifact-repositories, and the workflow controller has no "
        f"default) is missing in namespace {bare_namespace}: install it with `kubectl apply -k manifests/overlays/argo "
        f"-n {bare_namespace}` (manifests/components/argo/artifact-repository.yaml)")
    core = k8s.CoreV1Api(cluster.api)
    repo = core.read_namespaced_config_map("artifact-repositories", manifests)
    core.create_namespaced_config_map(bare_namespace, k8s.V1ConfigMap(
        metadata=k8s.V1ObjectMeta(name="artifact-repositories", annotations=repo.metadata.annotations), data=repo.data))
    with pytest.raises(ClientError, match=r"cache ConfigMap kfp-translate-cache is missing in namespace .*"
                                          r"\(manifests/components/argo/memoization-cache.yaml\)"):
        argo.create_run_from_pipeline_func(typed_outputs, enable_caching=True)
    tekton = make_client("tekton", namespace=bare_namespace)
    with pytest.raises(ClientError, match=r"artifact store Secret kfp-translate-artifacts is missing in namespace .*"
                                          r"overlays/tekton .*\(manifests/components/tekton/artifact-store.yaml\)"):
        tekton.create_run_from_pipeline_func(typed_outputs)
    with pytest.raises(ClientError, match=r"the Tekton scheduler \(ServiceAccount kfp-translate-scheduler\) is missing "
                                          r".*\(manifests/components/tekton/scheduler.yaml\)"):
        tekton.create_recurring_run("nightly", "0 2 * * *", pipeline_func=napper)
    assert argo.list_runs() == [] and tekton.list_runs() == []  # nothing was created half-way


@selectable
def test_forbidden_names_the_role(bare_namespace, cluster):
    """A real ServiceAccount token without the client's Role: 403, one line naming the Role's file."""
    core = k8s.CoreV1Api(cluster.api)
    core.create_namespaced_service_account(bare_namespace, k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name="nobody")))
    token = core.create_namespaced_service_account_token("nobody", bare_namespace, k8s.AuthenticationV1TokenRequest(
        spec=k8s.V1TokenRequestSpec(audiences=["https://kubernetes.default.svc.cluster.local"], expiration_seconds=600))
    ).status.token
    c = Client(host=cluster.api.configuration.host, token=token, backend="argo", namespace=bare_namespace,
               ssl_ca_cert=cluster.api.configuration.ssl_ca_cert)
    with pytest.raises(ClientError) as err:
        c.list_runs()
    text = str(err.value)
    assert text.startswith(f"forbidden at {cluster.api.configuration.host}: ") and "nobody" in text
    assert text.endswith("(the rights a user needs are in manifests/base/client-rbac.yaml)") and "\n" not in text


def role_client(cluster, namespace: str, backend: str = "argo") -> Client:
    """A Client whose ServiceAccount has only manifests/base/client-rbac.yaml's Role, in a namespace
    set up with manifests/ as `up` applies it."""
    from e2e.cluster.apply import Applier
    from e2e.cluster.up import project_objects

    Applier(cluster.api).apply_all(project_objects(), namespace)
    core, rbac = k8s.CoreV1Api(cluster.api), k8s.RbacAuthorizationV1Api(cluster.api)
    core.create_namespaced_service_account(namespace, k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name="ci")))
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": "ci-client"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "kfp-translate-client"},
        "subjects": [{"kind": "ServiceAccount", "name": "ci", "namespace": namespace}]})
    token = core.create_namespaced_service_account_token("ci", namespace, k8s.AuthenticationV1TokenRequest(
        spec=k8s.V1TokenRequestSpec(audiences=["https://kubernetes.default.svc.cluster.local"], expiration_seconds=900))
    ).status.token
    return Client(host=cluster.api.configuration.host, token=token, backend=backend, namespace=namespace,
                  ssl_ca_cert=cluster.api.configuration.ssl_ca_cert)


@selectable
@pytest.mark.parametrize("backend", ENGINES)
def test_client_role_is_enough(bare_namespace, cluster, backend):
    """A ServiceAccount bound only to manifests/base/client-rbac.yaml's Role, in a namespace set up
    with manifests/ as `up` applies it: every call of the flow works with those rights alone."""
    c = role_client(cluster, bare_namespace, backend)
    c.create_experiment("rbac")
    run = c.create_run_from_pipeline_func(typed_outputs, arguments={"n": 1, "word": "z"}, experiment_name="rbac")
    done = c.wait_for_run_completion(run.run_id, timeout=300)
    assert done.state == "SUCCEEDED", done.message
    art = done.task("produce").artifacts["out_data"]
    assert c.read_artifact(art.uri) == b"z"
    assert any(line.text == "client-e2e log line: n=1 word=z" for line in c.logs(run.run_id, task="produce"))
    assert [e.experiment_id for e in c.list_experiments()] == ["rbac"]
    version = c.upload_pipeline(typed_outputs, pipeline_name="rbac-pipeline")
    schedule = c.create_recurring_run("rbac-nightly", "0 2 * * *", pipeline_name="rbac-pipeline", max_concurrency=1)
    c.disable_recurring_run(schedule.recurring_run_id)
    c.delete_recurring_run(schedule.recurring_run_id)
    c.delete_pipeline_version(version.pipeline_version_id)
    c.delete_run(run.run_id)


@selectable
def test_in_cluster_config(bare_namespace, cluster):
    """Client() inside a pod, with nothing but its ServiceAccount (bound to the client's Role):
    the in-cluster configuration and the pod's namespace. The pod runs this checkout's code from a
    hostPath (the single-machine cluster's pods share this host's files)."""
    from pathlib import Path

    from e2e.cluster.apply import Applier, kustomize_build

    if os.environ.get("KFPT_E2E_HOST_NETWORK", "1") == "0":
        pytest.skip("pods do not share this host's files (KFPT_E2E_HOST_NETWORK=0): no checkout to mount")
    repo = Path(__file__).resolve().parents[2]
    site = next((repo / ".venv" / "lib").glob("python3*/site-packages"))
    Applier(cluster.api).apply_all(kustomize_build(repo / "manifests" / "base"), bare_namespace)
    core, rbac = k8s.CoreV1Api(cluster.api), k8s.RbacAuthorizationV1Api(cluster.api)
    core.create_namespaced_service_account(bare_namespace, k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name="ci")))
    rbac.create_namespaced_role_binding(bare_namespace, {
        "metadata": {"name": "ci-client"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "kfp-translate-client"},
        "subjects": [{"kind": "ServiceAccount", "name": "ci", "namespace": bare_namespace}]})
    script = ("import sys; sys.path[:0] = ['/src', '/src/" + str(site.relative_to(repo)) + "']\n"
              "from translator.client import Client\n"
              "c = Client(backend='tekton')\n"
              "print('in-cluster', c.namespace, len(c.list_runs()), len(c.list_experiments()))\n")
    core.create_namespaced_pod(bare_namespace, {
        "metadata": {"name": "client-in-cluster"},
        "spec": {"serviceAccountName": "ci", "restartPolicy": "Never",
                 "containers": [{"name": "main", "image": "python:3.11-slim", "command": ["python3", "-c", script],
                                 "volumeMounts": [{"name": "src", "mountPath": "/src", "readOnly": True}]}],
                 "volumes": [{"name": "src", "hostPath": {"path": str(repo), "type": "Directory"}}]}})
    pod = core.read_namespaced_pod("client-in-cluster", bare_namespace)
    deadline = time.monotonic() + 120
    while pod.status.phase not in ("Succeeded", "Failed") and time.monotonic() < deadline:
        time.sleep(1)
        pod = core.read_namespaced_pod("client-in-cluster", bare_namespace)
    log = core.read_namespaced_pod_log("client-in-cluster", bare_namespace)
    assert pod.status.phase == "Succeeded", log
    assert log.strip().splitlines()[-1] == f"in-cluster {bare_namespace} 0 0"


@pytest.fixture(scope="module")
def apiserver_without_engines(tmp_path_factory):
    """A second, private kube-apiserver (with its own etcd) where neither Argo nor Tekton was ever
    installed: the real 404s of a cluster without the engines' CRDs. Stopped afterwards."""
    import socket
    import ssl
    import subprocess
    import urllib.request

    import yaml

    from e2e.cluster import build
    from e2e.cluster.up import _b64, state_dir

    tmp_path = tmp_path_factory.mktemp("bare-apiserver")

    def free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    kube, pki = str(build.ensure("kube")), state_dir() / "pki"
    etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
    log = open(tmp_path / "control-plane.log", "ab")
    procs = [subprocess.Popen([kube, "etcd", "--data-dir", str(tmp_path / "etcd"),
                               "--listen-client-url", f"http://127.0.0.1:{etcd_port}",
                               "--listen-peer-url", f"http://127.0.0.1:{peer_port}"],
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)]
    procs.append(subprocess.Popen([
        kube, "apiserver", f"--etcd-servers=http://127.0.0.1:{etcd_port}", "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1", f"--secure-port={api_port}", f"--tls-cert-file={pki / 'apiserver.crt'}",
        f"--tls-private-key-file={pki / 'apiserver.key'}", f"--client-ca-file={pki / 'ca.crt'}",
        f"--service-account-key-file={pki / 'sa.pub'}", f"--service-account-signing-key-file={pki / 'sa.key'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--service-cluster-ip-range=10.97.0.0/16", "--authorization-mode=RBAC", "--endpoint-reconciler-type=none",
        "--profiling=false"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    try:
        ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{api_port}/readyz", context=ctx, timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "control-plane.log").read_text()[-3000:]
            time.sleep(0.5)
        config = {"apiVersion": "v1", "kind": "Config", "current-context": "bare",
                  "clusters": [{"name": "bare", "cluster": {"server": f"https://127.0.0.1:{api_port}",
                                                            "certificate-authority-data": _b64(pki / "ca.crt")}}],
                  "users": [{"name": "admin", "user": {"client-certificate-data": _b64(pki / "admin.crt"),
                                                       "client-key-data": _b64(pki / "admin.key")}}],
                  "contexts": [{"name": "bare", "context": {"cluster": "bare", "user": "admin", "namespace": "ml"}}]}
        (tmp_path / "kubeconfig").write_text(yaml.safe_dump(config))
        yield tmp_path / "kubeconfig", f"https://127.0.0.1:{api_port}"
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


@selectable
@pytest.mark.parametrize("backend,crd", [("argo", "workflows.argoproj.io"), ("tekton", "pipelineruns.tekton.dev")])
def test_missing_crds_on_a_real_apiserver(apiserver_without_engines, backend, crd):
    kubeconfig, host = apiserver_without_engines
    c = Client(backend=backend, kubeconfig=str(kubeconfig))
    for call in (lambda: c.create_run_from_pipeline_func(typed_outputs), c.list_runs,
                 lambda: c.upload_pipeline(typed_outputs)):
        with pytest.raises(ClientError) as err:
            call()
        assert str(err.value) == (f"{'Argo Workflows' if backend == 'argo' else 'Tekton Pipelines'} is not installed on "
                                  f"{host}: no CRD {crd} (install it with `kubectl apply -k manifests/engines/{backend}`, "
                                  f"then `kubectl apply -k manifests/overlays/{backend} -n ml`)")
