"""Conditions on loop items and per-iteration values on Tekton, really run: every step of the
translated PipelineRun as a real subprocess (tests/tekton_harness.py), values through MinIO
with the real `aws` CLI (docs/tekton.md, "Conditions on per-iteration values").

Each iteration decides its own condition inside its TaskRun: the expected outcomes below are
computed here from the inputs, iteration by iteration, in KFP's order and types; KFP collects
only the values that were produced (the Argo backend's tests/test_run_control.py checks the
same on Argo).
"""
import base64
import json
from typing import List

import pytest
from kfp import dsl

import translator

from .tekton_harness import Harness, step_env

ABSENT = "\uffff"
NUMBERS = [1, 2, 3, 4]
WORDS = ["a", 'b $(x) "q" {{x}}', "c $HOME", 'b $(x) "q" {{x}}']
TRIALS = [1, 2, 3, 15, 4]


@dsl.component(base_image="python:3.12")
def double(x: int) -> int:
    return 2 * x


@dsl.component(base_image="python:3.12")
def add(a: int, b: int) -> int:
    return a + b


@dsl.component(base_image="python:3.12")
def parity(x: int) -> str:
    return "even" if x % 2 == 0 else "odd"


@dsl.component(base_image="python:3.12")
def say(msg: str) -> str:
    return msg


@dsl.component(base_image="python:3.12")
def total(values: List[int]) -> int:
    assert all(type(v) is int for v in values), values
    return sum(values)


@dsl.component(base_image="python:3.12")
def join(xs: List[str]) -> str:
    import json
    return json.dumps(xs)


@dsl.pipeline(name="iter-item")
def on_item(threshold: int = 2, words: list = WORDS):
    with dsl.ParallelFor(NUMBERS) as x:  # a literal list: the item's value per iteration in matrix.include
        with dsl.If(x >= threshold):
            d = double(x=x)
    total(values=dsl.Collected(d.output)).set_display_name("sum")
    with dsl.ParallelFor(words) as w:  # a run-time list: picked from the whole list by the index
        with dsl.If(w == 'b $(x) "q" {{x}}'):
            s = say(msg=w)
    join(xs=dsl.Collected(s.output)).set_display_name("matched")


@dsl.pipeline(name="iter-branches")
def branches(trials: list = TRIALS, big: int = 20):
    with dsl.ParallelFor(trials) as x:
        p = parity(x=x)  # outputs of earlier tasks in the same iteration
        d = double(x=x)
        with dsl.If(d.output > big):
            a = say(msg="big")
        with dsl.Elif(p.output == "even"):
            b = say(msg="even")
        with dsl.Else():
            c = say(msg="odd $(x)")
        o = say(msg=dsl.OneOf(a.output, b.output, c.output)).set_display_name("picked")
    join(xs=dsl.Collected(o.output)).set_display_name("all")


@dsl.pipeline(name="iter-nested")
def nested():
    with dsl.ParallelFor([1, 2, 3, 4, 5, 6]) as x:
        with dsl.If(x > 2):
            d = double(x=x)
            with dsl.If(d.output > 8):  # a nested group on a value made in the outer group
                s = say(msg="big")
            with dsl.ParallelFor([10, 20]) as y:  # a loop inside the group
                a = add(a=x, b=y)
            total(values=dsl.Collected(a.output)).set_display_name("row")
    total(values=dsl.Collected(d.output)).set_display_name("doubles")
    join(xs=dsl.Collected(s.output)).set_display_name("bigs")


@dsl.component(base_image="python:3.12")
def noncharacter() -> str:
    return "\uffff"  # the shim's ABSENT: as a user's value it must arrive unchanged


@dsl.component(base_image="python:3.12")
def is_noncharacter(s: str) -> str:
    assert s == "\uffff", repr(s)
    return "yes"


@dsl.pipeline(name="iter-absent-text")
def user_absent():
    with dsl.ParallelFor(["1", "2"]) as x:
        n = noncharacter()
        with dsl.If(n.output == "\uffff"):  # true in every iteration: a value, not a skipped one
            with dsl.If(x == "2"):
                is_noncharacter(s=n.output)


@pytest.fixture
def harness(tmp_path, minio):
    env, bucket = step_env(tmp_path, minio)
    return Harness(tmp_path / "run", env)


def _run(harness, pipeline, params=None, **kw):
    [manifest] = translator.translate(pipeline, backend="tekton", **{"enable_caching": False, **kw})
    out = harness.run(manifest, params)
    logs = "\n".join(f"== {n}: {o.status}\n{o.logs[-3000:]}" for n, o in out.items())
    assert all(o.status == "Succeeded" for o in out.values()), logs
    tasks = manifest["spec"]["pipelineSpec"]["tasks"]
    names = {t.get("displayName", t["name"]): t["name"] for t in tasks}
    return manifest, out, names


def _task(out, suffix):
    [name] = [n for n in out if n.endswith(suffix)]
    return out[name]


def _by_index(results: list[str]) -> dict[str, str]:
    return dict(x.split(":", 1) for x in results)


