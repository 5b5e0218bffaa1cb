"""Argo's DAG semantics in the local runner, on hand-written Workflows whose steps are real `sh`
processes (fast): depends logic, continueOn, failFast, loops and their aggregated outputs,
parallelism, exit hooks and onExit, DAG outputs, absent optional outputs, retries, errors."""
from __future__ import annotations

import json

import pytest

from translator.runner.engine import RunError, Runner
from translator.runner.store import DirStore


def sh(name, script, inputs=(), outputs=(), env=None, **extra):
    """A container template running `sh -c script`; output parameter p is read from /kfp/outputs/p."""
    t = {"name": name, "container": {"image": "busybox:1.36", "command": ["sh", "-c", script]}}
    if env:
        t["container"]["env"] = [{"name": k, "value": v} for k, v in env.items()]
    if inputs:
        t["inputs"] = {"parameters": [p if isinstance(p, dict) else {"name": p} for p in inputs]}
    if outputs:
        t["outputs"] = {"parameters": [p if isinstance(p, dict) else {"name": p, "valueFrom": {"path": f"/kfp/outputs/{p}"}}
                                       for p in outputs]}
    t.update(extra)
    return t


def dag(name, tasks, fail_fast=None, **extra):
    body = {"tasks": tasks} if fail_fast is None else {"tasks": tasks, "failFast": fail_fast}
    return {"name": name, "dag": body, **extra}


def workflow(*templates, entry="main", params=None, **spec):
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"generateName": "t-"},
            "spec": {"entrypoint": entry, "templates": list(templates),
                     "arguments": {"parameters": [{"name": k, "value": v} for k, v in (params or {}).items()]},
                     **spec}}


ECHO = sh("echo", 'printf "%s" "$V" > /kfp/outputs/out', ["v"], ["out"], env={"V": "{{inputs.parameters.v}}"})
FAIL = sh("fail", "echo boom; exit 3")
OK = sh("ok", "true")


@pytest.fixture()
def run(tmp_path):
    def go(wf, params=None, **kw):
        kw.setdefault("use_venvs", False)
        return Runner(tmp_path / "work", store=DirStore(tmp_path / "store"), **kw).run(wf, params)
    return go


def phases(result):
    return {n.path.split("/", 1)[1]: n.phase for n in result.nodes if "/" in n.path}


def test_depends_results_and_operators(run):
    wf = workflow(dag("main", [
        {"name": "a", "template": "fail"},
        {"name": "b", "template": "ok"},
        {"name": "on-fail", "template": "ok", "depends": "a.Failed"},
        {"name": "on-success", "template": "ok", "depends": "a.Succeeded"},
        {"name": "either", "template": "ok", "depends": "a || b"},
        {"name": "not-a", "template": "ok", "depends": "!a.Succeeded && (b.Succeeded || b.Skipped)"},
        {"name": "after-omitted", "template": "ok", "depends": "on-success.Omitted"},
    ], fail_fast=False), FAIL, OK)
    result = run(wf)
    p = phases(result)
    assert p["a"] == "Failed" and p["b"] == "Succeeded"
    assert p["on-fail"] == "Succeeded" and p["on-success"] == "Omitted"
    assert p["either"] == "Succeeded" and p["not-a"] == "Succeeded" and p["after-omitted"] == "Succeeded"
    # the targets (on-fail, either, not-a, after-omitted) all succeeded: the DAG succeeds
    assert result.phase == "Succeeded"


def test_bare_name_honours_continue_on_and_failed_leaf_fails_the_dag(run):
    wf = workflow(dag("main", [
        {"name": "a", "template": "fail", "continueOn": {"failed": True}},
        {"name": "b", "template": "ok", "depends": "a"},
        {"name": "c", "template": "fail"},
        {"name": "d", "template": "ok", "depends": "c"},
    ], fail_fast=False), FAIL, OK)
    result = run(wf)
    p = phases(result)
    assert p["b"] == "Succeeded"  # a's failure is tolerated by continueOn.failed
    assert p["d"] == "Omitted"  # c failed without continueOn
    assert result.phase == "Failed"


