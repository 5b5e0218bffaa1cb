"""First pipelines on the real Argo controller: values, types and artifacts through real pods."""
from __future__ import annotations

import json

from tests.pipelines import dataflow


def test_param_types_round_trip(cluster, argo):
    run = cluster.run_argo(argo(dataflow.param_types), timeout=600)
    assert run.phase == "Succeeded", cluster.report(run)
    got = json.loads(run.output("typed-check", "Output"))
    assert got == {"s": "plain", "i": 3, "f": 0.25, "b": True, "lst": [1, "two", 3.5],
                   "d": {"k": [1, 2], "n": False}}
    assert run.pods() == 2


def test_artifacts_metadata_and_condition(cluster, argo):
    run = cluster.run_argo(argo(dataflow.artifact_flow, parameters=(("rows", "5"),)), timeout=600)
    assert run.phase == "Succeeded", cluster.report(run)
    assert run.output("inspect-model", "Output") == "5|5|0.5|True"
    assert run.output("deploy", "Output") == "deployed:5|5|0.5|True"
