"""Run a translated PipelineRun's steps as real subprocesses, the way Tekton and the kubelet would.

Not a Tekton implementation: enough of its documented behaviour to run our own output on this
machine (the real controller runs it in e2e/). What it reproduces, and where it comes from:

* Substitution: `$(params.x)`, `$(context.*)`, `$(tasks.t.results.r)`, `$(tasks.t.status)` in one
  pass per level (pkg/substitution ApplyReplacements uses a strings.Replacer): pipeline-level
  values into a pipeline task's params, then the task's params into its steps.
* The kubelet's `$(VAR)` / `$$` expansion of command, args and env values
  (k8s third_party/forked/golang/expansion), a script's args included; scripts are not expanded
  (Tekton base64s them).
* `when` with `in` / `notin`, and CEL `when` (alpha) substituted as text and evaluated by
  `cel_eval` (Tekton's own evaluator: `tektonlint eval-cel`); a task whose params read a missing
  result is skipped; a false
  `when` skips only its own task; `finally` tasks run after all others with `$(tasks.t.status)`.
* Steps run in order, each a subprocess; the first failing step fails the task. Step results
  (`$(step.results.r.path)`) and step `when` over them (`$(steps.s.results.r)`, in / notin):
  a false one skips its step, and the next steps run.
* `matrix` (params or include): one TaskRun per combination, named `<run>-<task>-<i>`; a
  matrixed task's string results aggregate into `$(tasks.t.results.r[*])` sorted by TaskRun
  name *as text* (-0, -1, -10, -2, ...), TaskRuns without the result left out, as Tekton's
  reconciler does (pipelinerunresolution.go).

Absolute paths of the pod (/kfp, /tekton/results) are mapped into a per-task sandbox directory.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from translator.runtime.delivery import SHIM_ENV

_VAR = re.compile(r"\$\(([^()]*)\)")


def tekton_subst(text: str, values: dict) -> str:
    def one(m: re.Match) -> str:
        v = values.get(m.group(1))
        return v if isinstance(v, str) else m.group(0)

    return _VAR.sub(one, text)


def whole_array(text: str, values: dict) -> list[str] | None:
    """`$(x[*])` standing alone is replaced by the array's elements (ApplyArrayReplacements)."""
    m = _VAR.fullmatch(text)
    v = values.get(m.group(1)) if m else None
    return v if isinstance(v, list) else None


def kubelet_expand(text: str, mapping: dict[str, str]) -> str:
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2:end]
                    out.append(mapping[name] if name in mapping else text[i:end + 1])
                    i = end + 1
                    continue
        out.append(ch)
        i += 1
    return "".join(out)


@dataclass
class TaskOutcome:
    status: str  # Succeeded, Failed, None (skipped)
    results: dict = field(default_factory=dict)  # name -> value, or the aggregated list of a matrix
    logs: str = ""


