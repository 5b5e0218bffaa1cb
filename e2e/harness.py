"""Talk to a cluster the way the e2e tests need: through the Kubernetes API only.

`Cluster` submits Argo Workflows and Tekton PipelineRuns, waits for them with a deadline that names
what is still running, reads phases, output parameters and pod logs, and reads artifacts from the
cluster's S3 store. It works against the single-machine cluster (e2e/cluster) or any cluster in
`KUBECONFIG`.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

REPO = Path(__file__).resolve().parents[1]
ARGO = ("argoproj.io", "v1alpha1")
TEKTON = ("tekton.dev", "v1")
_DONE = {"Succeeded", "Failed", "Error"}


def kubeconfig_path() -> Path:
    explicit = os.environ.get("KUBECONFIG")
    if explicit:
        return Path(explicit.split(os.pathsep)[0])
    state = Path(os.environ.get("KFPT_E2E_STATE") or REPO / "e2e" / ".cluster")
    return state / "kubeconfig"


@dataclass
class ArgoRun:
    """A finished (or timed-out) Workflow as the API server reports it."""

    name: str
    workflow: dict[str, Any]

    @property
    def phase(self) -> str:
        return self.workflow.get("status", {}).get("phase", "")

    @property
    def nodes(self) -> list[dict[str, Any]]:
        return list(self.workflow.get("status", {}).get("nodes", {}).values())

    def tasks(self, name: str) -> list[dict[str, Any]]:
        """Nodes of DAG task `name` (the loop's iterations, or the one node), pods and groups alike."""
        found = [n for n in self.nodes if n.get("displayName") == name
                 or n.get("displayName", "").startswith(f"{name}(")]
        return sorted(found, key=lambda n: n.get("displayName", ""))

    def task(self, name: str) -> dict[str, Any]:
        found = [n for n in self.tasks(name) if n.get("displayName") == name]
        assert len(found) == 1, f"workflow {self.name}: {len(found)} nodes named {name!r}: {self.summary()}"
        return found[0]

    def phases(self) -> dict[str, str]:
        return {n["displayName"]: n["phase"] for n in self.nodes if n.get("type") in {"Pod", "Skipped"}}

    def output(self, task: str, parameter: str) -> str:
        params = self.task(task).get("outputs", {}).get("parameters", [])
        for p in params:
            if p["name"] == parameter:
                return p.get("value", "")
        raise KeyError(f"workflow {self.name}: task {task} has no output {parameter!r} "
                       f"(has {[p['name'] for p in params]})")

    def pods(self) -> int:
        return sum(1 for n in self.nodes if n.get("type") == "Pod")

    @property
    def seconds(self) -> float:
        """Wall time from the controller's start to its finish (status.startedAt/finishedAt)."""
        from datetime import datetime

        status = self.workflow.get("status", {})
        try:
            start, end = (datetime.strptime(status[k], "%Y-%m-%dT%H:%M:%SZ") for k in ("startedAt", "finishedAt"))
        except (KeyError, TypeError, ValueError):
            return 0.0
        return (end - start).total_seconds()

    def summary(self) -> str:
        rows = [f"  {n.get('displayName', '?'):40} {n.get('type', ''):10} {n.get('phase', ''):10} "
                f"{n.get('message', '')}" for n in sorted(self.nodes, key=lambda n: n.get("startedAt") or "")]
        return f"workflow {self.name}: {self.phase} {self.workflow.get('status', {}).get('message', '')}\n" + "\n".join(rows)


@dataclass
class Cluster:
    api: client.ApiClient
    namespace: str
    s3: dict[str, str] = field(default_factory=dict)

    @classmethod
    def connect(cls) -> "Cluster":
        path = kubeconfig_path()
        if not path.exists():
            raise RuntimeError(f"no cluster: {path} does not exist (run `make e2e-up` or set KUBECONFIG)")
        api = config.new_client_from_config(config_file=str(path))
        _, active = config.list_kube_config_contexts(config_file=str(path))
        namespace = active["context"].get("namespace", "default")
        try:
            client.VersionApi(api).get_code()
        except Exception as exc:  # noqa: BLE001 - any failure: the cluster is not reachable
            raise RuntimeError(f"no cluster reachable through {path}: {exc}") from None
        return cls(api, namespace, s3=_s3_settings(api, namespace))

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    # ------------------------------------------------------------ Argo

    def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Create one Argo or Tekton object from a translated manifest; returns what the server stored."""
        group, version = manifest["apiVersion"].split("/")
        plural = _plural(manifest["kind"])
        body = json.loads(json.dumps(manifest))
        body.setdefault("metadata", {}).pop("namespace", None)
        return self.custom.create_namespaced_custom_object(group, version, self.namespace, plural, body)

    def submit_argo(self, manifest: dict[str, Any]) -> str:
        return self.create(manifest)["metadata"]["name"]

    def get_workflow(self, name: str) -> dict[str, Any]:
        return self.custom.get_namespaced_custom_object(*ARGO, self.namespace, "workflows", name)

    def wait_workflow(self, name: str, timeout: float = 300.0) -> ArgoRun:
        """Wait until the Workflow ends; on timeout, fail naming the nodes still running."""
        deadline = time.monotonic() + timeout
        while True:
            wf = self.get_workflow(name)
            run = ArgoRun(name, wf)
            if run.phase in _DONE and not wf.get("metadata", {}).get("labels", {}).get(
                    "workflows.argoproj.io/completed") == "false":
                return run
            if time.monotonic() > deadline:
                running = [n.get("displayName") for n in run.nodes if n.get("phase") in {"Running", "Pending"}]
                raise TimeoutError(f"workflow {name} still {run.phase or 'unstarted'} after {timeout:.0f} s; "
                                   f"running nodes: {running}\n{self.report(run)}")
            time.sleep(1)

    def run_argo(self, manifest: dict[str, Any], timeout: float = 300.0) -> ArgoRun:
        return self.wait_workflow(self.submit_argo(manifest), timeout)

    def report(self, run: ArgoRun) -> str:
        """The Workflow's node table plus the logs of every pod of it that did not succeed."""
        parts = [run.summary()]
        pods = self.core.list_namespaced_pod(
            self.namespace, label_selector=f"workflows.argoproj.io/workflow={run.name}").items
        for pod in pods:
            if pod.status.phase != "Succeeded":
                parts.append(self.pod_logs_text(pod.metadata.name))
        return "\n".join(parts)

    def pod_logs_text(self, pod: str) -> str:
        out = [f"--- pod {pod}"]
        try:
            spec = self.core.read_namespaced_pod(pod, self.namespace)
        except ApiException as exc:
            return f"--- pod {pod}: not readable ({exc.status})"
        for c in (spec.spec.init_containers or []) + spec.spec.containers:
            try:
                text = self.core.read_namespaced_pod_log(pod, self.namespace, container=c.name, tail_lines=60)
            except ApiException as exc:
                text = f"(no log: {exc.status})"
            out.append(f"[{c.name}]\n{text}")
        return "\n".join(out)

    def finished(self, names: list[str]) -> dict[str, ArgoRun]:
        """Those of `names` that have ended (one listing of the namespace's Workflows)."""
        if not names:
            return {}
        items = self.custom.list_namespaced_custom_object(*ARGO, self.namespace, "workflows")["items"]
        by_name = {wf["metadata"]["name"]: wf for wf in items}
        done = {}
        for name in names:
            wf = by_name.get(name)
            if wf is not None and ArgoRun(name, wf).phase in _DONE and wf.get("metadata", {}).get(
                    "labels", {}).get("workflows.argoproj.io/completed") != "false":
                done[name] = ArgoRun(name, wf)
        return done

    def wait_pod_running(self, workflow: str, timeout: float = 120.0) -> str:
        """The name of a pod of `workflow` whose containers all run (a step is under way)."""
        deadline = time.monotonic() + timeout
        while True:
            pods = self.core.list_namespaced_pod(
                self.namespace, label_selector=f"workflows.argoproj.io/workflow={workflow}").items
            for p in pods:
                if p.status.phase == "Running" and p.status.container_statuses and all(
                        c.state.running for c in p.status.container_statuses):
                    return p.metadata.name
            if time.monotonic() > deadline:
                raise TimeoutError(f"workflow {workflow}: no running pod after {timeout:.0f} s\n"
                                   f"{self.report(ArgoRun(workflow, self.get_workflow(workflow)))}")
            time.sleep(0.5)

    def delete(self, kind: str, name: str) -> None:
        try:
            self.custom.delete_namespaced_custom_object(*ARGO, self.namespace, _plural(kind), name)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def workflows_of_cron(self, cron: str) -> list[dict[str, Any]]:
        return self.custom.list_namespaced_custom_object(
            *ARGO, self.namespace, "workflows", label_selector=f"workflows.argoproj.io/cron-workflow={cron}")["items"]

    def cache_configmap(self, name: str) -> str:
        """A fresh, empty memoization cache (Argo refuses a cache ConfigMap without its label)."""
        self.core.create_namespaced_config_map(self.namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(
            name=name, labels={"workflows.argoproj.io/configmap-type": "Cache"})))
        return name

    def delete_configmap(self, name: str) -> None:
        try:
            self.core.delete_namespaced_config_map(name, self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def stop_workflow(self, name: str, mode: str = "Stop") -> None:
        """`argo stop` / `argo terminate`: set spec.shutdown as the CLI does."""
        self.custom.patch_namespaced_custom_object(*ARGO, self.namespace, "workflows", name,
                                                   {"spec": {"shutdown": mode}})

    # ------------------------------------------------------------ Tekton

    def wait_pipelinerun(self, name: str, timeout: float = 300.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            pr = self.custom.get_namespaced_custom_object(*TEKTON, self.namespace, "pipelineruns", name)
            cond = next((c for c in pr.get("status", {}).get("conditions", []) if c["type"] == "Succeeded"), None)
            if cond and cond["status"] in {"True", "False"}:
                return pr
            if time.monotonic() > deadline:
                raise TimeoutError(f"pipelinerun {name} not done after {timeout:.0f} s: "
                                   f"{json.dumps(pr.get('status', {}), indent=1)[:4000]}")
            time.sleep(1)

    def taskruns(self, pipelinerun: str) -> list[dict[str, Any]]:
        return self.custom.list_namespaced_custom_object(
            *TEKTON, self.namespace, "taskruns",
            label_selector=f"tekton.dev/pipelineRun={pipelinerun}")["items"]

    # ------------------------------------------------------------ S3

    def s3_client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.s3["endpoint"], region_name="us-east-1",
                            aws_access_key_id=self.s3["access_key"], aws_secret_access_key=self.s3["secret_key"])

    def read_artifact(self, key: str) -> bytes:
        return self.s3_client().get_object(Bucket=self.s3["bucket"], Key=key)["Body"].read()

    def fetch_artifact(self, key: str, target: Path) -> None:
        """Download object `key`, or every object under the prefix `key/` into folder `target`
        (a directory artifact with `archive: none`), as Argo's S3 driver loads it."""
        s3 = self.s3_client()
        keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.s3["bucket"], Prefix=key)
                for o in page.get("Contents", []) if o["Key"] == key or o["Key"].startswith(key + "/")]
        if not keys:
            raise FileNotFoundError(f"s3://{self.s3['bucket']}/{key}: no such object or prefix")
        target.parent.mkdir(parents=True, exist_ok=True)
        if keys == [key]:
            s3.download_file(self.s3["bucket"], key, str(target))
            return
        for k in keys:
            if k.startswith(key + "/"):
                dest = target / k[len(key) + 1:]
                dest.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(self.s3["bucket"], k, str(dest))


