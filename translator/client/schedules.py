"""Recurring runs. Argo: a CronWorkflow (`concurrencyPolicy: Forbid` for max_concurrency 1; above
1, a semaphore ConfigMap holding the limit). Tekton has no scheduler: a CronJob whose pod (the
stock python image, standard library only) creates the PipelineRun kept in a ConfigMap, after
counting the schedule's unfinished PipelineRuns against max_concurrency; it runs as the
`kfp-translate-scheduler` ServiceAccount, which may only create and list PipelineRuns
(manifests/components/tekton/scheduler.yaml)."""
from __future__ import annotations

import json
from typing import Any

from .connection import Connection
from .errors import ClientError, NotFound
from .model import EXPERIMENT, KIND, RUN_NAME, SCHEDULE, RecurringRun
from .runs import dns_label
from .timing import END, START, Timing, interval_of

SCHEDULER = "kfp-translate-scheduler"  # ServiceAccount and script ConfigMap of manifests/components/tekton
SCHEDULER_MANIFEST = "manifests/components/tekton/scheduler.yaml"
SCRIPT_KEY = "create_run.py"
DEFAULT_IMAGE = "python:3.12-slim"
CRON = ("argoproj.io", "v1alpha1", "cronworkflows")
STARTING_DEADLINE = 120  # seconds, on the CronWorkflow and the CronJob
MAX = "kfp-translate.dev/max-concurrency"  # annotation on the CronWorkflow / CronJob


def argo_cron(workflow_spec: dict[str, Any], meta: dict[str, Any], name: str, timing: Timing, timezone: str | None,
              max_concurrency: int | None, enabled: bool) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The CronWorkflow for a Workflow's spec, and the semaphore ConfigMap when max_concurrency > 1."""
    spec = json.loads(json.dumps(workflow_spec))
    semaphore = None
    if max_concurrency and max_concurrency > 1:
        semaphore = {"metadata": {"name": f"{name}-concurrency", "labels": {SCHEDULE: name}},
                     "data": {"limit": str(max_concurrency)}}
        spec["synchronization"] = {"semaphores": [{"configMapKeyRef": {"name": f"{name}-concurrency", "key": "limit"}}]}
    labels = dict(meta.get("labels") or {})
    cron_spec: dict[str, Any] = {"schedules": [timing.schedule], "concurrencyPolicy": "Forbid" if max_concurrency == 1 else "Allow",
                                 "suspend": not enabled, "workflowSpec": spec,
                                 # a tick missed by up to 2 minutes (a controller restart) still runs once, as on Tekton
                                 "startingDeadlineSeconds": STARTING_DEADLINE,
                                 "workflowMetadata": {"labels": {**labels, SCHEDULE: name},
                                                      "annotations": dict(meta.get("annotations") or {})}}
    if timezone:
        cron_spec["timezone"] = timezone
    if timing.argo_when():
        cron_spec["when"] = timing.argo_when()
    body = {"apiVersion": "argoproj.io/v1alpha1", "kind": "CronWorkflow",
            "metadata": {"name": name, "labels": {**labels, SCHEDULE: name},
                         "annotations": {**dict(meta.get("annotations") or {}), MAX: str(max_concurrency or 0),
                                         **timing.annotations()}},
            "spec": cron_spec}
    return body, semaphore


