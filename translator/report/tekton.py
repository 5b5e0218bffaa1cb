"""A Tekton PipelineRun (v1, as the Kubernetes API returns it) plus its TaskRuns (the caller puts
them under the extra key `taskRuns`) as a report `Run`.

From Tekton's v1 types: the run's phase from its `Succeeded` condition; each TaskRun's pipeline
task from the `tekton.dev/pipelineTask` label, its phase from its condition, inputs from
`spec.params`, outputs from `status.results`; skipped tasks from `status.skippedTasks`; the graph
from the pipeline's `runAfter` and its `$(tasks.<name>.…)` references, as Tekton orders tasks.
Our encodings (docs/tekton.md): results carry `$$` for `$` (or base64), a loop iteration's
results start with `<index>:`; an artifact's metadata is the result `<name>-metadata`, its
location the `kfpt-prefix` result (or the store step's key prefix) and the artifact's name,
a key in the artifact store (`read_artifact` gets the key; the bucket is in the store Secret).

Checked against a real PipelineRun and TaskRuns in e2e/tests/test_report_on_engines.py.
"""
from __future__ import annotations

import re
from typing import Any

from backends.tekton.names import dns_label, param_name, result_name
from backends.tekton.placeholders import location_param, metadata_param

from .model import B64_PREFIX, Artifact, Run, Task, metadata_value, shim_spec, user_value, visible
from .types import kfp_task, of_run

PREFIX_RESULT = "kfpt-prefix"  # backends/tekton/flatten.py
INDEX, LIST = "kfpt-index", "kfpt-list"  # backends/tekton/tasks.py
_TASK_REF = re.compile(r"\$\(tasks\.([a-z0-9-]+)\.")
_CONTEXT = re.compile(r"\$\((context\.pipelineRun\.name|context\.taskRun\.name|params\.[A-Za-z0-9_.-]+)\)")


def _phase(obj: dict) -> tuple[str, str]:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Succeeded":
            state = {"True": "Succeeded", "False": "Failed"}.get(str(c.get("status")), "Running")
            if state == "Running" and c.get("reason") == "Pending":
                state = "Pending"
            return state, str(c.get("message") or "")
    return "Pending", ""


def result_value(value: Any, in_loop: bool) -> str:
    """A result as the user's text: the loop index cut off, base64 undone, `$$` back to `$`."""
    text = value if isinstance(value, str) else user_value(value)
    if in_loop and ":" in text:
        text = text.split(":", 1)[1]
    return user_value(text) if text.startswith(B64_PREFIX) else text.replace("$$", "$")


def _main_spec(taskrun: dict) -> tuple[dict, dict]:
    """The shim SPEC of the TaskRun's main step, and the store step's env."""
    steps = ((taskrun.get("status") or {}).get("taskSpec") or (taskrun.get("spec") or {}).get("taskSpec") or {}).get("steps") or []
    spec, store = {}, {}
    for step in steps:
        if step.get("name") == "main":
            spec = shim_spec(step.get("command"))
        if step.get("name") == "kfpt-store":
            store = {e.get("name"): e.get("value", "") for e in step.get("env") or []}
    return spec, store