def test_fail_fast_stops_scheduling_and_false_waits_for_every_branch(run, tmp_path):
    mark = tmp_path / "marks"
    mark.mkdir()
    slow_then_mark = sh("slow", f"sleep 0.5; touch {mark}/{{{{inputs.parameters.v}}}}", ["v"])
    tasks = [
        {"name": "boom", "template": "fail"},
        {"name": "slow", "template": "slow", "arguments": {"parameters": [{"name": "v", "value": "slow"}]}},
        {"name": "later", "template": "slow", "depends": "slow",
         "arguments": {"parameters": [{"name": "v", "value": "later"}]}},
    ]
    result = run(workflow(dag("main", tasks), FAIL, slow_then_mark), jobs=2)
    assert result.phase == "Failed"
    assert (mark / "slow").exists() and not (mark / "later").exists()  # running steps finish, no new one starts
    assert "later" not in phases(result)
    result = run(workflow(dag("main", tasks, fail_fast=False), FAIL, slow_then_mark))
    assert result.phase == "Failed" and phases(result)["later"] == "Succeeded"


def test_with_items_of_every_json_type_and_item_keys(run):
    items = ["a b", 3, 2.5, 1.0, True, {"k": "v", "n": 1, "z": [1, "x"]}, [1, {"a": "<&>"}]]
    wf = workflow(dag("main", [
        {"name": "each", "template": "echo", "withItems": items,
         "arguments": {"parameters": [{"name": "v", "value": "{{item}}"}]}},
        {"name": "keys", "template": "echo", "withItems": [{"k": "one", "n": 2}, {"k": "two", "n": 3.0}],
         "arguments": {"parameters": [{"name": "v", "value": "{{item.k}}={{item.n}}"}]}},
    ]), ECHO)
    result = run(wf)
    assert result.phase == "Succeeded"
    got = [n.parameters["out"] for n in result.nodes if "/each(" in n.path]
    assert got == ["a b", "3", "2.5", "1", "true", '{"k":"v","n":1,"z":[1,"x"]}', '[1,{"a":"\\u003c\\u0026\\u003e"}]']
    assert [n.parameters["out"] for n in result.nodes if "/keys(" in n.path] == ["one=2", "two=3"]
    assert [n.path.split("/")[-1] for n in result.nodes if "/keys(" in n.path] == ["keys(0:k:one,n:2)", "keys(1:k:two,n:3)"]


def test_with_param_aggregation_follows_argo_36(run):
    producer = sh("produce", """printf '%s' '[1.0, "x", {"a": 1}]' > /kfp/outputs/out""", outputs=["out"])
    collect = dict(ECHO, name="collect")
    wf = workflow(dag("main", [
        {"name": "produce", "template": "produce"},
        {"name": "scalars", "template": "echo", "depends": "produce", "withParam": "{{tasks.produce.outputs.parameters.out}}",
         "arguments": {"parameters": [{"name": "v", "value": "{{item}}"}]}},
        {"name": "objects", "template": "echo", "withItems": [{"a": 2}, [3], {"a": 1}],
         "arguments": {"parameters": [{"name": "v", "value": "{{item}}"}]}},
        {"name": "s", "template": "collect", "depends": "scalars",
         "arguments": {"parameters": [{"name": "v", "value": "{{tasks.scalars.outputs.parameters.out}}"}]}},
        {"name": "o", "template": "collect", "depends": "objects",
         "arguments": {"parameters": [{"name": "v", "value": "{{tasks.objects.outputs.parameters.out}}"}]}},
        {"name": "empty", "template": "echo", "withParam": "[]",
         "arguments": {"parameters": [{"name": "v", "value": "{{item}}"}]}},
    ]), ECHO, producer, collect)
    result = run(wf)
    assert result.phase == "Succeeded"
    # withParam keeps numbers as written (1.0); scalars aggregate as strings, objects/arrays parsed
    assert [n.parameters["out"] for n in result.nodes if "/scalars(" in n.path] == ["1.0", "x", '{"a":1}']
    assert result.node("s").parameters["out"] == '["1.0","x","{\\"a\\":1}"]'
    assert result.node("o").parameters["out"] == '[{"a":2},[3],{"a":1}]'
    assert result.node("empty").phase == "Skipped"


