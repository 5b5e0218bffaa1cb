"""Nested dsl.ParallelFor, artifacts collected out of loops and loops over artifacts on Tekton,
really run: every step of the translated PipelineRun as a real subprocess (tests/tekton_harness.py),
artifacts through MinIO with the real `aws` CLI (docs/tekton.md, "Nested loops").

Expected values are computed here from the inputs, in KFP's order and types.
"""
import json
from typing import List

import pytest
from kfp import dsl
from kfp.dsl import Dataset, Input, Output

import translator

from .tekton_harness import Harness, step_env

OUTER = [1, 2, 3]
INNER = [10, 20]
ROWS = [[1, 2], [3], [4, 5, 6]]
CONFIGS = [{"name": "a", "sizes": [1, 2]}, {"name": "b $HOME", "sizes": [3]}, {"name": "c", "sizes": [4, 5, 6]}]


@dsl.component(base_image="python:3.12")
def add(a: int, b: int) -> int:
    return a + b


@dsl.component(base_image="python:3.12")
def double(x: int) -> int:
    return 2 * x


@dsl.component(base_image="python:3.12")
def total(values: List[int]) -> int:
    assert all(type(v) is int for v in values), values
    return sum(values)


@dsl.component(base_image="python:3.12")
def as_json(xs: list) -> str:
    import json
    return json.dumps(xs)


@dsl.component(base_image="python:3.12")
def label(name: str, size: int) -> str:
    return f"{name}/{size}"


@dsl.component(base_image="python:3.12")
def cfg_label(cfg: dict, size: int) -> str:
    return f"{cfg['name']}/{size}"


@dsl.component(base_image="python:3.12")
def make_list(n: int) -> List[int]:
    return list(range(100, 100 + n))


@dsl.pipeline(name="tekton-nested-static")
def nested_static():
    with dsl.ParallelFor(OUTER) as o:
        d = double(x=o)  # depth 1, read by the inner loop's tasks
        with dsl.ParallelFor(INNER) as i:
            s = add(a=d.output, b=i)
        total(values=dsl.Collected(s.output)).set_display_name("per-outer")
    as_json(xs=dsl.Collected(s.output)).set_display_name("all")
    with dsl.ParallelFor(ROWS) as row:  # an inner loop over the outer (literal) item
        with dsl.ParallelFor(row) as cell:
            lab = label(name="cell $HOME", size=cell)
    as_json(xs=dsl.Collected(lab.output)).set_display_name("labels")


@dsl.pipeline(name="tekton-nested-runtime")
def nested_runtime(configs: list = CONFIGS, n: int = 2):
    m = make_list(n=n)
    with dsl.ParallelFor(configs) as cfg:  # a run-time outer list ...
        with dsl.ParallelFor(cfg.sizes) as size:  # ... an inner one over a field of its item
            lab = cfg_label(cfg=cfg, size=size)
        with dsl.ParallelFor(m.output) as x:  # ... and one over a task output outside the loops
            s = add(a=x, b=1)
        total(values=dsl.Collected(s.output)).set_display_name("per-config")
    as_json(xs=dsl.Collected(lab.output)).set_display_name("labels")
    with dsl.ParallelFor(OUTER) as o:  # a literal outer list, a run-time inner one
        with dsl.ParallelFor(m.output) as x:
            s2 = add(a=o, b=x)
    as_json(xs=dsl.Collected(s2.output)).set_display_name("mixed")


@pytest.fixture
def harness(tmp_path, minio):
    env, bucket = step_env(tmp_path, minio)
    return Harness(tmp_path / "run", env)


def _run(harness, pipeline, **kw):
    [manifest] = translator.translate(pipeline, backend="tekton", enable_caching=False, **kw)
    out = harness.run(manifest)
    logs = "\n".join(f"== {n}: {o.status}\n{o.logs[-3000:]}" for n, o in out.items())
    assert all(o.status == "Succeeded" for o in out.values()), logs
    names = {t.get("displayName", t["name"]): t["name"] for t in manifest["spec"]["pipelineSpec"]["tasks"]}
    return manifest, out, names


def _result(out, names, display):
    return json.loads(out[names[display]].results["Output"].replace("$$", "$"))


