"""Start the single-machine cluster (`make e2e-up`) and stop it (`make e2e-down`).

Everything listens on 127.0.0.1 and keeps its state under one folder (default `e2e/.cluster/`):
etcd, kube-apiserver, kube-controller-manager and kube-scheduler (k8s.io/kubernetes used as a
library), MinIO, Argo's workflow-controller, Tekton's controller and webhook, and this project's
node agent, which does the kubelet's job. `up` is idempotent: what already runs is kept.
"""
from __future__ import annotations

import base64
import os
import ssl
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from e2e.cluster import build, pki, processes

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = "kfp"
NODE = "kfpt-node"
PORTS = {
    "etcd": 12379, "etcd-peer": 12380, "apiserver": 16443, "kube-controller-manager": 10257,
    "kube-scheduler": 10259, "kubelet": 10250, "minio": 19000, "minio-console": 19001,
    "tekton-webhook": 443, "tekton-controller-probes": 18080, "tekton-webhook-probes": 18081,
    "tekton-controller-metrics": 19090, "tekton-webhook-metrics": 19091,
    "tekton-controller-profiling": 18008, "tekton-webhook-profiling": 18009,
}
S3_ACCESS_KEY = "kfpt-minio"
S3_SECRET_KEY = "kfpt-minio-secret"
S3_BUCKET = "kfp-artifacts"
ARGO_EXECUTOR_IMAGE = f"quay.io/argoproj/argoexec:{build.ARGO}"
TEKTON_IMAGES = {name: f"ghcr.io/tektoncd/pipeline/{name}:{build.TEKTON}"
                 for name in ("entrypoint", "nop", "sidecarlogresults", "workingdirinit")}
TEKTON_SHELL_IMAGE = "cgr.dev/chainguard/busybox:latest"
# Start order; `down` stops in reverse.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "minio", "node",
              "tekton-webhook", "tekton-controller", "workflow-controller")


def state_dir() -> Path:
    return Path(os.environ.get("KFPT_E2E_STATE") or REPO / "e2e" / ".cluster").resolve()