def tekton_cronjob(run: dict[str, Any], name: str, timing: Timing, timezone: str | None, max_concurrency: int | None,
                   enabled: bool, image: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The CronJob and the ConfigMap holding the PipelineRun it creates."""
    run = json.loads(json.dumps(run))
    meta = run["metadata"]
    meta.pop("name", None)
    meta.pop("namespace", None)
    meta["generateName"] = f"{name}-"
    meta.setdefault("labels", {})[SCHEDULE] = name
    labels = {SCHEDULE: name, **({EXPERIMENT: meta["labels"][EXPERIMENT]} if EXPERIMENT in meta["labels"] else {})}
    template = {"metadata": {"name": f"{name}-run", "labels": {**labels, KIND: "schedule-run"}},
                "data": {"pipelinerun.json": json.dumps(run, sort_keys=True)}}
    pod = {
        "serviceAccountName": SCHEDULER, "restartPolicy": "Never",
        "containers": [{
            "name": "create-run", "image": image, "command": ["python3", f"/opt/kfp-translate/{SCRIPT_KEY}"],
            "env": [{"name": "KFPT_SCHEDULE", "value": name},
                    {"name": "KFPT_MAX_CONCURRENCY", "value": str(max_concurrency or 0)},
                    {"name": "KFPT_TEMPLATE", "value": "/etc/kfp-translate/run/pipelinerun.json"},
                    *[{"name": env, "value": value} for env, value in (("KFPT_START", timing.start),
                                                                       ("KFPT_END", timing.end)) if value]],
            "volumeMounts": [{"name": "script", "mountPath": "/opt/kfp-translate", "readOnly": True},
                             {"name": "run", "mountPath": "/etc/kfp-translate/run", "readOnly": True}],
            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "128Mi"}},
        }],
        "volumes": [{"name": "script", "configMap": {"name": SCHEDULER}},
                    {"name": "run", "configMap": {"name": f"{name}-run"}}],
    }
    spec: dict[str, Any] = {
        "schedule": timing.schedule, "suspend": not enabled, "startingDeadlineSeconds": STARTING_DEADLINE,
        # Forbid keeps two creators of one tick from racing; the creator's count is the real limit
        "concurrencyPolicy": "Forbid" if max_concurrency == 1 else "Allow",
        "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 3,
        "jobTemplate": {"metadata": {"labels": labels}, "spec": {
            "backoffLimit": 0, "ttlSecondsAfterFinished": 3600,
            "template": {"metadata": {"labels": labels}, "spec": pod}}},
    }
    if timezone:
        spec["timeZone"] = timezone
    cronjob = {"apiVersion": "batch/v1", "kind": "CronJob",
               "metadata": {"name": name, "labels": {**labels, KIND: "schedule"},
                            "annotations": {MAX: str(max_concurrency or 0), **timing.annotations(),
                                            **{k: v for k, v in (meta.get("annotations") or {}).items() if k == RUN_NAME}}},
               "spec": spec}
    return cronjob, template


def require_scheduler(conn: Connection, namespace: str) -> None:
    for what, read in (("ServiceAccount", conn.core.read_namespaced_service_account),
                       ("ConfigMap", conn.core.read_namespaced_config_map)):
        try:
            conn.call(f"read the {what} {SCHEDULER}", read, SCHEDULER, namespace)
        except NotFound:
            raise ClientError(f"the Tekton scheduler ({what} {SCHEDULER}) is missing in namespace {namespace}: install it "
                              f"with `kubectl apply -k manifests/overlays/tekton -n {namespace}` ({SCHEDULER_MANIFEST})",
                              element="prerequisites") from None
        except ClientError as exc:
            if exc.status != 403:
                raise


def create_argo(conn: Connection, namespace: str, cron: dict[str, Any], semaphore: dict[str, Any] | None) -> dict[str, Any]:
    if semaphore:
        conn.call("create the concurrency ConfigMap", conn.core.create_namespaced_config_map, namespace, semaphore)
    stored = conn.call("create the CronWorkflow", conn.custom.create_namespaced_custom_object, *CRON[:2], namespace,
                       CRON[2], cron)
    if semaphore:
        _own(conn, namespace, semaphore["metadata"]["name"], stored)
    return stored


def create_tekton(conn: Connection, namespace: str, cronjob: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    require_scheduler(conn, namespace)
    conn.call("create the schedule's PipelineRun ConfigMap", conn.core.create_namespaced_config_map, namespace, template)
    try:
        stored = conn.call("create the CronJob", conn.batch.create_namespaced_cron_job, namespace, cronjob)
    except ClientError:
        conn.call("delete the schedule's ConfigMap", conn.core.delete_namespaced_config_map, template["metadata"]["name"], namespace)
        raise
    _own(conn, namespace, template["metadata"]["name"], conn.api.sanitize_for_serialization(stored))
    return conn.api.sanitize_for_serialization(stored)


def _own(conn: Connection, namespace: str, configmap: str, owner: dict[str, Any]) -> None:
    """The ConfigMap goes when its schedule is deleted (garbage collection by owner reference)."""
    ref = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
           "uid": owner["metadata"]["uid"]}
    conn.call("link the ConfigMap to its schedule", conn.core.patch_namespaced_config_map, configmap, namespace,
              {"metadata": {"ownerReferences": [ref]}})


def to_recurring(engine: str, obj: dict[str, Any]) -> RecurringRun:
    meta, spec = obj["metadata"], obj.get("spec") or {}
    labels = meta.get("labels") or {}
    limit = int((meta.get("annotations") or {}).get(MAX, "0")) or None
    cron = (spec.get("schedules") or [spec.get("schedule", "")])[0] if engine == "argo" else spec.get("schedule", "")
    notes = meta.get("annotations") or {}
    return RecurringRun(meta["name"], notes.get(RUN_NAME, meta["name"]), meta.get("namespace", ""),
                        engine, "" if interval_of(cron) else cron, limit, not spec.get("suspend", False),
                        labels.get(EXPERIMENT), obj, interval_of(cron), notes.get(START), notes.get(END))


def list_schedules(conn: Connection, engine: str, namespace: str, experiment: str | None) -> list[RecurringRun]:
    selector = SCHEDULE + (f",{EXPERIMENT}={dns_label(experiment)}" if experiment else "")
    if engine == "argo":
        items = conn.call("list CronWorkflows", conn.custom.list_namespaced_custom_object, *CRON[:2], namespace, CRON[2],
                          label_selector=selector)["items"]
    else:
        found = conn.call("list CronJobs", conn.batch.list_namespaced_cron_job, namespace,
                          label_selector=f"{selector},{KIND}=schedule")
        items = conn.api.sanitize_for_serialization(found)["items"]
        for item in items:
            item.setdefault("apiVersion", "batch/v1")
            item.setdefault("kind", "CronJob")
    return [to_recurring(engine, o) for o in sorted(items, key=lambda o: o["metadata"]["name"])]


def get_schedule(conn: Connection, engine: str, namespace: str, name: str) -> RecurringRun:
    try:
        if engine == "argo":
            obj = conn.call(f"read CronWorkflow {name}", conn.custom.get_namespaced_custom_object, *CRON[:2], namespace,
                            CRON[2], name)
        else:
            obj = conn.api.sanitize_for_serialization(conn.call(f"read CronJob {name}", conn.batch.read_namespaced_cron_job,
                                                                name, namespace))
    except NotFound:
        raise NotFound(f"no recurring run {name!r} in namespace {namespace}", element=name) from None
    return to_recurring(engine, obj)


def set_enabled(conn: Connection, engine: str, namespace: str, name: str, enabled: bool) -> None:
    get_schedule(conn, engine, namespace, name)
    patch = {"spec": {"suspend": not enabled}}
    if engine == "argo":
        conn.call(f"update CronWorkflow {name}", conn.custom.patch_namespaced_custom_object, *CRON[:2], namespace,
                  CRON[2], name, patch)
    else:
        conn.call(f"update CronJob {name}", conn.batch.patch_namespaced_cron_job, name, namespace, patch)


def delete_schedule(conn: Connection, engine: str, namespace: str, name: str) -> None:
    get_schedule(conn, engine, namespace, name)
    if engine == "argo":
        conn.call(f"delete CronWorkflow {name}", conn.custom.delete_namespaced_custom_object, *CRON[:2], namespace,
                  CRON[2], name, propagation_policy="Background")
    else:
        conn.call(f"delete CronJob {name}", conn.batch.delete_namespaced_cron_job, name, namespace,
                  propagation_policy="Background")
