"""The Tekton backend's structure and its explicit errors, on real kfp compiles.

What runs is tested in test_tekton_run.py; what Tekton accepts in test_tektonlint.py. Here: the
shape of the output (guards, evaluation tasks, matrices, finally, kinds and options) and the
one-line, exit-status-2 errors for what stable Tekton cannot do yet.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kfp import compiler, dsl

import backends
import translator

REPO = Path(__file__).resolve().parent.parent


@dsl.component(base_image="python:3.12")
def flip() -> str:
    return "heads"


@dsl.component(base_image="python:3.12")
def num() -> int:
    return 3


@dsl.component(base_image="python:3.12")
def echo(x: str) -> str:
    return x


@dsl.component(base_image="python:3.12")
def pick(xs: list) -> str:
    return str(xs)


@dsl.pipeline(name="guards")
def guards():
    f = flip()
    n = num()
    with dsl.If(f.output == "heads"):
        with dsl.If(n.output > 2):
            echo(x="inner")
    with dsl.Elif(f.output == "tails"):
        echo(x="tails")
    with dsl.Else():
        echo(x="edge")


def _tasks(manifest):
    spec = manifest["spec"]["pipelineSpec"]
    return {t["name"]: t for t in spec["tasks"] + spec.get("finally", [])}


def test_every_task_of_nested_and_else_groups_is_guarded():
    [run] = translator.translate(guards, backend="tekton")
    tasks = _tasks(run)
    inner = next(t for n, t in tasks.items() if n.endswith("echo") and "condition-2" in n)
    heads = {"input": "$(tasks.flip.results.Output)", "operator": "in", "values": ["heads"]}
    evaluation = next(n for n in tasks if n.endswith("-condition"))
    assert inner["when"] == [heads, {"input": f"$(tasks.{evaluation}.results.outcome)", "operator": "in",
                                     "values": ["true"]}]
    assert tasks[evaluation]["when"] == [heads]  # the evaluation runs only inside its outer group
    elif_task = next(t for t in tasks.values() if t.get("params", [{}])[0].get("value") == "tails")
    assert elif_task["when"] == [{**heads, "operator": "notin"},
                                 {"input": "$(tasks.flip.results.Output)", "operator": "in", "values": ["tails"]}]
    else_task = next(t for t in tasks.values() if t.get("params", [{}])[0].get("value") == "edge")
    assert [w["operator"] for w in else_task["when"]] == ["notin", "notin"]
    # string comparisons cost no pod: the only evaluation task is the numeric one
    assert [n for n in tasks if n.endswith("-condition")] == [evaluation]


def test_backend_is_found_through_the_entry_point_group():
    from importlib.metadata import entry_points

    assert "tekton" in {ep.name for ep in entry_points(group=backends.GROUP)}
    assert backends.get("tekton").name == "tekton"


def test_kind_pipeline_with_run_and_options():
    docs = translator.translate(guards, backend="tekton", kind="Pipeline", with_run=True, name="g", namespace="ml",
                                service_account="runner")
    assert [d["kind"] for d in docs] == ["Pipeline", "PipelineRun"]
    assert docs[0]["metadata"] == {**docs[0]["metadata"], "name": "g", "namespace": "ml"}
    assert docs[1]["spec"]["pipelineRef"] == {"name": "g"}
    assert docs[1]["spec"]["taskRunTemplate"] == {"serviceAccountName": "runner"}
    [only] = translator.translate(guards, backend="tekton", kind="Pipeline")
    assert only["kind"] == "Pipeline"


@dsl.pipeline(name="nested-loops")
def nested_loops():
    with dsl.ParallelFor(list(range(20))) as a:
        with dsl.ParallelFor(list(range(20))) as b:
            echo(x="x")


@dsl.pipeline(name="nested-parallelism")
def nested_parallelism():
    with dsl.ParallelFor([1, 2]) as a:
        with dsl.ParallelFor([3, 4], parallelism=1) as b:
            echo(x="x")


@dsl.pipeline(name="big-loop")
def big_loop():
    with dsl.ParallelFor(list(range(300))) as i:
        echo(x="x")


@dsl.pipeline(name="runtime-parallelism")
def runtime_parallelism(xs: list = [1, 2, 3]):
    with dsl.ParallelFor(xs, parallelism=2) as x:
        echo(x="x")


@dsl.pipeline(name="ftp-importer")
def ftp_importer():
    dsl.importer(artifact_uri="ftp://host/data.csv", artifact_class=dsl.Dataset)


ERRORS = {
    "nested_loops": (nested_loops, "task 'for-loop-2/for-loop-4': the nested loops have 400 iterations together; "
                                   "a Tekton matrix allows 256 combinations"),
    "nested_parallelism": (nested_parallelism, "task 'for-loop-2/for-loop-4': dsl.ParallelFor(parallelism=...) "
                                               "inside another loop or over artifacts is not supported on Tekton"),
    "big_loop": (big_loop, "task 'for-loop-2': the loop has 300 items; a Tekton matrix allows 256 combinations"),
    "runtime_parallelism": (runtime_parallelism, "task 'for-loop-1': dsl.ParallelFor(parallelism=...) over a "
                                                 "run-time list has no equivalent on stable Tekton"),
    "ftp_importer": (ftp_importer, "importer URI 'ftp://host/data.csv': the scheme is not supported on Tekton"),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_unsupported_constructs_are_one_line_errors_exit_2_nothing_written(name, tmp_path):
    pipeline, message = ERRORS[name]
    ir = tmp_path / f"{name}.yaml"
    compiler.Compiler().compile(pipeline, str(ir))
    with pytest.raises(translator.TranslateError) as info:
        translator.translate(str(ir), backend="tekton")
    assert message in str(info.value)
    out = tmp_path / "out.yaml"
    proc = subprocess.run([sys.executable, "-m", "translator.cli", "--backend", "tekton", str(ir), "-o", str(out)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and not out.exists()
    assert proc.stderr.count("\n") == 1 and str(ir) in proc.stderr and message in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("args,message", [
    (["--backend", "tekton", "--schedule", "0 2 * * *"], "--schedule, --timezone and --concurrency-policy apply to --backend argo only"),
    (["--backend", "argo", "--with-run"], "--with-run applies to --backend tekton only"),
    (["--backend", "tekton", "--with-run"], "--with-run goes with --kind Pipeline"),
    (["--backend", "tekton", "--kind", "Workflow"], "unknown output kind 'Workflow' for Tekton"),
    (["--backend", "tekton", "--kind", "Pipeline", "-p", "n=2"], "parameter overrides live in a PipelineRun: add --with-run"),
])
def test_option_errors(args, message, tmp_path):
    ir = tmp_path / "p.yaml"
    compiler.Compiler().compile(guards_with_params if "-p" in args else guards, str(ir))
    proc = subprocess.run([sys.executable, "-m", "translator.cli", str(ir), *args], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ})
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and proc.stderr.count("\n") == 1


def test_parameter_overrides_are_typed_and_encoded(tmp_path):
    ir = tmp_path / "p.yaml"
    compiler.Compiler().compile(guards_with_params, str(ir))
    [run] = translator.translate(str(ir), backend="tekton", parameters=(("n", "3.0"), ("s", "a$(b) $c")))
    given = {p["name"]: p["value"] for p in run["spec"]["params"]}
    assert given["n"] == "3"  # KFP int: 3, never 3.0
    assert given["s"].startswith("__KFP_B64__:")  # spells `$(`: Tekton must not read it
    with pytest.raises(translator.TranslateError, match="no parameter 'nope'"):
        translator.translate(str(ir), backend="tekton", parameters=(("nope", "1"),))


@dsl.pipeline(name="params")
def guards_with_params(n: int = 1, s: str = "x"):
    echo(x=s)
