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
from benchmarks.synthetic import chain_ir, compile_ir
from translator import lint
from translator.errors import InternalValidationError
from translator.limits import json_size
from translator.runner.engine import Runner
from translator.runner.store import DirStore

from .conftest import REPO
from .test_lint import argolint  # noqa: F401  (session fixture: builds the Go helper)

N = 10_000


def test_the_scaled_chain_ir_is_what_kfp_compiles(tmp_path):
    """kfp's compiler takes too long at 10,000 tasks; chain_ir lays out the same IR itself."""
    real, _ = compile_ir("chain", 100, tmp_path / "real")
    scaled = chain_ir(100, tmp_path / "scaled")
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
