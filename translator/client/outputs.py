"""A Workflow or PipelineRun as the API server reports it → `Run`: state, tasks, typed outputs,
artifact locations.

Types come from what the translation recorded: on Argo the template annotation
`kfp-translate.dev/outputs` and the pod shim's spec (translator.runner.summary.Types); on Tekton
each task result's description `KFP <TYPE>`. Values are our canonical encoding, decoded with the
runner's `typed` (the same function `translate run` uses)."""
from __future__ import annotations

import json
import re
from typing import Any

from translator.runner.summary import Types, typed, user_value

from .model import EXPERIMENT, RUN_NAME, Artifact, Run, Task

ARGO_STATE = {"Pending": "PENDING", "Running": "RUNNING", "Succeeded": "SUCCEEDED", "Failed": "FAILED",
              "Error": "FAILED", "Skipped": "SKIPPED", "Omitted": "SKIPPED"}
TEKTON_CANCELED = {"Cancelled", "CancelledRunFinally", "StoppedRunFinally", "PipelineRunCancelled"}
_LOOP = re.compile(r"^(?P<name>.*)\((?P<index>\d+)(:.*)?\)$")
_GROUP = re.compile(r"^(condition|condition-branches|for-loop|exit-handler)-\d+$")
_TEKTON_REF = re.compile(r"^\$\(tasks\.([^.]+)\.results\.([^)\[]+)\)$")
HIDDEN_TEKTON = {"kfpt-prefix"}


def _meta(obj: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    meta = obj.get("metadata") or {}
    return meta.get("labels") or {}, meta.get("annotations") or {}


def _base(obj: dict[str, Any], engine: str, state: str, url: str | None) -> Run:
    labels, notes = _meta(obj)
    meta = obj["metadata"]
    return Run(run_id=meta["name"], name=meta["name"], namespace=meta.get("namespace", ""), engine=engine,
               state=state, display_name=notes.get(RUN_NAME, meta["name"]), experiment_id=labels.get(EXPERIMENT),
               pipeline_name=labels.get("kfp-translate.dev/pipeline"), created_at=meta.get("creationTimestamp"),
               url=url, raw=obj)


# ------------------------------------------------------------------------------------ Argo


def argo_state(wf: dict[str, Any]) -> str:
    status = wf.get("status") or {}
    phase = status.get("phase") or "Pending"
    labels, _ = _meta(wf)
    if phase in ("Succeeded", "Failed", "Error") and labels.get("workflows.argoproj.io/completed") == "false":
        return "RUNNING"  # the controller has not finished its bookkeeping (exit handlers, task results)
    shutdown = (wf.get("spec") or {}).get("shutdown")
    if shutdown and phase in ("Failed", "Error"):
        return "CANCELED"
    return ARGO_STATE.get(phase, "RUNNING")


def _argo_templates(wf: dict[str, Any]) -> dict[str, Any]:
    status = wf.get("status") or {}
    stored = status.get("storedWorkflowTemplateSpec") or {}
    templates = list((wf.get("spec") or {}).get("templates") or []) + list(stored.get("templates") or [])
    seen = {t["name"] for t in templates}
    templates += [t for t in (status.get("storedTemplates") or {}).values() if t.get("name") not in seen]
    return {"spec": {"templates": templates}}


def _argo_bucket(wf: dict[str, Any]) -> str | None:
    repo = ((wf.get("status") or {}).get("artifactRepositoryRef") or {}).get("artifactRepository") or {}
    return (repo.get("s3") or {}).get("bucket")


def _argo_task_name(node: dict[str, Any], nodes: dict[str, Any], types: Types) -> tuple[str, int | None]:
    display = node.get("displayName", "")
    loop = _LOOP.match(display)
    name, index = (loop.group("name"), int(loop.group("index"))) if loop else (display, None)
    parent = nodes.get(node.get("boundaryID") or "")
    if parent is not None:
        template = types.templates.get(parent.get("templateName", ""), {})
        note = ((template.get("metadata") or {}).get("annotations") or {}).get("kfp-translate.dev/task-names")
        if note:
            name = json.loads(note).get(name, name)
    return name, index


def argo_run(wf: dict[str, Any], url: str | None = None) -> Run:
    run = _base(wf, "argo", argo_state(wf), url)
    status = wf.get("status") or {}
    run.finished_at = status.get("finishedAt")
    run.message = status.get("message") or ""
    types = Types(_argo_templates(wf))
    bucket = _argo_bucket(wf)
    nodes = status.get("nodes") or {}
    for node_id, node in sorted(nodes.items(), key=lambda kv: (kv[1].get("startedAt") or "", kv[0])):
        template = node.get("templateName") or ""
        if node.get("type") not in ("Pod", "Skipped", "DAG") or node_id == run.name:
            continue
        if node.get("type") == "DAG" and (_GROUP.match(node.get("displayName", "")) or "(" in node.get("displayName", "")):
            continue
        name, index = _argo_task_name(node, nodes, types)
        task = Task(name=name, state=ARGO_STATE.get(node.get("phase", ""), "RUNNING"), iteration=index,
                    pod=node_id if node.get("type") == "Pod" else None, message=node.get("message") or "")
        outputs = node.get("outputs") or {}
        kinds, hidden = types.of(template), types.helpers(template)
        params = {p["name"]: p.get("value", "") for p in outputs.get("parameters") or [] if "value" in p}
        task.outputs = {k: typed(kinds.get(k), v) for k, v in sorted(params.items()) if k not in hidden}
        for a in outputs.get("artifacts") or []:
            s3 = a.get("s3") or {}
            if not s3.get("key") or a.get("name") in ("main-logs",):
                continue
            where = s3.get("bucket") or bucket or ""
            meta = _json(user_value(params.get(f"{a['name']}-metadata", "{}")))
            task.artifacts[a["name"]] = Artifact(a["name"], f"s3://{where}/{s3['key']}", s3["key"], meta)
        run.tasks.append(task)
    root = nodes.get(run.name) or {}
    entry = (wf.get("spec") or {}).get("entrypoint") or ((status.get("storedWorkflowTemplateSpec") or {}).get("entrypoint"))
    kinds = types.of(entry or root.get("templateName", ""))
    run.outputs = {p["name"]: typed(kinds.get(p["name"]), p.get("value", ""))
                   for p in (root.get("outputs") or {}).get("parameters") or [] if "value" in p}
    return run


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


# ---------------------------------------------------------------------------------- Tekton


def _succeeded(obj: dict[str, Any]) -> dict[str, Any] | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == "Succeeded"), None)


