"""An Argo Workflow (as the Kubernetes API returns it, with its status) as a report `Run`.

What comes from where (Argo v3.6+/v4 `NodeStatus`): phases, messages, times and
`memoizationStatus.hit` from `status.nodes`; inputs and outputs from each node's `inputs` /
`outputs`; artifact locations from their `s3.key` with the bucket of the artifact itself or of
`status.artifactRepositoryRef.artifactRepository.s3`; artifact metadata from the
`<artifact>-metadata` output parameter our pod shim writes (docs/design.md), and KFP schema
titles from the shim SPEC in the template's command. The graph is Argo's own: a node's
`children` are the nodes that run after it (a DAG node's: its first tasks). A `Retry` node stands
for its last attempt.
"""
from __future__ import annotations

import re
from typing import Any

from backends.argo.names import param_name

from .model import HELPER_SUFFIXES, Artifact, Run, Task, metadata_value, shim_spec, visible
from .types import TASK_NAMES, kfp_task, of_run


def _templates(workflow: dict[str, Any]) -> dict[str, dict]:
    spec = workflow.get("spec") or {}
    status = workflow.get("status") or {}
    stored = (status.get("storedWorkflowTemplateSpec") or {}).get("templates") or []
    found = {t.get("name"): t for t in stored if isinstance(t, dict)}
    found.update({t.get("name"): t for t in spec.get("templates") or [] if isinstance(t, dict)})
    for t in (status.get("storedTemplates") or {}).values():
        if isinstance(t, dict):
            found.setdefault(t.get("name"), t)
    return found


def _bucket(workflow: dict[str, Any]) -> str:
    repo = ((workflow.get("status") or {}).get("artifactRepositoryRef") or {}).get("artifactRepository") or {}
    return str((repo.get("s3") or {}).get("bucket") or "")


def _uri(art: dict[str, Any], bucket: str) -> str | None:
    s3 = art.get("s3")
    if isinstance(s3, dict) and s3.get("key"):
        return f"s3://{s3.get('bucket') or bucket}/{s3['key']}"
    for kind, key in (("gcs", "key"), ("http", "url")):
        loc = art.get(kind)
        if isinstance(loc, dict) and loc.get(key):
            return f"gs://{loc.get('bucket', '')}/{loc[key]}" if kind == "gcs" else str(loc[key])
    return None


def _artifacts(section: dict, params: dict[str, Any], schemas: dict[str, dict], bucket: str) -> list[Artifact]:
    out = []
    for art in section.get("artifacts") or []:
        name = str(art.get("name", ""))
        if name == "main-logs":  # Argo's archived log, not a KFP artifact
            continue
        declared = schemas.get(name) or {}
        out.append(Artifact(name, str(declared.get("schemaTitle", "")), _uri(art, bucket),
                            metadata_value(params.get(param_name(f"{name}-metadata")))))
    return out


def _params(section: dict | None) -> dict[str, Any]:
    return {str(p.get("name")): p.get("value", "") for p in (section or {}).get("parameters") or []}


def _hidden(template: dict, node: dict) -> set[str]:
    names = set()
    for where in ("inputs", "outputs"):
        for part in ((template.get(where) or {}).get("artifacts") or []) + ((node.get(where) or {}).get("artifacts") or []):
            names.add(str(part.get("name", "")))
    return {param_name(f"{a}-{suffix}") for a in names for suffix in HELPER_SUFFIXES}


def _task(node: dict, templates: dict[str, dict], bucket: str) -> Task:
    template = templates.get(node.get("templateName") or "", {})
    spec = shim_spec((template.get("container") or {}).get("command"))
    inputs, outputs = _params(node.get("inputs")), _params(node.get("outputs"))
    hidden = _hidden(template, node)
    memo = node.get("memoizationStatus") or {}
    return Task(
        id=str(node.get("id")), name=str(node.get("displayName") or node.get("name") or node.get("id")),
        phase=str(node.get("phase") or "Pending"), kind=str(node.get("type") or ""),
        template=str(node.get("templateName") or ""), message=str(node.get("message") or ""),
        started=str(node.get("startedAt") or ""), finished=str(node.get("finishedAt") or ""),
        cached=bool(memo.get("hit")), inputs=visible(inputs, hidden), outputs=visible(outputs, hidden),
        input_artifacts=_artifacts(node.get("inputs") or {}, inputs,
                                   (spec.get("inputs") or {}).get("artifacts") or {}, bucket),
        artifacts=_artifacts(node.get("outputs") or {}, outputs,
                             (spec.get("outputs") or {}).get("artifacts") or {}, bucket),
    )