def test_nested_literal_loops_run_one_matrix_over_the_cross_product(harness):
    manifest, out, names = _run(harness, nested_static)
    tasks = {t["name"]: t for t in manifest["spec"]["pipelineSpec"]["tasks"]}
    inner = tasks[next(n for n in tasks if n.endswith("-add"))]
    assert [p["value"] for e in inner["matrix"]["include"] for p in e["params"] if p["name"] == "kfpt-index"] == \
        ["%d.%d" % (a, b) for a in range(3) for b in range(2)]
    assert not any(n.endswith("-items") for n in tasks)  # literal lists: no items task, no extra pod
    sums = [[2 * o + i for i in INNER] for o in OUTER]
    assert _result(out, names, "all") == sums  # a list per outer iteration, KFP's order, ints
    assert sorted(x.partition(":")[2] for x in out[names["per-outer"]].results["Output"]) == \
        sorted(str(sum(s)) for s in sums)
    assert sorted(out[names["per-outer"]].results["Output"]) == ["%d:%d" % (k, sum(s)) for k, s in enumerate(sums)]
    assert _result(out, names, "labels") == [[f"cell $HOME/{c}" for c in row] for row in ROWS]


def test_nested_loops_over_run_time_lists_enumerate_the_iterations_in_one_task(harness):
    manifest, out, names = _run(harness, nested_runtime)
    tasks = {t["name"]: t for t in manifest["spec"]["pipelineSpec"]["tasks"]}
    items = sorted(n for n in tasks if n.endswith("-items"))
    assert len(items) == 4  # the outer run-time loop, its two inner loops, and the mixed one
    assert _result(out, names, "labels") == [[f"{c['name']}/{s}" for s in c["sizes"]] for c in CONFIGS]
    assert sorted(out[names["per-config"]].results["Output"]) == ["%d:%d" % (k, 101 + 102) for k in range(3)]
    assert _result(out, names, "mixed") == [[o + x for x in (100, 101)] for o in OUTER]


def test_nested_runtime_loops_follow_the_run_time_values(harness):
    configs = [{"name": "z", "sizes": [7]}, {"name": "y", "sizes": []}, {"name": "x", "sizes": [8, 9]}]
    manifest, out, names = _run(harness, nested_runtime, parameters=(("configs", json.dumps(configs)), ("n", "3")))
    assert _result(out, names, "labels") == [["z/7"], [], ["x/8", "x/9"]]  # an empty inner list: [], as KFP
    assert _result(out, names, "mixed") == [[o + x for x in (100, 101, 102)] for o in OUTER]


@dsl.component(base_image="python:3.12")
def make_data(text: str, data: Output[Dataset]):
    with open(data.path, "w") as f:
        f.write(text)
    data.metadata["text"] = text


@dsl.component(base_image="python:3.12")
def join_data(datasets: Input[List[Dataset]]) -> str:
    parts = []
    for d in datasets:
        with open(d.path) as f:
            parts.append(f.read() + "@" + d.metadata["text"])
    return "|".join(parts)


@dsl.component(base_image="python:3.12")
def read_one(data: Input[Dataset]) -> str:
    with open(data.path) as f:
        return f.read().upper()


@dsl.pipeline(name="tekton-made")
def made(texts: list) -> List[Dataset]:
    with dsl.ParallelFor(texts) as t:
        m = make_data(text=t)
    return dsl.Collected(m.outputs["data"])


@dsl.pipeline(name="tekton-artifact-loops")
def artifact_loops(texts: list = ["t0", "t1 $x", "t2"]):
    with dsl.ParallelFor(list(map(str, range(11)))) as i:  # 11: Tekton aggregates -0, -1, -10, -2, ...
        m = make_data(text=i)
    join_data(datasets=dsl.Collected(m.outputs["data"])).set_display_name("flat")
    with dsl.ParallelFor(texts) as t:  # a run-time outer list
        with dsl.ParallelFor(["a", "b"]) as x:
            m2 = make_data(text=x)
        join_data(datasets=dsl.Collected(m2.outputs["data"])).set_display_name("per-text")
        m3 = make_data(text=t)
    all_texts = join_data(datasets=dsl.Collected(m3.outputs["data"])).set_display_name("texts")
    with dsl.ParallelFor(made(texts=texts).output) as d:  # a loop over collected artifacts
        r = read_one(data=d)
    as_json(xs=dsl.Collected(r.output)).set_display_name("upper")


def test_artifacts_collected_out_of_loops_and_loops_over_them(harness):
    manifest, out, names = _run(harness, artifact_loops)
    flat = out[names["flat"]].results["Output"]
    assert flat == "|".join(f"{i}@{i}" for i in range(11))  # KFP's order, not Tekton's
    assert sorted(out[names["per-text"]].results["Output"]) == ["%d:a@a|b@b" % k for k in range(3)]
    texts = ["t0", "t1 $x", "t2"]
    assert out[names["texts"]].results["Output"].replace("$$", "$") == "|".join(f"{t}@{t}" for t in texts)
    assert _result(out, names, "upper") == [t.upper() for t in texts]
