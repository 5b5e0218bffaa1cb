"""Retry a failed Argo Workflow in place, as `argo retry` does (Argo v4.0.7,
workflow/util/util.go FormulateRetryWorkflow and server/workflow RetryWorkflow).

The failed and errored pod nodes, every node that depends on them, and the onExit handler are
removed from `status.nodes` and their pods deleted; the enclosing DAG, task-group and failed
retry nodes on the way up to the root are set back to Running; the `completed` label and the
finish time go, so the controller picks the Workflow up again and re-creates only what was
removed. Succeeded nodes keep their status and outputs: their tasks do not run again.

`formulate` is pure (a Workflow in, the new Workflow and the pods to delete out) so it is
tested on real status shapes; `retry_in_place` does the two API calls.
"""
from __future__ import annotations

import base64
import copy
import gzip
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .connection import Connection
from .errors import ClientError, NotFound

COMPLETED = "workflows.argoproj.io/completed"
ARCHIVING = "workflows.argoproj.io/workflow-archiving-status"
POD_NAME_FORMAT = "workflows.argoproj.io/pod-name-format"
RETRIED_BY = "kfp-translate.dev/retried-at"  # annotation: when our client last retried the run
GROUP_TYPES = {"DAG", "TaskGroup", "StepGroup", "Steps"}
EXECUTION_TYPES = {"Container", "Pod", "HTTP", "Plugin"}
ATTEMPTS = 3  # writes of the reset Workflow when the controller changed it in between (409)
MAX_POD_PREFIX = 253 - 10 - 1  # Argo's maxPrefixLength - 1 (workflow/util/pod_name.go)


@dataclass
class Retry:
    workflow: dict[str, Any]   # the Workflow to write back (same name, resourceVersion kept)
    pods: list[str]            # pods to delete first, sorted
    removed: list[str]         # display names of the nodes that will run again, sorted
    reset: list[str]           # ids of the nodes set back to Running, sorted


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _failed(node: dict[str, Any]) -> bool:
    return node.get("phase") in ("Failed", "Error")