def _attempt_number(node: dict) -> int:
    m = re.search(r"\((\d+)\)$", str(node.get("name") or ""))
    return int(m.group(1)) if m else -1


def _last_attempt(node: dict, nodes: dict[str, dict]) -> dict:
    """A Retry node's children are its attempts `<name>(0)`, `<name>(1)`, ...: the highest is the last."""
    attempts = [nodes[c] for c in node.get("children") or [] if c in nodes]
    return max(attempts, key=lambda n: (_attempt_number(n), str(n.get("startedAt") or ""))) if attempts else node


def _task_names(templates: dict[str, dict]) -> dict[str, str]:
    """Argo task name -> KFP task name, from the DAG templates' annotation (names Argo had to change)."""
    import json

    names: dict[str, str] = {}
    for template in templates.values():
        text = ((template.get("metadata") or {}).get("annotations") or {}).get(TASK_NAMES)
        try:
            found = json.loads(text) if text else {}
        except ValueError:
            continue
        if isinstance(found, dict):
            names.update({str(k): str(v) for k, v in found.items()})
    return names


def _declared_types(tasks: list[Task], workflow: dict[str, Any], templates: dict[str, dict]) -> None:
    """Schema titles the pipeline declares (types.py) for artifacts whose pod has no shim SPEC."""
    declared = of_run(workflow)
    if not declared:
        return
    names = _task_names(templates)
    for task in tasks:
        types = declared.get(kfp_task(task.name, names)) or {}
        for art in task.artifacts:
            art.schema = art.schema or types.get(art.name, "")


def read(workflow: dict[str, Any]) -> Run:
    status = workflow.get("status") or {}
    meta = workflow.get("metadata") or {}
    name = str(meta.get("name") or meta.get("generateName") or "workflow")
    nodes = {str(k): v for k, v in (status.get("nodes") or {}).items() if isinstance(v, dict)}
    for key, node in nodes.items():
        node.setdefault("id", key)
    templates, bucket = _templates(workflow), _bucket(workflow)
    attempts = {c for n in nodes.values() if n.get("type") == "Retry" for c in n.get("children") or []}
    stands_for = {k: _last_attempt(n, nodes)["id"] if n.get("type") == "Retry" else k for k, n in nodes.items()}
    shown = [n for k, n in nodes.items()
             if k not in attempts and n.get("name") != name and n.get("type") not in ("Steps", "StepGroup")]
    shown.sort(key=lambda n: (str(n.get("startedAt") or "~"), str(n.get("name"))))
    tasks, ids = [], {}
    for node in shown:
        real = nodes[stands_for[node["id"]]]
        task = _task(real, templates, bucket)
        task.id, task.name = str(node["id"]), str(node.get("displayName") or task.name)
        task.kind, task.phase = str(node.get("type") or task.kind), str(node.get("phase") or task.phase)
        tasks.append(task)
        ids[node["id"]] = task.id
    _declared_types(tasks, workflow, templates)
    edges = [(node["id"], child) for node in shown for child in node.get("children") or []
             if child in ids and child != node["id"]]
    arguments = ((workflow.get("spec") or {}).get("arguments") or {}).get("parameters") or []
    params = {str(p.get("name")): p.get("value", "") for p in arguments}
    return Run(name=name, engine="argo", phase=str(status.get("phase") or "Pending"),
               message=str(status.get("message") or ""),
               started=str(status.get("startedAt") or ""), finished=str(status.get("finishedAt") or ""),
               parameters=visible(params, set()), tasks=tasks, edges=edges)
