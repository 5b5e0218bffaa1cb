"""Conditions on loop items and per-iteration values on the real Tekton controller
(docs/tekton.md, "Conditions on per-iteration values"): the pipelines of
tests/test_tekton_iter_conditions.py (which the local harness runs too), a corpus pipeline that
collects over a condition inside a loop, and caching with skipped iterations. Every TaskRun's
results and its steps' records (Tekton's own `Skipped`) are read back from the API server."""

import base64
import json
import uuid

import pytest
from kfp import dsl

import translator
from tests import test_tekton_iter_conditions as cases

ABSENT = "\uffff"
STAMPED = [1, 2, 3, 4]


@dsl.component(base_image="python:3.12")
def stamp(x: int, salt: str) -> str:
    import uuid
    return "%d/%s" % (x, uuid.uuid4().hex)


@dsl.pipeline(name="iter-cached")
def cached_items(threshold: int = 3, salt: str = ""):
    with dsl.ParallelFor(STAMPED) as x:
        with dsl.If(x >= threshold):
            stamp(x=x, salt=salt)


def _start(cluster, source, params=(), caching=False):
    [manifest] = translator.translate(source, backend="tekton", namespace=cluster.namespace,
                                      parameters=params, enable_caching=caching)
    display = {t["name"]: t.get("displayName", t["name"]) for t in manifest["spec"]["pipelineSpec"]["tasks"]}
    return cluster.create(manifest)["metadata"]["name"], display


def _collect(cluster, name, display):
    """(PipelineRun, {task: {iteration or "": {"results": ..., "main": step record}}})."""
    pr = cluster.wait_pipelinerun(name, timeout=1500)
    tasks: dict[str, dict] = {}
    for tr in cluster.taskruns(name):
        task = tr["metadata"]["labels"]["tekton.dev/pipelineTask"]
        trname = tr["metadata"]["name"]
        key = trname.rsplit("-", 1)[1] if trname != f"{name}-{task}" else ""
        steps = {s["name"]: s.get("terminationReason") or s.get("terminated", {}).get("reason")
                 for s in tr["status"].get("steps", [])}
        tasks.setdefault(display.get(task, task), {})[key] = {
            "results": {r["name"]: r["value"] for r in tr["status"].get("results", [])}, "steps": steps}
    return pr, tasks


@pytest.fixture(scope="module")
def runs(cluster, corpus_dir):
    salt = uuid.uuid4().hex
    started = {
        "item-2": _start(cluster, cases.on_item, (("threshold", "2"),)),
        "branches": _start(cluster, cases.branches),
        "nested": _start(cluster, cases.nested),
        "cached-1": _start(cluster, cached_items, (("threshold", "3"), ("salt", salt)), caching=True),
    }
    if corpus_dir is not None:
        started["producer-consumers"] = _start(
            cluster, str(corpus_dir / "ir" / "valid" / "conditional_producer_and_consumers.yaml"), (("threshold", "2"),))
    done = {case: _collect(cluster, name, display) for case, (name, display) in started.items()}
    # the second cached run after the first has stored its entries: iterations 0 and 1 now run too
    name, display = _start(cluster, cached_items, (("threshold", "1"), ("salt", salt)), caching=True)
    done["cached-2"] = _collect(cluster, name, display)
    return done


def _ok(pr):
    cond = next(c for c in pr["status"]["conditions"] if c["type"] == "Succeeded")
    assert cond["status"] == "True", pr["status"]


def _decoded(text: str) -> str:
    if text.startswith("__KFP_B64__:"):
        return base64.b64decode(text[len("__KFP_B64__:"):]).decode()
    return text.replace("$$", "$")


def _per_iteration(tasks, suffix, result="Output"):
    [task] = [n for n in tasks if n.endswith(suffix)]
    return {it["results"][result].split(":", 1)[0]: it["results"][result].split(":", 1)[1]
            for it in tasks[task].values()}, tasks[task]