def nodes_of(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`status.nodes`, inflated from `status.compressedNodes` (base64 of gzipped JSON) if needed."""
    status = workflow.get("status") or {}
    if status.get("offloadNodeStatusVersion"):
        raise ClientError(f"run {workflow['metadata']['name']}: its node status is offloaded to the Argo server's "
                          "database, which the Kubernetes API cannot read: retry it with `argo retry`",
                          element=workflow["metadata"]["name"])
    if status.get("compressedNodes"):
        return json.loads(gzip.decompress(base64.b64decode(status["compressedNodes"])))
    return copy.deepcopy(status.get("nodes") or {})


def pod_name(workflow: dict[str, Any], node: dict[str, Any]) -> str:
    """The pod of a Pod node (Argo's GeneratePodName: v2 names unless the Workflow says v1)."""
    name = workflow["metadata"]["name"]
    if (workflow["metadata"].get("annotations") or {}).get(POD_NAME_FORMAT) == "v1":
        return node["id"]
    if node["name"] == name:
        return name
    template = (node.get("templateRef") or {}).get("template") or node.get("templateName") or ""
    prefix = f"{name}-{template}" if template else name
    digest = 0x811C9DC5  # FNV-1a, 32 bits, of the node's name
    for byte in node["name"].encode():
        digest = ((digest ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"{prefix[:MAX_POD_PREFIX]}-{digest}"


class _Graph:
    """Nodes with one parent each (the last, in id order, of those listing it as a child)."""

    def __init__(self, workflow: dict[str, Any], nodes: dict[str, dict[str, Any]]):
        self.nodes = nodes
        self.parent: dict[str, str] = {}
        for node_id in sorted(nodes):
            for child in nodes[node_id].get("children") or []:
                if child not in nodes:
                    raise ClientError(f"run {workflow['metadata']['name']}: node {node_id} lists child {child}, "
                                      "which is not in its status", element=workflow["metadata"]["name"])
                self.parent[child] = node_id
        name = workflow["metadata"]["name"]
        roots = [i for i, n in nodes.items() if n.get("name") == name]
        if len(roots) != 1:
            raise ClientError(f"run {name}: no root node in its status", element=name)
        self.root = roots[0]

    def descendants(self, node_id: str) -> set[str]:
        found: set[str] = set()
        queue = [node_id]
        while queue:
            for child in self.nodes[queue.pop()].get("children") or []:
                if child not in found:
                    found.add(child)
                    queue.append(child)
        return found

    def breadth_first(self) -> list[str]:
        """Ids reachable from the root, nearest first (the onExit handler is not reachable)."""
        order, seen = [self.root], {self.root}
        for node_id in order:
            for child in self.nodes[node_id].get("children") or []:
                if child not in seen:
                    seen.add(child)
                    order.append(child)
        return order

    def type(self, node_id: str | None) -> str:
        return self.nodes[node_id].get("type", "") if node_id else ""

    def up_to(self, node_id: str | None, match: Any, reset: set[str]) -> str:
        while node_id is not None:
            if match(node_id):
                reset.add(node_id)
                return node_id
            node_id = self.parent.get(node_id)
        raise ClientError("retry: ran out of nodes walking up the status tree", element="retry")

    def reset_boundaries(self, node_id: str | None, reset: set[str]) -> str | None:
        current = node_id
        while current is not None:
            parent = self.parent.get(current)
            if self.type(parent) == "Retry":
                reset.add(parent)
                current, parent = parent, self.parent.get(parent)
            if self.type(parent) in ("StepGroup", "TaskGroup"):
                reset.add(parent)
            boundary = self.nodes[current].get("boundaryID") or ""
            if not boundary:
                return self.parent.get(current)
            current = self.up_to(current, lambda i, b=boundary: i == b, reset)
        return None

    def reset_path(self, start: str) -> tuple[set[str], set[str]]:
        """What retrying `start` resets (its enclosing groups) and deletes (it and its descendants)."""
        delete = self.descendants(start) | {start}
        reset: set[str] = set()
        if start == self.root:
            return reset, delete
        current: str | None = start
        while current is not None:
            kind = self.type(current)
            if kind in GROUP_TYPES:
                reset.add(current)
                current = self.reset_boundaries(current, reset)
                continue
            if kind == "Retry" and _failed(self.nodes[current]):
                reset.add(current)
            elif kind == "Container":
                pod = self.up_to(current, lambda i: self.type(i) == "Pod", reset)
                delete |= self.descendants(pod) | {pod}
                current = pod
                continue
            current = self.parent.get(current)
        return reset, delete


def _descendant_succeeded(nodes: dict[str, dict[str, Any]], node: dict[str, Any]) -> bool:
    for child in node.get("children") or []:
        if nodes[child].get("phase") == "Succeeded" or _descendant_succeeded(nodes, nodes[child]):
            return True
    return False


def _reset_node(node: dict[str, Any], now: str) -> dict[str, Any]:
    node = copy.deepcopy(node)
    if node.get("type") == "Suspend":
        for param in (node.get("outputs") or {}).get("parameters") or []:
            param.pop("value", None)
            param["valueFrom"] = {"supplied": {}}
    if node.get("phase") != "Skipped":
        node["phase"] = "Running"
    node.pop("message", None)
    node["startedAt"] = now
    node["finishedAt"] = None
    return node


def _new_workflow(workflow: dict[str, Any], now: str) -> dict[str, Any]:
    """The Workflow with everything that says "finished" undone (createNewRetryWorkflow)."""
    new = copy.deepcopy(workflow)
    labels = new["metadata"].get("labels") or {}
    labels.pop(COMPLETED, None)
    labels.pop(ARCHIVING, None)
    status = new.setdefault("status", {})
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "Completed"]
    position = next((i for i, c in enumerate(status.get("conditions") or []) if c.get("type") == "Completed"),
                    len(conditions))
    conditions.insert(position, {"type": "Completed", "status": "False"})
    status["conditions"] = conditions
    status.pop("phase", None)  # Argo's WorkflowUnknown: the controller starts it again
    status.pop("message", None)
    status.pop("compressedNodes", None)
    status["startedAt"] = now
    status["finishedAt"] = None
    status["persistentVolumeClaims"] = []
    if status.get("storedWorkflowTemplateSpec"):
        status["storedWorkflowTemplateSpec"].pop("shutdown", None)
    new["spec"].pop("shutdown", None)
    if new["spec"].get("activeDeadlineSeconds") == 0:  # a terminated run: its deadline goes
        new["spec"].pop("activeDeadlineSeconds")
    new["metadata"].setdefault("annotations", {})[RETRIED_BY] = now
    return new


def formulate(workflow: dict[str, Any], now: str | None = None) -> Retry:
    """The retried Workflow and the pods to delete, for a Failed or Error Workflow."""
    name = workflow["metadata"]["name"]
    phase = (workflow.get("status") or {}).get("phase") or "Pending"
    if phase not in ("Failed", "Error"):
        raise ClientError(f"run {name} is {phase}: only a Failed or Error Workflow can be retried", element=name)
    now = now or _now()
    nodes = nodes_of(workflow)
    new = _new_workflow(workflow, now)
    graph = _Graph(workflow, nodes)
    failed = set()
    for node_id, node in nodes.items():
        if _failed(node) and node.get("type") in EXECUTION_TYPES:
            owner = node
            if (node.get("nodeFlag") or {}).get("retried"):
                owner = next((n for _, n in sorted(nodes.items())
                              if n.get("type") == "Retry" and node_id in (n.get("children") or [])), node)
            if not _descendant_succeeded(nodes, owner):
                failed.add(node_id)
    reset: set[str] = set()
    delete: set[str] = set()
    for node_id in graph.breadth_first():
        if node_id in failed and node_id not in delete:
            more_reset, more_delete = graph.reset_path(node_id)
            reset |= more_reset
            delete |= more_delete
    exit_name = f"{name}.onExit"
    pods = {pod_name(workflow, nodes[i]) for i in delete if nodes[i].get("type") == "Pod"}
    for node_id, node in nodes.items():
        if node.get("name") == exit_name:
            for handler in graph.descendants(node_id) | {node_id}:
                pods.add(pod_name(workflow, nodes[handler]))
    kept: dict[str, dict[str, Any]] = {}
    for node_id, node in nodes.items():
        if node_id in reset and node_id not in delete:
            node = _reset_node(node, now)
        elif node_id in delete or node.get("name", "").startswith(exit_name):
            continue
        else:
            node = copy.deepcopy(node)
        for key in ("children", "outboundNodes"):
            left = [i for i in node.get(key) or [] if i not in delete]
            node.pop(key, None)
            if left:
                node[key] = left
        kept[node_id] = node
    new["status"]["nodes"] = kept
    removed = sorted({nodes[i].get("displayName") or nodes[i].get("name", i) for i in delete})
    return Retry(new, sorted(pods), removed, sorted(reset - delete))


def retry_in_place(conn: Connection, namespace: str, workflow: dict[str, Any]) -> dict[str, Any]:
    """Delete the pods of the nodes that run again, then write the reset Workflow back (a PUT
    with the read resourceVersion: a concurrent change fails it rather than being overwritten)."""
    name = workflow["metadata"]["name"]
    for attempt in range(ATTEMPTS):
        plan = formulate(workflow)
        for pod in plan.pods:
            try:
                conn.call(f"delete pod {pod} of run {name}", conn.core.delete_namespaced_pod, pod, namespace)
            except NotFound:
                pass
        try:
            return conn.call(f"update Workflow {name}", conn.custom.replace_namespaced_custom_object, "argoproj.io",
                             "v1alpha1", namespace, "workflows", name, plan.workflow)
        except ClientError as exc:
            if exc.status != 409 or attempt == ATTEMPTS - 1:
                raise
        workflow = conn.call(f"read Workflow {name}", conn.custom.get_namespaced_custom_object, "argoproj.io",
                             "v1alpha1", namespace, "workflows", name)
    raise AssertionError("unreachable")
