"""Run an Argo Workflow that kfp-translate emitted, on this machine, with Argo's semantics.

Each container step runs as a real local process with the template's command, args and env,
after Argo-style substitution; paths under `/kfp/` (the pod contract) and volume mount paths are
mapped into a private sandbox per step (`pod.py`). Artifacts move through a store under the same
keys Argo would use. DAG scheduling (`dag.py`): `depends`, `when`, loops, parallelism, failFast,
exit hooks; here: the workflow (arguments, `onExit`, globals), memoization with Argo's keys and
maxAge, and the node records. Independent steps run in parallel (at most `jobs` processes).
Anything outside the subset we emit is a clear `RunError`, never a guess.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import subst
from .gojson import go_json, go_quote
from .store import DirStore, StoreError

SUCCEEDED, FAILED, ERROR, SKIPPED, OMITTED = "Succeeded", "Failed", "Error", "Skipped", "Omitted"
COMPLETED = (SUCCEEDED, FAILED, ERROR)


class RunError(Exception):
    pass


class Unsupported(RunError):
    """A construct outside what the runner implements: the run stops, never guesses."""


@dataclass
class ArtifactRef:
    """Where an artifact lives: a key in the run's store, or an external location."""

    key: str | None = None
    external: dict[str, Any] | None = None


@dataclass
class Node:
    path: str  # e.g. "main/for-loop-2(1:b)/print-text"
    template: str
    phase: str
    cached: bool = False
    pod: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, ArtifactRef] = field(default_factory=dict)
    # the template's inputs as resolved for this node (Argo's NodeStatus.inputs)
    inputs: dict[str, str] = field(default_factory=dict)
    input_artifacts: dict[str, ArtifactRef] = field(default_factory=dict)
    message: str = ""
    kind: str = "Pod"  # Pod | DAG | Skipped | TaskGroup
    attempt: int = 0
    hooked: bool = False  # an exit handler's node
    started: float = 0.0
    finished: float = 0.0
    log: str | None = None  # the step's log file
    exit_code: str = ""
    process_seconds: float = 0.0  # time inside the step's process (the rest is the runner's)
    seq: int = 0

    @property
    def task(self) -> str:
        """The DAG task (or hook) this node runs, without loop decorations."""
        return self.path.rsplit("/", 1)[-1].split("(", 1)[0]

    @property
    def iteration(self) -> int | None:
        """Index of the innermost loop iteration this node belongs to (None outside loops)."""
        for part in reversed(self.path.split("/")):
            if "(" in part and ":" in part:
                return int(part.split("(", 1)[1].split(":", 1)[0])
        return None


@dataclass
class RunResult:
    phase: str
    nodes: list[Node]
    workflow_name: str
    manifest: dict[str, Any] | None = None
    run_dir: Path | None = None

    @property
    def pods(self) -> int:
        return sum(1 for n in self.nodes if n.pod)

    def node(self, path_suffix: str) -> Node:
        matches = [n for n in self.nodes if n.path == path_suffix or n.path.endswith("/" + path_suffix)]
        if len(matches) != 1:
            raise KeyError(f"{path_suffix!r} matches {len(matches)} nodes")
        return matches[0]


def duration(text: Any) -> float:
    """A Go duration (`720h`, `1m30s`, `500ms`) or a number of seconds."""
    if text is None or text == "":
        return 0.0
    if isinstance(text, (int, float)):
        return float(text)
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 0.001, "s": 1, "m": 60, "h": 3600}
    total, i, s = 0.0, 0, str(text).strip()
    if s.replace(".", "", 1).isdigit():
        return float(s)
    while i < len(s):
        j = i
        while j < len(s) and (s[j].isdigit() or s[j] == "."):
            j += 1
        unit = next((u for u in ("ns", "us", "µs", "ms", "s", "m", "h") if s.startswith(u, j)), None)
        if j == i or unit is None:
            raise RunError(f"invalid duration {text!r}")
        total += float(s[i:j]) * units[unit]
        i = j + len(unit)
    return total


