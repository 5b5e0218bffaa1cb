"""Compare one pipeline's run on the real Argo controller with its run by `translate run`.

Both sides run the same translated manifest under the same workflow name. Each side is reduced to
`Record`s keyed by a node identity that both engines share: the DAG path of Argo task names with
each loop iteration as its index (`for-loop-2[1]/square`), retry attempts folded into their task,
exit hooks as `<task>.onExit`. A record holds what KFP's semantics depend on: phase, whether the
cache answered, attempts, output parameters (exact strings; the per-pod part of artifact keys
blanked, since pod names are each engine's own) and output artifacts as content digests (the
bytes, read back from each side's S3 store). Any difference is a bug in the runner or the backend.
"""
from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from translator.runner.engine import Node, Runner, RunResult

_ITERATION = re.compile(r"^(?P<name>[^()]+)\((?P<index>\d+):.*\)$", re.S)
_ATTEMPT = re.compile(r"^(?P<name>.+)\((?P<attempt>\d+)\)$", re.S)
# Argo node types that stand for a task; TaskGroup (a loop's fan-out) and the root are left out.
_TASK_TYPES = {"Pod", "Retry", "DAG", "Skipped", "Suspend", "Container"}


@dataclass
class Record:
    identity: str
    kind: str
    phase: str
    cached: bool = False
    attempts: int = 1
    parameters: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)  # name -> sha256 of the content
    message: str = ""

    def row(self) -> dict[str, Any]:
        return {"phase": self.phase, "cached": self.cached, "attempts": self.attempts,
                "parameters": self.parameters, "artifacts": self.artifacts}


def split_path(path: str, sep: str) -> list[str]:
    """Split a node path on `sep` outside parentheses (loop item labels may hold anything)."""
    parts, depth, cur = [], 0, []
    for ch in path:
        if ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def identity(parts: Iterable[str]) -> tuple[str, int | None]:
    """(`for-loop-2[1]/square`, attempt) from a node path's parts below the workflow root."""
    out, attempt = [], None
    parts = list(parts)
    for i, part in enumerate(parts):
        hook = part.endswith(".onExit")
        base = part[: -len(".onExit")] if hook else part
        m = _ITERATION.match(base)
        if m:
            base = f"{m.group('name')}[{m.group('index')}]"
        elif i == len(parts) - 1 and (a := _ATTEMPT.match(base)):
            base, attempt = a.group("name"), int(a.group("attempt"))
        out.append(base + (".onExit" if hook else ""))
    return "/".join(out), attempt


def blank_pods(text: str, workflow: str) -> str:
    """Artifact keys `kfp/<workflow>/<template>/<pod>/...`: the pod name is each engine's own."""
    return re.sub(rf"kfp/{re.escape(workflow)}/([^/\"\\]+)/[^/\"\\]+/", r"kfp/<wf>/\1/<pod>/", text)


def tree_digest(root: Path) -> str:
    """sha256 of a file, or of a directory's (relative path, file digest) list."""
    if root.is_file():
        return hashlib.sha256(root.read_bytes()).hexdigest()
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(root).as_posix().encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
    return "dir:" + h.hexdigest()


def _declared(manifest: dict[str, Any]) -> dict[str, tuple[set[str], set[str]]]:
    """Per template: the output parameter and artifact names it declares."""
    out = {}
    for t in manifest.get("spec", {}).get("templates", []):
        outs = t.get("outputs") or {}
        out[t["name"]] = ({p["name"] for p in outs.get("parameters", [])},
                          {a["name"] for a in outs.get("artifacts", [])})
    return out


# ------------------------------------------------------------------------------------------ Argo

