"""dsl.Collected parameters read by container components on Argo: the placeholder is the JSON list
KFP gives ([0,10,20], true, 1.5, ...), not Argo's aggregation of the loop's outputs, which is a list
of strings (["0","10","20"]) unless every value is a JSON object or array. Run through
`translate run` (the local Argo runner) over real kfp compiles; jq reads the lists as a user's
container does."""

import json
import shutil
from typing import Dict, List

import pytest
from kfp import dsl

from translator.cli import main as translate_main

pytestmark = pytest.mark.skipif(shutil.which("jq") is None, reason="jq (the components' own tool) is not installed here")


@dsl.component(base_image="python:3.12")
def times_ten(num: int) -> int:
    return 10 * num


@dsl.component(base_image="python:3.12")
def halve(num: int) -> float:
    return num / 2


@dsl.component(base_image="python:3.12")
def is_odd(num: int) -> bool:
    return num % 2 == 1


@dsl.component(base_image="python:3.12")
def word(num: int) -> str:
    # values are data: quotes, a newline, Argo's and Tekton's tag syntax, shell metacharacters
    return ["plain", 'say "hi" $(id) `x` {{workflow.name}}', "two\nlines", "{\"looks\": \"json\"}"][num]


@dsl.component(base_image="python:3.12")
def record(num: int) -> Dict[str, int]:
    return {"n": num, "sq": num * num}


@dsl.container_component
def jq_sum(nums: List[int], total: dsl.OutputPath(int)):
    """As KFP's parameters_simple component (`jq add` sums numbers, concatenates strings), the
    list quoted: KFP's own unquoted `echo {nums}` lets the shell strip the strings' quotes."""
    return dsl.ContainerSpec(image="jetbrainsinfra/jq", command=["sh", "-c", 'mkdir -p "$(dirname "$1")" && printf "%s" "$0" | jq add > "$1"'],
                             args=[nums, total])


@dsl.container_component
def jq_show(values: List[str], shown: dsl.OutputPath(str)):
    """The placeholder's JSON as jq reads it, compact: types included."""
    return dsl.ContainerSpec(image="jetbrainsinfra/jq", command=["sh", "-c", 'mkdir -p "$(dirname "$1")" && printf "%s" "$0" | jq -c . > "$1"'],
                             args=[values, shown])


@dsl.pipeline(name="collected-kinds")
def collected_kinds():
    with dsl.ParallelFor([0, 1, 2, 3]) as x:
        ten = times_ten(num=x)
        half = halve(num=x)
        odd = is_odd(num=x)
        text = word(num=x)
        rec = record(num=x)
    jq_sum(nums=dsl.Collected(ten.output)).set_display_name("sum")
    jq_show(values=dsl.Collected(half.output)).set_display_name("floats")
    jq_show(values=dsl.Collected(odd.output)).set_display_name("bools")
    jq_show(values=dsl.Collected(text.output)).set_display_name("strings")
    jq_show(values=dsl.Collected(rec.output)).set_display_name("dicts")


@dsl.pipeline(name="collected-nested")
def collected_nested():
    with dsl.ParallelFor([1, 2]) as x:
        with dsl.ParallelFor([0, 1]) as y:
            ten = times_ten(num=y)
    jq_show(values=dsl.Collected(ten.output)).set_display_name("nested")


def _run(tmp_path, pipeline: str) -> dict[str, object]:
    summary = tmp_path / "summary.json"
    code = translate_main(["run", f"{__file__}:{pipeline}", "--summary", str(summary),
                           "--work-dir", str(tmp_path / "work")])
    data = json.loads(summary.read_text())
    assert code == 0, data
    return {n["task"]: n["outputs"]["parameters"] for n in data["nodes"]}


def test_collected_values_reach_container_components_typed(tmp_path):
    outputs = _run(tmp_path, "collected_kinds")
    [total] = [p["total"] for p in outputs.values() if "total" in p]
    assert total == 60  # 0+10+20+30, not "0102030"
    shown = [json.loads(p["shown"]) for p in outputs.values() if "shown" in p]
    assert [0, 0.5, 1, 1.5] in shown  # floats as numbers (1.0 is 1 in JSON, as KFP's protojson writes it)
    assert [False, True, False, True] in shown
    assert ["plain", 'say "hi" $(id) `x` {{workflow.name}}', "two\nlines", "{\"looks\": \"json\"}"] in shown
    assert [{"n": n, "sq": n * n} for n in range(4)] in shown


def test_collected_out_of_nested_loops_stays_a_list_of_typed_lists(tmp_path):
    outputs = _run(tmp_path, "collected_nested")
    [shown] = [p["shown"] for p in outputs.values() if "shown" in p]
    assert json.loads(shown) == [[0, 10], [0, 10]]


@dsl.pipeline(name="collected-skipped")
def collected_skipped():
    with dsl.ParallelFor([1, 2, 3]) as x:
        with dsl.If(x != 2):
            ten = times_ten(num=x)
    jq_sum(nums=dsl.Collected(ten.output))


def test_collected_skips_iterations_that_made_no_value(tmp_path):
    """A skipped iteration's output is U+FFFF in Argo's list (so every value stays a string):
    KFP collects only the iterations that ran."""
    outputs = _run(tmp_path, "collected_skipped")
    [total] = [p["total"] for p in outputs.values() if "total" in p]
    assert total == 40


@dsl.pipeline(name="sum-inside")
def sum_inside(nums: List[int]):
    jq_sum(nums=nums)


@dsl.pipeline(name="collected-into-subpipeline")
def collected_into_subpipeline():
    with dsl.ParallelFor([1, 2]) as x:
        ten = times_ten(num=x)
    sum_inside(nums=dsl.Collected(ten.output))


def test_collected_passed_into_a_subpipeline_reaches_its_container_typed(tmp_path):
    outputs = _run(tmp_path, "collected_into_subpipeline")
    [total] = [p["total"] for p in outputs.values() if "total" in p]
    assert total == 30
