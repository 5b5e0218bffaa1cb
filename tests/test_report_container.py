"""Container components' artifacts in the report: their pods carry no shim SPEC, so the type of
`summary` (system.Markdown), `page` (system.HTML) and `scores` (system.Metrics, a JSON file) is
known only from the pipeline. The client writes it on the run (translator.report.types); here a
real local run (the runner, artifacts in a real S3 server) of e2e/tests/client_pipelines.py's
report_pipeline, annotated as the client annotates it, and the page parsed as HTML."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

import translator
from translator.report import build_report, types
from translator.report.local import workflow
from translator.runner.engine import Runner

from .test_report import dom, picture, table_rows

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from e2e.tests.client_pipelines import report_pipeline  # noqa: E402

BUCKET = "report-containers"


@pytest.fixture(scope="module")
def run(minio, tmp_path_factory):
    work = tmp_path_factory.mktemp("report-containers")
    store = minio.store(BUCKET)
    [manifest] = translator.translate(report_pipeline, backend="argo", artifact_bucket=BUCKET)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", minio.access_key)
        env.setenv("AWS_SECRET_ACCESS_KEY", minio.secret_key)
        plain = workflow(Runner(work / "plain", store=store, jobs=1, venv_dir=None).run(manifest, {}), BUCKET, {})
        types.annotate(manifest, types.declared(report_pipeline))
        annotated = workflow(Runner(work / "wd", store=store, jobs=1, venv_dir=None).run(manifest, {}), BUCKET, {})
    s3 = minio.client()

    def read(uri: str) -> bytes:
        bucket, key = uri[len("s3://"):].split("/", 1)
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return plain, annotated, read


def test_declared_types_are_the_pipelines():
    assert types.declared(report_pipeline) == {
        "container-writer": {"legacy": "system.Metrics", "page": "system.HTML", "scores": "system.Metrics",
                             "summary": "system.Markdown"},
        "score": {"notes": "system.Markdown", "quality": "system.ClassificationMetrics", "scores": "system.Metrics"}}


def test_container_artifacts_get_their_pictures(run):
    plain, annotated, read = run
    assert {n["phase"] for n in annotated["status"]["nodes"].values()} == {"Succeeded"}
    page = dom(build_report(annotated, "argo", read))
    summary = picture(page, "container-writer", "summary")
    assert summary.attrs["data-schema"] == "system.Markdown"
    assert summary.one("h1").text() == "Container summary"
    assert [td.text() for td in summary.one("table").all("td")] == ["rows", "42"]
    frame = picture(page, "container-writer", "page").one("iframe", cls="html-artifact")
    assert "<h1>Container page</h1>" in frame.attrs["srcdoc"]
    scores = table_rows(picture(page, "container-writer", "scores").one("table", cls="metrics"))
    assert scores == {"rmse": "0.25", "rows": "42"}
    legacy = table_rows(picture(page, "container-writer", "legacy").one("table", cls="metrics"))
    assert legacy == {"auc": "0.91"}
    # the lightweight component's pictures are unchanged (its types come from the shim SPEC)
    assert table_rows(picture(page, "score", "scores").one("table", cls="metrics")) == {"accuracy": "0.875",
                                                                                         "examples": "120"}
    assert len(picture(page, "score", "quality").all("td", cls="cm-cell")) == 4


def test_without_the_annotation_container_artifacts_are_only_listed(run):
    """Today's behaviour for a Workflow made without the client (kubectl, argo submit): listed, no picture."""
    plain, _, read = run
    page = dom(build_report(plain, "argo", read))
    output = page.one("div", id="run-output")
    assert not output.all("div", cls="visual", data_task="container-writer")
    assert output.all("div", cls="visual", data_task="score")


def test_a_metrics_file_that_is_not_metrics_says_so():
    from translator.report.model import Artifact
    from translator.report.views import view

    art = Artifact("scores", "system.Metrics", "s3://b/k")
    assert "not a JSON object of metrics" in view(art, lambda uri: b"[1, 2]")
    assert "could not read s3://b/k" in view(art, lambda uri: (_ for _ in ()).throw(OSError("gone")))
