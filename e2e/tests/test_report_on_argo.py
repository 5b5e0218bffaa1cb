"""The run report (issue 12) of a Workflow that ran on the real Argo controller: the seed's training
pipeline of the session's batch, its status as the API server gives it and its artifacts from the
cluster's S3 store. The page must show what the run logged: train-model's metrics with their exact
values and evaluate-model's confusion matrix."""
from __future__ import annotations

import json

import pytest

from tests.test_report import dom, picture, section, table_rows
from translator.report import build_report

CASE = "seed-training"


def _reader(cluster):
    s3 = cluster.s3_client()

    def read(uri: str) -> bytes:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return read


def test_report_of_the_seed_run_on_argo(batch):
    if CASE in batch.errors:
        if batch.errors[CASE].startswith("skip:"):
            pytest.skip(batch.errors[CASE][5:].strip())
        pytest.fail(f"{CASE}: {batch.errors[CASE]}", pytrace=False)
    side = batch.argo(CASE)
    assert side.phase == "Succeeded", side.error or side.phase
    workflow = side.run.workflow
    page = dom(build_report(workflow, "argo", _reader(batch.cluster)))
    status = {n["displayName"]: n for n in workflow["status"]["nodes"].values()}
    for task in ("load-data", "preprocess-data", "train-model", "evaluate-model", "deploy-model"):
        assert section(page, task).attrs["data-phase"] == status[task]["phase"] == "Succeeded"
    logged = json.loads(next(p["value"] for p in status["train-model"]["outputs"]["parameters"]
                             if p["name"] == "metrics_output-metadata"))
    shown = table_rows(picture(page, "train-model", "metrics_output").one("table", cls="metrics"))
    assert {k: json.loads(v) for k, v in shown.items()} == logged and logged["n_estimators"] == 20
    matrix = picture(page, "evaluate-model", "metrics_output").one("table", cls="confusion-matrix")
    cells = [[int(td.text()) for td in tr.all("td")] for tr in matrix.one("tbody").all("tr")]
    accuracy = float(next(p["value"] for p in status["evaluate-model"]["outputs"]["parameters"]
                          if p["name"] == "Output"))
    total = sum(map(sum, cells))
    assert total == 80 and abs(accuracy - (cells[0][0] + cells[1][1]) / total) < 1e-9  # the 20% test split
