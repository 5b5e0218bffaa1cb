"""Caching on Tekton really runs: translated PipelineRuns executed twice (tests/tekton_harness.py:
every generated step a real subprocess, Tekton's step `when` and step results as its entrypoint
applies them), the memo in a real S3 server (MinIO) through the real `aws` CLI.

Each component appends a line to a log file when its code runs, so "the second run did not run
the component" is read from the file, not from our own step logs; the outputs of the second run
are compared with the first's (results byte for byte, artifacts by their stored bytes).
"""

import shutil
import sys
from pathlib import Path

import pytest
from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

import translator

from .tekton_harness import Harness, local_env


@dsl.component(base_image="python:3.12")
def shout(text: str, log: str, data: Output[Dataset], metrics: Output[Metrics]) -> str:
    with open(log, "a") as f:
        f.write("shout\n")
    with open(data.path, "w") as f:
        f.write(text.upper() + " $(x) $$")
    metrics.log_metric("chars", len(text))
    return text.lower()


@dsl.container_component
def count(data: Input[Dataset], log: str, size: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image="alpine:3.20", command=["sh", "-c", 'echo count >> "$2"; wc -c < "$0" > "$1"'],
                             args=[data.path, size, log])


@dsl.component(base_image="python:3.12")
def report(word: str, size: str, log: str, data: Input[Dataset]) -> str:
    with open(log, "a") as f:
        f.write("report\n")
    with open(data.path) as f:
        return "%s|%s|%s" % (word, size.strip(), f.read())


@dsl.component(base_image="python:3.12")
def square(x: int, log: str) -> int:
    with open(log, "a") as f:
        f.write("square %d\n" % x)
    return x * x


@dsl.component(base_image="python:3.12")
def total(xs: list, log: str) -> int:
    with open(log, "a") as f:
        f.write("total\n")
    return sum(xs)


@dsl.pipeline(name="tekton-cache")
def cached_flow(text: str = "Hi", log: str = ""):
    s = shout(text=text, log=log)
    c = count(data=s.outputs["data"], log=log)
    report(word=s.outputs["Output"], size=c.outputs["size"], log=log, data=s.outputs["data"])
    with dsl.ParallelFor([2, 3]) as i:
        sq = square(x=i, log=log)
    total(xs=dsl.Collected(sq.output), log=log)


@dsl.component(base_image="python:3.12")
def flaky(flag: str, log: str) -> str:
    import os

    with open(log, "a") as f:
        f.write("flaky\n")
    if os.path.exists(flag):
        raise RuntimeError("failing on purpose")
    return "ok"


@dsl.pipeline(name="tekton-cache-flaky")
def flaky_flow(flag: str = "", log: str = ""):
    flaky(flag=flag, log=log)


@pytest.fixture
def env(tmp_path, minio):
    bucket = "kfpt-" + tmp_path.name.lower().replace("_", "-")[-40:].strip("-")
    minio.client().create_bucket(Bucket=bucket)
    child_bin = tmp_path / "bin"
    child_bin.mkdir()
    (child_bin / "python3").write_text('#!/bin/sh\nexec "%s" "$@"\n' % sys.executable)
    (child_bin / "python3").chmod(0o755)
    if shutil.which("aws", path=str(Path(sys.executable).parent)) is None:
        pytest.fail("the aws CLI (awscli, a test dependency) is not installed next to this Python")
    base = local_env(child_bin, minio, bucket)
    base["PATH"] = f"{child_bin}:{Path(sys.executable).parent}:{base['PATH']}"
    return base, bucket


def _run(tmp_path: Path, base: dict, run_name: str, manifest: dict):
    out = Harness(tmp_path / run_name, base, run_name=run_name).run(manifest)
    logs = "\n".join(f"== {n}: {o.status}\n{o.logs[-2500:]}" for n, o in out.items())
    return out, logs


def _lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def _stable(results: dict) -> dict:
    """Results without the artifact prefix (it names this run, as it must)."""
    return {k: v for k, v in results.items() if k != "kfpt-prefix"}


