"""dsl.Collected parameters read by container components on Argo: the placeholder is the JSON list
KFP gives ([0,10,20], true, 1.5, ...), not Argo's aggregation of the loop's outputs, which is a list
of strings (["0","10","20"]) unless every value is a JSON object or array. Run through
`translate run` (the local Argo runner) over real kfp compiles; jq reads the lists as a user's
container does."""

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List

import pytest
from kfp import dsl

from backends.argo.placeholders import Resolver
from translator import gobuild
from translator.cli import main as translate_main
from translator.runner import subst
from translator.runner.dag import aggregate

needs_jq = pytest.mark.skipif(shutil.which("jq") is None, reason="jq (the components' own tool) is not installed here")


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


@needs_jq
def test_collected_values_reach_container_components_typed(tmp_path):
    outputs = _run(tmp_path, "collected_kinds")
    [total] = [p["total"] for p in outputs.values() if "total" in p]
    assert total == 60  # 0+10+20+30, not "0102030"
    shown = [json.loads(p["shown"]) for p in outputs.values() if "shown" in p]
    assert [0, 0.5, 1, 1.5] in shown  # floats as numbers (1.0 is 1 in JSON, as KFP's protojson writes it)
    assert [False, True, False, True] in shown
    assert ["plain", 'say "hi" $(id) `x` {{workflow.name}}', "two\nlines", "{\"looks\": \"json\"}"] in shown
    assert [{"n": n, "sq": n * n} for n in range(4)] in shown


@needs_jq
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


@needs_jq
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


@needs_jq
def test_collected_passed_into_a_subpipeline_reaches_its_container_typed(tmp_path):
    outputs = _run(tmp_path, "collected_into_subpipeline")
    [total] = [p["total"] for p in outputs.values() if "total" in p]
    assert total == 30


# ------------------------------------------------------------- the expression on Argo's own code
ABSENT = "\uffff"


def _b64(text: str) -> str:
    return "__KFP_B64__:" + base64.b64encode(text.encode()).decode()


# (depth, leaf type, each iteration's output text as Argo holds it, the list KFP gives)
EXPRESSION_CASES = [
    (1, "NUMBER_INTEGER", ["0", "10", "20"], [0, 10, 20]),
    (1, "NUMBER_INTEGER", ["0", ABSENT, "-20"], [0, -20]),
    (1, "NUMBER_INTEGER", [], []),
    (1, "NUMBER_DOUBLE", ["0.5", "1.0", "2.25", "1e300"], [0.5, 1, 2.25, 1e300]),
    (1, "BOOLEAN", ["true", "false", "True", "0"], [True, False, True, False]),
    (1, "STRING", ["plain", 'say "hi" $(id) `x`', _b64("{{workflow.name}} $$ {{=1}}"), "two\nlines", "", ABSENT,
                   "\u2028<&>", "[not json"],
     ["plain", 'say "hi" $(id) `x`', "{{workflow.name}} $$ {{=1}}", "two\nlines", "", "\u2028<&>", "[not json"]),
    (1, "STRING", ['{"b": 1, "a": [1]}', "[2]"], ['{"a":[1],"b":1}', "[2]"]),  # every value JSON: Argo parsed them
    (1, "STRUCT", ['{"n":0,"t":"a&b"}', '{"n":1,"t":"{x}"}'], [{"n": 0, "t": "a&b"}, {"n": 1, "t": "{x}"}]),
    (1, "STRUCT", ['{"n":0}', ABSENT, _b64('{"t":"{{workflow.name}}"}')], [{"n": 0}, {"t": "{{workflow.name}}"}]),
    (1, "LIST", ['[1,"two",3.5]', "[]"], [[1, "two", 3.5], []]),
    (2, "NUMBER_INTEGER", [aggregate(["0", "10"]), aggregate(["1"])], [[0, 10], [1]]),
    (2, "NUMBER_INTEGER", [aggregate(["0", ABSENT]), ABSENT], [[0]]),
    (2, "STRUCT", [aggregate(['{"a":1}', '{"a":2}']), aggregate(['{"a":3}', ABSENT])], [[{"a": 1}, {"a": 2}], [{"a": 3}]]),
    (3, "BOOLEAN", [aggregate([aggregate(["true"]), aggregate(["false", "true"])])], [[[True], [False, True]]]),
    (1, "NUMBER_INTEGER", ["x1"], None),  # junk in an int output fails the pod
    (1, "BOOLEAN", ["yes"], None),
]


@pytest.fixture(scope="module")
def argoexpr() -> Path:
    """tests/argoexpr: Argo v4.0.7's own template substitution (util/template.Replace)."""
    try:
        return gobuild.ensure_built("argoexpr", Path(__file__).parent / "argoexpr")
    except gobuild.GoBuildError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"cannot build tests/argoexpr: {exc}")
        pytest.skip(f"cannot build tests/argoexpr: {exc}")


def _kubelet(text: str) -> str:
    """What the container sees: `$$` is `$`, `$(KFPT_LBRACE)` the env var holding `{`."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("$(KFPT_LBRACE)", i):
            out.append("{")
            i += len("$(KFPT_LBRACE)")
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def test_the_retyping_expression_on_argos_own_code_gives_kfps_list_and_the_runner_agrees(argoexpr):
    requests = []
    for depth, leaf, values, _ in EXPRESSION_CASES:
        text = "echo " + Resolver.collected_ref("nums", depth, leaf) + " | jq add"
        requests.append({"text": text, "params": {"inputs.parameters.nums": aggregate(values)}})
    proc = subprocess.run([str(argoexpr)], input=json.dumps(requests), capture_output=True, text=True, check=True)
    for (depth, leaf, values, want), request, on_argo in zip(EXPRESSION_CASES, requests, json.loads(proc.stdout)):
        what = (depth, leaf, values)
        flat = dict(request["params"])
        try:
            local = {"value": subst.substitute(request["text"], flat, lambda: subst.nested(flat), "args")}
        except subst.SubstitutionError as exc:  # the step fails, as on Argo
            local = {"error": str(exc)}
        if want is None:
            assert "error" in on_argo and "error" in local, (what, on_argo, local)
            continue
        assert local == on_argo, what
        text = _kubelet(on_argo["value"])
        assert text.startswith("echo ") and text.endswith(" | jq add"), what
        assert json.loads(text[len("echo "):-len(" | jq add")]) == want, what