def from_argo(workflow: dict[str, Any], fetch: Callable[[str, Path], None],
              manifest: dict[str, Any] | None = None) -> dict[str, Record]:
    """Records of a finished Workflow; `fetch(key, target)` downloads an artifact key (file or prefix)."""
    name = workflow["metadata"]["name"]
    status = workflow.get("status", {})
    templates = _declared(manifest or {"spec": status.get("storedWorkflowTemplateSpec") or workflow.get("spec", {})})
    nodes = status.get("nodes", {})
    records: dict[str, Record] = {}
    retry_children: dict[str, int] = {}
    retries = {n["name"]: n for n in nodes.values() if n.get("type") == "Retry"}
    for node in nodes.values():
        if node.get("type") not in _TASK_TYPES or not node["name"].startswith(name + "."):
            continue
        attempt = _ATTEMPT.match(node["name"])
        if attempt and attempt.group("name") in retries:  # one try of a retried task
            retry_children[attempt.group("name")] = retry_children.get(attempt.group("name"), 0) + 1
            continue
        ident = argo_identity(node["name"], name)
        records[ident] = _argo_record(ident, node, name, templates, fetch)
    for retry_name, count in retry_children.items():
        records[argo_identity(retry_name, name)].attempts = count
    return records


def argo_identity(node_name: str, workflow: str) -> str:
    """The identity of Argo node `node_name` (`<workflow>.<task>.<task>(i:item)...[.onExit]`)."""
    parts: list[str] = []
    for part in split_path(node_name[len(workflow) + 1:], "."):
        if part == "onExit":
            parts.append((parts.pop() if parts else "") + ".onExit")
        else:
            parts.append(part)
    return identity(parts)[0]


def _argo_record(ident: str, node: dict, workflow: str, templates: dict, fetch: Callable) -> Record:
    outputs = node.get("outputs") or {}
    declared_params, declared_arts = templates.get(node.get("templateName", ""), (None, None))
    # a node that failed lists its declared outputs without values: no value, as in the runner
    params = {p["name"]: blank_pods(p["value"], workflow) for p in outputs.get("parameters", [])
              if "value" in p and (declared_params is None or p["name"] in declared_params)}
    arts = {}
    if node.get("phase") == "Succeeded":
        for a in outputs.get("artifacts", []):
            if declared_arts is not None and a["name"] not in declared_arts or "s3" not in a:
                continue
            arts[a["name"]] = _digest_of(fetch, a["s3"]["key"])
    kind = "Pod" if node["type"] == "Retry" else node["type"]
    return Record(ident, kind, node.get("phase", ""), bool((node.get("memoizationStatus") or {}).get("hit")),
                  1, params, arts, node.get("message", ""))


def _digest_of(fetch: Callable[[str, Path], None], key: str) -> str:
    with tempfile.TemporaryDirectory(prefix="kfpt-e2e-art-") as tmp:
        target = Path(tmp) / "a"
        try:
            fetch(key, target)
        except Exception as exc:  # noqa: BLE001 - a missing object is a difference, not a crash
            return f"missing: {type(exc).__name__}"
        return tree_digest(target)


# ---------------------------------------------------------------------------------------- runner

def run_local(manifest: dict[str, Any], parameters: dict[str, str], work: Path, store: Any,
              venvs: Path | None, jobs: int = 2) -> RunResult:
    """`translate run`'s engine on the very manifest submitted to Argo."""
    return Runner(work, store=store, venv_dir=venvs, jobs=jobs).run(manifest, parameters)


def from_runner(result: RunResult, store: Any) -> dict[str, Record]:
    templates = _declared(result.manifest or {})
    name = result.workflow_name
    last: dict[str, Node] = {}
    attempts: dict[str, int] = {}
    for n in result.nodes:
        if n.path == name or n.kind == "TaskGroup":
            continue
        # `wf/a/b(0:x)`, or `wf.onExit[/...]` for the workflow's own exit handler
        rel = n.path[len(name) + 1:] if n.path.startswith(name + "/") else n.path[len(name):]
        ident, _ = identity(split_path(rel, "/"))
        attempts[ident] = attempts.get(ident, 0) + 1
        if ident not in last or n.seq > last[ident].seq:
            last[ident] = n
    records = {}
    for ident, n in last.items():
        declared_params, declared_arts = templates.get(n.template, (None, None))
        params = {k: blank_pods(v, name) for k, v in n.parameters.items()
                  if declared_params is None or k in declared_params}
        arts = {}
        if n.phase == "Succeeded":
            for k, ref in n.artifacts.items():
                if ref.key is None or declared_arts is not None and k not in declared_arts:
                    continue
                arts[k] = _digest_of(store.get, ref.key)
        records[ident] = Record(ident, n.kind, n.phase, n.cached, attempts[ident], params, arts, n.message)
    return records