def tekton_state(obj: dict[str, Any]) -> str:
    cond = _succeeded(obj)
    if cond is None:
        return "CANCELED" if (obj.get("spec") or {}).get("status") in ("Cancelled", "CancelledRunFinally", "StoppedRunFinally") \
            else "PENDING"
    if cond.get("status") == "True":
        return "SUCCEEDED"
    if cond.get("status") == "False":
        return "CANCELED" if cond.get("reason") in TEKTON_CANCELED else "FAILED"
    return "PENDING" if cond.get("reason") in ("PipelineRunPending", "Pending") else "RUNNING"


def _tekton_types(spec: dict[str, Any]) -> dict[str, dict[str, str]]:
    """{pipeline task: {result: KFP type}} from the results' `KFP <TYPE>` descriptions."""
    out: dict[str, dict[str, str]] = {}
    for task in list(spec.get("tasks") or []) + list(spec.get("finally") or []):
        results = (task.get("taskSpec") or {}).get("results") or []
        out[task["name"]] = {r["name"]: r.get("description", "")[4:] for r in results
                             if str(r.get("description", "")).startswith("KFP ")}
    return out


def tekton_run(pr: dict[str, Any], taskruns: list[dict[str, Any]], bucket: str | None = None,
               url: str | None = None) -> Run:
    run = _base(pr, "tekton", tekton_state(pr), url)
    status = pr.get("status") or {}
    cond = _succeeded(pr) or {}
    run.finished_at = status.get("completionTime")
    run.message = cond.get("message", "") if run.state != "SUCCEEDED" else ""
    spec = status.get("pipelineSpec") or (pr.get("spec") or {}).get("pipelineSpec") or {}
    types = _tekton_types(spec)
    for tr in sorted(taskruns, key=lambda t: ((t.get("metadata") or {}).get("creationTimestamp") or "", t["metadata"]["name"])):
        labels, _ = _meta(tr)
        name = labels.get("tekton.dev/pipelineTask", tr["metadata"]["name"])
        if name.startswith("kfpt-"):
            continue  # our helper tasks (condition evaluation, loop indices)
        kinds = types.get(name, {})
        results = {r["name"]: r.get("value") for r in (tr.get("status") or {}).get("results") or []}
        task = Task(name=name, state=tekton_state(tr),
                    pod=(tr.get("status") or {}).get("podName"), message=(_succeeded(tr) or {}).get("message", "")
                    if tekton_state(tr) != "SUCCEEDED" else "")
        for key, value in sorted(results.items()):
            text = value if isinstance(value, str) else json.dumps(value)
            if key in HIDDEN_TEKTON or key.endswith("-metadata") and key not in kinds:
                continue
            task.outputs[key] = typed(kinds.get(key), text)
        prefix = results.get("kfpt-prefix")
        if isinstance(prefix, str) and prefix:
            for key, value in results.items():
                if key.endswith("-metadata") and key not in kinds:
                    art = key[: -len("-metadata")]
                    where = f"{prefix}/{art}"
                    meta = _json(user_value(value)) if isinstance(value, str) else {}
                    task.artifacts[art] = Artifact(art, f"s3://{bucket or ''}/{where}", where, meta)
        run.tasks.append(task)
    counts: dict[str, int] = {}
    for task in run.tasks:
        counts[task.name] = counts.get(task.name, 0) + 1
    seen: dict[str, int] = {}
    for task in run.tasks:  # a matrix (ParallelFor): one TaskRun per iteration
        if counts[task.name] > 1:
            task.iteration = seen[task.name] = seen.get(task.name, -1) + 1
    for r in status.get("results") or []:
        ref = next((res for res in spec.get("results") or [] if res.get("name") == r["name"]), {})
        m = _TEKTON_REF.match(str(ref.get("value", "")))
        kind = types.get(m.group(1), {}).get(m.group(2)) if m else None
        value = r.get("value")
        run.outputs[r["name"]] = typed(kind, value if isinstance(value, str) else json.dumps(value))
    return run
