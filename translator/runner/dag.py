"""DAG templates with Argo's rules (controller/dag.go, operator.go, scope.go), run in parallel.

* A task runs once every task its `depends` names is done (hooks included); the expression is
  Argo's (`depends.py`); false: the task is Omitted. `when` false: Skipped.
* `withItems` / `withParam` expand a task into iterations `task(i:desc)` of a TaskGroup;
  `{{item}}` / `{{item.key}}` as `processItem` renders them; outputs of a looped task are JSON
  arrays of the succeeded iterations ordered by index (parsed JSON only when every value is a
  JSON object or array, else strings: Argo 3.6+). An empty list: Skipped.
* `parallelism` caps running children; `dag.failFast` (default true) stops scheduling once a
  target task's branch has failed; template `failFast` once any child failed.
* `continueOn`, exit hooks (`hooks.exit`, with `{{tasks.X.status}}`), outputs of skipped tasks
  (`valueFrom.default`, else an absent optional that only a consumer input default rescues),
  DAG outputs (`valueFrom.parameter` / `expression` / `default`).
"""
from __future__ import annotations

import json
import queue
import threading
import time
from collections import ChainMap, deque
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from translator import exprlang

from . import depends as dep
from . import subst
from .engine import COMPLETED, ERROR, FAILED, OMITTED, SKIPPED, SUCCEEDED, ArtifactRef, Node, RunError, Unsupported
from .gojson import go_json, item_scope, loads_raw
from .scheduler import fail as _fail
from .subst import ABSENT

_TASK_KEYS = {"name", "template", "arguments", "depends", "dependencies", "when", "withItems", "withParam",
              "continueOn", "hooks"}


@dataclass
class Unit:
    """One thing to start: a task, or one iteration of a looped task."""

    task: str
    path: str
    params: dict[str, str]
    artifacts: dict[str, ArtifactRef]
    index: int | None = None


class Scope(MutableMapping):
    """The values one task may reference (Argo's scope.go): the DAG's own values, then the
    entries (`tasks.NAME.…`) of its ancestors, then what the caller writes. Built in O(1) per
    task: a key is found by dict lookups (the task's entries by name) plus an ancestry check, not
    by copying every ancestor's entries (quadratic on a long chain). Iterating it (an expression
    needs the whole environment) materializes it once, in the order the copy had."""

    def __init__(self, base: dict, entries: dict[str, dict], visible: Callable[[str], bool],
                 order: Callable[[], list[str]]):
        self._base, self._entries, self._visible, self._order = base, entries, visible, order
        self._written: dict[str, Any] = {}
        self._flat: dict[str, Any] | None = None

    def _task_entry(self, key: str) -> tuple[bool, Any]:
        if not key.startswith("tasks."):
            return False, None
        dot = key.find(".", 6)
        while dot != -1:  # a task name cannot hold a dot in Argo; try every split anyway
            found = self._entries.get(key[6:dot])
            if found is not None and key in found and self._visible(key[6:dot]):
                return True, found[key]
            dot = key.find(".", dot + 1)
        return False, None

    def __getitem__(self, key: str) -> Any:
        if key in self._written:
            return self._written[key]
        hit, value = self._task_entry(key)
        if hit:
            return value
        return self._base[key]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (key in self._written or self._task_entry(key)[0] or key in self._base)

    def __setitem__(self, key: str, value: Any) -> None:
        self._written[key] = value
        self._flat = None

    def __delitem__(self, key: str) -> None:
        raise TypeError("a scope only grows")

    def flat(self) -> dict[str, Any]:
        if self._flat is None:
            flat = dict(self._base)
            for name in self._order():
                flat.update(self._entries.get(name, {}))
            flat.update(self._written)
            self._flat = flat
        return self._flat

    def __iter__(self) -> Iterator[str]:
        return iter(self.flat())

    def __len__(self) -> int:
        return len(self.flat())

    def items(self):  # type: ignore[override]
        return self.flat().items()


class _Ancestry:
    """Whether a task is an ancestor of one task: a walk up its dependencies that stops at the
    first hit and resumes from there on the next question (direct dependencies answer at once)."""

    def __init__(self, deps: dict[str, list[str]], task: str):
        self._deps = deps
        self._direct = set(deps[task])
        self._seen: set[str] = set()
        self._stack = list(deps[task])

    def __call__(self, name: str) -> bool:
        if name in self._direct or name in self._seen:
            return True
        while self._stack:
            d = self._stack.pop()
            if d not in self._seen:
                self._seen.add(d)
                self._stack.extend(self._deps[d])
                if d == name:
                    return True
        return False


