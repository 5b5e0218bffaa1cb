"""Strict checks of every manifest we emit; a failure is a bug in kfp-translate.

1. Schema: the manifest must survive a round trip through hera's models (generated from Argo's
   own spec) unchanged; hera drops unknown fields silently, so a field that disappears is one
   Argo does not know.
2. Semantics Argo's controller enforces at submit time: name patterns and lengths, every `{{...}}`
   reference resolves, DAG `depends` names real tasks and has no cycle, memo keys are expressions
   or valid literals. (The engine's own lint, `translate lint`, runs Argo's Go code on top.)
"""
from __future__ import annotations

import re
from typing import Any

from hera.workflows import models as m

from translator.errors import InternalValidationError

NAME = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")
PARAM = re.compile(r"^[-a-zA-Z0-9_]+$")
MEMO_KEY = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")
TAG = re.compile(r"\{\{(.*?)\}\}", re.S)
EXPR_INPUT = re.compile(r"""inputs\.parameters\[("[^"]*")\]""")
EXPR_TASK = re.compile(r"""tasks\[("[^"]*")\]\??\.outputs\??\.parameters\??\.?\[("[^"]*")\]""")
GLOBALS = {
    "workflow.name", "workflow.namespace", "workflow.uid", "workflow.creationTimestamp",
    "workflow.serviceAccountName", "workflow.status", "workflow.failures", "workflow.duration",
}
POD_GLOBALS = {"pod.name", "retries"}

_MODELS = {
    "Workflow": m.Workflow,
    "WorkflowTemplate": m.WorkflowTemplate,
    "CronWorkflow": m.CronWorkflow,
}


def _fail(message: str) -> None:
    raise InternalValidationError(f"generated manifest is invalid ({message}); please report this bug")


def _diff(original: Any, roundtrip: Any, path: str) -> str | None:
    if isinstance(original, dict):
        if not isinstance(roundtrip, dict):
            return path
        for key, value in original.items():
            if key not in roundtrip:
                return f"{path}.{key}"
            found = _diff(value, roundtrip[key], f"{path}.{key}")
            if found:
                return found
    elif isinstance(original, list):
        if not isinstance(roundtrip, list) or len(roundtrip) != len(original):
            return path
        for i, (a, b) in enumerate(zip(original, roundtrip)):
            found = _diff(a, b, f"{path}[{i}]")
            if found:
                return found
    elif original != roundtrip:
        return path
    return None


def check_schema(manifest: dict[str, Any]) -> None:
    model = _MODELS.get(manifest.get("kind", ""))
    if model is None:
        _fail(f"unknown kind {manifest.get('kind')!r}")
    try:
        parsed = model.model_validate(manifest)
    except Exception as exc:  # pydantic's error text is already precise
        _fail(str(exc).splitlines()[0])
    again = parsed.model_dump(mode="json", by_alias=True, exclude_none=True)
    if again == manifest:  # the usual answer, found by one comparison in C
        return
    where = _diff(manifest, again, "")
    if where:
        _fail(f"field {where} is not in Argo's schema")


