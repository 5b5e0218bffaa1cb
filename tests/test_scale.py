"""Large pipelines: a 10,000-task chain (a real kfp compile) translates with Python's default
recursion limit and passes Argo's lint; validation and the runner walk long chains without
recursion. Speed and size targets live in benchmarks/bench_scale.py, not here."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from backends.argo import validate
from benchmarks.synthetic import SHAPES, chain_ir, compile_ir, scaled_ir
from translator import lint
from translator.errors import InternalValidationError
from translator.limits import json_size
from translator.runner.engine import Runner
from translator.runner.store import DirStore

from .conftest import REPO
from .test_lint import argolint  # noqa: F401  (session fixture: builds the Go helper)

N = 10_000


@pytest.mark.parametrize("shape", SHAPES)
def test_the_scaled_ir_is_what_kfp_compiles(tmp_path, shape):
    """kfp's compiler takes too long at 5,000-10,000 tasks; scaled_ir lays out the same IR itself."""
    real, _ = compile_ir(shape, 100, tmp_path / "real")
    scaled = scaled_ir(shape, 100, tmp_path / "scaled")
    assert scaled.read_text() == real.read_text()


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The chain's IR (the task first by name is 9,000 tasks deep) translated by the CLI in a fresh process."""
    work = tmp_path_factory.mktemp("chain")
    ir = chain_ir(N, work)
    out = work / "chain.argo.yaml"
    proc = subprocess.run([sys.executable, "-m", "translator.cli", str(ir), "-o", str(out)],
                          capture_output=True, text=True, cwd=REPO, timeout=1800)
    return out, proc


def test_a_10000_task_chain_translates(chain):
    out, proc = chain
    assert proc.returncode == 0, proc.stderr[-2000:]
    [wf] = yaml.load_all(out.read_text(), Loader=yaml.CSafeLoader)
    [main] = [t for t in wf["spec"]["templates"] if t["name"] == wf["spec"]["entrypoint"]]
    tasks = main["dag"]["tasks"]
    assert len(tasks) == N
    by_name = {t["name"]: t for t in tasks}
    # one chain: a single first task, every other one depends on exactly one, none twice
    firsts = [t for t in tasks if "depends" not in t]
    assert len(firsts) == 1
    assert sorted(t["depends"] for t in tasks if "depends" in t) == sorted(set(by_name) - {tasks_last(tasks)})
    depth, name = 0, min(by_name)  # where a depth-first walk in name order starts
    while "depends" in by_name[name]:
        name, depth = by_name[name]["depends"], depth + 1
    assert depth >= 0.9 * N  # ... 9,000 tasks down the chain: a recursive walk would overflow
    # the size warning is the only thing on stderr: 10,000 tasks are over etcd's limit as JSON
    assert proc.stderr.count("\n") == 1 and f"{json_size(wf):,} bytes as JSON" in proc.stderr


def tasks_last(tasks: list[dict]) -> str:
    """The task nothing depends on."""
    return (set(t["name"] for t in tasks) - {t.get("depends") for t in tasks}).pop()


LINTED = 500


def test_a_long_chain_passes_argo_lint(tmp_path, argolint):  # noqa: F811
    """Argo's own validation is cubic in a chain's depth (workflow/validate: GetTaskAncestry per task,
    whose insertTask is linear: 1,000 tasks take ~17 s of CPU, 2,000 ~79 s, 10,000 would take hours,
    benchmarks/SCALE.md), and 10,000 chained tasks are over etcd's limit anyway (the warning above):
    Argo could never accept them. Lint the longest chain its validation walks in seconds."""
    ir = chain_ir(LINTED, tmp_path)
    out = tmp_path / "chain.argo.yaml"
    proc = subprocess.run([sys.executable, "-m", "translator.cli", str(ir), "-o", str(out)],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert lint.lint_files([out], linter=argolint) == []


def _chain_dag(n: int) -> dict:
    tasks = [{"name": f"t{i}", "template": "noop", **({"depends": f"t{i - 1}"} if i else {})} for i in range(n)]
    return {"name": "main", "dag": {"tasks": tasks}}


def test_validation_walks_long_chains_and_still_finds_cycles():
    templates = [_chain_dag(20_000), {"name": "noop", "suspend": {"duration": "0"}}]
    wf = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "c-"},
          "spec": {"entrypoint": "main", "templates": templates}}
    validate.check_semantics(wf)
    templates[0]["dag"]["tasks"][0]["depends"] = "t19999"
    with pytest.raises(InternalValidationError, match="cycle"):
        validate.check_semantics(wf)


