"""Scenarios that need runs in order or cluster objects beyond one Workflow: caching across
resubmits, stop and terminate, a WorkflowTemplate submitted by reference, a CronWorkflow that
fires. Each runs in its own batch thread and returns a dict the tests read; `summary` is what
e2e/RESULTS.md shows."""
from __future__ import annotations

import time
from typing import Any

from e2e.differential import differences, from_argo
from e2e.harness import ArgoRun
from tests.pipelines import caching, control, dataflow

from . import e2e_pipelines as e2e
from .cases import Case

# cache_chain runs in order: (parameters, tasks that must run, tasks the cache must answer)
CACHE_STEPS = [
    ({"seed": "1", "label": "a"}, ["count", "double", "source"], []),
    ({"seed": "1", "label": "a"}, [], ["count", "double", "source"]),  # a resubmit is memoized
    ({"seed": "1", "label": "b"}, ["count"], ["double", "source"]),  # only what is downstream re-runs
    ({"seed": "3", "label": "a"}, ["source"], ["count", "double"]),  # same bytes: consumers still hit
    ({"seed": "2", "label": "a"}, ["count", "double", "source"], []),
]
UPSTREAM_OFF_STEPS = [
    ({"seed": "5"}, ["count", "double", "source"], []),
    ({"seed": "5"}, ["source"], ["count", "double"]),  # KFP would miss here: content, not identity
]


def _argo_run(batch, manifest: dict[str, Any], timeout: float = 600) -> tuple[ArgoRun, dict]:
    run = batch.cluster.run_argo(manifest, timeout=timeout)
    return run, from_argo(run.workflow, batch.cluster.fetch_artifact, manifest)


def _ran(records: dict) -> tuple[list[str], list[str]]:
    pods = {k: r for k, r in records.items() if r.kind == "Pod"}
    return sorted(k for k, r in pods.items() if not r.cached), sorted(k for k, r in pods.items() if r.cached)


def caching_scenario(batch) -> dict[str, Any]:
    """Argo's memoization against a fresh cache ConfigMap, and the runner against a fresh work
    dir, over the same sequence of submissions."""
    steps = []
    for label, pipeline, sequence in (("chain", caching.cache_chain, CACHE_STEPS),
                                      ("upstream-off", caching.cache_upstream_off, UPSTREAM_OFF_STEPS)):
        # one cache per sequence (the two pipelines share `double`: one cache would let the
        # second sequence hit the first's entries), as the runner has one work dir per sequence
        cm = batch.cluster.cache_configmap(f"kfpt-e2e-cache-{label}-{batch.sid}")
        batch.cleanup.append(lambda cm=cm: batch.cluster.delete_configmap(cm))
        work = batch.tmp / "local" / f"cache-{label}"
        bucket = f"local-{batch.sid}-cache-{label}"
        for i, (params, want_ran, want_cached) in enumerate(sequence):
            case = Case(f"cache-{label}-{i}", lambda ctx, p=pipeline: p, lambda ctx, p=params: p,
                        options={"enable_caching": None, "cache_configmap": cm})
            manifest = batch.translate(case)
            batch.cleanup.append(lambda n=manifest["metadata"]["name"]: batch.cluster.delete("Workflow", n))
            run, argo = _argo_run(batch, manifest)
            local = batch.run_local(case.name, manifest, {}, work=work, bucket=bucket)
            steps.append({"name": case.name, "params": params, "want": (want_ran, want_cached), "run": run,
                          "argo": argo, "argo_ran": _ran(argo), "local": local,
                          "local_ran": _ran(local.records) if not local.error else None,
                          "differences": differences(argo, local.records) if not local.error else [local.error]})
    return {"steps": steps, "summary": [{"step": s["name"], "params": s["params"], "argo": s["argo_ran"],
                                         "runner": s["local_ran"], "differences": s["differences"]} for s in steps]}


def shutdown_scenario(batch) -> dict[str, Any]:
    """`argo stop` and `argo terminate` (spec.shutdown) while the step sleeps."""
    out: dict[str, Any] = {}
    names = {}
    for mode in ("Stop", "Terminate"):
        case = Case(f"shutdown-{mode.lower()}", lambda ctx: e2e.long_step, lambda ctx: {"seconds": "600"})
        manifest = batch.translate(case)
        names[mode] = batch.cluster.submit_argo(manifest)
        batch.cleanup.append(lambda n=names[mode]: batch.cluster.delete("Workflow", n))
    for mode, name in names.items():
        batch.cluster.wait_pod_running(name, timeout=300)
        t0 = time.monotonic()
        batch.cluster.stop_workflow(name, mode)
        run = batch.cluster.wait_workflow(name, timeout=180)
        out[mode] = {"run": run, "seconds_to_end": time.monotonic() - t0,
                     "records": from_argo(run.workflow, batch.cluster.fetch_artifact)}
    out["summary"] = {mode: {"phase": v["run"].phase, "message": v["run"].workflow["status"].get("message", ""),
                             "nodes": {k: r.phase for k, r in v["records"].items()}}
                      for mode, v in out.items()}
    return out