def test_parallelism_caps_running_children(run, tmp_path):
    log = tmp_path / "spans"
    log.mkdir()
    span = sh("span", f'date +%s.%N > {log}/{{{{inputs.parameters.v}}}}.start; sleep 0.5; '
                      f'date +%s.%N > {log}/{{{{inputs.parameters.v}}}}.end', ["v"])
    limited = dag("limited", [{"name": "each", "template": "span", "withItems": list(range(4)),
                               "arguments": {"parameters": [{"name": "v", "value": "{{item}}"}]}}], parallelism=1)
    result = run(workflow(dag("main", [{"name": "l", "template": "limited"}]), limited, span), jobs=4)
    assert result.phase == "Succeeded"
    spans = sorted((float((log / f"{i}.start").read_text()), float((log / f"{i}.end").read_text())) for i in range(4))
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(3))  # one at a time
    for f in log.iterdir():
        f.unlink()
    limited["parallelism"] = 4
    run(workflow(dag("main", [{"name": "l", "template": "limited"}]), limited, span), jobs=4)
    spans = sorted((float((log / f"{i}.start").read_text()), float((log / f"{i}.end").read_text())) for i in range(4))
    assert spans[-1][0] < spans[0][1]  # all four overlapped


def test_exit_hooks_and_on_exit_see_status_and_failures(run):
    report = sh("report", 'printf "%s|%s" "$S" "$F" > /kfp/outputs/out', ["s", "f"], ["out"],
                env={"S": "{{inputs.parameters.s}}", "F": "{{inputs.parameters.f}}"})
    hook = {"exit": {"template": "echo", "arguments": {"parameters": [{"name": "v", "value": "{{tasks.a.status}}"}]}}}
    on_exit = dag("bye", [{"name": "r", "template": "report", "arguments": {"parameters": [
        {"name": "s", "value": "{{workflow.status}}"}, {"name": "f", "value": "{{workflow.failures}}"}]}}])
    wf = workflow(dag("main", [{"name": "a", "template": "fail", "hooks": hook},
                               {"name": "b", "template": "ok", "depends": "a"}]),
                  FAIL, OK, ECHO, report, on_exit, onExit="bye")
    result = run(wf)
    assert result.phase == "Failed"
    assert result.node("a.onExit").parameters["out"] == "Failed" and result.node("a.onExit").hooked
    status, failures = result.node("r").parameters["out"].split("|", 1)
    assert status == "Failed"
    decoded = json.loads(json.loads(failures))  # Argo passes strconv.Quote(json): a quoted JSON string
    assert {(f["displayName"], f["phase"], f["templateName"]) for f in decoded} >= {("a", "Failed", "fail")}


def test_on_exit_failure_fails_a_succeeded_workflow(run):
    result = run(workflow(dag("main", [{"name": "a", "template": "ok"}]), OK, FAIL, onExit="fail"))
    assert result.phase == "Failed"


def test_dag_outputs_parameter_expression_default_and_absent_optionals(run):
    inner = dag("inner", [
        {"name": "yes", "template": "echo", "arguments": {"parameters": [{"name": "v", "value": "7"}]}},
        {"name": "no", "template": "echo", "when": "{{=1 == 2}}", "arguments": {"parameters": [{"name": "v", "value": "x"}]}},
    ], outputs={"parameters": [
        {"name": "p", "valueFrom": {"parameter": "{{tasks.yes.outputs.parameters.out}}"}},
        {"name": "e", "valueFrom": {"expression": "asInt(tasks.yes.outputs.parameters.out) + 1"}},
        {"name": "d", "valueFrom": {"parameter": "{{tasks.no.outputs.parameters.out}}", "default": "fallback"}},
    ]})
    uses_default = sh("dflt", 'printf "%s" "$V" > /kfp/outputs/out', [{"name": "v", "default": "input-default"}],
                      ["out"], env={"V": "{{inputs.parameters.v}}"})
    wf = workflow(dag("main", [
        {"name": "in", "template": "inner"},
        {"name": "skipped", "template": "echo", "when": "{{=false}}", "arguments": {"parameters": [{"name": "v", "value": "x"}]}},
        {"name": "rescued", "template": "dflt", "depends": "skipped",
         "arguments": {"parameters": [{"name": "v", "value": "{{tasks.skipped.outputs.parameters.out}}"}]}},
        {"name": "broken", "template": "echo", "depends": "skipped",
         "arguments": {"parameters": [{"name": "v", "value": "x{{tasks.skipped.outputs.parameters.out}}"}]}},
    ]), inner, ECHO, uses_default)
    result = run(wf)
    assert result.node("in").parameters == {"p": "7", "e": "8", "d": "fallback"}
    assert result.node("rescued").parameters["out"] == "input-default"
    assert result.node("broken").phase == "Error" and "absent optional" in result.node("broken").message
    assert result.phase == "Error"


