"""Running one template, whatever its kind: inputs as Argo's `ProcessArgs` resolves them (an
argument that is an absent optional falls back to the input's default, else fails), the
memoization cache checked first and filled after a success, then a DAG (`dag.py`) or a container
(`pod.py`). Template fields the runner does not implement are refused up front.
"""
from __future__ import annotations

from typing import Any

from .engine import ERROR, SUCCEEDED, ArtifactRef, Node, RunError
from .gojson import go_json
from .subst import ABSENT

_TEMPLATE_KEYS = {"name", "inputs", "outputs", "dag", "container", "memoize", "retryStrategy", "volumes",
                  "suspend", "resource",
                  "metadata", "parallelism", "failFast", "activeDeadlineSeconds", "nodeSelector", "tolerations",
                  "affinity", "serviceAccountName", "automountServiceAccountToken", "podSpecPatch",
                  "securityContext", "initContainers", "sidecars", "archiveLocation", "timeout", "synchronization",
                  "priorityClassName", "schedulerName", "hostAliases", "imagePullSecrets", "metrics"}


def fail(path: str, template: str, message: str, kind: str = "Skipped") -> Node:
    return Node(path, template, ERROR, kind=kind, message=message)


class Scheduler:
    """Runs any template; DAGs here, containers in `pod.py`, memoization in the engine."""

    def __init__(self, runner: Any):
        self.runner = runner
        self.templates = runner.templates
        for t in self.templates.values():
            unknown = sorted(set(t) - _TEMPLATE_KEYS)
            if unknown:
                raise RunError(f"template {t['name']!r}: field {unknown[0]!r} is not supported by the local runner")

    def inputs(self, template: dict, params: dict[str, str], artifacts: dict[str, ArtifactRef], where: str
               ) -> tuple[dict[str, str], dict[str, ArtifactRef]]:
        values: dict[str, str] = {}
        for p in (template.get("inputs") or {}).get("parameters", []):
            given = params.get(p["name"])
            if given is not None and given != ABSENT:
                values[p["name"]] = given
            elif "value" in p:
                values[p["name"]] = p["value"]
            elif "default" in p:
                values[p["name"]] = p["default"]
            elif given == ABSENT:
                raise RunError(f"input parameter {p['name']!r} gets an absent optional (a skipped task's output) "
                               "and has no default")
            else:
                raise RunError(f"input parameter {p['name']!r} was not supplied")
            if not isinstance(values[p["name"]], str):
                values[p["name"]] = go_json(values[p["name"]])
        arts: dict[str, ArtifactRef] = {}
        for a in (template.get("inputs") or {}).get("artifacts", []):
            if a["name"] in artifacts:
                arts[a["name"]] = artifacts[a["name"]]
            elif any(k in a for k in ("s3", "http", "gcs", "raw")):
                arts[a["name"]] = ArtifactRef(external={k: v for k, v in a.items() if k in ("s3", "http", "gcs", "raw")})
            elif not a.get("optional"):
                raise RunError(f"input artifact {a['name']!r} was not supplied")
        return values, arts

    def run_template(self, name: str, params: dict[str, str], artifacts: dict[str, ArtifactRef], path: str,
                     boundary: Any, hooked: bool = False) -> Node:
        r = self.runner
        hooked = hooked or bool(getattr(boundary, "hooked", False))  # inside an exit handler
        template = self.templates.get(name)
        if template is None:
            raise RunError(f"{path}: unknown template {name!r}")
        if "suspend" in template:
            from .resources import run_suspend

            return run_suspend(r, template, path, hooked)
        kind = "DAG" if "dag" in template else "Pod" if ("container" in template or "resource" in template) else None
        if kind is None:
            raise RunError(f"{path}: template {name!r} is neither a DAG nor a container (unsupported here)")
        try:
            values, arts = self.inputs(template, params, artifacts, path)
            key = r.memo_key(template, values, path)
        except RunError as exc:
            node = r.add_node(fail(path, name, str(exc), kind))
            node.hooked = hooked
            r.event("finish", node)
            return node
        if key is not None:
            hit = r.cache_get(template, key)
            if hit is not None:
                node = Node(path, name, SUCCEEDED, cached=True, kind=kind, hooked=hooked,
                            parameters=dict(hit["parameters"]),
                            artifacts={k: ArtifactRef(**v) for k, v in hit["artifacts"].items()},
                            inputs=dict(values), input_artifacts=dict(arts))
                r.add_node(node)
                r.log(f"{path}: cached")
                r.event("finish", node)
                return node
        if kind == "DAG":
            from .dag import DagRun

            node = DagRun(self, template, values, arts, path, hooked).run()
        elif "resource" in template:
            from .resources import run_resource

            node = run_resource(r, template, values, path, hooked)
        else:
            from .pod import run_container

            node = run_container(r, template, values, arts, path, hooked)
        if not node.inputs and not node.input_artifacts:
            node.inputs, node.input_artifacts = dict(values), dict(arts)
        if node.phase == SUCCEEDED and key is not None:
            r.cache_put(template, key, node)
        return node