def _task(taskrun: dict, run_name: str, pipeline_tasks: dict[str, str], declared: dict[str, dict[str, str]]) -> Task:
    meta, spec, status = taskrun.get("metadata") or {}, taskrun.get("spec") or {}, taskrun.get("status") or {}
    labels = meta.get("labels") or {}
    params = {str(p.get("name")): p.get("value", "") for p in spec.get("params") or []}
    in_loop = INDEX in params
    results = {str(r.get("name")): result_value(r.get("value", ""), in_loop) for r in status.get("results") or []}
    shim, store = _main_spec(taskrun)
    phase, message = _phase(taskrun)
    name = str(meta.get("name", ""))
    outs = (shim.get("outputs") or {})
    in_arts = (shim.get("inputs") or {}).get("artifacts") or {}
    prefix = results.get(PREFIX_RESULT) or _CONTEXT.sub(
        lambda m: run_name if m.group(1) == "context.pipelineRun.name" else name if m.group(1) == "context.taskRun.name"
        else user_value(params.get(m.group(1)[len("params."):], "")), str(store.get("KFPT_PREFIX", "")))
    label = str(labels.get("tekton.dev/pipelineTask") or pipeline_tasks.get(name) or name)
    kinds = {a: str(d.get("schemaTitle", "")) for a, d in (outs.get("artifacts") or {}).items()}
    if not shim:  # a container component: the types the pipeline declares (types.py)
        kinds = dict(declared.get(label) or {})
    artifacts = [Artifact(a, kind, f"{prefix}/{a}" if prefix else None,
                          metadata_value(results.get(result_name(a + "-metadata"))))
                 for a, kind in sorted(kinds.items())]
    inputs = [Artifact(a, str(d.get("schemaTitle", "")), user_value(params.get(location_param(a), "")) or None,
                       metadata_value(params.get(metadata_param(a))))
              for a, d in sorted(in_arts.items())]
    hidden = {INDEX, LIST} | {f(a) for a in in_arts for f in (location_param, metadata_param)}
    out_params = {p: results.get(result_name(p), "") for p in outs.get("parameters") or {}} if shim else {
        k: v for k, v in results.items() if k != PREFIX_RESULT and not k.endswith("-metadata")}
    if in_loop:
        label = f"{label}({user_value(params[INDEX])})"
    return Task(id=name, name=label, phase=phase, kind="TaskRun", template=label.split("(")[0], message=message,
                started=str(status.get("startTime") or ""), finished=str(status.get("completionTime") or ""),
                inputs=visible(params, hidden), outputs=visible(out_params, set()),
                input_artifacts=inputs, artifacts=artifacts)


def _pipeline_tasks(run: dict) -> list[dict]:
    spec = (run.get("status") or {}).get("pipelineSpec") or (run.get("spec") or {}).get("pipelineSpec") or {}
    return list(spec.get("tasks") or []) + list(spec.get("finally") or [])


def _deps(task: dict) -> list[str]:
    found = list(task.get("runAfter") or [])
    text = repr(task.get("params") or []) + repr(task.get("when") or []) + repr(task.get("matrix") or {})
    found += _TASK_REF.findall(text)
    return sorted(set(found) - {task.get("name")})


def read(run: dict[str, Any]) -> Run:
    meta, status = run.get("metadata") or {}, run.get("status") or {}
    name = str(meta.get("name") or "pipelinerun")
    # status.childReferences name each TaskRun's pipeline task (the label says it too)
    refs = {str(c.get("name")): str(c.get("pipelineTaskName") or "") for c in status.get("childReferences") or []
            if isinstance(c, dict) and c.get("kind", "TaskRun") == "TaskRun"}
    declared = {dns_label(kfp_task(k, {})): v for k, v in of_run(run).items()}  # by pipeline task name
    tasks = [_task(tr, name, refs, declared) for tr in run.get("taskRuns") or [] if isinstance(tr, dict)]
    tasks.sort(key=lambda t: (t.started or "~", t.name))
    by_pipeline_task: dict[str, list[str]] = {}
    for t in tasks:
        by_pipeline_task.setdefault(t.template, []).append(t.id)
    for skipped in status.get("skippedTasks") or []:
        task_name = str(skipped.get("name", ""))
        tasks.append(Task(id=f"skipped-{task_name}", name=task_name, phase="Skipped", kind="Skipped",
                          template=task_name, message=str(skipped.get("reason") or "")))
        by_pipeline_task.setdefault(task_name, []).append(f"skipped-{task_name}")
    edges = [(a, b) for pt in _pipeline_tasks(run) for d in _deps(pt)
             for a in by_pipeline_task.get(d, []) for b in by_pipeline_task.get(str(pt.get("name")), [])]
    phase, message = _phase(run)
    params = {str(p.get("name")): p.get("value", "") for p in (run.get("spec") or {}).get("params") or []}
    hidden = {param_name("kfpt-shim")}
    return Run(name=name, engine="tekton", phase=phase, message=message, started=str(status.get("startTime") or ""),
               finished=str(status.get("completionTime") or ""), parameters=visible(params, hidden),
               tasks=tasks, edges=edges)