# ------------------------------------------------------------------------------------ comparison

def differences(argo: dict[str, Record], local: dict[str, Record]) -> list[str]:
    """Every way the runner's records depart from Argo's, one line each (empty: identical)."""
    out = []
    for ident in sorted(set(argo) | set(local)):
        a, b = argo.get(ident), local.get(ident)
        if a is None or b is None:
            which = "runner only" if a is None else "argo only"
            rec = a or b
            out.append(f"{ident}: {which} ({rec.kind} {rec.phase})")
            continue
        for attr in ("phase", "cached", "attempts"):
            if getattr(a, attr) != getattr(b, attr):
                out.append(f"{ident}: {attr} argo={getattr(a, attr)!r} runner={getattr(b, attr)!r}")
        for what in ("parameters", "artifacts"):
            mine, theirs = getattr(a, what), getattr(b, what)
            for k in sorted(set(mine) | set(theirs)):
                if mine.get(k) != theirs.get(k):
                    out.append(f"{ident}: {what[:-1]} {k} argo={_short(mine.get(k))} runner={_short(theirs.get(k))}")
    return out


def _short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"


# ------------------------------------------------------------- Argo as a RunResult (for summaries)

def argo_result(workflow: dict[str, Any], manifest: dict[str, Any]) -> RunResult:
    """The finished Workflow as the runner's RunResult, so `translator.runner.summary.summarize`
    types its outputs and names its KFP tasks exactly as it does for `translate run`."""
    from translator.runner.engine import ArtifactRef

    name = workflow["metadata"]["name"]
    nodes = workflow.get("status", {}).get("nodes", {})
    retries = {n["name"] for n in nodes.values() if n.get("type") == "Retry"}
    out = []
    ordered = sorted(nodes.values(), key=lambda n: (n.get("startedAt") or "", n["name"]))
    for seq, node in enumerate(ordered):
        attempt = _ATTEMPT.match(node["name"])
        if attempt and attempt.group("name") in retries:
            continue
        path = _runner_path(node["name"], name)
        outputs = node.get("outputs") or {}
        kind = {"Retry": "Pod", "Skipped": "Skipped"}.get(node.get("type", ""), node.get("type", ""))
        out.append(Node(path, node.get("templateName", ""), node.get("phase", ""),
                        cached=bool((node.get("memoizationStatus") or {}).get("hit")),
                        pod=node["id"] if node.get("type") in ("Pod", "Retry") else None,
                        parameters={p["name"]: p["value"] for p in outputs.get("parameters", []) if "value" in p},
                        artifacts={a["name"]: ArtifactRef(key=a["s3"]["key"]) for a in outputs.get("artifacts", [])
                                   if "s3" in a},
                        kind=kind, seq=seq))
    return RunResult(workflow.get("status", {}).get("phase", ""), out, name, manifest)


def _runner_path(node_name: str, workflow: str) -> str:
    """Argo's `wf.a.b(0:x).onExit` as the runner's `wf/a/b(0:x).onExit` (`wf.onExit` stays)."""
    if node_name == workflow:
        return workflow
    parts: list[str] = []
    for part in split_path(node_name[len(workflow) + 1:], "."):
        if part == "onExit":
            parts.append((parts.pop() if parts else "") + ".onExit")
        else:
            parts.append(part)
    if parts[0] == ".onExit":  # the workflow's own exit handler and what runs inside it
        return "/".join([workflow + ".onExit"] + parts[1:])
    return "/".join([workflow] + parts)
