"""Templates that start no process: a zero-length `suspend` (kfp-translate's sentinel) and the
`resource` templates that kfp-kubernetes' CreatePVC / DeletePVC become.

A PVC is a directory under the work dir (`volumes/pvc/<name>`), where pod.py already maps a
`persistentVolumeClaim` volume of that claim name, so a step mounting the created claim sees
what another step wrote to it. Other resources are refused.
"""
from __future__ import annotations

import json
import re
import shutil
import time
from typing import Any

from . import subst
from .engine import ERROR, SUCCEEDED, Node, RunError


def run_suspend(r: Any, template: dict, path: str, hooked: bool) -> Node:
    duration = str(template["suspend"].get("duration", ""))
    if duration not in ("0", "0s"):
        raise RunError(f"{path}: suspend template {template['name']!r} waits for a person or a time: not run locally")
    node = r.add_node(Node(path, template["name"], SUCCEEDED, kind="Suspend", hooked=hooked))
    node.finished = time.time()
    r.event("finish", node)
    return node


def run_resource(r: Any, template: dict, values: dict[str, str], path: str, hooked: bool) -> Node:
    flat = dict(r.globals)
    flat.update({f"inputs.parameters.{k}": v for k, v in values.items()})
    pod = r.new_pod_name(template["name"], path)  # Argo runs the request from a pod
    flat["pod.name"] = pod
    node = r.add_node(Node(path, template["name"], "Running", pod=pod, hooked=hooked))
    r.event("start", node)
    try:
        resource = subst.substitute_tree(template["resource"], flat, lambda: subst.nested(flat), path)
        manifest = json.loads(resource["manifest"])
        if manifest.get("kind") != "PersistentVolumeClaim":
            raise RunError("resource templates other than PersistentVolumeClaim are not run locally")
        name = manifest["metadata"]["name"]
        where = r.work / "volumes" / "pvc" / re.sub(r"[^A-Za-z0-9._-]+", "_", name)
        if resource["action"] == "create":
            if where.exists():
                raise RunError(f"persistentvolumeclaims {name!r} already exists")
            where.mkdir(parents=True)
        elif resource["action"] == "delete":
            if where.exists():
                shutil.rmtree(where)
            elif "--ignore-not-found" not in resource.get("flags", []):
                raise RunError(f"persistentvolumeclaims {name!r} not found")
        else:
            raise RunError(f"resource action {resource['action']!r} is not run locally")
        for p in (template.get("outputs") or {}).get("parameters", []):
            if p.get("valueFrom", {}).get("jsonPath") != "{.metadata.name}":
                raise RunError(f"output {p['name']!r}: only jsonPath {{.metadata.name}} is supported locally")
            node.parameters[p["name"]] = name
        node.phase = SUCCEEDED
    except (RunError, subst.SubstitutionError, KeyError, ValueError) as exc:
        node.phase, node.message = ERROR, str(exc)
    node.finished = time.time()
    r.event("finish", node)
    return node