def test_the_runner_runs_a_long_chain_of_skipped_tasks(tmp_path):
    """Skipped tasks inherit their ancestors' outcome (Argo's assessDAGPhase): the DAG's phase
    walks the whole chain back from its leaf."""
    n = 1500
    dag = _chain_dag(n)
    for task in dag["dag"]["tasks"]:
        task["when"] = "false"
    wf = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "c-"},
          "spec": {"entrypoint": "main", "templates": [dag, {"name": "noop", "suspend": {"duration": "0"}}]}}
    result = Runner(tmp_path / "work", store=DirStore(tmp_path / "store"), use_venvs=False).run(wf)
    assert result.phase == "Succeeded"
    steps = [node for node in result.nodes if node.path.startswith(result.workflow_name + "/")]
    assert len(steps) == n and {node.phase for node in steps} == {"Skipped"}


def test_translate_pauses_the_cyclic_collector_and_restores_it(tmp_path):
    """`translate` runs with CPython's cyclic collector paused (reference counting still frees):
    at 1,000 tasks the collector took 60-70% of the time walking objects that stay alive anyway.
    The same work through the library, collector on, triggers dozens of collections; the command
    at most the one due when the collector is switched back on. A caller's own choice is kept."""
    import gc

    import translator
    from translator.cli import main

    ir = scaled_ir("fan", 300, tmp_path)
    collections: list[int] = []

    def seen(phase: str, info: dict) -> None:
        if phase == "start":
            collections.append(info["generation"])

    assert gc.isenabled()
    gc.callbacks.append(seen)
    try:
        translator.translate(str(ir))
        unpaused, collections[:] = len(collections), []
        assert main([str(ir), "-o", str(tmp_path / "out.yaml")]) == 0
        assert gc.isenabled()
        paused = len(collections)
    finally:
        gc.callbacks.remove(seen)
    assert unpaused >= 20 and paused <= 1, (unpaused, paused)
    gc.disable()
    try:
        assert main([str(ir), "-o", str(tmp_path / "out2.yaml")]) == 0
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert (tmp_path / "out.yaml").read_bytes() == (tmp_path / "out2.yaml").read_bytes()


def test_a_task_scope_is_lookups_not_a_copy_of_its_ancestors():
    """The runner's scope for a task (translator/runner/dag.py Scope): the DAG's values, its
    ancestors' entries found by name, what the caller writes; nothing is copied per task, and a
    reference to a direct dependency walks nothing (a 20,000-task chain stays linear)."""
    from translator.runner.dag import Scope, _Ancestry

    n = 20_000
    deps = {f"t{i}": ([f"t{i - 1}"] if i else []) for i in range(n)}
    deps["other"] = []
    entries = {name: {f"tasks.{name}.outputs.parameters.x": name} for name in deps}
    last = f"t{n - 1}"
    visible = _Ancestry(deps, last)
    order = lambda: [f"t{i}" for i in range(n - 2, -1, -1)]  # noqa: E731
    scope = Scope({"inputs.parameters.a": "1"}, entries, visible, order)
    assert scope[f"tasks.t{n - 2}.outputs.parameters.x"] == f"t{n - 2}"
    assert visible._seen == set()  # the direct dependency: no walk at all
    assert scope["tasks.t0.outputs.parameters.x"] == "t0"  # 19,999 levels up, without recursion
    assert "tasks.other.outputs.parameters.x" not in scope  # not an ancestor: not visible
    assert f"tasks.{last}.outputs.parameters.x" not in scope  # nor the task itself
    assert scope["inputs.parameters.a"] == "1" and "inputs.parameters.b" not in scope
    scope[f"tasks.{last}.status"] = "Succeeded"  # what an exit hook adds
    flat = dict(scope.items())  # what an expression sees: the copy the runner used to make
    expected = {"inputs.parameters.a": "1"}
    for name in order():
        expected.update(entries[name])
    expected[f"tasks.{last}.status"] = "Succeeded"
    assert flat == expected and list(flat) == list(expected)
