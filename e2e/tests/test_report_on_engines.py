"""`translate runs get RUN --report` on runs of the real controllers, both engines: the Tekton
reader on a real PipelineRun and its TaskRuns, and on both engines a container component's
Markdown, HTML and metrics file (types known from the pipeline only). The page is parsed and
opened in headless Chromium (tests/test_report.py's helpers): what a person would see."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from e2e.harness import kubeconfig_path
from tests.test_report import dom, open_in_browser, picture, rgb, section, table_rows

from .client_pipelines import report_pipeline
from .test_client import client_selected, make_client, manifests, selectable  # noqa: F401 - the fixtures

REPO = Path(__file__).resolve().parents[2]


def _check_page(page, backend: str) -> None:
    for task in ("score", "container-writer"):
        assert section(page, task).attrs["data-phase"] == "Succeeded", task
    assert table_rows(picture(page, "score", "scores").one("table", cls="metrics")) == {"accuracy": "0.875",
                                                                                         "examples": "120"}
    quality = picture(page, "score", "quality")
    cells = [[td.text() for td in tr.all("td")] for tr in quality.one("table", cls="confusion-matrix").one("tbody").all("tr")]
    assert cells == [["50", "10"], ["5", "55"]]
    assert quality.one("figure", cls="roc-curve").one("svg")
    assert picture(page, "score", "notes").one("h1").text() == "Scores"
    # the container component: no shim, types from the pipeline (the client's annotation)
    summary = picture(page, "container-writer", "summary")
    assert summary.one("h1").text() == "Container summary", backend
    assert [td.text() for td in summary.one("table").all("td")] == ["rows", "42"]
    assert "<h1>Container page</h1>" in picture(page, "container-writer", "page").one("iframe").attrs["srcdoc"]
    assert table_rows(picture(page, "container-writer", "scores").one("table", cls="metrics")) == {"rmse": "0.25",
                                                                                                    "rows": "42"}
    assert table_rows(picture(page, "container-writer", "legacy").one("table", cls="metrics")) == {"auc": "0.91"}


@selectable
@pytest.mark.parametrize("backend", ["tekton", "argo"])
def test_runs_get_report_of_a_real_run(manifests, backend, tmp_path):  # noqa: F811
    c = make_client(backend)
    run = c.create_run_from_pipeline_func(report_pipeline, run_name=f"report {backend}")
    done = c.wait_for_run_completion(run.run_id, timeout=400)
    assert done.state == "SUCCEEDED", done.message
    target = tmp_path / "report.html"
    env = {**os.environ, "KUBECONFIG": str(kubeconfig_path())}
    cli = subprocess.run([sys.executable, "-m", "translator.cli", "runs", "get", run.run_id, "--backend", backend,
                          "--report", str(target)], capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.rstrip().endswith(f"report written to {target}")
    page = dom(target.read_text(encoding="utf-8"))
    assert page.one("head").one("title").text().endswith(": Succeeded")
    _check_page(page, backend)
    rendered, counts = open_in_browser(target, tmp_path)
    _check_page(rendered, backend)
    for cell in picture(rendered, "score", "quality").all("td", cls="cm-cell"):
        colour = rgb(cell.attrs["style"])
        if colour != (255, 255, 255):
            assert counts.get(colour, 0) >= 1000, (cell.text(), colour)  # the matrix is painted
    assert counts.get((0xe6, 0xf4, 0xea), 0) >= 2 * 1000  # two graph boxes in the Succeeded colour
    c.delete_run(run.run_id)