def log(message: str) -> None:
    print(f"e2e: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- kubeconfigs


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def write_kubeconfig(state: Path, path: Path, namespace: str) -> Path:
    """An admin kubeconfig (certificates embedded) whose context's default namespace is `namespace`."""
    ca = state / "pki"
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "kfpt",
        "clusters": [{"name": "kfpt", "cluster": {
            "server": f"https://127.0.0.1:{PORTS['apiserver']}",
            "certificate-authority-data": _b64(ca / "ca.crt")}}],
        "users": [{"name": "kfpt-admin", "user": {
            "client-certificate-data": _b64(ca / "admin.crt"),
            "client-key-data": _b64(ca / "admin.key")}}],
        "contexts": [{"name": "kfpt", "context": {"cluster": "kfpt", "user": "kfpt-admin",
                                                   "namespace": namespace}}],
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


def api_client(state: Path):
    from kubernetes import client, config

    return config.new_client_from_config(config_file=str(state / "kubeconfig"))


# ---------------------------------------------------------------- control plane


def _wait_http(url: str, state: Path, name: str, timeout: float, tls: bool = True) -> None:
    ctx = None
    if tls:
        ctx = ssl.create_default_context(cafile=str(state / "pki" / "ca.crt"))
        ctx.load_cert_chain(str(state / "pki" / "admin.crt"), str(state / "pki" / "admin.key"))
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if not processes.running_pid(state, name):
            raise SystemExit(f"e2e: {name} exited; last log lines:\n{processes.log_tail(state, name)}")
        try:
            with urllib.request.urlopen(url, context=ctx, timeout=5) as resp:
                if resp.status == 200:
                    return
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            last = str(exc)
        time.sleep(0.5)
    raise SystemExit(f"e2e: {name} not ready after {timeout:.0f} s ({last}); log:\n{processes.log_tail(state, name)}")


def start_control_plane(state: Path, bins: dict[str, Path]) -> None:
    p = state / "pki"
    kube = str(bins["kube"])
    admin = str(state / "admin.kubeconfig")
    processes.start(state, "etcd", [kube, "etcd", "--data-dir", str(state / "etcd"),
                                    "--listen-client-url", f"http://127.0.0.1:{PORTS['etcd']}",
                                    "--listen-peer-url", f"http://127.0.0.1:{PORTS['etcd-peer']}"])
    _wait_http(f"http://127.0.0.1:{PORTS['etcd']}/health", state, "etcd", 60, tls=False)
    processes.start(state, "kube-apiserver", [
        kube, "apiserver",
        f"--etcd-servers=http://127.0.0.1:{PORTS['etcd']}",
        "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={PORTS['apiserver']}",
        f"--tls-cert-file={p / 'apiserver.crt'}", f"--tls-private-key-file={p / 'apiserver.key'}",
        f"--client-ca-file={p / 'ca.crt'}",
        f"--service-account-key-file={p / 'sa.pub'}", f"--service-account-signing-key-file={p / 'sa.key'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--api-audiences=https://kubernetes.default.svc.cluster.local",
        "--service-cluster-ip-range=10.96.0.0/16",
        "--authorization-mode=RBAC",
        "--endpoint-reconciler-type=none",  # it refuses a loopback advertise address otherwise
        f"--kubelet-client-certificate={p / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={p / 'apiserver-kubelet-client.key'}",
        f"--kubelet-certificate-authority={p / 'ca.crt'}",
        "--kubelet-preferred-address-types=InternalIP",
        "--allow-privileged=true", "--profiling=false", "--event-ttl=2h",
        # Front-proxy settings the controller-manager and scheduler look up (no aggregated APIs here).
        f"--requestheader-client-ca-file={p / 'ca.crt'}", "--requestheader-allowed-names=kfpt-front-proxy",
        "--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
    ])
    _wait_http(f"https://127.0.0.1:{PORTS['apiserver']}/readyz", state, "kube-apiserver", 120)
    common = [f"--kubeconfig={admin}", f"--authentication-kubeconfig={admin}",
              f"--authorization-kubeconfig={admin}", "--bind-address=127.0.0.1", "--leader-elect=false"]
    processes.start(state, "kube-controller-manager", [
        kube, "controller-manager", *common, f"--secure-port={PORTS['kube-controller-manager']}",
        f"--service-account-private-key-file={p / 'sa.key'}", f"--root-ca-file={p / 'ca.crt'}",
        "--controllers=*,-node-ipam-controller",
        "--use-service-account-credentials=false",
    ])
    processes.start(state, "kube-scheduler", [
        kube, "scheduler", *common, f"--secure-port={PORTS['kube-scheduler']}"])


# ---------------------------------------------------------------- objects


def _namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def _wait_default_service_account(api, namespace: str, timeout: float = 60.0) -> None:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(api)
    deadline = time.monotonic() + timeout
    while True:
        try:
            core.read_namespaced_service_account("default", namespace)
            core.read_namespaced_config_map("kube-root-ca.crt", namespace)
            return
        except ApiException as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise SystemExit(f"e2e: namespace {namespace} got no default ServiceAccount / "
                                 f"kube-root-ca.crt from the controller-manager ({exc.status})") from None
        time.sleep(0.5)


def project_objects(s3_host: str | None = None) -> list[dict[str, Any]]:
    """This project's manifests/ as `kubectl apply -k manifests/` applies them, with the artifact
    repository pointed at the cluster's MinIO (`s3_host` HOST:PORT as pods reach it; default the
    single-machine cluster's loopback port)."""
    from e2e.cluster.apply import kustomize_build

    s3_host = s3_host or f"127.0.0.1:{PORTS['minio']}"
    objs = []
    for obj in kustomize_build(REPO / "manifests"):
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == "artifact-repositories":
            for key, text in obj["data"].items():
                repo = yaml.safe_load(text)
                repo["s3"]["endpoint"] = s3_host
                repo["s3"]["bucket"] = S3_BUCKET
                obj["data"][key] = yaml.safe_dump(repo, sort_keys=False)
        if obj["kind"] == "Secret" and obj["metadata"]["name"] == "kfp-translate-artifacts":
            obj["stringData"].update({  # the Tekton backend's artifact store
                "KFP_TRANSLATE_BUCKET": S3_BUCKET, "AWS_ENDPOINT_URL": f"http://{s3_host}",
                "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY})
        objs.append(obj)
    objs.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "argo-artifacts"},
                 "stringData": {"accesskey": S3_ACCESS_KEY, "secretkey": S3_SECRET_KEY}})
    return objs


def argo_objects() -> list[dict[str, Any]]:
    from e2e.cluster.apply import load_documents

    moddir = build._module_dir(build._go(), "github.com/argoproj/argo-workflows/v4", build.ARGO)
    config = {
        "metricsConfig": "enabled: false\n",
        "telemetryConfig": "enabled: false\n",
        "executor": "imagePullPolicy: IfNotPresent\n",
    }
    return [
        _namespace("argo"),
        *load_documents(moddir / "manifests" / "base" / "crds" / "full"),
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "workflow-controller-configmap", "namespace": "argo"}, "data": config},
    ]


