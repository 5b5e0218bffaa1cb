"""A local run (`translate run`, translator/runner) as the Argo Workflow object the Kubernetes API
would return for it: `status.nodes` keyed by Argo's node IDs, with Argo's node names, types,
phases, inputs, outputs (artifacts by their S3 key), memoization and `children`, and
`status.artifactRepositoryRef` naming the bucket. So one reader (`argo.py`) serves both.

Argo's rules followed (workflow/controller/dag.go, operator.go; v1alpha1 `Workflow.NodeID`): a
node's name is its parent's name, a dot, and the task name; its ID is the workflow name and the
FNV-32a hash of the name; a DAG node's children are its tasks without dependencies, a task's
children the tasks that depend on it; a template with a `retryStrategy` gets a `Retry` node whose
children are the attempts `<name>(<attempt>)`; a loop's `TaskGroup` node has the iterations.
"""
from __future__ import annotations

import copy
import tempfile
import time
from pathlib import Path
from typing import Any

from translator.runner.depends import dependencies
from translator.runner.engine import Node, RunResult


def node_id(workflow: str, name: str) -> str:
    if name == workflow:
        return workflow
    h = 0x811C9DC5
    for byte in name.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"{workflow}-{h}"


def _time(seconds: float) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds)) if seconds else None


def _name(result: RunResult, path: str) -> str:
    return result.workflow_name + path[len(result.workflow_name):].replace("/", ".")


def _artifacts(refs: dict[str, Any]) -> list[dict]:
    out = []
    for name, ref in sorted(refs.items()):
        if ref.key is not None:
            out.append({"name": name, "s3": {"key": ref.key}})
        elif ref.external:
            out.append({"name": name, **ref.external})
    return out


def _status(result: RunResult, node: Node, name: str) -> dict[str, Any]:
    kind = {"Suspend": "Suspend"}.get(node.kind, node.kind)
    out: dict[str, Any] = {"id": node_id(result.workflow_name, name), "name": name,
                           "displayName": name.rsplit(".", 1)[-1] if name != result.workflow_name else name,
                           "type": kind, "templateName": node.template, "phase": node.phase}
    if node.path.endswith(".onExit"):
        out["displayName"] = node.path.rsplit("/", 1)[-1]
    # Argo gives a message when something went wrong; the runner keeps every step's log tail there
    message = node.message if node.phase != "Succeeded" else ""
    for key, value in (("message", message), ("startedAt", _time(node.started)), ("finishedAt", _time(node.finished))):
        if value:
            out[key] = value
    if node.inputs or node.input_artifacts:
        out["inputs"] = {k: v for k, v in (("parameters", [{"name": k, "value": v} for k, v in sorted(node.inputs.items())]),
                                            ("artifacts", _artifacts(node.input_artifacts))) if v}
    if node.parameters or node.artifacts or node.exit_code:
        outputs: dict[str, Any] = {}
        if node.parameters:
            outputs["parameters"] = [{"name": k, "value": v} for k, v in sorted(node.parameters.items())]
        if node.artifacts:
            outputs["artifacts"] = _artifacts(node.artifacts)
        if node.exit_code:
            outputs["exitCode"] = str(node.exit_code)
        out["outputs"] = outputs
    if node.cached:
        out["memoizationStatus"] = {"hit": True, "key": "", "cacheName": ""}
    if node.pod:
        out["hostNodeName"] = "localhost"
    return out


def workflow(result: RunResult, bucket: str, parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """The Workflow object (metadata, spec, status) of a finished local run; `parameters` are the
    values the run was given, which replace the defaults in `spec.arguments` (as `argo submit -p`)."""
    manifest = copy.deepcopy(result.manifest or {})
    given = dict(parameters or {})
    for p in ((manifest.get("spec") or {}).get("arguments") or {}).get("parameters") or []:
        if p.get("name") in given:
            p["value"] = given[p["name"]]
    templates = {t["name"]: t for t in (manifest.get("spec") or {}).get("templates", [])}
    nodes: dict[str, dict] = {}
    by_path: dict[str, str] = {}  # runner path -> the ID standing for it (a Retry node when retried)
    attempts: dict[str, list[Node]] = {}
    for n in result.nodes:
        attempts.setdefault(n.path, []).append(n)
    for path, group in attempts.items():
        name = _name(result, path)
        retried = bool((templates.get(group[-1].template) or {}).get("retryStrategy")) and group[-1].pod
        if retried:
            last = group[-1]
            parent = _status(result, last, name)
            parent.update(type="Retry")
            parent.pop("hostNodeName", None)
            for n in group:
                child = _status(result, n, f"{name}({n.attempt})")
                nodes[child["id"]] = child
                parent.setdefault("children", []).append(child["id"])
            nodes[parent["id"]] = parent
        else:
            parent = _status(result, group[-1], name)
            nodes[parent["id"]] = parent
        by_path[path] = parent["id"]
    for n in result.nodes:
        _link(n, templates, by_path, nodes)
    meta = dict(manifest.get("metadata") or {})
    meta.pop("generateName", None)
    meta["name"] = result.workflow_name
    root = nodes.get(by_path.get(result.workflow_name, ""), {})
    status = {"phase": result.phase, "nodes": nodes,
              "artifactRepositoryRef": {"default": True, "artifactRepository": {"s3": {"bucket": bucket}}}}
    for key in ("startedAt", "finishedAt"):
        if root.get(key):
            status[key] = root[key]
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": meta,
            "spec": manifest.get("spec") or {}, "status": status}


def _add_child(nodes: dict[str, dict], parent: str | None, child: str | None) -> None:
    if parent in nodes and child in nodes and child not in nodes[parent].setdefault("children", []):
        nodes[parent]["children"].append(child)


def _link(n: Node, templates: dict[str, dict], by_path: dict[str, str], nodes: dict[str, dict]) -> None:
    me = by_path[n.path]
    if n.kind == "TaskGroup":
        for path, ident in by_path.items():
            if path.startswith(n.path + "(") and "/" not in path[len(n.path):]:
                _add_child(nodes, me, ident)
        return
    if n.kind != "DAG":
        return
    tasks = (templates.get(n.template) or {}).get("dag", {}).get("tasks", [])
    for task in tasks:
        here = by_path.get(f"{n.path}/{task['name']}")
        deps = dependencies(task.get("depends") or " && ".join(task.get("dependencies") or []))
        if not deps:
            _add_child(nodes, me, here)
        for d in deps:
            _add_child(nodes, by_path.get(f"{n.path}/{d}"), here)
        hook = by_path.get(f"{n.path}/{task['name']}.onExit")
        _add_child(nodes, here, hook)


def store_reader(store: Any, bucket: str):
    """`read_artifact` for the runner's store (translator/runner/store.py): `s3://<bucket>/<key>`."""

    def read(uri: str) -> bytes:
        prefix = f"s3://{bucket}/"
        if not uri.startswith(prefix):
            raise ValueError(f"{uri} is not in this run's bucket {bucket!r}")
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "artifact"
            store.get(uri[len(prefix):], target)
            if target.is_dir():
                raise ValueError(f"{uri} is a folder, not one file")
            return target.read_bytes()

    return read