@dataclass
class Harness:
    root: Path
    base_env: dict[str, str]
    run_name: str = "run-1"
    cel_eval: object = None  # str -> bool: evaluates a substituted CEL `when` (tektonlint eval-cel)
    outcomes: dict[str, TaskOutcome] = field(default_factory=dict)

    def run(self, manifest: dict, params: dict[str, str] | None = None) -> dict[str, TaskOutcome]:
        spec = manifest["spec"]["pipelineSpec"]
        given = {p["name"]: p["value"] for p in manifest["spec"].get("params", [])}
        given.update(params or {})
        values = {f"params.{p['name']}": given.get(p["name"], p.get("default")) for p in spec.get("params", [])}
        values["context.pipelineRun.name"] = self.run_name
        values["context.pipelineRun.uid"] = "uid-" + self.run_name
        for task in spec["tasks"]:
            self.outcomes[task["name"]] = self._task(task, values)
        statuses = {f"tasks.{n}.status": o.status for n, o in self.outcomes.items()}
        for task in spec.get("finally", []):
            self.outcomes[task["name"]] = self._task(task, {**values, **statuses})
        return self.outcomes

    def _pipeline_values(self, values: dict[str, str]) -> dict[str, str]:
        out = dict(values)
        for name, o in self.outcomes.items():
            for r, v in o.results.items():
                if isinstance(v, list):
                    out[f"tasks.{name}.results.{r}[*]"] = v
                else:
                    out[f"tasks.{name}.results.{r}"] = v
                    if v.startswith("["):  # an array result
                        out[f"tasks.{name}.results.{r}[*]"] = json.loads(v)
        return out

    def _task(self, task: dict, values: dict[str, str]) -> TaskOutcome:
        pvalues = self._pipeline_values(values)
        params = {}
        for p in task.get("params", []):
            if isinstance(p["value"], str) and any(m.group(1).startswith("tasks.") and m.group(1) not in pvalues
                                                   for m in _VAR.finditer(p["value"])):
                return TaskOutcome("None", logs="skipped: results were missing")
            params[p["name"]] = self._value(p["value"], pvalues)
        for w in task.get("when", []):
            if "cel" in w:
                if any(m.group(1).startswith("tasks.") and m.group(1) not in pvalues for m in _VAR.finditer(w["cel"])):
                    return TaskOutcome("None", logs="skipped: when input missing")
                expr = tekton_subst(w["cel"], pvalues)
                if not self.cel_eval(expr):
                    return TaskOutcome("None", logs=f"skipped: cel {expr!r} is false")
                continue
            ref = w["input"]
            if any(m.group(1).startswith("tasks.") and m.group(1) not in pvalues for m in _VAR.finditer(ref)):
                return TaskOutcome("None", logs="skipped: when input missing")
            got = tekton_subst(ref, pvalues)
            if (got in w["values"]) != (w["operator"] == "in"):
                return TaskOutcome("None", logs=f"skipped: when {got!r} {w['operator']} {w['values']}")
        combos = self._combinations(task.get("matrix"), pvalues)
        if combos is None:
            return self._taskrun(task, params, task["name"], f"{self.run_name}-{task['name']}")
        runs = {f"{self.run_name}-{task['name']}-{i}": self._taskrun(task, {**params, **combo}, f"{task['name']}-{i}",
                                                                      f"{self.run_name}-{task['name']}-{i}")
                for i, combo in enumerate(combos)}
        if not runs:
            return TaskOutcome("None", logs="skipped: empty matrix")
        results: dict = {}
        for run_name in sorted(runs):  # by TaskRun name, as text
            for r, v in runs[run_name].results.items():
                results.setdefault(r, []).append(v)
        status = "Failed" if any(o.status == "Failed" for o in runs.values()) else "Succeeded"
        return TaskOutcome(status, results, "\n".join(f"=== {n}\n{o.logs}" for n, o in sorted(runs.items())))

    def _value(self, value, pvalues):
        if isinstance(value, list):
            return [tekton_subst(x, pvalues) for x in value]
        array = whole_array(value, pvalues)
        return array if array is not None else tekton_subst(value, pvalues)

    def _combinations(self, matrix, pvalues):
        if not matrix:
            return None
        if "include" in matrix:
            return [{p["name"]: tekton_subst(p["value"], pvalues) for p in entry["params"]} for entry in matrix["include"]]
        combos = [{}]
        for p in matrix["params"]:
            items = self._value(p["value"], pvalues)
            combos = [{**c, p["name"]: x} for c in combos for x in items]
        return combos

    def _taskrun(self, task: dict, params: dict, sandbox_name: str, taskrun_name: str) -> TaskOutcome:
        ts = task["taskSpec"]
        for ps in ts.get("params", []):
            if ps["name"] not in params and "default" in ps:
                params[ps["name"]] = ps["default"]
        sandbox = self.root / sandbox_name
        results_dir = sandbox / "tekton-results"
        results_dir.mkdir(parents=True)
        tvalues = {f"params.{k}" + ("[*]" if isinstance(v, list) else ""): v for k, v in params.items()}
        tvalues.update({"context.pipelineRun.name": self.run_name, "context.taskRun.name": taskrun_name,
                        "context.pipelineRun.uid": "uid-" + self.run_name, "context.taskRun.uid": "uid-" + taskrun_name})
        logs = []
        step_results: dict[str, str] = {}
        for i, step in enumerate(ts["steps"]):
            steps_dir = sandbox / "tekton-steps" / f"step-{step['name']}" / "results"
            steps_dir.mkdir(parents=True)
            svalues = {**tvalues, **{f"step.results.{r['name']}.path": str(steps_dir / r["name"])
                                     for r in step.get("results", [])}}
            if not self._step_allowed(step, step_results):
                logs.append(f"--- {step['name']} (skipped by its when)")
                continue
            rc, log = self._step(step, i, svalues, sandbox, ts.get("stepTemplate", {}), step_results)
            logs.append(f"--- {step['name']} (exit {rc})\n{log}")
            for r in step.get("results", []):
                if (steps_dir / r["name"]).exists():
                    step_results[f"steps.{step['name']}.results.{r['name']}"] = (steps_dir / r["name"]).read_text()
            if rc != 0:
                return TaskOutcome("Failed", logs="\n".join(logs))
        results = {}
        for r in ts.get("results", []):
            f = results_dir / r["name"]
            if f.exists():
                results[r["name"]] = f.read_text()
        return TaskOutcome("Succeeded", results, "\n".join(logs))

    @staticmethod
    def _step_allowed(step: dict, step_results: dict[str, str]) -> bool:
        """A step's `when` (in / notin) over earlier steps' results, as Tekton's entrypoint
        evaluates it (pkg/entrypoint: replaceWhen, then AllowsExecution); false: skipped."""
        for w in step.get("when", []):
            got = tekton_subst(w.get("input", ""), step_results)
            values = [tekton_subst(v, step_results) for v in w["values"]]
            if (got in values) != (w["operator"] == "in"):
                return False
        return True

    def _remap(self, text: str, sandbox: Path) -> str:
        return (text.replace("/tekton/results", str(sandbox / "tekton-results"))
                .replace("/kfp/", str(sandbox / "kfp") + "/").replace("/kfp-workspace", str(self.root / "workspace")))

    def _step(self, step: dict, index: int, tvalues: dict[str, str], sandbox: Path, template: dict,
              step_results: dict[str, str] | None = None):
        env = dict(self.base_env)
        defined: dict[str, str] = {}
        for e in step.get("env", []):
            if "value" not in e:
                continue  # valueFrom (secrets, field refs): not on this machine
            value = tekton_subst(e["value"], tvalues)
            if e["name"] != SHIM_ENV:  # the packed shim is opaque base64: no pod paths in it
                value = self._remap(value, sandbox)
            value = kubelet_expand(value, defined)
            defined[e["name"]] = value
        env.update(defined)
        (sandbox / "kfp").mkdir(exist_ok=True)
        for m in template.get("volumeMounts", []) + step.get("volumeMounts", []):
            if m["mountPath"].startswith("/kfp/"):
                Path(self._remap(m["mountPath"], sandbox)).mkdir(parents=True, exist_ok=True)
        if "script" in step:
            script = sandbox / f"script-{index}"
            script.write_text(self._remap(tekton_subst(step["script"], tvalues), sandbox))
            script.chmod(0o755)
            argv = [str(script)]
            for x in step.get("args", []):  # a script's args are its "$@" (the kubelet expands args)
                parts = whole_array(x, tvalues)
                argv += [kubelet_expand(self._remap(p, sandbox), defined)
                         for p in (parts if parts is not None else [tekton_subst(x, tvalues)])]
        else:
            argv = []
            for x in step.get("command", []) + step.get("args", []):
                parts = whole_array(x, tvalues)
                for part in parts if parts is not None else [tekton_subst(x, tvalues)]:
                    argv.append(kubelet_expand(self._remap(part, sandbox), defined))
        if step_results is not None:  # what Tekton's entrypoint does right before it runs the command
            argv = entrypoint_step_results(argv, step_results)
            env = {k_: entrypoint_step_results([v], step_results)[0] for k_, v in env.items()}
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, cwd=sandbox)
        return proc.returncode, proc.stdout + proc.stderr