def test_retry_policy_and_retries_variable(run, tmp_path):
    flaky = sh("flaky", f'echo {{{{retries}}}} >> {tmp_path}/tries; [ "{{{{retries}}}}" = 2 ]',
               retryStrategy={"limit": "3", "retryPolicy": "OnFailure", "backoff": {"duration": "1ms", "factor": 2}})
    result = run(workflow(dag("main", [{"name": "f", "template": "flaky"}]), flaky))
    assert result.phase == "Succeeded"
    assert (tmp_path / "tries").read_text().split() == ["0", "1", "2"]
    assert [n.attempt for n in result.nodes if n.pod] == [0, 1, 2]


def test_memoized_dag_and_task_status_variable(run, tmp_path):
    memo = {"key": "{{inputs.parameters.v}}", "maxAge": "1h", "cache": {"configMap": {"name": "c"}}}
    cached_echo = dict(ECHO, name="cached-echo", memoize=memo)
    wf = workflow(dag("main", [
        {"name": "a", "template": "cached-echo", "arguments": {"parameters": [{"name": "v", "value": "k1"}]}},
        {"name": "s", "template": "echo", "depends": "a", "arguments": {"parameters": [{"name": "v", "value": "{{tasks.a.status}}"}]}},
    ]), cached_echo, ECHO)
    first, second = run(wf), run(wf)
    assert not first.node("a").cached and second.node("a").cached
    assert second.node("a").parameters["out"] == "k1" and second.node("s").parameters["out"] == "Succeeded"


def test_unsupported_constructs_are_clear_errors(run):
    with pytest.raises(RunError, match="withSequence"):
        run(workflow(dag("main", [{"name": "a", "template": "ok", "withSequence": {"count": "2"}}]), OK))
    with pytest.raises(RunError, match="field 'steps' is not supported"):
        run(workflow({"name": "main", "steps": [[{"name": "a", "template": "ok"}]]}, OK))
    with pytest.raises(RunError, match="govaluate"):
        run(workflow(dag("main", [{"name": "a", "template": "ok", "when": "1 == 1"}]), OK))
    with pytest.raises(RunError, match="task result 'Done'"):
        run(workflow(dag("main", [{"name": "a", "template": "ok"}, {"name": "b", "template": "ok", "depends": "a.Done"}]), OK))


def test_steps_are_isolated_and_write_only_inside_the_work_dir(run, tmp_path):
    probe = sh("probe", 'echo "$HOME|$TMPDIR|$(pwd)" > /kfp/outputs/out; touch "$HOME/x" "$TMPDIR/y"', outputs=["out"])
    wf = workflow(dag("main", [{"name": f"p{i}", "template": "probe"} for i in range(3)]), probe)
    result = run(wf, jobs=3)
    pods = {n.pod: n.parameters["out"].strip().split("|") for n in result.nodes if n.pod}
    for pod, (home, tmp, cwd) in pods.items():
        own = str(tmp_path / "work" / "pods" / pod)
        assert home == own + "/home" and tmp == cwd == own + "/tmp"  # nothing shared between steps
    assert len(pods) == 3
