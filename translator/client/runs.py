"""Runs: create a Workflow or PipelineRun from a translated pipeline, read it back, wait for it,
stop it, delete it, retry it. Everything goes through the Kubernetes API (CustomObjectsApi)."""
from __future__ import annotations

import copy
import json
import re
import time
from typing import Any, Callable, Iterator

from .connection import ENGINES, Connection
from .errors import ClientError, NotFound
from .model import EXPERIMENT, EXPERIMENT_NAME, RUN_NAME, Run
from .outputs import argo_run, tekton_run

PLURAL = {"argo": "workflows", "tekton": "pipelineruns"}
KIND = {"argo": "Workflow", "tekton": "PipelineRun"}


def dns_label(text: str, max_len: int = 63) -> str:
    """A DNS label for a display name: lower case, `-` for anything else."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:max_len].strip("-")
    return name if name and name[0].isalpha() else f"x-{name}".strip("-")[:max_len]


def label(run: dict[str, Any], experiment: str | None, run_name: str | None, extra: dict[str, str] | None = None) -> None:
    """Experiment and run name on a Workflow/PipelineRun (labels select, annotations keep the text)."""
    meta = run.setdefault("metadata", {})
    labels, notes = meta.setdefault("labels", {}), meta.setdefault("annotations", {})
    if experiment:
        labels[EXPERIMENT] = dns_label(experiment)
        notes[EXPERIMENT_NAME] = experiment
    if run_name:
        notes[RUN_NAME] = run_name
        if not meta.get("name"):
            meta["generateName"] = dns_label(run_name, 52) + "-"
    labels.update(extra or {})


def engine_of(manifest: dict[str, Any]) -> str:
    group = manifest.get("apiVersion", "").split("/")[0]
    return next((e for e, (g, *_rest) in ENGINES.items() if g == group), "")


def create(conn: Connection, manifest: dict[str, Any], namespace: str) -> dict[str, Any]:
    """Create one Argo or Tekton object in `namespace`; returns what the API server stored."""
    group, version = manifest["apiVersion"].split("/")
    body = json.loads(json.dumps(manifest))
    body.setdefault("metadata", {})["namespace"] = namespace
    plural = _plural(manifest["kind"])
    return conn.call(f"create {manifest['kind']} in namespace {namespace}", conn.custom.create_namespaced_custom_object,
                     group, version, namespace, plural, body)


def _plural(kind: str) -> str:
    return {"Workflow": "workflows", "WorkflowTemplate": "workflowtemplates", "CronWorkflow": "cronworkflows",
            "PipelineRun": "pipelineruns", "Pipeline": "pipelines"}[kind]


def get_object(conn: Connection, engine: str, namespace: str, name: str) -> dict[str, Any]:
    group, version, *_ = ENGINES[engine]
    try:
        return conn.call(f"read {KIND[engine]} {name}", conn.custom.get_namespaced_custom_object,
                         group, version, namespace, PLURAL[engine], name)
    except NotFound:
        raise NotFound(f"no run {name!r} in namespace {namespace} (no {KIND[engine]} of that name)",
                       element=name) from None


def taskruns(conn: Connection, namespace: str, pipelinerun: str) -> list[dict[str, Any]]:
    return conn.call("list TaskRuns", conn.custom.list_namespaced_custom_object, "tekton.dev", "v1", namespace,
                     "taskruns", label_selector=f"tekton.dev/pipelineRun={pipelinerun}")["items"]


def to_run(conn: Connection, engine: str, obj: dict[str, Any], url: Callable[[str, str], str | None],
           bucket: Callable[[str], str | None], detail: bool = True) -> Run:
    meta = obj["metadata"]
    link = url(meta.get("namespace", ""), meta["name"])
    if engine == "argo":
        return argo_run(obj, link)
    trs = taskruns(conn, meta["namespace"], meta["name"]) if detail else []
    return tekton_run(obj, trs, bucket(meta["namespace"]) if detail else None, link)


def list_objects(conn: Connection, engine: str, namespace: str, selector: str | None) -> list[dict[str, Any]]:
    group, version, *_ = ENGINES[engine]
    items = conn.call(f"list {KIND[engine]}s in namespace {namespace}", conn.custom.list_namespaced_custom_object,
                      group, version, namespace, PLURAL[engine], label_selector=selector or "")["items"]
    return sorted(items, key=lambda o: (o["metadata"].get("creationTimestamp") or "", o["metadata"]["name"]))


def terminate(conn: Connection, engine: str, namespace: str, name: str) -> None:
    """Argo: `spec.shutdown: Terminate` (what `argo terminate` sets); Tekton: `spec.status: Cancelled`."""
    group, version, *_ = ENGINES[engine]
    get_object(conn, engine, namespace, name)
    patch = {"spec": {"shutdown": "Terminate"}} if engine == "argo" else {"spec": {"status": "Cancelled"}}
    conn.call(f"terminate {KIND[engine]} {name}", conn.custom.patch_namespaced_custom_object,
              group, version, namespace, PLURAL[engine], name, patch)


def delete(conn: Connection, engine: str, namespace: str, name: str) -> None:
    group, version, *_ = ENGINES[engine]
    try:
        conn.call(f"delete {KIND[engine]} {name}", conn.custom.delete_namespaced_custom_object,
                  group, version, namespace, PLURAL[engine], name, propagation_policy="Background")
    except NotFound:
        raise NotFound(f"no run {name!r} in namespace {namespace}", element=name) from None


def retry(conn: Connection, engine: str, namespace: str, name: str) -> dict[str, Any]:
    """Argo: the failed Workflow itself, retried in place as `argo retry` does (retry.py: its
    failed tasks and what depends on them run again, succeeded tasks keep their outputs).
    Tekton has no retry of a finished PipelineRun, so a new PipelineRun with the old one's very
    spec (same arguments, experiment and labels; annotation `kfp-translate.dev/retry-of`)."""
    if engine == "argo":
        from .retry import retry_in_place

        return retry_in_place(conn, namespace, get_object(conn, engine, namespace, name))
    return _resubmit(conn, engine, namespace, name)


def _resubmit(conn: Connection, engine: str, namespace: str, name: str) -> dict[str, Any]:
    old = get_object(conn, engine, namespace, name)
    run = argo_run(old) if engine == "argo" else tekton_run(old, [])
    if not run.done:
        raise ClientError(f"run {name} is still {run.state}: only a finished run can be retried", element=name)
    meta = old["metadata"]
    spec = copy.deepcopy(old["spec"])
    spec.pop("shutdown", None) if engine == "argo" else spec.pop("status", None)
    keep = {k: v for k, v in (meta.get("labels") or {}).items()
            if not k.startswith(("workflows.argoproj.io/", "tekton.dev/", "app.kubernetes.io/managed-by"))}
    notes = {k: v for k, v in (meta.get("annotations") or {}).items() if k.startswith("kfp-translate.dev/")
             or k.startswith("workflows.argoproj.io/title") or k.startswith("workflows.argoproj.io/description")}
    notes["kfp-translate.dev/retry-of"] = name
    group, version, *_ = ENGINES[engine]
    body = {"apiVersion": f"{group}/{version}", "kind": KIND[engine],
            "metadata": {"generateName": re.sub(r"-(retry-)?[a-z0-9]{5}$", "", name)[:50] + "-retry-",
                         "labels": keep, "annotations": notes}, "spec": spec}
    return create(conn, body, namespace)


def watch_states(conn: Connection, engine: str, namespace: str, name: str, timeout: float,
                 read: Callable[[], Run], poll: float = 1.0) -> Iterator[Run]:
    """The run each time it changes, until it is done; TimeoutError naming its unfinished tasks."""
    deadline = time.monotonic() + timeout
    last: tuple = ()
    while True:
        run = read()
        key = (run.state, tuple((t.name, t.iteration, t.state) for t in run.tasks))
        if key != last:
            last = key
            yield run
        if run.done:
            return
        if time.monotonic() > deadline:
            busy = sorted({t.name for t in run.tasks if t.state in ("RUNNING", "PENDING")})
            raise TimeoutError(f"run {name} still {run.state} after {timeout:.0f} s (tasks not done: "
                               f"{', '.join(busy) or 'none started'})")
        time.sleep(poll)
