"""The seed article's training pipeline, end to end with `translate run`: its real packages
(pandas, scikit-learn, joblib, xgboost) installed by KFP's own pip line into the image's
environment, a CSV served on loopback, the embedded S3 server. A second run reuses every step
from the cache; changing one parameter re-runs exactly the steps downstream of it."""
from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import pytest

from translator.cli import main as translate_main
from .seed_data import write_seed_csv

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "ml_training_pipeline.py"


@pytest.fixture(scope="module")
def dataset_url(tmp_path_factory):
    """A CSV with a `target` column (two informative features, some noise), served on loopback."""
    root = tmp_path_factory.mktemp("www")
    write_seed_csv(root / "data.csv")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/data.csv"
    server.shutdown()


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("seed")


def run(work: Path, url: str, name: str, *params: str) -> dict:
    summary = work / f"{name}.json"
    argv = ["run", str(EXAMPLE), "-p", f"dataset_url={url}", "-p", "n_estimators=20", *params,
            "--work-dir", str(work / "wd"), "--summary", str(summary), "--jobs", "2"]
    assert translate_main(argv) == 0
    return json.loads(summary.read_text())


def by_task(summary: dict) -> dict:
    return {n["task"]: n for n in summary["nodes"]}


def test_training_pipeline_runs_end_to_end(work, dataset_url):
    first = by_task(run(work, dataset_url, "first"))
    assert {k: v["phase"] for k, v in first.items()} == {
        "load-data": "Succeeded", "preprocess-data": "Succeeded", "train-model": "Succeeded",
        "evaluate-model": "Succeeded", "deploy-model": "Succeeded"}
    assert not any(n["cached"] for n in first.values())
    loaded = first["load-data"]["outputs"]["artifacts"]["output_dataset"]
    assert Path(loaded).read_text().splitlines()[0] == "f0,f1,f2,f3,target"
    assert json.loads(Path(loaded + ".metadata.json").read_text()) == {"num_rows": 400, "num_columns": 5}
    accuracy = first["evaluate-model"]["outputs"]["parameters"]["Output"]
    assert isinstance(accuracy, float) and accuracy >= 0.85  # so the deploy branch ran
    metrics = json.loads(Path(first["train-model"]["outputs"]["artifacts"]["metrics_output"] + ".metadata.json").read_text())
    assert metrics["n_estimators"] == 20 and 0.5 < metrics["cv_accuracy_mean"] <= 1.0
    model = json.loads(Path(first["train-model"]["outputs"]["artifacts"]["model_output"] + ".metadata.json").read_text())
    assert model == {"framework": "xgboost", "n_estimators": 20}
    cm = json.loads(Path(first["evaluate-model"]["outputs"]["artifacts"]["metrics_output"] + ".metadata.json").read_text())
    assert sum(sum(r["row"]) for r in cm["confusionMatrix"]["rows"]) == 80  # the 20% test split


def test_second_run_is_all_cached_and_one_parameter_reruns_its_downstream(work, dataset_url):
    again = by_task(run(work, dataset_url, "again"))
    assert all(n["cached"] for n in again.values()) and len(again) == 5
    first = by_task(json.loads((work / "first.json").read_text()))
    # a cache hit gives the first run's values and artifact metadata (the summary shows both)
    assert again["evaluate-model"]["outputs"] == {
        "parameters": first["evaluate-model"]["outputs"]["parameters"],
        "metadata": first["evaluate-model"]["outputs"]["metadata"],
        "artifacts": again["evaluate-model"]["outputs"]["artifacts"]}
    changed = by_task(run(work, dataset_url, "changed", "-p", "max_depth=3"))
    assert sorted(k for k, n in changed.items() if not n["cached"]) == ["deploy-model", "evaluate-model", "train-model"]
    assert sorted(k for k, n in changed.items() if n["cached"]) == ["load-data", "preprocess-data"]


def test_hyperparameter_search_trains_every_config(work, dataset_url):
    """The seed's hyperparameter search: a ParallelFor over dicts (at most two at a time)."""
    summary = work / "hp.json"
    argv = ["run", str(EXAMPLE.with_name("hp_search_pipeline.py")), "-p", f"dataset_url={dataset_url}",
            "--work-dir", str(work / "wd"), "--summary", str(summary), "--jobs", "2"]
    assert translate_main(argv) == 0
    nodes = json.loads(summary.read_text())["nodes"]
    trained = sorted((n for n in nodes if n["task"] == "train-model"), key=lambda n: n["iteration"])
    assert [n["iteration"] for n in trained] == [0, 1, 2] and all(n["phase"] == "Succeeded" for n in trained)
    seen = [json.loads(Path(n["outputs"]["artifacts"]["model_output"] + ".metadata.json").read_text()) for n in trained]
    assert [m["n_estimators"] for m in seen] == [100, 200, 300]
