"""Loops, fan-in, branches, OneOf, nested pipelines and exit handlers, run for real, outputs
compared with KFP's semantics (including runs that fail on purpose)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import translator
from translator.runner.engine import Runner

from .pipelines import control


@pytest.fixture()
def runner(tmp_path: Path):
    return Runner(tmp_path / "work")  # the embedded store: a folder under the work dir


def run(runner, pipeline, **params):
    [wf] = translator.translate(pipeline, backend="argo", enable_caching=False)
    return runner.run(wf, params)


def outputs(result, task):
    return [n.parameters.get("Output") for n in result.nodes if n.pod and n.path.split("/")[-1] == task]


def test_loops_collect_typed_values(runner):
    result = run(runner, control.loops, n="4")
    assert result.phase == "Succeeded"
    # KFP's semantics: a Collected List[int] holds ints (kfp.local turns them into floats and
    # the `total` component, which asserts int elements, would fail there).
    # tasks are named by their display names (set_display_name): the node names Argo shows
    assert outputs(result, "total-literal") == ["30"]  # 1+4+9+16 over a literal list
    assert outputs(result, "total-dynamic") == ["30"]  # over make_list(4) with parallelism 2
    assert sorted(outputs(result, "square")) == ["1", "16", "4", "9"]
    assert outputs(result, "join") == ["a:2:['depth', 'label'],b:5:['depth', 'label']"]
    # every iteration is one pod; nothing else starts one
    assert result.pods == 4 + 1 + 4 + 2 + 3


@pytest.mark.parametrize("seed,said", [("0", "got heads"), ("7", "got tails")])
def test_if_else_and_oneof(runner, seed, said):
    result = run(runner, control.branches, seed=seed)
    assert result.phase == "Succeeded"
    assert outputs(result, "announce") == [said]
    skipped = [n.path.split("/")[-1] for n in result.nodes if n.phase == "Skipped"]
    assert skipped == ["condition-3" if seed == "0" else "condition-2"]
    assert result.pods == 3


def test_nested_pipelines_pass_values_and_defaults(runner):
    result = run(runner, control.nested, x="3")
    assert result.phase == "Succeeded"
    assert sorted(outputs(result, "square") + outputs(result, "square-of-inner")) == ["4", "81", "9"]


def test_exit_handler_sees_success(runner):
    result = run(runner, control.exit_handling, fail="false")
    assert result.phase == "Succeeded"
    [exit_node] = [n for n in result.nodes if n.pod and "onExit" in n.path or n.path.endswith("/report")]
    assert exit_node.parameters["Output"] == "SUCCEEDED|exit-handler-1|None"


def test_exit_handler_runs_after_failure_and_the_run_fails(runner):
    result = run(runner, control.exit_handling, fail="true")
    assert result.phase == "Failed"  # as in KFP: the exit task succeeding does not rescue the run
    [exit_node] = [n for n in result.nodes if n.pod and "onExit" in n.path or n.path.endswith("/report")]
    assert exit_node.phase == "Succeeded"
    assert exit_node.parameters["Output"] == "FAILED|exit-handler-1|2"



@pytest.mark.parametrize("fail,phase", [("true", "Failed"), ("false", "Succeeded")])
def test_ignore_upstream_failure_runs_but_the_failure_still_counts(runner, fail, phase):
    result = run(runner, control.ignore_upstream, fail=fail)
    assert outputs(result, "cleanup") == ["cleaned:after"]
    assert result.phase == phase


def test_collection_skips_iterations_whose_branch_did_not_run(runner, corpus):
    # KFP collects only the values that were produced: double(2) + double(3) = 10 for threshold 2
    [wf] = translator.translate(str(corpus / "ir" / "valid" / "conditional_producer_and_consumers.yaml"))
    result = runner.run(wf, {"threshold": "2"})
    assert result.phase == "Succeeded"
    assert sorted(outputs(result, "double")) == ["4", "6"]
    assert outputs(result, "add") == ["10"]


def test_collected_artifacts_flat_nested_and_through_a_pipeline(runner):
    result = run(runner, control.collect_artifacts)
    assert result.phase == "Succeeded", [(n.path, n.message) for n in result.nodes if n.phase not in ("Succeeded", "Skipped")]
    by_name = {n.path.split("/")[-1]: n.parameters.get("Output") for n in result.nodes if n.pod and "read-all" in n.template}
    values = sorted(by_name.values())
    assert "a@a|b@b|c@c" in values  # a flat collection, in loop order, with each item's metadata
    assert "p@p|q@q|p@p|q@q" in values  # out of nested loops: flattened, outer then inner order
    assert "x@x|y@y" in values  # collected inside a nested pipeline and returned by it


@pytest.mark.parametrize("pipeline,expected", [
    # ParallelFor over artifact collections (4 texts each): one iteration per item
    ("pipeline_with_parallelfor_list_artifacts_GH-12033.yaml", {"print-artifact-name": 4, "print-artifact-name-2": 4}),
    # a container component reading the whole collection as KFP's JSON list of artifacts
    ("artifacts_simple.yaml", {"add-container": 1}),
    # the KFP workspace: one volume per run, shared by the steps
    ("critical/pipeline_with_workspace.yaml", {"read-from-workspace": 1}),
    # CreatePVC, mount_pvc in two steps, DeletePVC
    ("pipeline_with_volume.yaml", {"consumer": 1, "producer": 1, "createpvc": 1, "deletepvc": 1}),
])
def test_corpus_pipelines_with_collections_volumes_and_workspaces(runner, corpus, pipeline, expected):
    [wf] = translator.translate(str(corpus / "ir" / "valid" / pipeline))
    result = runner.run(wf, {})
    assert result.phase == "Succeeded", [(n.path, n.message) for n in result.nodes if n.phase not in ("Succeeded", "Skipped")]
    counts: dict[str, int] = {}
    for n in result.nodes:
        if n.pod:
            counts[n.path.split("/")[-1].split("(")[0]] = counts.get(n.path.split("/")[-1].split("(")[0], 0) + 1
    assert {k: counts.get(k) for k in expected} == expected
    if pipeline.endswith("workspace.yaml"):
        assert outputs(result, "read-from-workspace") == ["Hello from workspace!"]
    if pipeline == "pipeline_with_volume.yaml":
        assert outputs(result, "consumer") == ["Hello world"]