def tekton_objects() -> list[dict[str, Any]]:
    from e2e.cluster.apply import load_documents

    moddir = build._module_dir(build._go(), "github.com/tektoncd/pipeline", build.TEKTON)
    cfg = moddir / "config"
    skip = {"controller.yaml", "webhook.yaml", "webhook-hpa.yaml", "events.yaml",
            "config-leader-election-events.yaml"}
    objs = [*load_documents(cfg / "100-namespace"), *load_documents(cfg / "300-crds")]
    objs += [d for f in sorted(cfg.glob("*.yaml")) if f.name not in skip for d in load_documents(f)]
    # The webhook runs as a process on this machine. Endpoints may not point at loopback, so the
    # Service is an ExternalName for localhost: the apiserver's cluster-IP resolver then calls
    # https://localhost:443 and checks the certificate for the Service's DNS name, as usual.
    objs.append({"apiVersion": "v1", "kind": "Service",
                 "metadata": {"name": "tekton-pipelines-webhook", "namespace": "tekton-pipelines",
                              "labels": {"app.kubernetes.io/name": "webhook"}},
                 "spec": {"type": "ExternalName", "externalName": "localhost",
                          "ports": [{"name": "https-webhook", "port": 443}]}})
    return objs


_WEBHOOK_KINDS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")


