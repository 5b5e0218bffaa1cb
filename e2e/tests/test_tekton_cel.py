"""CEL `when` (the alpha opt-in `--tekton-alpha cel-when`) on the real Tekton controller.

The stock install keeps `enable-cel-in-whenexpression` off, so this test turns it on in the
`feature-flags` ConfigMap of the cluster it was given (Tekton's controller and webhook watch
that ConfigMap), runs the pipeline of tests/test_tekton_cel.py, and restores the ConfigMap's
value whatever happens. e2e/cluster is not changed."""
from __future__ import annotations

import time

import pytest

import translator
from tests import test_tekton_cel as local

NAMESPACE, CONFIGMAP, FLAG = "tekton-pipelines", "feature-flags", "enable-cel-in-whenexpression"


@pytest.fixture
def cel_enabled(cluster):
    cm = cluster.core.read_namespaced_config_map(CONFIGMAP, NAMESPACE)
    before = (cm.data or {}).get(FLAG)
    cluster.core.patch_namespaced_config_map(CONFIGMAP, NAMESPACE, {"data": {FLAG: "true"}})
    try:
        yield
    finally:
        cluster.core.patch_namespaced_config_map(CONFIGMAP, NAMESPACE, {"data": {FLAG: before or "false"}})


def _create(cluster, manifest, timeout=60.0):
    """The webhook sees the ConfigMap change a moment later: retry while it still refuses CEL."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return cluster.create(manifest)["metadata"]["name"]
        except Exception as exc:  # the API server's refusal, relayed from Tekton's webhook
            if FLAG not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(3)


@pytest.mark.parametrize("x,b,ran", [("5", "true", {"big", "param"}), ("3", "false", {"not small, false", "param"})])
def test_cel_when_on_the_real_controller(cluster, cel_enabled, x, b, ran):
    [manifest] = translator.translate(local.cel_conditions, backend="tekton", namespace=cluster.namespace,
                                      enable_caching=False, tekton_alpha=("cel-when",),
                                      parameters=(("x", x), ("b", b)))
    assert manifest["metadata"]["annotations"]["kfp-translate.io/tekton-feature-flags"] == f"{FLAG}=true"
    name = _create(cluster, manifest)
    pr = cluster.wait_pipelinerun(name, timeout=900)
    assert next(c for c in pr["status"]["conditions"] if c["type"] == "Succeeded")["status"] == "True", pr["status"]
    runs = cluster.taskruns(name)
    said = {r["value"] for tr in runs for r in tr.get("status", {}).get("results", [])
            if tr["metadata"]["labels"]["tekton.dev/pipelineTask"].startswith("condition")
            and not tr["metadata"]["labels"]["tekton.dev/pipelineTask"].endswith("-condition") and r["name"] == "Output"}
    assert said == ran
    evaluations = [tr for tr in runs if tr["metadata"]["labels"]["tekton.dev/pipelineTask"].endswith("-condition")]
    assert len(evaluations) == 1  # only the pipeline input's condition has an evaluation task
