"""A 100 KB string output handed from one task to another on the real Tekton controller: over
Tekton's result limit, the value goes through the artifact store and the result holds a small
reference (docs/tekton.md, "Results size"). The pipeline is tests/test_tekton_run.py's."""
from __future__ import annotations

import hashlib

import translator
from tests import test_tekton_run as local


def test_a_100kb_string_output_passes_through_the_store(cluster):
    n = 100_000
    [manifest] = translator.translate(local.big_flow, backend="tekton", namespace=cluster.namespace,
                                      parameters=(("n", str(n)),), enable_caching=False)
    name = cluster.create(manifest)["metadata"]["name"]
    pr = cluster.wait_pipelinerun(name, timeout=900)
    results = {tr["metadata"]["labels"]["tekton.dev/pipelineTask"]:
               {r["name"]: r["value"] for r in tr.get("status", {}).get("results", [])}
               for tr in cluster.taskruns(name)}
    assert next(c for c in pr["status"]["conditions"] if c["type"] == "Succeeded")["status"] == "True", pr["status"]
    value = local._big_value(n)
    assert results["big"]["Output"].startswith("__KFP_REF__:kfp/" + name + "/big/")
    got = local._decode(results["measure"]["Output"]).replace("$$", "$")
    assert got == "%d:%s:%s" % (len(value), hashlib.sha256(value.encode()).hexdigest(), local._big_value(20))
