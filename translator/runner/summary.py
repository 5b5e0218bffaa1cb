"""The run summary: every KFP task that ran (or was cached, skipped, omitted), with its outputs
typed as KFP types them (the user's values, never our base64 form), its output artifacts
downloaded from the store and their metadata.

Argo parameters are strings (our canonical encoding, docs/design.md); the KFP type of each output
comes from the pod shim SPEC embedded in a lightweight component's command, or from the template
annotation `kfp-translate.dev/outputs` (`{"parameters": {"name": "NUMBER_INTEGER", ...}}`) when
the backend emits one; a sub-pipeline's outputs take the type of the task output they forward.
Helper parameters `<artifact>-metadata` / `-digest` are not KFP outputs: the metadata is written
next to the downloaded artifact as `<name>.metadata.json`.
"""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

from ..runtime.delivery import SHIM_ENV
from ..runtime.podshim import B64_PREFIX  # the pod contract owns the transport prefix
from .engine import SUCCEEDED, Node, RunResult

ANNOTATION = "kfp-translate.dev/outputs"
TASK_NAMES = "kfp-translate.dev/task-names"  # on a DAG template: {"<argo task>[.onExit]": "<kfp task>"}
_GROUP = re.compile(r"^(condition|condition-branches|for-loop|exit-handler)-\d+$")
_REF = re.compile(r"^\{\{\s*tasks\.([^.]+)\.outputs\.parameters\.(.+?)\s*\}\}$")


class Types:
    """KFP types of the output parameters of each template of a workflow."""

    def __init__(self, manifest: dict[str, Any]):
        self.templates = {t["name"]: t for t in manifest.get("spec", {}).get("templates", [])}
        self.memo: dict[str, dict[str, str]] = {}

    def of(self, name: str) -> dict[str, str]:
        if name in self.memo:
            return self.memo[name]
        self.memo[name] = {}
        t = self.templates.get(name, {})
        types: dict[str, str] = {}
        note = ((t.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION)
        if note:
            types.update(json.loads(note).get("parameters", {}))
        command = (t.get("container") or {}).get("command") or []
        if len(command) > 3 and SHIM_ENV in command[2]:  # the shim's bootstrap: its SPEC follows
            spec = json.loads(command[3].replace("$$", "$"))  # as the kubelet passes it
            types.update({k: v["type"] for k, v in spec.get("outputs", {}).get("parameters", {}).items()})
        if "dag" in t:
            tasks = {task["name"]: task for task in t["dag"].get("tasks", [])}
            for p in (t.get("outputs") or {}).get("parameters", []):
                m = _REF.match((p.get("valueFrom") or {}).get("parameter", ""))
                if m and m.group(1) in tasks:
                    inner = self.of(tasks[m.group(1)]["template"]).get(m.group(2))
                    if inner:
                        types[p["name"]] = inner
        self.memo[name] = types
        return types

    def helpers(self, name: str) -> set[str]:
        t = self.templates.get(name, {})
        arts = [a["name"] for a in (t.get("outputs") or {}).get("artifacts", [])]
        return {f"{a}-{suffix}" for a in arts for suffix in ("metadata", "digest")}


def user_value(text: str) -> str:
    """An Argo parameter value as the user's bytes: values Argo would rewrite leave a pod in our
    base64 form (docs/design.md), which the summary never shows."""
    if text.startswith(B64_PREFIX):
        try:
            return base64.b64decode(text[len(B64_PREFIX):], validate=True).decode("utf-8", "surrogateescape")
        except ValueError:
            return text
    return text


def typed(kfp_type: str | None, text: str) -> Any:
    """A canonical Argo parameter value as the JSON value KFP gives it (lenient like the launcher)."""
    text = user_value(text)
    try:
        if kfp_type == "NUMBER_INTEGER":
            s = text.strip()
            return int(s) if re.fullmatch(r"[+-]?\d+", s) else int(float(s))
        if kfp_type == "NUMBER_DOUBLE":
            return float(text)
        if kfp_type == "BOOLEAN":
            return text.strip() in ("true", "True", "TRUE", "1", "t", "T")
        if kfp_type in ("LIST", "STRUCT", "TASK_FINAL_STATUS", "TASK_CONFIG"):
            return json.loads(text)
    except ValueError:
        pass
    return text


def _sort_key(node: Node) -> list:
    key = []
    for part in node.path.split("/"):
        m = re.match(r"^(.*)\((\d+):", part)
        key.append((m.group(1), int(m.group(2))) if m else (part, -1))
    return key


def kfp_nodes(result: RunResult) -> list[Node]:
    """The nodes that stand for KFP tasks: steps (last attempt), sub-pipelines; not groups."""
    templates = {t["name"]: t for t in (result.manifest or {}).get("spec", {}).get("templates", [])}
    last: dict[str, Node] = {}
    for n in result.nodes:
        if n.path == result.workflow_name or n.kind == "TaskGroup":
            continue
        t = templates.get(n.template, {})
        if "dag" in t and (_GROUP.match(n.task) or n.path.endswith(".onExit") and "/" not in n.path):
            continue
        if n.path not in last or n.seq > last[n.path].seq:
            last[n.path] = n
    return sorted(last.values(), key=_sort_key)


def kfp_task_name(node: Node, parents: dict[str, Node], templates: dict[str, dict]) -> str:
    """The KFP task name: the parent DAG template's `kfp-translate.dev/task-names` entry when the
    backend emits one, else the Argo task name (an exit hook's: its template's name)."""
    parent_path, _, own = node.path.rpartition("/")
    key = re.sub(r"\(\d+:.*\)(?=$|\.onExit$)", "", own)
    parent = parents.get(parent_path)
    if parent is not None:
        note = ((templates.get(parent.template, {}).get("metadata") or {}).get("annotations") or {}).get(TASK_NAMES)
        if note and key in json.loads(note):
            return json.loads(note)[key]
    return node.template if own.endswith(".onExit") else node.task


def summarize(result: RunResult, store: Any, out_dir: Path) -> dict[str, Any]:
    types = Types(result.manifest or {})
    parents = {n.path: n for n in result.nodes if n.kind == "DAG"}
    out = {"phase": result.phase, "nodes": []}
    for n in kfp_nodes(result):
        params: dict[str, Any] = {}
        artifacts: dict[str, str] = {}
        metadata: dict[str, Any] = {}
        if n.phase == SUCCEEDED:
            kinds = types.of(n.template)
            hidden = types.helpers(n.template)
            params = {k: typed(kinds.get(k), v) for k, v in sorted(n.parameters.items()) if k not in hidden}
            for name, ref in sorted(n.artifacts.items()):
                if ref.key is None:
                    continue
                target = out_dir / _safe(n.path) / name
                if not target.exists():
                    if hasattr(store, "ensure"):
                        store.ensure(ref.key)
                    store.get(ref.key, target)
                meta = n.parameters.get(f"{name}-metadata")
                if meta is not None:
                    meta = user_value(meta)
                    target.with_name(name + ".metadata.json").write_text(meta)
                    try:
                        metadata[name] = json.loads(meta)
                    except ValueError:
                        metadata[name] = meta
                artifacts[name] = str(target)
        task = kfp_task_name(n, parents, types.templates)
        out["nodes"].append({"task": task, "iteration": n.iteration, "phase": n.phase, "cached": n.cached,
                             "outputs": {"parameters": params, "artifacts": artifacts, "metadata": metadata}})
    return out


def _safe(path: str) -> str:
    parts = path.split("/")[1:] or [path]
    return "/".join(re.sub(r"[^A-Za-z0-9._-]+", "_", p)[:100] for p in parts)