def _single(tasks, display):
    [only] = tasks[display].values()
    return _decoded(only["results"]["Output"])


def test_a_condition_on_the_loop_item(runs):
    pr, tasks = runs["item-2"]
    _ok(pr)
    doubles, trs = _per_iteration(tasks, "-double")
    assert doubles == {str(i): str(2 * x) if x >= 2 else ABSENT for i, x in enumerate(cases.NUMBERS)}
    # the skipped iteration: Tekton itself skipped the component's step
    assert sorted(tr["steps"]["main"] for tr in trs.values()) == ["Completed"] * 3 + ["Skipped"]
    assert _single(tasks, "sum") == str(sum(2 * x for x in cases.NUMBERS if x >= 2))
    match = 'b $(x) "q" {{x}}'
    assert json.loads(_single(tasks, "matched")) == [w for w in cases.WORDS if w == match]


def test_if_elif_else_with_oneof_per_iteration(runs):
    pr, tasks = runs["branches"]
    _ok(pr)

    def kfp(x):
        return "big" if x > 10 else "even" if x % 2 == 0 else "odd $(x)"

    picked, _ = _per_iteration(tasks, "picked")
    assert {k: _decoded(v) for k, v in picked.items()} == {str(i): kfp(x) for i, x in enumerate(cases.TRIALS)}
    assert json.loads(_single(tasks, "all")) == [kfp(x) for x in cases.TRIALS]


def test_nested_groups_and_a_loop_inside_a_group(runs):
    pr, tasks = runs["nested"]
    _ok(pr)
    xs = [1, 2, 3, 4, 5, 6]
    assert _single(tasks, "doubles") == str(sum(2 * x for x in xs if x > 2))
    assert json.loads(_single(tasks, "bigs")) == ["big" for x in xs if x > 2 and 2 * x > 8]
    adds, _ = _per_iteration(tasks, "-add")
    assert adds == {f"{i}.{j}": str(x + y) if x > 2 else ABSENT for i, x in enumerate(xs) for j, y in enumerate([10, 20])}


def test_collected_over_a_condition_in_a_loop_gets_the_produced_values(runs):
    if "producer-consumers" not in runs:
        pytest.skip("the KFP corpus (/work/shared/kfp-corpus) is not here")
    pr, tasks = runs["producer-consumers"]
    _ok(pr)
    doubles, _ = _per_iteration(tasks, "-double")
    assert doubles == {"0": ABSENT, "1": "4", "2": "6"}
    [add] = [n for n in tasks if n.endswith("-add")]
    assert _single(tasks, add) == "10"  # KFP: double(2) + double(3)
    assert {r["name"]: r["value"] for r in pr["status"].get("results", [])}.get("Output") == "10"


def _mains(trs) -> dict[str, str]:
    """Tekton's record of each iteration's component step, by the iteration index its results carry."""
    return {tr["results"]["Output"].split(":", 1)[0]: tr["steps"]["main"] for tr in trs.values()}


def test_skipped_iterations_are_never_cached(runs):
    pr1, first = runs["cached-1"]
    pr2, second = runs["cached-2"]
    _ok(pr1)
    _ok(pr2)
    one, trs1 = _per_iteration(first, "-stamp")
    two, trs2 = _per_iteration(second, "-stamp")
    assert {k for k, v in one.items() if v == ABSENT} == {"0", "1"}
    assert _mains(trs1) == {"0": "Skipped", "1": "Skipped", "2": "Completed", "3": "Completed"}
    # run 2: iterations 2 and 3 hit run 1's entries (Tekton skipped main), 0 and 1 had none: they ran
    assert _mains(trs2) == {"0": "Completed", "1": "Completed", "2": "Skipped", "3": "Skipped"}
    assert two["2"] == one["2"] and two["3"] == one["3"]
    assert two["0"].startswith("1/") and two["1"].startswith("2/")
