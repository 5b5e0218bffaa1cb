"""Nested loops, artifacts collected out of loops and a loop over collected artifacts on the real
Tekton controller (docs/tekton.md, "Nested loops"): the pipelines of tests/test_tekton_loops.py,
which the local harness runs too. All runs are created first, then awaited."""
from __future__ import annotations

import json

import pytest

import translator
from tests import test_tekton_loops as loops

CASES = {
    "nested-static": (loops.nested_static, ()),
    "nested-runtime": (loops.nested_runtime, ()),
    "artifact-loops": (loops.artifact_loops, ()),
}


@pytest.fixture(scope="module")
def runs(cluster):
    """{case: (PipelineRun, {displayName or pipeline task: [results of each TaskRun]})}."""
    names, display = {}, {}
    for case, (pipeline, params) in CASES.items():
        [manifest] = translator.translate(pipeline, backend="tekton", namespace=cluster.namespace,
                                          parameters=params, enable_caching=False)
        display[case] = {t["name"]: t.get("displayName", t["name"]) for t in manifest["spec"]["pipelineSpec"]["tasks"]}
        names[case] = cluster.create(manifest)["metadata"]["name"]
    done = {}
    for case, name in names.items():
        pr = cluster.wait_pipelinerun(name, timeout=1200)
        results: dict[str, list[dict]] = {}
        for tr in cluster.taskruns(name):
            task = display[case][tr["metadata"]["labels"]["tekton.dev/pipelineTask"]]
            results.setdefault(task, []).append({r["name"]: r["value"] for r in tr.get("status", {}).get("results", [])})
        done[case] = (pr, results)
    return done


def _succeeded(pr) -> str:
    return next(c for c in pr["status"]["conditions"] if c["type"] == "Succeeded")["status"]


def _one(results, task):
    [only] = results[task]
    return json.loads(only["Output"].replace("$$", "$"))


def test_nested_literal_loops(runs):
    pr, results = runs["nested-static"]
    assert _succeeded(pr) == "True", pr["status"]
    sums = [[2 * o + i for i in loops.INNER] for o in loops.OUTER]
    assert _one(results, "all") == sums
    assert sorted(r["Output"] for r in results["per-outer"]) == ["%d:%d" % (k, sum(s)) for k, s in enumerate(sums)]
    assert _one(results, "labels") == [[f"cell $HOME/{c}" for c in row] for row in loops.ROWS]
    [add] = [n for n in results if n.endswith("-add")]
    assert len(results[add]) == len(loops.OUTER) * len(loops.INNER)  # one TaskRun per (outer, inner)


def test_nested_run_time_loops(runs):
    pr, results = runs["nested-runtime"]
    assert _succeeded(pr) == "True", pr["status"]
    assert _one(results, "labels") == [[f"{c['name']}/{s}" for s in c["sizes"]] for c in loops.CONFIGS]
    assert sorted(r["Output"] for r in results["per-config"]) == ["%d:%d" % (k, 101 + 102) for k in range(3)]
    assert _one(results, "mixed") == [[o + x for x in (100, 101)] for o in loops.OUTER]


def test_collected_artifacts_and_a_loop_over_them(runs):
    pr, results = runs["artifact-loops"]
    assert _succeeded(pr) == "True", pr["status"]
    [flat] = results["flat"]
    assert flat["Output"] == "|".join(f"{i}@{i}" for i in range(11))
    assert sorted(r["Output"] for r in results["per-text"]) == ["%d:a@a|b@b" % k for k in range(3)]
    texts = ["t0", "t1 $x", "t2"]
    [joined] = results["texts"]
    assert joined["Output"].replace("$$", "$") == "|".join(f"{t}@{t}" for t in texts)
    assert _one(results, "upper") == [t.upper() for t in texts]