@dataclass
class TaskState:
    node: Node | None = None  # the task's node (for a loop, the TaskGroup)
    children: dict[int, Node] = field(default_factory=dict)
    expected: int = 0  # iterations still to finish
    dropped: bool = False  # some iterations never started (failFast)
    done: bool = False


class DagRun:
    def __init__(self, sched: Any, template: dict, values: dict[str, str], artifacts: dict[str, ArtifactRef],
                 path: str, hooked: bool):
        self.s, self.r, self.t, self.path, self.hooked = sched, sched.runner, template, path, hooked
        dag = template["dag"]
        self.tasks: dict[str, dict] = {}
        for task in dag.get("tasks", []):
            unknown = sorted(set(task) - _TASK_KEYS)
            if unknown:
                raise RunError(f"{path}/{task['name']}: task field {unknown[0]!r} is not supported by the local runner")
            hooks = set(task.get("hooks") or {}) - {"exit"}
            if hooks:
                raise RunError(f"{path}/{task['name']}: lifecycle hook {sorted(hooks)[0]!r} is not supported "
                               "(only 'exit')")
            self.tasks[task["name"]] = task
        self.depends: dict[str, str] = {}
        self.deps: dict[str, list[str]] = {}
        self.dependents: dict[str, list[str]] = {name: [] for name in self.tasks}
        self.newly_done: list[str] = []
        self.saw_failure = False
        for name, task in self.tasks.items():
            text = task.get("depends") or " && ".join(task.get("dependencies") or [])
            try:
                self.deps[name] = dep.dependencies(text)
            except dep.DependsError as exc:
                raise RunError(f"{path}/{name}: {exc}") from None
            unknown = [d for d in self.deps[name] if d not in self.tasks]
            if unknown:
                raise RunError(f"{path}/{name}: depends on unknown task {unknown[0]!r}")
            self.depends[name] = text
            for d in self.deps[name]:
                self.dependents[d].append(name)
        needed = {d for ds in self.deps.values() for d in ds}
        self.targets = sorted(dag["target"].split()) if dag.get("target") else sorted(set(self.tasks) - needed)
        self.base: dict[str, str | None] = dict(self.r.globals)
        self.base.update({f"inputs.parameters.{k}": v for k, v in values.items()})
        self.in_artifacts = artifacts
        self.state = {name: TaskState() for name in self.tasks}
        self.entries: dict[str, dict[str, str | None]] = {}
        self.art_entries: dict[str, dict[str, ArtifactRef]] = {}
        self.events: queue.Queue = queue.Queue()
        self.ready: deque[Unit] = deque()
        self.active = 0
        self.parallelism = template.get("parallelism")
        self.fail_fast = dag.get("failFast", True) is not False
        self.tmpl_fail_fast = bool(template.get("failFast"))
        self.stopped = False  # dag.failFast: a target branch failed, nothing new is scheduled
        self.tripped = False  # template failFast: a child failed, nothing new is started

    # --- the loop -------------------------------------------------------------------------------

    def run(self) -> Node:
        node = self.r.add_node(Node(self.path, self.t["name"], "Running", kind="DAG", hooked=self.hooked))
        self.r.event("start", node)
        pending = set(self.tasks)
        candidates = list(self.tasks)  # tasks whose dependencies may all be done now
        while True:
            progressed = True
            while progressed:
                progressed = False
                for name in candidates:
                    if name in pending and self._decide(name):
                        pending.discard(name)
                        progressed = True
                candidates = [d for done in self.newly_done for d in self.dependents[done]]
                self.newly_done.clear()
                progressed = self._start() or progressed or bool(candidates)
            if self.active == 0:
                break
            self._finished(*self.events.get())
        self._conclude(node)
        self.r.event("finish", node)
        return node

    def _ancestors(self, name: str) -> list[str]:
        seen: dict[str, None] = {}  # in discovery order, O(1) membership
        stack = list(self.deps[name])
        while stack:
            d = stack.pop()
            if d not in seen:
                seen[d] = None
                stack.extend(self.deps[d])
        return list(seen)

    def _scope(self, task: str | None) -> tuple[Scope, Scope]:
        """What `task` sees (its ancestors' outputs), or with None what the DAG's outputs see (every task's)."""
        if task is None:
            visible: Callable[[str], bool] = self.tasks.__contains__
            order = lambda: list(self.tasks)  # noqa: E731
        else:
            visible = _Ancestry(self.deps, task)
            order = lambda: self._ancestors(task)  # noqa: E731
        arts = {f"inputs.artifacts.{k}": v for k, v in self.in_artifacts.items()}
        return (Scope(dict(self.base), self.entries, visible, order),
                Scope(arts, self.art_entries, visible, order))

    def _record(self, name: str, node: Node) -> Node:
        """A task decided without running (Omitted, Skipped, Error)."""
        st = self.state[name]
        st.node, st.done = self.r.add_node(node), True
        self.newly_done.append(name)
        self.saw_failure = self.saw_failure or node.phase in (FAILED, ERROR)
        node.finished = node.started
        self.r.event("finish", node)
        self._entries(name)
        return node

    def _decide(self, name: str) -> bool:
        """Decide a task whose dependencies are done: omit, skip, fail or queue it to run."""
        if self.stopped or self.r.blocked(self.hooked):
            return False
        task, st = self.tasks[name], self.state[name]
        if any(not self.state[d].done for d in self.deps[name]):
            return False
        tpath, tmpl = f"{self.path}/{name}", task["template"]
        if self.depends[name]:
            results = {d: self._results(d) for d in self.deps[name]}
            try:
                go = dep.evaluate(self.depends[name], results, lambda d: self.tasks[d].get("continueOn") or {})
            except dep.DependsError as exc:
                raise RunError(f"{tpath}: {exc}") from None
            if not go:
                self._record(name, Node(tpath, tmpl, OMITTED, kind="Skipped", message="omitted: depends condition not met"))
                return True
        flat, arts = self._scope(name)
        try:
            if "withItems" in task or "withParam" in task:
                self._expand(name, task, flat, arts)
                return True
            if not self._when(task.get("when"), flat, tpath):
                self._record(name, Node(tpath, tmpl, SKIPPED, kind="Skipped", message=f"when '{task['when']}' evaluated false"))
                return True
            params, artifacts = self._arguments(task, flat, arts, tpath)
        except Unsupported:
            raise
        except (RunError, subst.SubstitutionError) as exc:
            self._record(name, _fail(tpath, tmpl, str(exc)))
            return True
        st.expected = 1
        self.ready.append(Unit(name, tpath, params, artifacts))
        return True

    def _expand(self, name: str, task: dict, flat: Scope, arts: Scope) -> None:
        tpath, tmpl, st = f"{self.path}/{name}", task["template"], self.state[name]
        if "withItems" in task and "withParam" in task:
            raise RunError(f"{tpath}: only one of withItems/withParam can be specified")
        if "withItems" in task:
            items = task["withItems"]
        else:
            text = subst.substitute(task["withParam"], flat, lambda: subst.nested(flat), tpath)
            try:
                items = loads_raw(text)
            except ValueError as exc:
                items = exc
            if not isinstance(items, list) and task.get("when") and not self._when(task["when"], flat, tpath):
                items = []  # Argo: an unparsable withParam is fine when the task would not run anyway
            if not isinstance(items, list):
                raise RunError(f"withParam value could not be parsed as a JSON list: {text.strip()[:200]}")
        if not items:
            self._record(name, Node(tpath, tmpl, SKIPPED, kind="Skipped", message="Skipped, empty params"))
            return
        st.node = self.r.add_node(Node(tpath, tmpl, "Running", kind="TaskGroup"))
        self.r.event("start", st.node)
        st.expected = len(items)
        for i, item in enumerate(items):
            entries, desc = item_scope(item)
            ipath = f"{tpath}({i}:{desc.replace('(', '').replace(')', '')})"
            iflat = ChainMap(dict(entries), flat)
            try:
                if not self._when(task.get("when"), iflat, ipath):
                    child = self.r.add_node(Node(ipath, tmpl, SKIPPED, kind="Skipped", message="when evaluated false"))
                    child.finished = child.started
                    self.r.event("finish", child)
                    self._child_done(name, i, child)
                    continue
                params, artifacts = self._arguments(task, iflat, arts, ipath)
            except Unsupported:
                raise
            except (RunError, subst.SubstitutionError) as exc:
                child = self.r.add_node(_fail(ipath, tmpl, str(exc)))
                self.r.event("finish", child)
                self._child_done(name, i, child)
                continue
            self.ready.append(Unit(name, ipath, params, artifacts, i))

    def _when(self, when: str | None, flat: dict, where: str) -> bool:
        if not when:
            return True
        verdict = subst.substitute(when, flat, lambda: subst.nested(flat), where).strip()
        if verdict in ("true", "false"):
            return verdict == "true"
        raise Unsupported(f"{where}: when {when!r} became {verdict!r}: only expression tags that evaluate to a "
                       "boolean are supported (govaluate is not implemented)")

    def _arguments(self, task: dict, flat: dict, arts: dict, where: str) -> tuple[dict[str, str], dict[str, ArtifactRef]]:
        args = task.get("arguments") or {}
        params: dict[str, str] = {}
        for p in args.get("parameters", []):
            if "valueFrom" in p:
                raise Unsupported(f"{where}: argument {p['name']!r}: valueFrom is not supported here")
            value = p.get("value", "")
            value = value if isinstance(value, str) else go_json(value)
            ref = subst.is_pure_ref(value)
            if ref is not None and ref in flat and flat[ref] is None:
                params[p["name"]] = ABSENT
            else:
                params[p["name"]] = subst.substitute(value, flat, lambda: subst.nested(flat), where)
        artifacts: dict[str, ArtifactRef] = {}
        for a in args.get("artifacts", []):
            if "from" not in a:
                external = {k: v for k, v in a.items() if k in ("s3", "gcs", "http", "raw")}
                if not external:
                    raise RunError(f"{where}: artifact {a['name']!r} has no source")
                # Argo substitutes a location given in the arguments like any other field.
                external = subst.substitute_tree(external, flat, lambda: subst.nested(flat), where)
                artifacts[a["name"]] = ArtifactRef(external=external)
                continue
            key = subst.is_pure_ref(a["from"])
            if key is None or key not in arts:
                if a.get("optional"):
                    continue
                raise RunError(f"{where}: unable to resolve artifact {a['from']}")
            artifacts[a["name"]] = arts[key]
        return params, artifacts

    # --- starting and finishing units ---------------------------------------------------------

    def _start(self) -> bool:
        started = False
        while self.ready:
            if self.stopped or self.tripped or self.r.blocked(self.hooked):
                while self.ready:  # Argo never creates these nodes
                    unit = self.ready.popleft()
                    st = self.state[unit.task]
                    st.dropped = True
                    st.expected -= 1
                    self._maybe_done(unit.task)
                break
            if self.parallelism and self.active >= int(self.parallelism):
                break
            unit = self.ready.popleft()
            self.active += 1
            threading.Thread(target=self._run_unit, args=(unit,), daemon=True,
                             name=f"kfpt:{unit.path}"[-60:]).start()
            started = True
        return started

    def _run_unit(self, unit: Unit) -> None:
        node = hook = None
        try:
            task = self.tasks[unit.task]
            node = self.s.run_template(task["template"], unit.params, unit.artifacts, unit.path, self)
            exit_hook = (task.get("hooks") or {}).get("exit")
            if exit_hook and node.phase in COMPLETED:
                hook = self._hook(unit, exit_hook, node)
        except BaseException as exc:  # a RunError: the whole run stops with it
            self.events.put((unit, node, hook, exc))
            return
        self.events.put((unit, node, hook, None))

    def _hook(self, unit: Unit, hook: dict, node: Node) -> Node | None:
        flat, arts = self._scope(unit.task)
        flat[f"tasks.{unit.task}.status"] = node.phase
        for k, v in node.parameters.items():
            flat[f"tasks.{unit.task}.outputs.parameters.{k}"] = v
        for k, v in node.artifacts.items():
            arts[f"tasks.{unit.task}.outputs.artifacts.{k}"] = v
        if hook.get("expression"):
            try:
                go = exprlang.evaluate(hook["expression"], subst.nested(flat))
            except exprlang.ExprError as exc:
                raise RunError(f"{unit.path}: exit hook expression: {exc}") from None
            if go is not True:
                return None
        if "template" not in hook:
            raise RunError(f"{unit.path}: exit hook without a template (templateRef is not supported)")
        try:
            params, artifacts = self._arguments(hook, flat, arts, unit.path + ".onExit")
        except (RunError, subst.SubstitutionError) as exc:
            failed = self.r.add_node(_fail(unit.path + ".onExit", hook["template"], str(exc)))
            failed.hooked = True
            return failed
        return self.s.run_template(hook["template"], params, artifacts, unit.path + ".onExit", self, hooked=True)

    def _finished(self, unit: Unit, node: Node | None, hook: Node | None, exc: BaseException | None) -> None:
        self.active -= 1
        if exc is not None:
            raise exc
        assert node is not None
        if self.tmpl_fail_fast and (node.phase in (FAILED, ERROR) or (hook and hook.phase in (FAILED, ERROR))):
            self.tripped = True
        if unit.index is None:
            st = self.state[unit.task]
            st.node, st.expected, st.done = node, 0, True
            self.newly_done.append(unit.task)
            self.saw_failure = self.saw_failure or node.phase in (FAILED, ERROR)
            self._entries(unit.task)
            self._check_fail_fast()
        else:
            self._child_done(unit.task, unit.index, node)

    def _child_done(self, name: str, index: int, node: Node) -> None:
        st = self.state[name]
        st.children[index] = node
        st.expected -= 1
        self._maybe_done(name)

    def _maybe_done(self, name: str) -> None:
        st = self.state[name]
        if st.expected > 0 or st.done or st.node is None:
            return
        group = st.node
        phase = SUCCEEDED
        for i in sorted(st.children):
            if st.children[i].phase in (FAILED, ERROR):
                phase = st.children[i].phase
        if st.dropped and phase == SUCCEEDED:
            phase, group.message = FAILED, "not every iteration ran (failFast)"
        group.phase, group.finished = phase, max([c.finished for c in st.children.values()] + [group.started])
        st.done = True
        self.newly_done.append(name)
        self.saw_failure = self.saw_failure or phase in (FAILED, ERROR)
        self.r.event("finish", group)
        self._entries(name)
        self._check_fail_fast()

    # --- what later tasks see -----------------------------------------------------------------

    def _results(self, name: str) -> dep.TaskResults:
        st = self.state[name]
        assert st.node is not None
        kids = [st.children[i].phase for i in sorted(st.children)]
        if st.node.kind == "TaskGroup":
            return dep.TaskResults(st.node.phase, any(p == SUCCEEDED for p in kids),
                                   bool(kids) and all(p == FAILED for p in kids))
        return dep.TaskResults(st.node.phase)

    def _entries(self, name: str) -> None:
        st, flat, arts = self.state[name], {}, {}
        node = st.node
        assert node is not None
        prefix = f"tasks.{name}"
        flat[f"{prefix}.status"] = node.phase
        if node.kind == "TaskGroup":
            kids = [st.children[i] for i in sorted(st.children) if st.children[i].phase == SUCCEEDED]
            names = sorted({k for c in kids for k in c.parameters})
            if kids and names:
                flat[f"{prefix}.outputs.parameters"] = go_json([c.parameters for c in kids if c.parameters])
                for p in names:
                    flat[f"{prefix}.outputs.parameters.{p}"] = aggregate([c.parameters[p] for c in kids if p in c.parameters])
        elif node.phase in (SKIPPED, OMITTED) or (node.phase == ERROR and node.kind == "Skipped"):
            template = self.s.templates.get(self.tasks[name]["template"], {})
            for p in (template.get("outputs") or {}).get("parameters", []):
                default = (p.get("valueFrom") or {}).get("default")
                flat[f"{prefix}.outputs.parameters.{p['name']}"] = None if default is None else str(default)
        else:
            for k, v in node.parameters.items():
                flat[f"{prefix}.outputs.parameters.{k}"] = v
            for k, v in node.artifacts.items():
                arts[f"{prefix}.outputs.artifacts.{k}"] = v
        self.entries[name], self.art_entries[name] = flat, arts

    # --- the DAG's phase and outputs ----------------------------------------------------------

    def _branch_phase(self, name: str, memo: dict[str, str]) -> str:
        """Argo's assessDAGPhase: a task that did not complete inherits a failure of its ancestors
        (the first failed dependency, in order). An explicit stack: chains can be long."""
        stack, expanded = [name], set()
        while stack:
            current = stack[-1]
            if current in memo:
                stack.pop()
                continue
            st = self.state[current]
            if st.node is None or not st.done or st.node.phase in COMPLETED:
                memo[current] = st.node.phase if st.node is not None and st.done else ""
                stack.pop()
            elif current in expanded:  # its dependencies are decided (or on a cycle)
                memo[current] = next((memo[d] for d in self.deps[current] if memo.get(d) in (FAILED, ERROR)), SUCCEEDED)
                stack.pop()
            else:
                expanded.add(current)
                stack.extend(reversed([d for d in self.deps[current] if d not in memo and d not in expanded]))
        return memo[name]

    def _verdict(self) -> str:
        memo: dict[str, str] = {}
        result = SUCCEEDED
        for name in self.targets:
            phase = self._branch_phase(name, memo)
            if phase == "":
                result = "Running"
                if not self.fail_fast:
                    break
            elif phase in (FAILED, ERROR):
                if phase == FAILED and (self.tasks[name].get("continueOn") or {}).get("failed"):
                    continue
                if phase == ERROR and (self.tasks[name].get("continueOn") or {}).get("error"):
                    continue
                result = phase
                if self.fail_fast:
                    break
        return result

    def _check_fail_fast(self) -> None:
        """Only a failure can stop the DAG: until one happened the verdict is not computed (it
        walks every branch, which would make a long chain quadratic)."""
        if self.fail_fast and self.saw_failure and self._verdict() in (FAILED, ERROR):
            self.stopped = True

    def _conclude(self, node: Node) -> None:
        verdict = self._verdict()
        if self.r.blocked(self.hooked):
            verdict, node.message = FAILED, "stopped" if self.r.stopping.is_set() else "cancelled"
        elif self.tripped:
            verdict, node.message = FAILED, "template has failed or errored children and failFast enabled"
        elif verdict == "Running":
            verdict, node.message = FAILED, "not every task ran"
        node.phase, node.finished = verdict, time.time()
        if verdict != SUCCEEDED:
            return
        flat, arts = self._scope(None)
        try:
            for p in (self.t.get("outputs") or {}).get("parameters", []):
                node.parameters[p["name"]] = self._output_param(p, flat)
            for a in (self.t.get("outputs") or {}).get("artifacts", []):
                if "fromExpression" in a:
                    scope = subst.nested({**flat.flat(), **arts.flat()})
                    found = exprlang.evaluate(a["fromExpression"], scope)
                    if not isinstance(found, ArtifactRef) and found is not None:
                        raise RunError(f"artifact {a['name']!r}: fromExpression gave {found!r}, not an artifact")
                else:
                    found = arts.get(subst.is_pure_ref(a.get("from", "")) or "")
                if found is not None:
                    node.artifacts[a["name"]] = found
                elif not a.get("optional"):
                    raise RunError(f"unable to resolve outputs from scope: artifact {a.get('from') or a.get('fromExpression')!r}")
        except (RunError, subst.SubstitutionError, exprlang.ExprError) as exc:
            node.phase, node.message = ERROR, str(exc)

    def _output_param(self, p: dict, flat: dict) -> str:
        vf = p.get("valueFrom") or {}
        default = vf.get("default")
        try:
            if "expression" in vf:
                value = exprlang.evaluate(vf["expression"], subst.nested(flat))
                if value is None:
                    raise RunError(f"failed to evaluate expression {vf['expression']!r}")
                return subst.expression_result(value)
            if "parameter" in vf:
                key = subst.is_pure_ref(vf["parameter"])
                if key is not None and key in flat and flat[key] is None:
                    if default is None:
                        raise RunError(f"output parameter {p['name']!r}: {vf['parameter']!r} is an absent optional")
                    return str(default)
                return subst.substitute(vf["parameter"], flat, lambda: subst.nested(flat), self.path)
            raise RunError(f"output parameter {p['name']!r}: valueFrom.parameter or expression is required")
        except (RunError, subst.SubstitutionError, exprlang.ExprError):
            if default is None:
                raise
            return str(default)


def aggregate(values: list[str]) -> str:
    """Argo 3.6+ `aggregatedJSONValueList`: parsed JSON only if every value is an object or array."""
    parsed = []
    for v in values:
        try:  # Go unmarshals into interface{}: every number becomes a float64
            x = json.loads(v, parse_int=lambda t: float(int(t)), parse_constant=_reject)
        except ValueError:
            return go_json(values)
        if not isinstance(x, (list, dict)):
            return go_json(values)
        parsed.append(x)
    return go_json(parsed)


def _reject(name: str) -> Any:
    raise ValueError(name)
