"""Caching on Tekton really runs: translated PipelineRuns executed twice (tests/tekton_harness.py:
every generated step a real subprocess, Tekton's step `when` and step results as its entrypoint
applies them), the memo in a real S3 server (MinIO) through the real `aws` CLI.

Each component appends a line to a log file when its code runs, so "the second run did not run
the component" is read from the file, not from our own step logs; the outputs of the second run
are compared with the first's (results byte for byte, artifacts by their stored bytes).
"""

from pathlib import Path

import pytest
from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

import translator

from .tekton_harness import Harness, step_env


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
def square(x: int, log: str) -> int:
    with open(log, "a") as f:
        f.write("square %d\n" % x)
    return x * x


@dsl.component(base_image="python:3.12")
def flaky(flag: str, log: str) -> str:
    import os

    with open(log, "a") as f:
        f.write("flaky\n")
    if os.path.exists(flag):
        raise RuntimeError("failing on purpose")
    return "ok"


@dsl.pipeline(name="tekton-cache")
def cached_flow(text: str = "Hi", log: str = "", flag: str = ""):
    s = shout(text=text, log=log)
    count(data=s.outputs["data"], log=log)
    flaky(flag=flag, log=log)
    # a loop's results (index-prefixed) are checked on the real controller: e2e/tests/test_tekton_cache.py


@pytest.fixture
def env(tmp_path, minio):
    return step_env(tmp_path, minio)


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
    log, flag = tmp_path / "ran.log", tmp_path / "fail-now"
    [manifest] = translator.translate(cached_flow, backend="tekton",
                                      parameters=(("log", str(log)), ("flag", str(flag))))
    flag.write_text("")
    first, logs1 = _run(tmp_path, base, "run-1", manifest)
    assert first["flaky"].status == "Failed", logs1
    assert all(o.status == "Succeeded" for n, o in first.items() if n != "flaky"), logs1
    ran_first = _lines(log)
    assert sorted(ran_first) == ["count", "flaky", "shout"]
    # one entry per key that succeeded: the failed task stored none
    entries = minio.client().list_objects_v2(Bucket=bucket, Prefix="kfp/.cache/").get("Contents", [])
    assert len(entries) == 2 and all(e["Key"].endswith("/entry") for e in entries), entries

    flag.unlink()
    second, logs2 = _run(tmp_path, base, "run-2", manifest)
    assert all(o.status == "Succeeded" for o in second.values()), logs2
    assert _lines(log) == ran_first + ["flaky"], "only the task that failed before runs again:\n" + logs2
    assert "--- main (skipped by its when)" in second["count"].logs
    assert "--- kfpt-store (skipped by its when)" in second["shout"].logs
    for name in first:
        if name != "flaky":
            assert _stable(second[name].results) == _stable(first[name].results), name
    # the artifacts are this run's own objects, with the stored run's bytes
    s3 = minio.client()
    for run, out in (("run-1", first), ("run-2", second)):
        assert out["shout"].results["kfpt-prefix"] == f"kfp/{run}/shout/{run}-shout"
    body = [s3.get_object(Bucket=bucket, Key=out["shout"].results["kfpt-prefix"] + "/data")["Body"].read()
            for out in (first, second)]
    assert body[0] == body[1] == b"HI $(x) $$"
    assert second["count"].results["size"] == str(len(body[0]))


def test_caching_follows_the_task_and_the_run_switches():
    def steps(manifest, task):
        spec = next(t for t in manifest["spec"]["pipelineSpec"]["tasks"] if t["name"] == task)
        return [s["name"] for s in spec["taskSpec"]["steps"]]

    [default] = translator.translate(cached_flow, backend="tekton")
    assert steps(default, "flaky") == ["kfpt-cache", "main", "kfpt-store"]
    assert "kfp-translate.dev/caching" not in default["metadata"]["annotations"]
    [off] = translator.translate(cached_flow, backend="tekton", enable_caching=False)
    assert steps(off, "flaky") == ["main", "kfpt-store"]  # kfpt-store: only results over the size limit
    assert not _memo_store(off, "flaky")

    @dsl.pipeline(name="per-task")
    def per_task(log: str = ""):
        flaky(flag="a", log=log).set_caching_options(False)

    [task_off] = translator.translate(per_task, backend="tekton")
    assert steps(task_off, "flaky") == ["main", "kfpt-store"] and not _memo_store(task_off, "flaky")
    [forced] = translator.translate(per_task, backend="tekton", enable_caching=True)
    assert steps(forced, "flaky") == ["kfpt-cache", "main", "kfpt-store"]


def _memo_store(manifest: dict, name: str) -> bool:
    """Does the task's kfpt-store step write a memo entry (skipped on a hit)?"""
    store = next(s for s in _task(manifest, name)["taskSpec"]["steps"] if s["name"] == "kfpt-store")
    return "remember" in store["script"] or "when" in store


def _task(manifest: dict, name: str) -> dict:
    return next(t for t in manifest["spec"]["pipelineSpec"]["tasks"] if t["name"] == name)


def _cache_env(task: dict) -> dict:
    step = next(s for s in task["taskSpec"]["steps"] if s["name"] == "kfpt-cache")
    return {e["name"]: e["value"] for e in step["env"]}


@dsl.pipeline(name="two-squares")
def two_squares(log: str = ""):
    square(x=2, log=log).set_display_name("a")
    square(x=2, log=log).set_retry(1)


def test_the_key_covers_the_computation_not_names_or_delivery():
    [manifest] = translator.translate(two_squares, backend="tekton")
    tasks = manifest["spec"]["pipelineSpec"]["tasks"]
    first, second = (_cache_env(t) for t in tasks)
    # the same component under another name shares the digest; a retry policy is part of it (as on Argo)
    [renamed] = translator.translate(two_squares, backend="tekton", name="other", cache_max_age="1h")
    assert _cache_env(renamed["spec"]["pipelineSpec"]["tasks"][0])["KFPT_CACHE_TASK"] == first["KFPT_CACHE_TASK"]
    assert second["KFPT_CACHE_TASK"] != first["KFPT_CACHE_TASK"]
    # hashed: the values the component reads; never where an artifact is stored, nor the shim
    [flow] = translator.translate(cached_flow, backend="tekton")
    hashed = sorted(v for n, v in _cache_env(_task(flow, "count")).items() if n.startswith("KFPT_K_"))
    assert hashed == ["$(params.data-metadata)", "$(params.log)"]
    library = next(p for p in flow["spec"]["pipelineSpec"]["params"] if p["name"] == "kfpt-sh")["default"]
    assert "$(" not in library and "$$" not in library  # nothing Tekton or the kubelet would rewrite
    assert "KFPT_CACHE=kfp/.cache\nKFPT_CACHE_MAX_AGE=2592000\n" in library


@pytest.mark.parametrize("duration,seconds", [("720h", 2592000), ("1h30m", 5400), ("1.5s", 2), ("0", 0),
                                              ("0s", 0), ("-5m", 0), ("300ms", 1)])
def test_max_age_is_argos_duration_in_whole_seconds(duration, seconds):
    from backends.tekton.cache import max_age_seconds

    assert max_age_seconds(duration) == seconds


def test_a_bad_max_age_is_a_clear_error():
    with pytest.raises(translator.TranslateError, match="--cache-max-age.*not a Go duration"):
        translator.translate(two_squares, backend="tekton", cache_max_age="3d")
