"""Tekton output really runs: every generated step of a translated PipelineRun executed as a real
subprocess (tests/tekton_harness.py: Tekton's substitution and the kubelet's expansion), with
artifacts through a real S3 server on loopback (MinIO) moved by the real `aws` CLI, Python
components through the pod shim under a `python3` that has kfp, containers as shell commands.

Expected values are computed from the inputs here, never copied from a run's output. Caching is
off here (each test runs every task once); tests/test_tekton_cache.py covers it.
"""

import base64
import copy
import json
from pathlib import Path
from typing import NamedTuple

import pytest
from kfp import dsl
from kfp.dsl import Dataset, Input, Output

import translator

from .tekton_harness import Harness, step_env

TRICKY = 'a$b "q" $(params.x) $$ {{x}} \'s\'\nline2'
DOLLARS = 'cost: $5 $$ $HOME "q" \'s\' {{x}} %s'


@dsl.component(base_image="python:3.12")
def produce(text: str, n: int, data: Output[Dataset]) -> NamedTuple("Out", [("echo", str), ("twice", int)]):
    with open(data.path, "w") as f:
        f.write(text * 2)
    data.metadata["rows"] = n
    return (text, n * 2)


@dsl.container_component
def count_chars(data: Input[Dataset], size: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image="alpine:3.20", command=["sh", "-c", 'wc -c < "$0" | tr -d " " > "$1"'],
                             args=[data.path, size])


@dsl.container_component
def echo_back(text: str, out: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image="alpine:3.20", command=["sh", "-c", 'printf "%s\\n" "$0" > "$1"'],
                             args=[text, out])


@dsl.component(base_image="python:3.12")
def consume(echo: str, twice: int, size: str, data: Input[Dataset]) -> str:
    with open(data.path) as f:
        content = f.read()
    return "|".join([echo, str(twice), size, str(data.metadata["rows"]), content])


@dsl.component(base_image="python:3.12")
def same(x: str, want: str) -> bool:
    return x == want


@dsl.component(base_image="python:3.12")
def never(x: str) -> str:
    return x


@dsl.component(base_image="python:3.12")
def report(status: dsl.PipelineTaskFinalStatus) -> str:
    return status.state


@dsl.pipeline(name="tekton-run")
def flow(text: str = TRICKY, n: int = 3, dollars: str = DOLLARS):
    a = produce(text=text, n=n)
    c = count_chars(data=a.outputs["data"])
    e = echo_back(text=dollars)
    same(x=e.outputs["out"], want=dollars)
    with dsl.If(a.outputs["twice"] > 4):  # numeric: an evaluation task
        consume(echo=a.outputs["echo"], twice=a.outputs["twice"], size=c.outputs["size"], data=a.outputs["data"])
    with dsl.If(a.outputs["echo"] == "nope"):  # string equality: a `when` on the result, no pod
        never(x=a.outputs["echo"])


@dsl.pipeline(name="tekton-exit")
def exit_flow(text: str = "hi", n: int = 1):
    final = report()
    with dsl.ExitHandler(final):
        produce(text=text, n=n)


@pytest.fixture
def harness(tmp_path, minio):
    env, bucket = step_env(tmp_path, minio)
    return Harness(tmp_path / "run", env), bucket


def _decode(text: str) -> str:
    prefix = "__KFP_B64__:"
    return base64.b64decode(text[len(prefix):]).decode() if text.startswith(prefix) else text