def test_second_run_restores_outputs_without_running_components(tmp_path, env, minio):
    base, bucket = env
    log = tmp_path / "ran.log"
    [manifest] = translator.translate(cached_flow, backend="tekton", parameters=(("log", str(log)),))
    first, logs1 = _run(tmp_path, base, "run-1", manifest)
    assert all(o.status == "Succeeded" for o in first.values()), logs1
    ran_first = _lines(log)
    assert sorted(ran_first) == ["count", "report", "shout", "square 2", "square 3", "total"]

    second, logs2 = _run(tmp_path, base, "run-2", manifest)
    assert all(o.status == "Succeeded" for o in second.values()), logs2
    assert _lines(log) == ran_first, "a component ran again on the second run:\n" + logs2
    assert "--- main (skipped by its when)" in second["report"].logs
    for name in first:
        assert _stable(second[name].results) == _stable(first[name].results), name
    # the artifacts are this run's own objects, with the stored run's bytes
    s3 = minio.client()
    for run, out in (("run-1", first), ("run-2", second)):
        assert out["shout"].results["kfpt-prefix"] == f"kfp/{run}/shout/{run}-shout"
    body = [s3.get_object(Bucket=bucket, Key=out["shout"].results["kfpt-prefix"] + "/data")["Body"].read()
            for out in (first, second)]
    assert body[0] == body[1] == b"HI $(x) $$"
    assert second["report"].results["Output"].startswith("__KFP_B64__:")  # "$(" travels encoded, as run 1's
    assert second["total"].results["Output"] == "13"

    # a changed input misses; a consumer whose inputs have the same content still hits
    [changed] = translator.translate(cached_flow, backend="tekton", parameters=(("log", str(log)), ("text", "HI")))
    third, logs3 = _run(tmp_path, base, "run-3", changed)
    assert all(o.status == "Succeeded" for o in third.values()), logs3
    assert _lines(log) == ran_first + ["shout"], logs3
    assert third["report"].results == second["report"].results


def test_entries_past_the_max_age_are_not_used(tmp_path, env):
    base, _ = env
    log = tmp_path / "ran.log"
    params = (("log", str(log)), ("flag", str(tmp_path / "no-such-flag")))
    [manifest] = translator.translate(flaky_flow, backend="tekton", parameters=params)
    [expiring] = translator.translate(flaky_flow, backend="tekton", parameters=params, cache_max_age="0s")
    [fresh] = translator.translate(flaky_flow, backend="tekton", parameters=params, cache_max_age="1h")
    outs = []
    for i, m in enumerate([manifest, expiring, fresh, manifest]):
        out, logs = _run(tmp_path, base, f"run-{i}", m)
        assert out["flaky"].status == "Succeeded", logs
        outs.append(out["flaky"])
    # run-0 stores; run-1 (max age 0) finds the entry too old and runs, storing anew; then hits
    assert _lines(log) == ["flaky", "flaky"]
    assert "not under the maximum age of 0 s" in outs[1].logs
    assert all(o.results == outs[0].results for o in outs)


def test_a_failed_task_never_populates_the_cache(tmp_path, env, minio):
    base, bucket = env
    log, flag = tmp_path / "ran.log", tmp_path / "fail-now"
    [manifest] = translator.translate(flaky_flow, backend="tekton",
                                      parameters=(("log", str(log)), ("flag", str(flag))))
    flag.write_text("")
    out, logs = _run(tmp_path, base, "run-1", manifest)
    assert out["flaky"].status == "Failed", logs
    listed = minio.client().list_objects_v2(Bucket=bucket, Prefix="kfp/.cache/")
    assert listed.get("KeyCount", 0) == 0, listed.get("Contents")
    flag.unlink()
    out, logs = _run(tmp_path, base, "run-2", manifest)
    assert out["flaky"].status == "Succeeded", logs
    assert _lines(log) == ["flaky", "flaky"]  # the failure stored nothing: run-2 ran the component


def test_caching_follows_the_task_and_the_run_switches():
    def steps(manifest, task):
        spec = next(t for t in manifest["spec"]["pipelineSpec"]["tasks"] if t["name"] == task)
        return [s["name"] for s in spec["taskSpec"]["steps"]]

    [default] = translator.translate(flaky_flow, backend="tekton")
    assert steps(default, "flaky") == ["kfpt-cache", "main", "kfpt-store"]
    assert "kfp-translate.dev/caching" not in default["metadata"]["annotations"]
    [off] = translator.translate(flaky_flow, backend="tekton", enable_caching=False)
    assert steps(off, "flaky") == ["main"]

    @dsl.pipeline(name="per-task")
    def per_task(log: str = ""):
        flaky(flag="a", log=log).set_caching_options(False)

    [task_off] = translator.translate(per_task, backend="tekton")
    assert steps(task_off, "flaky") == ["main"]
    [forced] = translator.translate(per_task, backend="tekton", enable_caching=True)
    assert steps(forced, "flaky") == ["kfpt-cache", "main", "kfpt-store"]