def _strings(node: Any) -> list[str]:
    """The strings under `node` that hold a `{{` (the only ones _check_tags has work for),
    found with an explicit stack."""
    found, stack = [], [node]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if "{{" in node:
                found.append(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    found.reverse()  # document order, as before: the first bad reference is the one reported
    return found


def _workflow_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    spec = manifest["spec"]
    return spec["workflowSpec"] if manifest["kind"] == "CronWorkflow" else spec


def check_semantics(manifest: dict[str, Any]) -> None:
    meta = manifest.get("metadata", {})
    name = meta.get("name") or meta.get("generateName", "")
    limit = 52 if manifest["kind"] == "CronWorkflow" else 63
    if len(name) > limit:
        _fail(f"object name {name!r} is longer than {limit} characters")
    spec = _workflow_spec(manifest)
    templates = {t["name"]: t for t in spec["templates"]}
    if spec["entrypoint"] not in templates:
        _fail(f"entrypoint {spec['entrypoint']!r} is not a template")
    wf_params = {p["name"] for p in spec.get("arguments", {}).get("parameters", [])}
    for tname, t in templates.items():
        if not NAME.match(tname) or len(tname) > 128:
            _fail(f"template name {tname!r}")
        inputs = t.get("inputs", {})
        in_params = {p["name"] for p in inputs.get("parameters", [])}
        in_arts = {a["name"] for a in inputs.get("artifacts", [])}
        for group in (inputs, t.get("outputs", {})):
            for item in group.get("parameters", []) + group.get("artifacts", []):
                if not PARAM.match(item["name"]):
                    _fail(f"parameter/artifact name {item['name']!r} in template {tname}")
        memo = t.get("memoize")
        if memo and not memo["key"].startswith("{{=") and not MEMO_KEY.match(memo["key"]):
            _fail(f"memoize key {memo['key']!r} of template {tname}")
        if "dag" in t:
            _check_dag(tname, t, templates, in_params, in_arts, wf_params)
        else:
            body = {k: v for k, v in t.items() if k not in ("name", "inputs", "outputs")}
            body["outputs"] = t.get("outputs", {})
            for text in _strings(body):
                _check_tags(text, tname, in_params, in_arts, wf_params, {}, templates, allow_pod=True)


def _check_tags(text: str, where: str, in_params: set[str], in_arts: set[str], wf_params: set[str],
                tasks: dict[str, dict], templates: dict[str, dict], allow_pod: bool = False,
                allow_item: bool = False) -> None:
    for tag in TAG.findall(text):
        tag = tag.strip()
        if tag.startswith("="):
            for quoted in EXPR_INPUT.findall(tag):
                if quoted.strip('"') not in in_params:
                    _fail(f"{where}: expression reads undeclared input {quoted}")
            for task, out in EXPR_TASK.findall(tag):
                _check_task_output(where, task.strip('"'), "parameters", out.strip('"'), tasks, templates)
            continue
        parts = tag.split(".")
        if tag in GLOBALS or (allow_pod and tag in POD_GLOBALS):
            continue
        if parts[0] == "item" and allow_item:
            continue
        if parts[:2] == ["inputs", "parameters"] and len(parts) == 3 and parts[2] in in_params:
            continue
        if parts[:2] == ["inputs", "artifacts"] and len(parts) == 3 and parts[2] in in_arts:
            continue
        if parts[:2] == ["workflow", "parameters"] and len(parts) == 3 and parts[2] in wf_params:
            continue
        if parts[0] == "tasks" and len(parts) == 5 and parts[2] == "outputs":
            _check_task_output(where, parts[1], parts[3], parts[4], tasks, templates)
            continue
        _fail(f"{where}: unresolved reference {{{{{tag}}}}}")


def _check_task_output(where: str, task: str, kind: str, name: str, tasks: dict[str, dict],
                       templates: dict[str, dict]) -> None:
    if task not in tasks:
        _fail(f"{where}: reference to unknown task {task!r}")
    outputs = templates[tasks[task]["template"]].get("outputs", {})
    if not any(o["name"] == name for o in outputs.get(kind, [])):
        _fail(f"{where}: task {task!r} has no output {kind} {name!r}")


def _check_dag(tname: str, t: dict, templates: dict[str, dict], in_params: set[str], in_arts: set[str],
               wf_params: set[str]) -> None:
    tasks = {task["name"]: task for task in t["dag"]["tasks"]}
    edges: dict[str, set[str]] = {}
    for name, task in tasks.items():
        if not NAME.match(name) or len(name) > 128 or name[0].isdigit():
            _fail(f"DAG task name {name!r} in {tname}")
        if task["template"] not in templates:
            _fail(f"task {name} uses unknown template {task['template']!r}")
        deps = set(re.findall(r"[a-zA-Z0-9][-a-zA-Z0-9]*", re.sub(r"\.(Succeeded|Failed|Errored|Skipped|Omitted|Daemoned|AnySucceeded|AllFailed)", "", task.get("depends", ""))))
        deps = {d for d in deps if d not in ("", )}
        for d in deps:
            if d not in tasks:
                _fail(f"task {name} depends on unknown task {d!r}")
        edges[name] = deps
        looped = "withItems" in task or "withParam" in task
        called = templates[task["template"]]
        declared = {p["name"] for p in called.get("inputs", {}).get("parameters", [])}
        for p in task.get("arguments", {}).get("parameters", []):
            if p["name"] not in declared:
                _fail(f"task {name} passes {p['name']!r}, which template {task['template']} does not declare")
        for text in _strings({k: v for k, v in task.items() if k not in ("name", "template")}):
            _check_tags(text, f"{tname}/{name}", in_params, in_arts, wf_params, tasks, templates, allow_item=looped)
    for text in _strings(t.get("outputs", {})):
        _check_tags(text, f"{tname} outputs", in_params, in_arts, wf_params, tasks, templates)
    _check_acyclic(tname, edges)


def _check_acyclic(tname: str, edges: dict[str, set[str]]) -> None:
    """Depth-first with an explicit stack (1: on the current path, 2: done)."""
    state: dict[str, int] = {}
    for root in sorted(edges):
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(sorted(edges.get(root, ()))))]
        while stack:
            node, deps = stack[-1]
            for dep in deps:
                if state.get(dep) == 1:
                    _fail(f"DAG {tname} has a cycle through {dep!r}")
                if dep not in state:
                    state[dep] = 1
                    stack.append((dep, iter(sorted(edges.get(dep, ())))))
                    break
            else:
                state[node] = 2
                stack.pop()


def check(manifest: dict[str, Any]) -> None:
    check_schema(manifest)
    check_semantics(manifest)
