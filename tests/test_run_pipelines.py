"""Translated pipelines really run: every pod's command, args and env, as Argo would give them,
execute as real local processes (KFP's own executor inside our pod shim), artifacts go through a
real S3-compatible server, and the outputs are what KFP's semantics say they are."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import translator
from translator.runner.engine import Runner

from .pipelines import dataflow


@pytest.fixture()
def runner(tmp_path: Path):
    return Runner(tmp_path / "work")  # the embedded store: a folder under the work dir


def run(runner: Runner, pipeline, **params):
    [workflow] = translator.translate(pipeline, backend="argo")
    result = runner.run(workflow, {k: v for k, v in params.items()})
    failed = [n for n in result.nodes if n.phase not in ("Succeeded", "Skipped")]
    return result, failed


def test_every_parameter_type_round_trips(runner):
    result, failed = run(runner, dataflow.param_types)
    assert result.phase == "Succeeded", [(n.path, n.message) for n in failed]
    out = result.node("echo-types").parameters
    # Argo parameters carry KFP's canonical encoding: an int is `3`, never `3.0`.
    assert out["s"] == "plain" and out["i"] == "3" and out["f"] == "0.25" and out["b"] == "true"
    assert json.loads(out["lst"]) == [1, "two", 3.5] and json.loads(out["d"]) == {"k": [1, 2], "n": False}
    assert out["opt_seen"] == "none" and out["dflt"] == "7"
    checked = json.loads(result.node("typed-check").parameters["Output"])
    assert checked == {"s": "plain", "i": 3, "f": 0.25, "b": True, "lst": [1, "two", 3.5], "d": {"k": [1, 2], "n": False}}


NASTY = [
    "it's \"quoted\"",
    "line one\nline two\n",
    "{{workflow.name}} {{inputs.parameters.s}} {{=1+1}} {{x}}",
    "$(echo pwned) $$ $(HOME) `id` ; rm -rf / && echo",
    "",
    "unicode: é ü 日本 \u2028",
]


def decoded(argo_value: str) -> str:
    """An Argo parameter value as the next pod shim reads it (values holding Argo's own tag
    syntax travel base64 so that Argo cannot rewrite them)."""
    import base64

    prefix = "__KFP_B64__:"
    return base64.b64decode(argo_value[len(prefix):]).decode() if argo_value.startswith(prefix) else argo_value


@pytest.mark.parametrize("value", NASTY, ids=range(len(NASTY)))
def test_values_are_data_never_code(runner, value):
    result, failed = run(runner, dataflow.param_types, s=value, i="-12", b="false", lst=json.dumps([value]),
                         d=json.dumps({"v": value}))
    assert result.phase == "Succeeded", [(n.path, n.message) for n in failed]
    out = {k: decoded(v) for k, v in result.node("echo-types").parameters.items()}
    assert out["s"] == value and out["i"] == "-12" and out["b"] == "false"
    assert json.loads(out["lst"]) == [value] and json.loads(out["d"]) == {"v": value}
    assert json.loads(decoded(result.node("typed-check").parameters["Output"]))["s"] == value


def test_artifacts_metadata_metrics_and_conditions(runner):
    result, failed = run(runner, dataflow.artifact_flow, rows="5", threshold="0.5")
    assert result.phase == "Succeeded", [(n.path, n.message) for n in failed]
    made = result.node("make-data").parameters
    assert made["Output"] == "50" and made["report"] == "wrote 5 rows"
    assert json.loads(made["data-metadata"]) == {"rows": 5, "columns": ["n", "square"]}
    assert json.loads(made["stats-metadata"]) == {"rows": 5.0, "mean": 2.0}  # metrics are visible in Argo
    trained = result.node("train").parameters
    assert trained["Output"] == "0.5"
    assert json.loads(trained["model-metadata"]) == {"trained_on_rows": 5, "columns_seen": ["n", "square"]}
    cm = json.loads(trained["cm-metadata"])["confusionMatrix"]
    assert cm["annotationSpecs"] == [{"displayName": "a"}, {"displayName": "b"}]
    assert cm["rows"] == [{"row": [5, 1]}, {"row": [2, 3]}]
    assert result.node("inspect-model").parameters["Output"] == "5|5|0.5|True"
    assert result.node("deploy").parameters["Output"] == "deployed:5|5|0.5|True"
    # one pod per task that ran (KFP's own backend: 1 + 2 per task)
    assert result.pods == 4


def test_condition_false_skips_the_branch(runner):
    result, failed = run(runner, dataflow.artifact_flow, rows="4", threshold="0.5")
    assert result.phase == "Succeeded", [(n.path, n.message) for n in failed]
    assert result.node("train").parameters["Output"] == "0.4"
    assert result.node("condition-1").phase == "Skipped"
    assert result.pods == 3


@pytest.mark.parametrize("text,expected,branch", [
    ("it's", "it's", "on-match"),
    ("a\"b", "a'b", "on-miss"),
    ("{{x}}", "{{x}}", "on-match"),
    ("10", "9", "on-miss"),
    ("", "", "on-match"),
])
def test_if_else_on_strings(runner, text, expected, branch):
    result, failed = run(runner, dataflow.string_guards, text=text, expected=expected)
    assert result.phase == "Succeeded", [(n.path, n.message) for n in failed]
    ran = [n for n in result.nodes if n.pod and n.path.split("/")[-1] != "emit"]
    assert [n.parameters["Output"] for n in ran] == ["matched" if branch == "on-match" else "different"]
