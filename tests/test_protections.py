"""Protections that only the goldens noticed before: a value produced by a pod that holds Argo's
own tag syntax reaches the next pods unchanged (Argo rescans the template holding it), a workflow
argument too, and an `.after()`-only edge orders the run. Real runs (`translate run`'s engine,
which emulates Argo's substitution passes), not manifest diffs."""
from __future__ import annotations

import base64
from pathlib import Path

import translator
from translator.runner.engine import Runner

from .pipelines import values

TAGGED = "{{workflow.name}} {{=1+1}} {{inputs.parameters.text}} {{pod.name}}"


def run(tmp_path: Path, pipeline, *params):
    [workflow] = translator.translate(pipeline, backend="argo", parameters=params)
    return Runner(tmp_path / "work").run(workflow, {})


def shim_view(value: str) -> str:
    prefix = "__KFP_B64__:"
    return base64.b64decode(value[len(prefix):]).decode() if value.startswith(prefix) else value


def test_pod_outputs_holding_argo_tags_reach_python_and_container_consumers(tmp_path):
    result = run(tmp_path, values.pod_outputs, ("text", TAGGED))
    assert result.phase == "Succeeded", [(n.path, n.message[-400:]) for n in result.nodes]
    assert shim_view(result.node("show").parameters["Output"]) == "value:" + TAGGED
    assert result.node("echo-file").parameters["out"] == TAGGED


def test_workflow_arguments_holding_argo_tags_arrive_unchanged(tmp_path):
    result = run(tmp_path, values.user_params, ("text", TAGGED))
    assert result.phase == "Succeeded", [(n.path, n.message[-400:]) for n in result.nodes]
    assert shim_view(result.node("show").parameters["Output"]) == "value:" + TAGGED
    assert result.node("echo-file").parameters["out"] == TAGGED


def test_an_after_only_edge_keeps_the_task_from_running_after_a_failure(tmp_path):
    [workflow] = translator.translate(values.after_only, backend="argo")
    [dag] = [t for t in workflow["spec"]["templates"] if "dag" in t]
    assert {t["name"]: t.get("depends") for t in dag["dag"]["tasks"]} == {
        "fail-now": None, "never-after-a-failure": "fail-now"}
    result = Runner(tmp_path / "work").run(workflow, {})
    assert result.phase == "Failed"
    assert result.node("fail-now").phase == "Failed"
    assert not [n for n in result.nodes if n.task == "never-after-a-failure" and n.pod]
