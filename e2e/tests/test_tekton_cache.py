"""Caching on the real Tekton controller: the same PipelineRun three times.

Every component returns a fresh random token (and writes it into its artifact), so equal outputs
across runs can only come from the memo: run 2 must report run 1's tokens, with the component
steps recorded by Tekton itself as Skipped (its entrypoint never started the command); run 3,
translated with a max age of 0 s, must run everything again (new tokens). A per-session salt
keeps other sessions' entries in the shared bucket out of the keys.
"""
import base64
import uuid

import pytest
from kfp import dsl
from kfp.dsl import Dataset, Input, Output

import translator


@dsl.component(base_image="python:3.12")
def fresh(salt: str, data: Output[Dataset]) -> str:
    import uuid

    token = uuid.uuid4().hex
    with open(data.path, "w") as f:
        f.write("%s %s $(x) $$" % (salt, token))
    data.metadata["token"] = token
    return token


@dsl.container_component
def measure(data: Input[Dataset], size: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image="alpine:3.20",
                             command=["sh", "-c", 'cat /proc/sys/kernel/random/uuid > "$1"; wc -c < "$0" >> "$1"'],
                             args=[data.path, size])


@dsl.component(base_image="python:3.12")
def combine(token: str, size: str, data: Input[Dataset]) -> str:
    with open(data.path) as f:
        return "%s|%s|%s|%s" % (token, size.split()[0], data.metadata["token"], f.read())


@dsl.component(base_image="python:3.12")
def stamp(x: int, salt: str) -> str:
    import uuid

    return "%d-%s" % (x, uuid.uuid4().hex)


@dsl.pipeline(name="tekton-cache-e2e")
def cache_flow(salt: str = ""):
    f = fresh(salt=salt)
    m = measure(data=f.outputs["data"])
    combine(token=f.outputs["Output"], size=m.outputs["size"], data=f.outputs["data"])
    with dsl.ParallelFor([1, 2]) as i:
        stamp(x=i, salt=salt)


def _run(cluster, **options):
    [manifest] = translator.translate(cache_flow, backend="tekton", namespace=cluster.namespace, **options)
    name = cluster.create(manifest)["metadata"]["name"]
    pr = cluster.wait_pipelinerun(name, timeout=900)
    cond = next(c for c in pr["status"]["conditions"] if c["type"] == "Succeeded")
    assert cond["status"] == "True", pr["status"]
    results, mains = {}, {}
    for tr in cluster.taskruns(name):
        task = tr["metadata"]["labels"]["tekton.dev/pipelineTask"]
        trname = tr["metadata"]["name"]  # a matrix's TaskRuns are <run>-<task>-<index>
        key = f"{task}/{trname.rsplit('-', 1)[1]}" if trname != f"{name}-{task}" else task
        results[key] = {r["name"]: r["value"] for r in tr["status"].get("results", [])}
        mains[key] = next(s.get("terminationReason") or s.get("terminated", {}).get("reason")
                          for s in tr["status"]["steps"] if s["name"] == "main")
    return name, results, mains


@pytest.fixture(scope="module")
def runs(cluster):
    salt = uuid.uuid4().hex
    params = (("salt", salt),)
    return [_run(cluster, parameters=params), _run(cluster, parameters=params),
            _run(cluster, parameters=params, cache_max_age="0s")]


def _stable(results: dict) -> dict:
    return {k: {n: v for n, v in r.items() if n != "kfpt-prefix"} for k, r in results.items()}


def test_second_run_restores_every_output_and_runs_no_component(runs, cluster):
    (name1, first, mains1), (name2, second, mains2), _ = runs
    assert set(first) == {"fresh", "measure", "combine", "for-loop-2-stamp/0", "for-loop-2-stamp/1"}, first
    assert set(mains1.values()) == {"Completed"}, mains1
    assert set(mains2.values()) == {"Skipped"}, mains2  # Tekton's own record: the command never started
    assert _stable(second) == _stable(first)
    token = first["fresh"]["Output"]
    combined = first["combine"]["Output"]  # holds "$(": travels base64 (docs/tekton.md, "Values")
    assert combined.startswith("__KFP_B64__:")
    assert base64.b64decode(combined[len("__KFP_B64__:"):]).decode().startswith(token + "|")
    # the artifact is run 2's own object, with run 1's bytes
    keys = [r["fresh"]["kfpt-prefix"] + "/data" for r in (first, second)]
    assert name1 in keys[0] and name2 in keys[1]
    assert cluster.read_artifact(keys[0]) == cluster.read_artifact(keys[1])
    assert token.encode() in cluster.read_artifact(keys[1])


def test_an_entry_past_the_max_age_runs_the_components_again(runs):
    (_, first, _), _, (_, third, mains3) = runs
    assert set(mains3.values()) == {"Completed"}, mains3
    assert third["fresh"]["Output"] != first["fresh"]["Output"]
    assert third["for-loop-2-stamp/0"]["Output"] != first["for-loop-2-stamp/0"]["Output"]
