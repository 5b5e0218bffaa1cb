"""Run an Argo Workflow that kfp-translate emitted, on this machine, with Argo's semantics.

Each container step runs as a real local process with the template's command, args and env,
after Argo-style substitution; paths under `/kfp/` (the pod contract) and volume mount paths are
mapped into a private sandbox per step. Artifacts move through a store under the same keys Argo
would use. DAG `depends`, `when`, memoization and `retryStrategy` follow Argo's rules for the
subset we emit; anything else is a clear `RunError`, never a guess.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import subst
from .store import DirStore, StoreError

SUCCEEDED, FAILED, ERROR, SKIPPED, OMITTED = "Succeeded", "Failed", "Error", "Skipped", "Omitted"
DEPENDS_OK = {SUCCEEDED, SKIPPED}


class RunError(Exception):
    pass


@dataclass
class ArtifactRef:
    """Where an artifact lives: a key in the run's store, or an external location."""

    key: str | None = None
    external: dict[str, Any] | None = None


@dataclass
class Node:
    path: str  # e.g. "main/condition-1/deploy-model"
    template: str
    phase: str
    cached: bool = False
    pod: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, ArtifactRef] = field(default_factory=dict)
    message: str = ""


@dataclass
class RunResult:
    phase: str
    nodes: list[Node]
    workflow_name: str

    @property
    def pods(self) -> int:
        return sum(1 for n in self.nodes if n.pod)

    def node(self, path_suffix: str) -> Node:
        matches = [n for n in self.nodes if n.path == path_suffix or n.path.endswith("/" + path_suffix)]
        if len(matches) != 1:
            raise KeyError(f"{path_suffix!r} matches {len(matches)} nodes")
        return matches[0]


def _duration(text: str | None) -> float:
    if not text:
        return 0.0
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    total, number = 0.0, ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            number += ch
            i += 1
            continue
        unit = "ms" if text[i : i + 2] == "ms" else ch
        total += float(number or 0) * units.get(unit, 1)
        number = ""
        i += len(unit)
    return total + (float(number) if number else 0.0)