def _drop_webhook_configurations(api, webhooks: list[dict]) -> None:
    """A second `up` on the same state finds the last run's Tekton webhook configurations in etcd,
    while the webhook process has not started yet: with `failurePolicy: Fail` they would refuse the
    very ConfigMaps being applied. They are removed here and applied again after everything else;
    the webhook fills in their CA bundle when it starts (wait_tekton_webhook)."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    admission = client.AdmissionregistrationV1Api(api)
    for obj in webhooks:
        delete = (admission.delete_validating_webhook_configuration if obj["kind"].startswith("Validating")
                  else admission.delete_mutating_webhook_configuration)
        try:
            delete(obj["metadata"]["name"])
        except ApiException as err:
            if err.status != 404:
                raise


def apply_objects(state: Path) -> None:
    from e2e.cluster.apply import Applier

    api = api_client(state)
    applier = Applier(api)
    argo, tekton = argo_objects(), tekton_objects()
    crds = [o for o in argo + tekton if o["kind"] == "CustomResourceDefinition"]
    applier.apply_all([_namespace(NAMESPACE)] + crds)
    applier.wait_crds_established([c["metadata"]["name"] for c in crds])
    rest = [o for o in argo + tekton if o["kind"] != "CustomResourceDefinition"]
    webhooks = [o for o in rest if o["kind"] in _WEBHOOK_KINDS]
    if not processes.running_pid(state, "tekton-webhook"):
        _drop_webhook_configurations(api, webhooks)
    applier.apply_all(o for o in rest if o["kind"] not in _WEBHOOK_KINDS)
    applier.apply_all(webhooks)
    _wait_default_service_account(api, NAMESPACE)
    applier.apply_all(project_objects(), NAMESPACE)


# ---------------------------------------------------------------- services


def start_minio(state: Path, bins: dict[str, Path]) -> None:
    processes.start(state, "minio", [
        str(bins["minio"]), "server", str(state / "minio"), "--quiet",
        "--address", f"127.0.0.1:{PORTS['minio']}", "--console-address", f"127.0.0.1:{PORTS['minio-console']}",
    ], env={"MINIO_ROOT_USER": S3_ACCESS_KEY, "MINIO_ROOT_PASSWORD": S3_SECRET_KEY,
            "MINIO_UPDATE": "off", "MINIO_BROWSER": "off"})
    _wait_http(f"http://127.0.0.1:{PORTS['minio']}/minio/health/ready", state, "minio", 60, tls=False)
    import boto3

    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{PORTS['minio']}", region_name="us-east-1",
                      aws_access_key_id=S3_ACCESS_KEY, aws_secret_access_key=S3_SECRET_KEY)
    if S3_BUCKET not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=S3_BUCKET)


def start_node(state: Path) -> bool:
    if not (REPO / "e2e" / "cluster" / "node" / "__main__.py").exists():
        log("node agent not present yet: pods will stay Pending")
        return False
    processes.start(state, "node", [sys.executable, "-m", "e2e.cluster.node", "--state", str(state)], cwd=REPO)
    return True


def _tekton_env(role: str) -> dict[str, str]:
    return {
        "SYSTEM_NAMESPACE": "tekton-pipelines", "KUBERNETES_MIN_VERSION": "v1.28.0",
        "CONFIG_DEFAULTS_NAME": "config-defaults", "CONFIG_LOGGING_NAME": "config-logging",
        "CONFIG_OBSERVABILITY_NAME": "config-observability", "CONFIG_FEATURE_FLAGS_NAME": "feature-flags",
        "CONFIG_LEADERELECTION_NAME": f"config-leader-election-{role}", "CONFIG_SPIRE": "config-spire",
        "METRICS_DOMAIN": "tekton.dev/pipeline",
        "PROBES_PORT": str(PORTS[f"tekton-{role}-probes"]),
        "METRICS_PROMETHEUS_PORT": str(PORTS[f"tekton-{role}-metrics"]),
        "PROFILING_PORT": str(PORTS[f"tekton-{role}-profiling"]),
        "KUBECONFIG": str(state_dir() / "tekton.kubeconfig"),
    }


def start_engines(state: Path, bins: dict[str, Path]) -> None:
    write_kubeconfig(state, state / "tekton.kubeconfig", "tekton-pipelines")
    write_kubeconfig(state, state / "argo.kubeconfig", "argo")
    processes.start(state, "tekton-webhook", [str(bins["tekton-webhook"]), "--disable-ha"],
                    env={**_tekton_env("webhook"), "WEBHOOK_PORT": str(PORTS["tekton-webhook"]),
                         "WEBHOOK_SERVICE_NAME": "tekton-pipelines-webhook",
                         "WEBHOOK_SECRET_NAME": "webhook-certs",
                         "WEBHOOK_ADMISSION_CONTROLLER_NAME": "webhook.pipeline.tekton.dev"})
    images = []
    for name, image in TEKTON_IMAGES.items():
        images += [f"-{name}-image", image]
    processes.start(state, "tekton-controller", [
        str(bins["tekton-controller"]), "--disable-ha", *images, "-shell-image", TEKTON_SHELL_IMAGE,
        "-shell-image-win", "mcr.microsoft.com/powershell:nanoserver"],
        env=_tekton_env("controller"))
    processes.start(state, "workflow-controller", [
        str(bins["workflow-controller"]), "--configmap", "workflow-controller-configmap",
        "--executor-image", ARGO_EXECUTOR_IMAGE, "--kubeconfig", str(state / "argo.kubeconfig")],
        env={"LEADER_ELECTION_DISABLE": "true", "DEFAULT_REQUEUE_TIME": "1s"})


def wait_tekton_webhook(state: Path, timeout: float = 120.0) -> None:
    """The webhook is ready when it has written its CA into the validating webhook configuration."""
    from kubernetes import client

    admission = client.AdmissionregistrationV1Api(api_client(state))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not processes.running_pid(state, "tekton-webhook"):
            raise SystemExit(f"e2e: tekton-webhook exited:\n{processes.log_tail(state, 'tekton-webhook')}")
        conf = admission.read_validating_webhook_configuration("validation.webhook.pipeline.tekton.dev")
        if all(w.client_config.ca_bundle for w in conf.webhooks or []):
            return
        time.sleep(1)
    raise SystemExit(f"e2e: tekton-webhook not ready after {timeout:.0f} s:\n"
                     f"{processes.log_tail(state, 'tekton-webhook')}")


# ---------------------------------------------------------------- entry points


def up() -> Path:
    state = state_dir()
    state.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    bins = build.ensure_all()
    log(f"programs ready in {time.monotonic() - started:.0f} s")
    pki.ensure(state / "pki")
    write_kubeconfig(state, state / "admin.kubeconfig", "default")
    write_kubeconfig(state, state / "kubeconfig", NAMESPACE)
    start_control_plane(state, bins)
    apply_objects(state)
    start_minio(state, bins)
    start_node(state)
    start_engines(state, bins)
    wait_tekton_webhook(state)
    log(f"cluster up in {time.monotonic() - started:.0f} s")
    print(f"export KUBECONFIG={state / 'kubeconfig'}   # namespace {NAMESPACE}; `make e2e-down` stops it")
    return state


def down() -> None:
    state = state_dir()
    for name in reversed(COMPONENTS):
        cpu = processes.cpu_seconds(state, name)
        if processes.stop(state, name):
            log(f"stopped {name}" + (f" (it used {cpu:.0f} CPU-s)" if cpu is not None else ""))
    node_main = REPO / "e2e" / "cluster" / "node" / "__main__.py"
    if node_main.exists() and state.exists():
        import subprocess

        subprocess.run([sys.executable, "-m", "e2e.cluster.node", "--state", str(state), "--cleanup"],
                       cwd=REPO, check=False)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "up"
    if command == "up":
        up()
    elif command == "down":
        down()
    elif command == "status":
        state = state_dir()
        for name in COMPONENTS:
            pid = processes.running_pid(state, name)
            print(f"{name:22} {'running pid ' + str(pid) if pid else 'stopped'}")
    else:
        print("usage: python -m e2e.cluster up|down|status", file=sys.stderr)
        return 2
    return 0