def _decoded(text: str) -> str:
    """A result as the shim wrote it (podshim.for_tekton): base64 when it spells `$(`, else `$` doubled."""
    if text.startswith("__KFP_B64__:"):
        return base64.b64decode(text[len("__KFP_B64__:"):]).decode()
    return text.replace("$$", "$")


def _value(out, names, display):
    return _decoded(out[names[display]].results["Output"])


@pytest.mark.parametrize("threshold", [2, 4])
def test_a_condition_on_the_loop_item_decides_each_iteration(harness, threshold):
    manifest, out, names = _run(harness, on_item, {"threshold": str(threshold)})
    produced = [x for x in NUMBERS if x >= threshold]
    doubles = _by_index(_task(out, "-double").results["Output"])
    assert doubles == {str(i): str(2 * x) if x >= threshold else ABSENT for i, x in enumerate(NUMBERS)}
    assert _value(out, names, "sum") == str(sum(2 * x for x in produced))  # skipped iterations not collected
    says = _by_index(_task(out, "-say").results["Output"])
    match = 'b $(x) "q" {{x}}'
    assert {i for i, v in says.items() if v != ABSENT} == {str(i) for i, w in enumerate(WORDS) if w == match}
    assert json.loads(_value(out, names, "matched")) == [w for w in WORDS if w == match]
    # no pipeline-level `when` and no evaluation task: the TaskRuns decide
    tasks = {t["name"]: t for t in manifest["spec"]["pipelineSpec"]["tasks"]}
    assert not any(n.endswith("-condition") for n in tasks)
    double_task = tasks[next(n for n in tasks if n.endswith("-double"))]
    assert "when" not in double_task
    assert [s["name"] for s in double_task["taskSpec"]["steps"]] == ["kfpt-condition", "main"]


def test_if_elif_else_with_oneof_per_iteration(harness):
    manifest, out, names = _run(harness, branches)

    def kfp(x):
        return "big" if x > 10 else "even" if x % 2 == 0 else "odd $(x)"

    picked = {k: _decoded(v) for k, v in _by_index(out[names["picked"]].results["Output"]).items()}
    assert picked == {str(i): kfp(x) for i, x in enumerate(TRIALS)}
    assert json.loads(_value(out, names, "all")) == [kfp(x) for x in TRIALS]
    ran = {n: {i for i, v in _by_index(o.results["Output"]).items() if v != ABSENT}
           for n, o in out.items() if n.endswith(("-say", "-say-2", "-say-3"))}
    assert sorted(len(v) for v in ran.values()) == sorted(
        [sum(x > 10 for x in TRIALS), sum(x <= 10 and x % 2 == 0 for x in TRIALS),
         sum(x <= 10 and x % 2 for x in TRIALS)])
    assert set.union(*ran.values()) == {str(i) for i in range(len(TRIALS))}  # exactly one branch each
    assert sum(len(v) for v in ran.values()) == len(TRIALS)


def test_nested_groups_and_a_loop_inside_a_group(harness):
    manifest, out, names = _run(harness, nested)
    xs = [1, 2, 3, 4, 5, 6]
    assert _value(out, names, "doubles") == str(sum(2 * x for x in xs if x > 2))
    assert json.loads(_value(out, names, "bigs")) == ["big" for x in xs if x > 2 and 2 * x > 8]
    adds = _by_index(_task(out, "-add").results["Output"])
    assert adds == {f"{i}.{j}": str(x + y) if x > 2 else ABSENT for i, x in enumerate(xs) for j, y in enumerate([10, 20])}
    rows = _by_index(out[names["row"]].results["Output"])
    assert rows == {str(i): str(2 * x + 30) if x > 2 else ABSENT for i, x in enumerate(xs)}


def test_a_skipped_iteration_is_never_cached(tmp_path, minio):
    base, bucket = step_env(tmp_path, minio)
    [manifest] = translator.translate(on_item, backend="tekton", enable_caching=True)

    def run(name, threshold):
        out = Harness(tmp_path / name, base, run_name=name).run(manifest, {"threshold": str(threshold)})
        assert all(o.status == "Succeeded" for o in out.values()), {n: o.logs[-2000:] for n, o in out.items()}
        return out

    first = run("run-1", 3)
    entries = [o["Key"] for o in minio.client().list_objects_v2(Bucket=bucket).get("Contents", [])
               if "/.cache/" in o["Key"] and o["Key"].endswith("/entry")]
    # double ran for 3 and 4, say for the two matching words, total and join once each: 2 + 2 + 2
    assert len(entries) == 6, entries
    second = run("run-2", 1)  # now 1 and 2 run too: they miss, 3 and 4 hit
    logs = _task(second, "-double").logs
    runs = logs.split("=== ")[1:]
    hit = [r for r in runs if "--- main (skipped by its when)" in r]
    assert len(hit) == 2 and len(runs) == 4, logs
    assert _by_index(_task(second, "-double").results["Output"]) == {str(i): str(2 * x) for i, x in enumerate(NUMBERS)}
    assert _by_index(_task(first, "-double").results["Output"])["0"] == ABSENT


def test_a_users_noncharacter_is_a_value_not_a_skipped_iteration(harness):
    manifest, out, names = _run(harness, user_absent)
    assert _by_index(_task(out, "-is-noncharacter").results["Output"]) == {"0": ABSENT, "1": "yes"}