class Runner:
    def __init__(self, work_dir: Path, store: Any | None = None, python_bin: str | None = None,
                 env: dict[str, str] | None = None, log: Any = None, max_backoff: float = 1.0):
        self.work = Path(work_dir).resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.store = store or DirStore(self.work / "store")
        self.python_bin = python_bin or os.path.dirname(sys.executable)
        self.extra_env = env or {}
        self.log = log or (lambda msg: None)
        self.max_backoff = max_backoff
        self.cache_dir = self.work / "cache"

    # --- entry ----------------------------------------------------------------------------------

    def run(self, manifest: dict[str, Any], parameters: dict[str, str] | None = None) -> RunResult:
        if manifest.get("kind") not in ("Workflow", "WorkflowTemplate"):
            raise RunError(f"can run a Workflow or WorkflowTemplate, not {manifest.get('kind')}")
        spec = manifest["spec"]
        self.templates = {t["name"]: t for t in spec["templates"]}
        meta = manifest.get("metadata", {})
        run_id = hashlib.sha256(f"{time.time_ns()}-{os.getpid()}".encode()).hexdigest()
        self.workflow_name = meta.get("name") or f"{meta.get('generateName', 'run-')}{run_id[:5]}"
        self.globals = {
            "workflow.name": self.workflow_name,
            "workflow.namespace": meta.get("namespace", "default"),
            "workflow.uid": f"{run_id[:8]}-{run_id[8:12]}-{run_id[12:16]}-{run_id[16:20]}-{run_id[20:32]}",
            "workflow.creationTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "workflow.serviceAccountName": spec.get("serviceAccountName", "default"),
        }
        args = {p["name"]: p.get("value") for p in spec.get("arguments", {}).get("parameters", [])}
        for name, value in (parameters or {}).items():
            if name not in args:
                raise RunError(f"the workflow has no parameter {name!r}")
            args[name] = value
        missing = [n for n, v in args.items() if v is None]
        if missing:
            raise RunError(f"parameter {missing[0]!r} has no value: pass it with -p {missing[0]}=VALUE")
        self.globals.update({f"workflow.parameters.{k}": v for k, v in args.items()})
        self.nodes: list[Node] = []
        self.pod_counter = 0
        root = self._run_template(spec["entrypoint"], args, {}, "main")
        return RunResult(root.phase, self.nodes, self.workflow_name)

    # --- templates ------------------------------------------------------------------------------

    def _inputs(self, template: dict, params: dict[str, str], where: str) -> dict[str, str]:
        values: dict[str, str] = {}
        for p in template.get("inputs", {}).get("parameters", []):
            if p["name"] in params:
                values[p["name"]] = params[p["name"]]
            elif "value" in p:
                values[p["name"]] = p["value"]
            elif "default" in p:
                values[p["name"]] = p["default"]
            else:
                raise RunError(f"{where}: input parameter {p['name']!r} was not supplied")
        return values

    def _run_template(self, name: str, params: dict[str, str], artifacts: dict[str, ArtifactRef], path: str) -> Node:
        template = self.templates.get(name)
        if template is None:
            raise RunError(f"{path}: unknown template {name!r}")
        values = self._inputs(template, params, path)
        if "dag" in template:
            return self._run_dag(template, values, artifacts, path)
        if "container" in template:
            return self._run_container(template, values, artifacts, path)
        raise RunError(f"{path}: template {name!r} is neither a DAG nor a container (unsupported here)")

    def _run_dag(self, template: dict, values: dict[str, str], artifacts: dict[str, ArtifactRef], path: str) -> Node:
        flat = dict(self.globals)
        flat.update({f"inputs.parameters.{k}": v for k, v in values.items()})
        tasks = {t["name"]: t for t in template["dag"]["tasks"]}
        done: dict[str, Node] = {}
        failed = False
        while len(done) < len(tasks):
            progressed = False
            for tname, task in tasks.items():
                if tname in done:
                    continue
                deps = _dependencies(task.get("depends", ""))
                if any(d not in done for d in deps):
                    continue
                progressed = True
                tpath = f"{path}/{tname}"
                if failed or not all(done[d].phase in DEPENDS_OK for d in deps):
                    node = Node(tpath, task["template"], OMITTED)
                    done[tname] = node
                    self.nodes.append(node)
                    continue
                scope = lambda: subst.nested(flat)  # noqa: E731 - evaluated lazily, after outputs land
                if "when" in task:
                    verdict = subst.substitute(task["when"], flat, scope, tpath)
                    if verdict not in ("true", "false"):
                        raise RunError(f"{tpath}: when evaluated to {verdict!r}, not a boolean")
                    if verdict == "false":
                        node = Node(tpath, task["template"], SKIPPED)
                        done[tname] = node
                        self.nodes.append(node)
                        continue
                if "withItems" in task or "withParam" in task:
                    raise RunError(f"{tpath}: loops are not supported by this runner yet")
                args = task.get("arguments", {})
                p_values = {p["name"]: subst.substitute(p.get("value", ""), flat, scope, tpath) for p in args.get("parameters", [])}
                a_values = {a["name"]: self._artifact_arg(a, artifacts, done, tpath) for a in args.get("artifacts", [])}
                node = self._run_template(task["template"], p_values, a_values, tpath)
                done[tname] = node
                for k, v in node.parameters.items():
                    flat[f"tasks.{tname}.outputs.parameters.{k}"] = v
                flat[f"tasks.{tname}.status"] = node.phase
                if node.phase in (FAILED, ERROR):
                    failed = True
            if not progressed:
                raise RunError(f"{path}: DAG cannot make progress (cycle or unknown dependency)")
        phase = FAILED if failed else SUCCEEDED
        node = Node(path, template["name"], phase)
        if phase == SUCCEEDED:
            scope = lambda: subst.nested(flat)  # noqa: E731
            for p in template.get("outputs", {}).get("parameters", []):
                node.parameters[p["name"]] = subst.substitute(p["valueFrom"]["parameter"], flat, scope, path)
            for a in template.get("outputs", {}).get("artifacts", []):
                node.artifacts[a["name"]] = self._artifact_arg(a, artifacts, done, path)
        self.nodes.append(node)
        return node

    def _artifact_arg(self, art: dict, artifacts: dict[str, ArtifactRef], done: dict[str, Node], where: str) -> ArtifactRef:
        ref = art.get("from")
        if ref is None:
            external = {k: v for k, v in art.items() if k in ("s3", "gcs", "http")}
            if not external:
                raise RunError(f"{where}: artifact {art['name']!r} has no source")
            return ArtifactRef(external=external)
        inner = ref.strip()[2:-2].strip()
        parts = inner.split(".")
        if parts[:2] == ["inputs", "artifacts"] and parts[2] in artifacts:
            return artifacts[parts[2]]
        if parts[0] == "tasks" and len(parts) == 5 and parts[1] in done:
            found = done[parts[1]].artifacts.get(parts[4])
            if found is not None:
                return found
        raise RunError(f"{where}: cannot resolve artifact {ref}")

    # --- containers -----------------------------------------------------------------------------

    def _run_container(self, template: dict, values: dict[str, str], artifacts: dict[str, ArtifactRef], path: str) -> Node:
        flat = dict(self.globals)
        flat.update({f"inputs.parameters.{k}": v for k, v in values.items()})
        scope = lambda: subst.nested(flat)  # noqa: E731
        memo = template.get("memoize")
        key = None
        if memo:
            key = subst.substitute(memo["key"], flat, scope, path)
            hit = self._cache_get(memo, key)
            if hit is not None:
                node = Node(path, template["name"], SUCCEEDED, cached=True, parameters=hit["parameters"],
                            artifacts={k: ArtifactRef(**v) for k, v in hit["artifacts"].items()})
                self.nodes.append(node)
                self.log(f"{path}: cached")
                return node
        retry = template.get("retryStrategy") or {}
        attempts = 1 + int(retry.get("limit", 0) or 0)
        backoff = retry.get("backoff") or {}
        delay = _duration(backoff.get("duration"))
        node = Node(path, template["name"], FAILED)
        for attempt in range(attempts):
            node = self._attempt(template, values, artifacts, path)
            if node.phase == SUCCEEDED or attempt == attempts - 1:
                break
            time.sleep(min(delay, self.max_backoff))
            delay *= float(backoff.get("factor", 1) or 1)
        if node.phase == SUCCEEDED and memo and key is not None:
            self._cache_put(memo, key, node)
        return node

    def _attempt(self, template: dict, values: dict[str, str], artifacts: dict[str, ArtifactRef], path: str) -> Node:
        self.pod_counter += 1
        pod = f"{self.workflow_name}-{template['name']}-{hashlib.sha256(f'{path}/{self.pod_counter}'.encode()).hexdigest()[:10]}"
        pod = pod[-63:].lstrip("-")
        sandbox = self.work / "pods" / pod
        sandbox.mkdir(parents=True)
        flat = dict(self.globals)
        flat.update({f"inputs.parameters.{k}": v for k, v in values.items()})
        flat["pod.name"] = pod
        scope = lambda: subst.nested(flat)  # noqa: E731
        body = {k: v for k, v in template.items() if k not in ("memoize", "inputs")}
        body = subst.substitute_tree(body, flat, scope, path)
        mounts = {"/kfp/": str(sandbox / "kfp") + "/"}
        for vm in body["container"].get("volumeMounts", []):
            mount = vm["mountPath"].rstrip("/") + "/"
            if not mount.startswith("/kfp/"):
                mounts.setdefault(mount, str(sandbox / "volumes" / vm["name"]) + "/")
        for target in mounts.values():
            Path(target).mkdir(parents=True, exist_ok=True)
        (sandbox / "kfp" / "outputs").mkdir(parents=True, exist_ok=True)
        prefixes = re.compile("|".join(re.escape(p) for p in sorted(mounts, key=len, reverse=True)))

        def local(text: str) -> str:
            """Paths inside the pod map into this step's sandbox (one pass: no double mapping)."""
            return prefixes.sub(lambda m: mounts[m.group(0)], text)

        node = Node(path, template["name"], FAILED, pod=pod)
        self.nodes.append(node)
        try:
            for art in template.get("inputs", {}).get("artifacts", []):
                ref = artifacts.get(art["name"])
                if ref is None:
                    raise RunError(f"input artifact {art['name']!r} was not supplied")
                self._fetch(ref, Path(local(art["path"])))
        except (RunError, StoreError) as exc:
            node.phase, node.message = ERROR, str(exc)
            return node
        container = body["container"]
        env = {
            "PATH": f"{self.python_bin}{os.pathsep}/usr/local/bin{os.pathsep}/usr/bin{os.pathsep}/bin",
            "HOME": str(sandbox / "home"),
            "TMPDIR": str(sandbox / "tmp"),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.update(self.extra_env)
        defined: dict[str, str] = {}
        for e in container.get("env", []):
            if "value" not in e:
                node.phase, node.message = ERROR, f"env {e['name']} comes from a Kubernetes object: not available locally"
                return node
            defined[e["name"]] = local(kubelet_expand(e["value"], defined))
        env.update(defined)
        (sandbox / "home").mkdir()
        (sandbox / "tmp").mkdir()
        argv = [local(kubelet_expand(x, defined)) for x in container.get("command", []) + container.get("args", [])]
        self.log(f"{path}: running pod {pod}")
        with open(sandbox / "log.txt", "wb") as logf:
            proc = subprocess.run(argv, env=env, cwd=sandbox / "tmp", stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        node.message = (sandbox / "log.txt").read_text(errors="replace")[-4000:]
        if proc.returncode != 0:
            node.message = f"exit status {proc.returncode}\n{node.message}"
            return node
        try:
            for p in body.get("outputs", {}).get("parameters", []):
                vf = p["valueFrom"]
                file = Path(local(vf["path"]))
                if file.is_file():
                    node.parameters[p["name"]] = file.read_text()
                elif "default" in vf:
                    node.parameters[p["name"]] = vf["default"]
                else:
                    raise RunError(f"output parameter {p['name']!r}: {vf['path']} does not exist")
            for a in body.get("outputs", {}).get("artifacts", []):
                source = Path(local(a["path"]))
                if not source.exists():
                    if a.get("optional"):
                        continue
                    raise RunError(f"output artifact {a['name']!r}: {a['path']} does not exist")
                key = a["s3"]["key"]
                self.store.put(key, source)
                node.artifacts[a["name"]] = ArtifactRef(key=key)
        except (RunError, StoreError) as exc:
            node.phase, node.message = ERROR, str(exc)
            return node
        node.phase = SUCCEEDED
        return node

    def _fetch(self, ref: ArtifactRef, target: Path) -> None:
        if ref.key is not None:
            self.store.get(ref.key, target)
            return
        ext = ref.external or {}
        if "http" in ext:
            import urllib.request

            target.parent.mkdir(parents=True, exist_ok=True)
            with urllib.request.urlopen(ext["http"]["url"], timeout=60) as resp, open(target, "wb") as out:
                shutil.copyfileobj(resp, out)
            return
        if "s3" in ext and hasattr(self.store, "client"):
            s3 = ext["s3"]
            target.parent.mkdir(parents=True, exist_ok=True)
            self.store.client.download_file(s3["bucket"], s3["key"], str(target))
            return
        raise RunError(f"cannot fetch external artifact {json.dumps(ext)} locally")

    # --- memoization: an on-disk stand-in for Argo's ConfigMap cache ------------------------------

    def _cache_file(self, memo: dict, key: str) -> Path:
        return self.cache_dir / memo["cache"]["configMap"]["name"] / f"{key}.json"

    def _cache_get(self, memo: dict, key: str) -> dict | None:
        file = self._cache_file(memo, key)
        if not file.exists():
            return None
        entry = json.loads(file.read_text())
        if time.time() - entry["created"] > _duration(memo.get("maxAge")):
            return None
        return entry

    def _cache_put(self, memo: dict, key: str, node: Node) -> None:
        file = self._cache_file(memo, key)
        file.parent.mkdir(parents=True, exist_ok=True)
        entry = {
            "created": time.time(),
            "parameters": node.parameters,
            "artifacts": {k: {"key": v.key, "external": v.external} for k, v in node.artifacts.items()},
        }
        file.write_text(json.dumps(entry, sort_keys=True))


def kubelet_expand(text: str, env: dict[str, str]) -> str:
    """The kubelet's expansion of command, args and env values: `$$` is `$`, `$(VAR)` is VAR's
    value when the container defines VAR, anything else stays as written."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("$(", i) and ")" in text[i + 2 :]:
            end = text.index(")", i + 2)
            name = text[i + 2 : end]
            if name in env:
                out.append(env[name])
                i = end + 1
            else:
                out.append("$(")
                i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _dependencies(depends: str) -> list[str]:
    import re

    if not depends:
        return []
    if re.search(r"\|\||!|\.(Failed|Errored|Succeeded|Skipped|Omitted|Daemoned|AnySucceeded|AllFailed)", depends):
        raise RunError(f"depends expression {depends!r} is outside the subset this runner supports")
    return [d.strip() for d in depends.replace("(", " ").replace(")", " ").split("&&") if d.strip()]