def test_pipeline_runs_with_values_artifacts_and_conditions(harness, minio):
    run, bucket = harness
    [manifest] = translator.translate(flow, backend="tekton", enable_caching=False)
    names = [t["name"] for t in manifest["spec"]["pipelineSpec"]["tasks"]]
    out = run.run(manifest)
    logs = "\n".join(f"== {n}\n{o.logs}" for n, o in out.items())
    assert out["produce"].status == "Succeeded", logs
    assert out["count-chars"].status == "Succeeded", logs
    consume_task = next(n for n in names if n.endswith("consume"))
    never_task = next(n for n in names if n.endswith("never"))
    assert out[consume_task].status == "Succeeded", logs
    assert out[never_task].status == "None"  # the string `when` was false: skipped, no pod
    expected_content = TRICKY * 2
    expected = "|".join([TRICKY, "6", str(len(expected_content.encode())), "3", expected_content])
    assert _decode(out[consume_task].results["Output"]) == expected
    # results holding `$` travel encoded, so no later Tekton pass can rewrite them
    assert out["produce"].results["echo"].startswith("__KFP_B64__:")
    assert out["produce"].results["twice"] == "6"
    # a value with `$` (no `$(`) reaches a container component exactly (kubelet-escaped on the
    # way), and its output file (one newline dropped) reaches a Python component exactly
    assert out["echo-back"].status == "Succeeded", out["echo-back"].logs
    assert out["echo-back"].results["out"] == DOLLARS.replace("$", "$$")
    assert out["same"].results["Output"] == "true", out["same"].logs
    # the artifact is in the store under the Argo key layout
    key = f"kfp/run-1/produce/run-1-produce/data"
    assert out["produce"].results["kfpt-prefix"] + "/data" == key
    s3 = minio.client()
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode() == expected_content


def test_numeric_condition_false_skips_every_task_of_the_group(harness):
    run, _ = harness
    [manifest] = translator.translate(flow, backend="tekton", enable_caching=False, parameters=(("n", "2"),))
    out = run.run(manifest)
    evaluation = [n for n in out if n.endswith("-condition")]
    assert evaluation and all(out[n].status == "Succeeded" for n in evaluation)
    assert {n: out[n].results["outcome"] for n in evaluation} == {evaluation[0]: "false"}
    assert out[next(n for n in out if n.endswith("consume"))].status == "None"


def test_exit_handler_runs_as_finally_with_the_group_status(harness):
    run, _ = harness
    [manifest] = translator.translate(exit_flow, backend="tekton", enable_caching=False)
    spec = manifest["spec"]["pipelineSpec"]
    assert [t["name"] for t in spec["finally"]] == ["report"]
    out = run.run(manifest)
    assert out["exit-handler-1-produce"].status == "Succeeded", out["exit-handler-1-produce"].logs
    assert out["report"].status == "Succeeded", out["report"].logs
    assert out["report"].results["Output"] == "SUCCEEDED"
    # a failed group: the exit task still runs and reports FAILED
    run2 = Harness(run.root.parent / "run2", run.base_env)
    bad = copy.deepcopy(manifest)  # n is not a number: the component fails
    produce_task = bad["spec"]["pipelineSpec"]["tasks"][0]
    produce_task["params"] = [p if p["name"] != "n" else {**p, "value": "not-a-number"} for p in produce_task["params"]]
    out2 = run2.run(bad)
    assert out2["exit-handler-1-produce"].status == "Failed"
    assert out2["report"].results["Output"] == "FAILED", out2["report"].logs


@dsl.component(base_image="python:3.12")
def make_list(n: int) -> list:
    return [{"v": i * 10, "tag": "t$%d" % i} for i in range(n)]


@dsl.component(base_image="python:3.12")
def square(x: int) -> int:
    return x * x


@dsl.component(base_image="python:3.12")
def add_one(x: int, data: Output[Dataset]) -> int:
    with open(data.path, "w") as f:
        f.write(str(x))
    return x + 1


@dsl.component(base_image="python:3.12")
def tag_line(tag: str, base: int, data: Input[Dataset]) -> str:
    with open(data.path) as f:
        return "%s:%d:%s" % (tag, base, f.read())


@dsl.component(base_image="python:3.12")
def as_json(xs: list) -> str:
    import json

    return json.dumps(xs)