def _plural(kind: str) -> str:
    return {"Workflow": "workflows", "WorkflowTemplate": "workflowtemplates", "CronWorkflow": "cronworkflows",
            "PipelineRun": "pipelineruns", "Pipeline": "pipelines", "Task": "tasks"}[kind]


def _s3_settings(api: client.ApiClient, namespace: str) -> dict[str, str]:
    """Endpoint, bucket and keys of the namespace's default Argo artifact repository, if there is one."""
    import base64

    import yaml

    core = client.CoreV1Api(api)
    try:
        cm = core.read_namespaced_config_map("artifact-repositories", namespace)
    except ApiException:
        return {}
    key = (cm.metadata.annotations or {}).get("workflows.argoproj.io/default-artifact-repository", "default-v1")
    s3 = yaml.safe_load(cm.data[key])["s3"]
    secret = core.read_namespaced_secret(s3["accessKeySecret"]["name"], namespace)
    decode = lambda ref: base64.b64decode(secret.data[ref["key"]]).decode()  # noqa: E731
    scheme = "http" if s3.get("insecure") else "https"
    # Where this machine reaches that store: the same address on the single-machine cluster; a
    # port-forward on kind or a remote cluster, whose in-cluster Service name does not resolve here.
    endpoint = os.environ.get("KFPT_E2E_S3_ENDPOINT") or f"{scheme}://{s3['endpoint']}"
    return {"endpoint": endpoint, "bucket": s3["bucket"],
            "access_key": decode(s3["accessKeySecret"]), "secret_key": decode(s3["secretKeySecret"])}
