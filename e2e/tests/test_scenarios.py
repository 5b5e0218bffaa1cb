"""Caching across resubmits, stop and terminate, a WorkflowTemplate by reference, a CronWorkflow
that fires, on the real Argo controller (scenarios.py runs them in the batch), each compared with
KFP's semantics and, where the runner has the feature, with `translate run`."""
from __future__ import annotations

import pytest


from . import e2e_pipelines as e2e
from .cases import Outcome, decoded
from .known import mark
from .scenarios import CACHE_STEPS, UPSTREAM_OFF_STEPS


def _step(batch, name):
    steps = {s["name"]: s for s in batch.scenario("caching")["steps"]}
    return steps[name]


CACHE_IDS = [f"cache-chain-{i}" for i in range(len(CACHE_STEPS))] + \
            [f"cache-upstream-off-{i}" for i in range(len(UPSTREAM_OFF_STEPS))]


@pytest.mark.parametrize("name", [pytest.param(n, id=n, marks=mark("cache-argo", n)) for n in CACHE_IDS])
def test_caching_on_argo(batch, name):
    step = _step(batch, name)
    assert step["run"].phase == "Succeeded", batch.cluster.report(step["run"])
    want_ran, want_cached = step["want"]
    assert step["argo_ran"] == (want_ran, want_cached), f"{name} {step['params']}: (ran, cached)\n{step['run'].summary()}"
    o = Outcome(step["run"].phase, step["argo"])
    label = step["params"].get("label", "x")
    assert o.outputs("count") == [f"{label}:2"]  # seeds write one character, doubled


@pytest.mark.parametrize("name", [pytest.param(n, id=n, marks=mark("cache-runner", n)) for n in CACHE_IDS])
def test_caching_runner_matches_argo(batch, name):
    step = _step(batch, name)
    assert not step["local"].error, step["local"].error
    assert step["differences"] == [], f"{name}: runner differs from Argo:\n" + "\n".join(step["differences"])


@pytest.mark.parametrize("mode", ["Stop", "Terminate"])
def test_stop_and_terminate(batch, mode):
    got = batch.scenario("shutdown")[mode]
    run, records = got["run"], got["records"]
    assert run.phase == "Failed", batch.cluster.report(run)
    assert got["seconds_to_end"] < 120, f"{run.name}: {mode} took {got['seconds_to_end']:.0f} s (the step sleeps 600 s)"
    nap = Outcome(run.phase, records).named("nap")
    assert [r.phase for r in nap] in (["Failed"], ["Error"]), run.summary()
    hooks = [r for k, r in records.items() if k.endswith(".onExit")]
    if mode == "Stop":  # Argo: Stop still runs exit handlers, which see the failure
        assert [h.phase for h in hooks] == ["Succeeded"], run.summary()
        assert decoded(hooks[0].parameters["Output"]) == "FAILED"
    else:  # Terminate runs nothing more
        assert [h.phase for h in hooks if h.phase == "Succeeded"] == [], run.summary()


def test_workflow_template_by_reference(batch):
    got = batch.scenario("template-ref")
    assert got["run"].phase == "Succeeded", batch.cluster.report(got["run"])
    o = Outcome(got["run"].phase, got["argo"])
    assert o.outputs("announce") == ["got tails"]  # set_display_name names the Argo task
    assert not got["local"].error, got["local"].error
    assert got["differences"] == [], "\n".join(got["differences"])


def test_cron_workflow_fires_and_is_deleted(batch):
    got = batch.scenario("cron")
    assert got["run"].phase == "Succeeded", batch.cluster.report(got["run"])
    assert got["deleted"], "the CronWorkflow was not deleted within 30 s"
    o = Outcome(got["run"].phase, got["argo"])
    assert o.outputs("echo-types", "i") == ["3"]
    assert not got["local"].error, got["local"].error
    assert got["differences"] == [], "\n".join(got["differences"])


@pytest.mark.parametrize("name", [pytest.param("braces-constant", marks=mark("constant", "braces-constant"))])
def test_constant_with_argo_syntax_arrives_unchanged(cluster, argo, name):
    """The guide: constants are data; `{{` arrives unchanged. Translate, run on Argo, compare."""
    workflow = argo(e2e.braces_constant, enable_caching=False)
    run = cluster.run_argo(workflow, timeout=300)
    try:
        assert run.phase == "Succeeded", cluster.report(run)
        assert decoded(run.output("after", "Output")) == "{{workflow.name}} and {{x}}!"
    finally:
        cluster.delete("Workflow", run.name)