def template_ref_scenario(batch) -> dict[str, Any]:
    """A WorkflowTemplate, and a Workflow that names it (`workflowTemplateRef`) with an argument."""
    case = Case("wftmpl", lambda ctx: control.branches)
    template = batch.translate(case, kind="WorkflowTemplate", name=f"e2e-branches-{batch.sid}")
    batch.cluster.create(template)
    batch.cleanup.append(lambda: batch.cluster.delete("WorkflowTemplate", template["metadata"]["name"]))
    name = f"e2e-wftref-{batch.sid}"
    workflow = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": name},
                "spec": {"workflowTemplateRef": {"name": template["metadata"]["name"]},
                         "arguments": {"parameters": [{"name": "seed", "value": "7"}]}}}
    batch.cleanup.append(lambda: batch.cluster.delete("Workflow", name))
    run = batch.cluster.run_argo(workflow, timeout=600)
    argo = from_argo(run.workflow, batch.cluster.fetch_artifact, template)
    as_run = dict(template, metadata={"name": name})  # the runner runs the template under the same name
    local = batch.run_local("wftref", as_run, {"seed": "7"})
    diffs = differences(argo, local.records) if not local.error else [local.error]
    return {"run": run, "argo": argo, "local": local, "differences": diffs,
            "summary": {"phase": run.phase, "runner": local.phase, "differences": diffs}}


def cron_scenario(batch) -> dict[str, Any]:
    """A CronWorkflow firing every minute: one Workflow it created succeeds; then it is deleted."""
    case = Case("cron", lambda ctx: dataflow.param_types)
    cron = batch.translate(case, kind="CronWorkflow", name=f"e2e-cron-{batch.sid}", schedule="* * * * *",
                           concurrency_policy="Forbid")
    batch.cluster.create(cron)
    cron_name = cron["metadata"]["name"]
    batch.cleanup.append(lambda: batch.cluster.delete("CronWorkflow", cron_name))
    deadline = time.monotonic() + 240
    made: list[dict] = []
    while time.monotonic() < deadline:
        made = batch.cluster.workflows_of_cron(cron_name)
        if made:
            break
        time.sleep(2)
    assert made, f"cronworkflow {cron_name}: no Workflow created within 240 s: " \
                 f"{batch.cluster.custom.get_namespaced_custom_object('argoproj.io', 'v1alpha1', batch.cluster.namespace, 'cronworkflows', cron_name).get('status')}"
    first = sorted(made, key=lambda w: w["metadata"]["creationTimestamp"])[0]["metadata"]["name"]
    run = batch.cluster.wait_workflow(first, timeout=600)
    batch.cluster.delete("CronWorkflow", cron_name)
    gone = _gone(batch, cron_name)
    for wf in batch.cluster.workflows_of_cron(cron_name):
        batch.cluster.delete("Workflow", wf["metadata"]["name"])
    argo = from_argo(run.workflow, batch.cluster.fetch_artifact, cron)
    from translator.runner.cli import load
    import tempfile
    import yaml

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        yaml.safe_dump(cron, fh)
    manifest, _ = load(fh.name, [])  # `translate run cron.yaml` runs its workflowSpec
    local = batch.run_local("cron", manifest, {})
    diffs = differences(argo, local.records) if not local.error else [local.error]
    return {"run": run, "argo": argo, "local": local, "deleted": gone, "differences": diffs,
            "summary": {"workflow": first, "phase": run.phase, "deleted": gone, "runner": local.phase,
                        "differences": diffs}}


def _gone(batch, cron: str, timeout: float = 30) -> bool:
    from kubernetes.client.exceptions import ApiException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            batch.cluster.custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", batch.cluster.namespace,
                                                              "cronworkflows", cron)
        except ApiException as exc:
            if exc.status == 404:
                return True
            raise
        time.sleep(1)
    return False


SCENARIOS = {"cron": cron_scenario, "caching": caching_scenario, "shutdown": shutdown_scenario,
             "template-ref": template_ref_scenario}