@dsl.pipeline(name="tekton-loops")
def loops(n: int = 3):
    with dsl.ParallelFor(list(range(11))) as i:  # 11 TaskRuns: Tekton aggregates -0, -1, -10, -2, ...
        sq = square(x=i)
    as_json(xs=dsl.Collected(sq.output)).set_display_name("squares")
    items = make_list(n=n)
    with dsl.ParallelFor(items.output) as item:  # a run-time list of dicts, fields read per iteration
        a = add_one(x=item.v)
        b = tag_line(tag=item.tag, base=a.outputs["Output"], data=a.outputs["data"])  # same-iteration value and artifact
    as_json(xs=dsl.Collected(b.output)).set_display_name("lines")
    with dsl.ParallelFor([1, 2, 3, 4, 5], parallelism=2) as x:  # batches of 2, one after the other
        sq2 = square(x=x)
    as_json(xs=dsl.Collected(sq2.output)).set_display_name("batched")


def test_loops_static_and_runtime_lists_collect_in_kfp_order_and_types(harness):
    run, _ = harness
    [manifest] = translator.translate(loops, backend="tekton", enable_caching=False)
    tasks = {t["name"]: t for t in manifest["spec"]["pipelineSpec"]["tasks"]}
    square_task = next(n for n in tasks if n.endswith("square"))
    assert len(tasks[square_task]["matrix"]["include"]) == 11  # a literal list: matrix.include
    out = run.run(manifest)
    logs = "\n".join(f"== {n}: {o.status}\n{o.logs[-3000:]}" for n, o in out.items())
    assert all(o.status == "Succeeded" for o in out.values()), logs
    # Tekton's aggregation order is by TaskRun name as text: the harness reproduces it ...
    assert [x.partition(":")[0] for x in out[square_task].results["Output"]][:4] == ["0", "1", "10", "2"]
    # ... and the consumer still gets KFP's order, as ints
    squares = next(n for n in tasks if tasks[n].get("displayName") == "squares")
    assert json.loads(out[squares].results["Output"]) == [i * i for i in range(11)]
    lines = next(n for n in tasks if tasks[n].get("displayName") == "lines")
    expected = ["t$%d:%d:%d" % (i, i * 10 + 1, i * 10) for i in range(3)]
    assert json.loads(out[lines].results["Output"].replace("$$", "$")) == expected
    batches = sorted(n for n in tasks if "square" in n and "-b" in n)
    assert len(batches) == 3 and [len(tasks[n]["matrix"]["include"]) for n in batches] == [2, 2, 1]
    assert batches[0] in tasks[batches[1]]["runAfter"] and batches[1] in tasks[batches[2]]["runAfter"]
    batched = next(n for n in tasks if tasks[n].get("displayName") == "batched")
    assert json.loads(out[batched].results["Output"]) == [1, 4, 9, 16, 25]