class Runner:
    def __init__(self, work_dir: Path, store: Any | None = None, python_bin: str | None = None,
                 env: dict[str, str] | None = None, log: Any = None, max_backoff: float = 1.0,
                 jobs: int | None = None, venv_dir: Path | None = None, use_venvs: bool = True,
                 on_event: Callable[[str, Node], None] | None = None, objects: Any = None):
        self.work = Path(work_dir).resolve()
        self.work.mkdir(parents=True, exist_ok=True)
        self.store = store or DirStore(self.work / "store")
        self.python_bin = python_bin or os.path.dirname(sys.executable)
        self.extra_env = env or {}
        self.log = log or (lambda msg: None)
        self.max_backoff = max_backoff
        self.cache_dir = self.work / "cache"
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.on_event = on_event or (lambda event, node: None)
        from .kube import KubeObjects

        self.objects = objects or KubeObjects()  # Secrets and ConfigMaps the pods read
        self.venvs = None
        if use_venvs:
            from .venvs import Venvs, default_root

            self.venvs = Venvs(Path(venv_dir) if venv_dir else default_root())
        self.lock = threading.RLock()
        self.pod_slots = threading.BoundedSemaphore(self.jobs)
        self.processes: set[Any] = set()
        self.cancelled = threading.Event()
        # `stop()` (SIGTERM/SIGINT to `translate run`), as `argo stop`: running steps are
        # terminated and fail, nothing new starts except exit handlers
        self.stopping = threading.Event()

    # --- entry ----------------------------------------------------------------------------------

    def run(self, manifest: dict[str, Any], parameters: dict[str, str] | None = None) -> RunResult:
        from .scheduler import Scheduler

        kind = manifest.get("kind")
        if kind not in ("Workflow", "WorkflowTemplate"):
            raise RunError(f"can run a Workflow or WorkflowTemplate, not {kind}")
        spec = manifest.get("spec") or {}
        unsupported = sorted(set(spec) & {"hooks", "workflowTemplateRef"})
        if unsupported:
            raise Unsupported(f"workflow spec field {unsupported[0]!r} is not supported by the local runner")
        defaults = spec.get("templateDefaults") or {}
        self.templates = {t["name"]: with_template_defaults(t, defaults) for t in spec.get("templates", [])}
        from .kube import check

        check(manifest, self.objects)  # before any step runs: what is missing, naming the task
        self.volumes = {v["name"]: v for v in spec.get("volumes", [])}
        self.claim_templates = {(c.get("metadata") or {}).get("name") for c in spec.get("volumeClaimTemplates", [])}
        meta = manifest.get("metadata", {})
        run_id = hashlib.sha256(f"{time.time_ns()}-{os.getpid()}-{id(self)}".encode()).hexdigest()
        self.workflow_name = meta.get("name") or f"{meta.get('generateName', 'run-')}{run_id[:5]}"
        self.run_dir = self.work / "runs" / self.workflow_name
        self.run_dir.mkdir(parents=True, exist_ok=True)  # named by the closing line: it exists
        self.globals: dict[str, str | None] = {
            "workflow.name": self.workflow_name,
            "workflow.namespace": meta.get("namespace", "default"),
            "workflow.uid": f"{run_id[:8]}-{run_id[8:12]}-{run_id[12:16]}-{run_id[16:20]}-{run_id[20:32]}",
            "workflow.creationTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "workflow.serviceAccountName": spec.get("serviceAccountName", "default"),
        }
        args = {p["name"]: p.get("value") for p in (spec.get("arguments") or {}).get("parameters", [])}
        from backends.argo.container import protect

        for name, value in (parameters or {}).items():
            if name not in args:
                raise RunError(f"the workflow has no parameter {name!r}")
            # as `translate -p` gives it: a value Argo would rewrite, or that looks like our
            # encodings (base64 form, ABSENT), travels protected and arrives unchanged
            args[name] = protect(value)
        missing = [n for n, v in args.items() if v is None]
        if missing:
            raise RunError(f"parameter {missing[0]!r} has no value: pass it with -p {missing[0]}=VALUE")
        args = {k: v if isinstance(v, str) else go_json(v) for k, v in args.items()}
        self.globals.update({f"workflow.parameters.{k}": v for k, v in args.items()})
        self.globals["workflow.parameters"] = go_json([{"name": k, "value": v} for k, v in args.items()])
        self.workflow_artifacts = {
            a["name"]: ArtifactRef(external={k: v for k, v in a.items() if k in ("s3", "http", "gcs")})
            for a in (spec.get("arguments") or {}).get("artifacts", [])
        }
        self.nodes: list[Node] = []
        self.seq = itertools.count()
        self.pod_counter = itertools.count(1)
        self.scheduler = Scheduler(self)
        entry = spec.get("entrypoint")
        if not entry:
            raise RunError("the workflow has no entrypoint")
        try:
            root = self.scheduler.run_template(entry, args, dict(self.workflow_artifacts), self.workflow_name,
                                               boundary=None)
            phase = {SKIPPED: SUCCEEDED, OMITTED: SUCCEEDED}.get(root.phase, root.phase)
            if spec.get("onExit"):
                phase = self._on_exit(spec["onExit"], phase)
        except BaseException:
            self.cancel()  # a RunError or Ctrl-C: no step keeps running behind our back
            raise
        self.nodes.sort(key=lambda n: n.seq)
        return RunResult(phase, self.nodes, self.workflow_name, manifest, self.run_dir)

    def _on_exit(self, template: str, phase: str) -> str:
        """Argo's workflow-level exit handler: runs whatever happened, sees status and failures."""
        failures = [
            {"displayName": n.path.rsplit("/", 1)[-1], "message": n.message.splitlines()[0] if n.message else "",
             "templateName": n.template, "phase": n.phase, "podName": n.pod or "",
             "finishedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(n.finished or time.time()))}
            for n in sorted(self.nodes, key=lambda n: n.seq) if n.phase in (FAILED, ERROR)
        ]
        self.globals["workflow.status"] = phase
        self.globals["workflow.failures"] = go_quote(go_json(failures))
        node = self.scheduler.run_template(template, {}, dict(self.workflow_artifacts), f"{self.workflow_name}.onExit",
                                           boundary=None, hooked=True)
        if phase == SUCCEEDED and node.phase in (FAILED, ERROR):
            return node.phase
        return phase

    # --- node records (shared by the threads that run steps) -------------------------------------

    def add_node(self, node: Node) -> Node:
        with self.lock:
            node.seq = next(self.seq)
            if not node.started:
                node.started = time.time()
            self.nodes.append(node)
        return node

    def event(self, name: str, node: Node) -> None:
        try:
            self.on_event(name, node)
        except Exception:  # a broken view must not break the run
            pass

    def new_pod_name(self, template: str, path: str) -> str:
        n = next(self.pod_counter)
        digest = hashlib.sha256(f"{path}/{n}".encode()).hexdigest()[:10]
        prefix = f"{self.workflow_name}-{template}"[:52].rstrip("-")  # Argo keeps the start of long names
        return f"{prefix}-{digest}"

    def blocked(self, hooked: bool) -> bool:
        """Whether a new step (or task) may not start: cancelled, or stopping and not an exit handler."""
        return self.cancelled.is_set() or (self.stopping.is_set() and not hooked)

    def stop(self) -> None:
        """Argo's stop: running steps are terminated (so they fail), exit handlers still run."""
        self.stopping.set()
        self._terminate()

    def cancel(self) -> None:
        """Stop the run: no new step starts, running steps are terminated."""
        self.cancelled.set()
        self._terminate()

    def _terminate(self) -> None:
        import signal

        with self.lock:
            procs = list(self.processes)
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except OSError:
                pass

    # --- memoization: an on-disk stand-in for Argo's ConfigMap cache ------------------------------

    def memo_key(self, template: dict, values: dict[str, str], where: str) -> str | None:
        memo = template.get("memoize")
        if not memo:
            return None
        flat = dict(self.globals)
        flat.update({f"inputs.parameters.{k}": v for k, v in values.items()})
        try:
            key = subst.substitute(memo["key"], flat, lambda: subst.nested(flat), where)
        except subst.SubstitutionError as exc:
            raise RunError(str(exc)) from None
        if not key:
            raise RunError(f"{where}: memoization key is empty")
        return key

    def _cache_file(self, memo: dict, key: str) -> Path:
        cm = ((memo.get("cache") or {}).get("configMap") or {}).get("name")
        if not cm:
            raise RunError("memoize.cache.configMap.name is required")
        safe = hashlib.sha256(key.encode()).hexdigest() if not key.replace("-", "").isalnum() else key
        return self.cache_dir / cm / f"{safe}.json"

    def cache_get(self, template: dict, key: str) -> dict | None:
        memo = template["memoize"]
        file = self._cache_file(memo, key)
        if not file.exists():
            return None
        try:
            entry = json.loads(file.read_text())
        except ValueError:
            return None
        max_age = memo.get("maxAge")
        if max_age and time.time() - entry["created"] > duration(max_age):
            return None
        for ref in entry.get("artifacts", {}).values():
            # Argo reuses the first run's artifact keys. Our embedded store lives as long as one
            # run: objects it no longer holds come back from the work dir's copy, else it is a miss.
            if ref.get("key") and not self._ensure(ref["key"]):
                return None
        return entry

    def _ensure(self, key: str) -> bool:
        ensure = getattr(self.store, "ensure", None)
        try:
            return ensure(key) if ensure else self.store.exists(key)
        except StoreError:
            return False

    def cache_put(self, template: dict, key: str, node: Node) -> None:
        file = self._cache_file(template["memoize"], key)
        file.parent.mkdir(parents=True, exist_ok=True)
        entry = {
            "created": time.time(),
            "nodeID": node.path,
            "parameters": node.parameters,
            "artifacts": {k: {"key": v.key, "external": v.external} for k, v in node.artifacts.items()},
        }
        tmp = file.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps(entry, sort_keys=True))
        os.replace(tmp, file)


def with_template_defaults(template: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Argo's mergedTemplateDefaultsInto (controller/operator.go) for what we emit: a strategic
    merge in which `container` defaults reach container templates only, env entries merge by
    name (the template's own entry wins) and a field the template sets keeps its value."""
    unknown = sorted(set(defaults) - {"container"})
    if unknown:
        raise Unsupported(f"templateDefaults field {unknown[0]!r} is not supported by the local runner")
    if "container" not in template or "container" not in defaults:
        return template
    container = dict(template["container"])
    for key, value in defaults["container"].items():
        if key == "env":
            own = {e["name"] for e in container.get("env", [])}
            container["env"] = [e for e in value if e["name"] not in own] + container.get("env", [])
        elif key not in container:
            container[key] = value
        elif isinstance(value, (dict, list)):
            raise Unsupported(f"templateDefaults.container.{key} merged into a template's own is not supported locally")
    return {**template, "container": container}


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