_STEP_RESULT = re.compile(r"\$\(steps\..*?\.results\..*?\)")  # resultref.StepResultRegex


def _result_value(content: str) -> str | list[str]:
    """A step result file as Tekton reads it (ParamValue.UnmarshalJSON): a JSON array of strings
    is an array, a JSON string its text, anything else the raw content."""
    if content.startswith("["):
        try:
            value = json.loads(content)
            if isinstance(value, list) and all(isinstance(x, str) for x in value):
                return value
        except ValueError:
            pass
    try:
        value = json.loads(content)
        if isinstance(value, str):
            return value
    except ValueError:
        pass
    return content


def entrypoint_step_results(argv: list[str], step_results: dict[str, str]) -> list[str]:
    """`$(steps.<step>.results.<name>)` in a step's command, args and env, replaced at run time by
    Tekton's entrypoint with the earlier step's result (pkg/entrypoint/entrypointer.go,
    replaceCommandAndArgs: every match of the original text replaced in turn, strings.ReplaceAll)."""
    out = []
    for x in argv:
        new = x
        for match in _STEP_RESULT.findall(x):
            if match[2:-1] not in step_results:  # the entrypoint logs the error and leaves the text
                continue
            value = _result_value(step_results[match[2:-1]])
            if isinstance(value, list):
                raise AssertionError(f"array step result {match} used inside a string")
            new = new.replace(match, value)
        out.append(new)
    return out


def local_env(child_bin: Path, s3, bucket: str) -> dict[str, str]:
    """The step environment: PATH, no index for pip, and the S3 server's address and credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KFPT_", "AWS_"))}
    env.update(PATH=f"{child_bin}{os.pathsep}{env.get('PATH', '')}", PIP_NO_INDEX="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1", PYTHONDONTWRITEBYTECODE="1",
               AWS_ACCESS_KEY_ID=s3.access_key, AWS_SECRET_ACCESS_KEY=s3.secret_key,
               AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=s3.endpoint, KFP_TRANSLATE_BUCKET=bucket)
    return env


def step_env(tmp_path: Path, minio) -> tuple[dict[str, str], str]:
    """A bucket of the test's own on the MinIO fixture and the steps' environment: `python3` is
    this interpreter, `aws` the awscli installed beside it."""
    import shutil
    import sys

    import pytest

    bucket = "kfpt-" + tmp_path.name.lower().replace("_", "-")[-40:].strip("-")
    minio.client().create_bucket(Bucket=bucket)
    child_bin = tmp_path / "bin"
    child_bin.mkdir()
    # `python3 -m pip` goes through the runner's handler, as in `translate run`: KFP's per-step
    # `pip install kfp==... --no-deps` finds kfp installed and costs no pip run.
    from translator.runner.venvs import write_python_wrappers

    write_python_wrappers(child_bin, sys.executable, "the test's interpreter")
    if shutil.which("aws", path=str(Path(sys.executable).parent)) is None:
        pytest.fail("the aws CLI (awscli, a test dependency) is not installed next to this Python")
    env = local_env(child_bin, minio, bucket)
    env["PATH"] = f"{child_bin}:{Path(sys.executable).parent}:{env['PATH']}"
    return env, bucket
