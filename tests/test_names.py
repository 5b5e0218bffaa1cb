"""KFP names → Argo names: valid, recognizable, collision-free and stable."""

import json
import re

import pytest
import yaml
from kfp import dsl

import translator
from backends.argo.names import MAX_TEMPLATE, NameTable, dns_name, param_name
from translator.cli import dump_yaml

NAME = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]*$")


@pytest.mark.parametrize("kfp,argo", [
    ("train-model", "train-model"),
    ("My_Pipeline.v2", "my-pipeline-v2"),
    ("ML Training Pipeline", "ml-training-pipeline"),
    ("3-step", "t-3-step"),
    ("__x__", "x"),
])
def test_dns_names_stay_recognizable(kfp, argo):
    assert dns_name(kfp) == argo


def test_long_and_empty_names_are_valid_and_stable():
    long = "a" * 300
    first = dns_name(long)
    assert len(first) <= MAX_TEMPLATE and NAME.match(first) and first == dns_name(long)
    assert dns_name(long + "b") != first  # a digest keeps truncated names apart
    for odd in ("", "...", "日本"):
        assert NAME.match(dns_name(odd))


def test_collisions_get_distinct_stable_names():
    table = NameTable()
    names = [table.claim(k, w) for k, w in [("a", "train_model"), ("b", "train.model"), ("c", "Train-Model")]]
    assert names[0] == "train-model" and len(set(names)) == 3 and all(NAME.match(n) for n in names)
    again = NameTable()
    assert [again.claim(k, w) for k, w in [("a", "train_model"), ("b", "train.model"), ("c", "Train-Model")]] == names


def test_parameter_names():
    assert param_name("learning_rate") == "learning_rate"
    assert param_name("pipelinechannel--train-model-Output") == "pipelinechannel--train-model-Output"
    odd = param_name("a.b c")
    assert re.match(r"^[-a-zA-Z0-9_]+$", odd) and odd != param_name("a_b c")


@dsl.component(base_image="python:3.11-slim")
def Shout_It(msg: str) -> str:  # noqa: N802 - a capitalised, underscored component name
    return msg.upper()


@dsl.pipeline(name="My Pipeline_with.Odd NAMES and a very long name " + "x" * 80)
def odd_names(msg: str = "hi"):
    Shout_It(msg=msg).set_display_name("First Shout!")
    Shout_It(msg=msg).set_display_name("first_shout")


def test_a_pipeline_with_odd_names_translates_to_valid_names():
    [wf] = translator.translate(odd_names)
    assert len(wf["metadata"]["generateName"]) <= 58 and NAME.match(wf["metadata"]["generateName"].rstrip("-"))
    names = [t["name"] for t in wf["spec"]["templates"]]
    tasks = [t["name"] for tmpl in wf["spec"]["templates"] for t in tmpl.get("dag", {}).get("tasks", [])]
    assert all(NAME.match(n) for n in names + tasks) and len(set(tasks)) == len(tasks)
    assert dump_yaml([wf]) == dump_yaml(translator.translate(odd_names))
    assert yaml.safe_load(dump_yaml([wf]))["metadata"]["annotations"]["workflows.argoproj.io/title"].startswith("my-pipeline")


@dsl.component(base_image="python:3.11-slim")
def emit_text(text: str) -> str:
    return text


@dsl.pipeline(name="display-names")
def display_names():
    first = emit_text(text="a").set_display_name("Load the data")
    emit_text(text=first.output).set_display_name("train")  # another task's name would be "emit-text-2"
    emit_text(text="c")


def test_set_display_name_names_the_argo_task():
    """The node name Argo shows for a task is its DAG task name: `set_display_name` is it."""
    [wf] = translator.translate(display_names)
    [dag] = [t for t in wf["spec"]["templates"] if "dag" in t]
    tasks = {t["name"]: t for t in dag["dag"]["tasks"]}
    assert set(tasks) == {"load-the-data", "train", "emit-text-3"}
    assert tasks["train"]["depends"] == "load-the-data"
    assert "tasks.load-the-data.outputs.parameters.Output" in tasks["train"]["arguments"]["parameters"][0]["value"]
    names = json.loads(dag["metadata"]["annotations"]["kfp-translate.dev/task-names"])
    # only the names that differ: a reader takes an Argo task missing here as its KFP task's name
    assert names == {"load-the-data": "emit-text", "train": "emit-text-2"}