@dsl.component(base_image="python:3.12")
def big(n: int) -> str:
    return ("a$b $(x) \"q\" " * (n // 13 + 1))[:n]


@dsl.component(base_image="python:3.12")
def measure(s: str, small: str) -> str:
    import hashlib
    return "%d:%s:%s" % (len(s), hashlib.sha256(s.encode()).hexdigest(), small)


def _big_value(n: int) -> str:
    return ("a$b $(x) \"q\" " * (n // 13 + 1))[:n]


@dsl.pipeline(name="tekton-big")
def big_flow(n: int = 100):
    b = big(n=n)
    small = big(n=20).set_display_name("small")
    measure(s=b.output, small=small.output)


@dsl.pipeline(name="tekton-big-loop")
def big_loop_flow():
    with dsl.ParallelFor([10, 5000]) as n:
        big(n=n)


@pytest.mark.parametrize("n", [100, 100_000])
def test_results_over_tektons_limit_pass_through_the_artifact_store(harness, minio, n):
    run, bucket = harness
    [manifest] = translator.translate(big_flow, backend="tekton", enable_caching=False, parameters=(("n", str(n)),))
    out = run.run(manifest)
    assert all(o.status == "Succeeded" for o in out.values()), "\n".join(f"== {k}\n{o.logs}" for k, o in out.items())
    import hashlib
    value = _big_value(n)
    small = _big_value(20)
    assert _decode(out["measure"].results["Output"]).replace("$$", "$") == \
        "%d:%s:%s" % (n, hashlib.sha256(value.encode()).hexdigest(), small)
    stored = [o["Key"] for o in minio.client().list_objects_v2(Bucket=bucket).get("Contents", [])]
    if n <= 1000:  # a small value stays a result: nothing stored
        assert _decode(out["big"].results["Output"]) == value and not stored
    else:  # the result is a reference; the value is in the store under the task's prefix
        assert out["big"].results["Output"].startswith("__KFP_REF__:kfp/run-1/big/run-1-big/.results/Output")
        assert len(out["big"].results["Output"]) < 200
        assert stored == ["kfp/run-1/big/run-1-big/.results/Output"]


def test_results_over_tektons_limit_inside_a_loop_fail_the_task_with_a_clear_message(harness):
    run, _ = harness
    [manifest] = translator.translate(big_loop_flow, backend="tekton", enable_caching=False)
    out = next(o for n, o in run.run(manifest).items() if n.endswith("big"))
    assert out.status == "Failed"
    assert "over the 3072 bytes Tekton can carry (largest: Output=" in out.logs


@dsl.component(base_image="python:3.12")
def coin(side: str) -> str:
    return side


@dsl.component(base_image="python:3.12")
def branch(x: str, data: Output[Dataset]) -> str:
    with open(data.path, "w") as f:
        f.write("data of " + x)
    data.metadata["from"] = x
    return x


@dsl.component(base_image="python:3.12")
def chosen(x: str, data: Input[Dataset]) -> str:
    with open(data.path) as f:
        return "%s|%s|%s" % (x, f.read(), data.metadata["from"])


@dsl.pipeline(name="tekton-oneof")
def oneof_flow(side: str = "tails"):
    c = coin(side=side)
    with dsl.If(c.output == "heads"):
        h = branch(x="H $HOME")
    with dsl.Else():
        t = branch(x="T $(x)")
    chosen(x=dsl.OneOf(h.outputs["Output"], t.outputs["Output"]),
           data=dsl.OneOf(h.outputs["data"], t.outputs["data"]))


@pytest.mark.parametrize("side,expected", [("heads", "H $HOME"), ("tails", "T $(x)")])
def test_oneof_picks_the_branch_that_ran(harness, side, expected):
    run, _ = harness
    [manifest] = translator.translate(oneof_flow, backend="tekton", enable_caching=False, parameters=(("side", side),))
    out = run.run(manifest)
    consumer = next(n for n in out if n.endswith("chosen"))
    assert out[consumer].status == "Succeeded", "\n".join(f"== {n}\n{o.logs}" for n, o in out.items())
    assert sorted(o.status for n, o in out.items() if n.endswith("branch") or n.endswith("branch-2")) == \
        ["None", "Succeeded"]
    assert _decode(out[consumer].results["Output"]).replace("$$", "$") == f"{expected}|data of {expected}|{expected}"


def test_nested_pipeline_called_without_an_argument_gets_its_own_default(harness):
    """F4 (e2e/FINDINGS.md): `inner()` without `x` runs `square` with inner's default 2."""
    from .pipelines import control

    run, _ = harness
    [manifest] = translator.translate(control.nested, backend="tekton", enable_caching=False)
    out = run.run(manifest)
    logs = "\n".join(f"== {n}: {o.status}\n{o.logs[-2000:]}" for n, o in out.items())
    assert {n: o.status for n, o in out.items()} == {"inner-square": "Succeeded", "inner-2-square": "Succeeded",
                                                      "square": "Succeeded"}, logs
    assert (out["inner-square"].results["Output"], out["inner-2-square"].results["Output"],
            out["square"].results["Output"]) == ("9", "4", "81")
