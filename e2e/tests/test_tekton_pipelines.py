"""The Tekton backend's PipelineRuns on the real Tekton controller (admission through its webhook):
typed values, artifacts through the artifact store, conditions with Else and OneOf, nested
pipelines, exit handlers as `finally` with PipelineTaskFinalStatus, ignore_upstream_failure.

All runs are created first and then awaited, so the pods of different runs overlap."""
from __future__ import annotations

import json

import pytest

import translator
from tests.pipelines import control, dataflow

CASES = {
    "param-types": (dataflow.param_types, ()),
    "artifact-flow": (dataflow.artifact_flow, (("rows", "5"),)),
    "branches-heads": (control.branches, (("seed", "0"),)),
    "branches-tails": (control.branches, (("seed", "1"),)),
    "nested": (control.nested, (("x", "3"),)),
    "exit-ok": (control.exit_handling, (("fail", "false"),)),
    "exit-failed": (control.exit_handling, (("fail", "true"),)),
    "ignore-upstream": (control.ignore_upstream, ()),
}


@pytest.fixture(scope="module")
def runs(cluster):
    """Every case created at once, then each awaited: {case: (PipelineRun, {pipelineTask: results})}."""
    names = {}
    for case, (pipeline, params) in CASES.items():
        [manifest] = translator.translate(pipeline, backend="tekton", namespace=cluster.namespace,
                                          parameters=params)
        names[case] = cluster.create(manifest)["metadata"]["name"]
    done = {}
    for case, name in names.items():
        pr = cluster.wait_pipelinerun(name, timeout=900)
        results = {}
        for tr in cluster.taskruns(name):
            task = tr["metadata"]["labels"]["tekton.dev/pipelineTask"]
            results[task] = {r["name"]: r["value"] for r in tr.get("status", {}).get("results", [])}
        done[case] = (pr, results)
    return done


def _succeeded(pr) -> str:
    return next(c for c in pr["status"]["conditions"] if c["type"] == "Succeeded")["status"]


def _skipped(pr) -> set[str]:
    return {s["name"] for s in pr["status"].get("skippedTasks", [])}


def test_typed_values_round_trip(runs):
    pr, results = runs["param-types"]
    assert _succeeded(pr) == "True", pr["status"]
    assert json.loads(results["typed-check"]["Output"]) == {
        "s": "plain", "i": 3, "f": 0.25, "b": True, "lst": [1, "two", 3.5], "d": {"k": [1, 2], "n": False}}
    assert results["echo-types"]["i"] == "3" and results["echo-types"]["opt_seen"] == "none"


def test_artifacts_metadata_and_condition(runs):
    pr, results = runs["artifact-flow"]
    assert _succeeded(pr) == "True", pr["status"]
    assert json.loads(results["make-data"]["data-metadata"]) == {"rows": 5, "columns": ["n", "square"]}
    assert results["inspect-model"]["Output"] == "5|5|0.5|True"
    assert results["condition-1-deploy"]["Output"] == "deployed:5|5|0.5|True"


@pytest.mark.parametrize("case,said,skipped", [
    ("branches-heads", "got heads", "condition-branches-1-condition-3-say-2"),
    ("branches-tails", "got tails", "condition-branches-1-condition-2-say"),
])
def test_if_else_and_oneof_pick_the_branch_that_ran(runs, case, said, skipped):
    pr, results = runs[case]
    assert _succeeded(pr) == "True", pr["status"]
    assert results["say-3"]["Output"] == said
    assert skipped in _skipped(pr) and skipped not in results


def test_nested_pipelines(runs):
    pr, results = runs["nested"]
    assert _succeeded(pr) == "True", pr["status"]
    assert results["inner-square"]["Output"] == "9"
    assert results["inner-2-square"]["Output"] == "4"  # the nested pipeline's own default
    assert results["square"]["Output"] == "81"


def test_exit_handler_sees_the_final_status(runs):
    ok, ok_results = runs["exit-ok"]
    assert _succeeded(ok) == "True", ok["status"]
    assert ok_results["report"]["Output"].startswith("SUCCEEDED|")
    failed, failed_results = runs["exit-failed"]
    assert _succeeded(failed) == "False"
    assert failed_results["report"]["Output"].startswith("FAILED|")


def test_ignore_upstream_failure_runs_and_the_run_still_fails(runs):
    pr, results = runs["ignore-upstream"]
    assert results["cleanup"]["Output"] == "cleaned:after"
    assert _succeeded(pr) == "False"
