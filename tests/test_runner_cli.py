"""`translate run` as a user runs it: inputs (Python pipeline, Workflow file), typed parameters,
the summary file, exit statuses, the live view and logs, artifacts in a named S3 bucket."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import translator
from translator.cli import dump_yaml
from translator.cli import main as translate_main

PIPELINES = Path(__file__).parent / "pipelines"


@pytest.fixture()
def s3(minio, tmp_path, monkeypatch):
    """`--s3-endpoint` at a real S3 server (MinIO); credentials from the environment, as users give them."""
    bucket = "cli-" + tmp_path.name.lower().replace("_", "-")[-40:]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", minio.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", minio.secret_key)
    return ["--s3-endpoint", minio.endpoint, "--bucket", bucket], bucket


def run(tmp_path, *argv):
    return translate_main(["run", *argv, "--work-dir", str(tmp_path / "work")])


def test_pipeline_summary_is_typed_and_artifacts_are_downloaded(tmp_path, s3, minio, capsys):
    flags, bucket = s3
    summary = tmp_path / "summary.json"
    code = run(tmp_path, f"{PIPELINES}/dataflow.py:artifact_flow", "-p", "rows=5", "-p", "threshold=0.5",
               "--summary", str(summary), *flags)
    assert code == 0
    text = summary.read_text()
    data = json.loads(text)
    assert set(data) == {"phase", "nodes"} and data["phase"] == "Succeeded"
    for node in data["nodes"]:
        assert set(node) == {"task", "iteration", "phase", "cached", "outputs"}
        assert set(node["outputs"]) == {"parameters", "artifacts", "metadata"}
    nodes = {n["task"]: n for n in data["nodes"]}
    assert sorted(nodes) == ["deploy", "inspect-model", "make-data", "train"]
    made = nodes["make-data"]
    assert made["iteration"] is None and made["cached"] is False
    assert made["outputs"]["parameters"] == {"Output": 50, "report": "wrote 5 rows"}  # no -metadata/-digest
    assert re.search(r'"Output": 50[,\n]', text)  # an int is a JSON number without a fraction
    assert nodes["train"]["outputs"]["parameters"] == {"Output": 0.5}
    data_file = Path(made["outputs"]["artifacts"]["data"])
    assert data_file.read_text() == "".join(f"{n},{n * n}\n" for n in range(5))
    assert json.loads(data_file.with_name("data.metadata.json").read_text()) == {"rows": 5, "columns": ["n", "square"]}
    model_dir = Path(nodes["train"]["outputs"]["artifacts"]["model"])
    assert (model_dir / "weights.txt").read_text() == "5"
    # the artifacts went to the named bucket under the manifest's keys, `{{workflow.name}}` and
    # `{{pod.name}}` substituted as on a cluster
    [wf] = translator.translate(f"{PIPELINES}/dataflow.py:artifact_flow", backend="argo")
    [spec] = [a["s3"]["key"] for t in wf["spec"]["templates"] if t["name"] == "make-data"
              for a in t["outputs"]["artifacts"] if a["name"] == "data"]
    pattern = re.escape(spec).replace(re.escape("{{workflow.name}}"), r"artifact-flow-[a-z0-9]{5}")
    pattern = pattern.replace(re.escape("{{pod.name}}"), r"artifact-flow-[a-z0-9]{5}-make-data-[0-9a-f]{10}")
    keys = [o["Key"] for o in minio.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert any(re.fullmatch(pattern, k) for k in keys), (pattern, keys)
    err = capsys.readouterr().err
    assert re.search(r"ok +[0-9.]+s  make-data", err) and "condition-1/deploy" in err
    assert "Succeeded in" in err


def test_workflow_file_input_with_parameter_override(tmp_path):
    flags = []  # the embedded store
    wf = tmp_path / "wf.yaml"
    wf.write_text(dump_yaml(translator.translate(f"{PIPELINES}/dataflow.py:artifact_flow", backend="argo")))
    summary = tmp_path / "s.json"
    assert run(tmp_path, str(wf), "-p", "rows=3", "-p", "threshold=0.9", "--summary", str(summary), *flags) == 0
    nodes = {n["task"]: n for n in json.loads(summary.read_text())["nodes"]}
    assert nodes["make-data"]["outputs"]["parameters"]["Output"] == 30
    assert "deploy" not in nodes  # 0.3 < 0.9: the condition skipped the branch


def test_failed_run_exits_1_with_a_summary(tmp_path, capsys):
    flags = []  # the embedded store
    marker = tmp_path / "m"
    marker.mkdir()
    summary = tmp_path / "s.json"
    code = run(tmp_path, f"{PIPELINES}/caching.py:fail_stops", "-p", f"marker_dir={marker}", "--summary", str(summary),
               "--logs", *flags)
    assert code == 1
    data = json.loads(summary.read_text())
    assert data["phase"] == "Failed"
    assert [(n["task"], n["phase"]) for n in data["nodes"]] == [("after", "Omitted"), ("flaky", "Failed")]
    err = capsys.readouterr().err
    assert "FAILED" in err and "flaky | " in err and "attempt 2 fails on purpose" in err  # --logs: the step's log


@pytest.mark.parametrize("argv,message", [
    ([f"{PIPELINES}/dataflow.py:artifact_flow", "-p", "rows=many"], "not a valid NUMBER_INTEGER"),
    (["no/such/file.yaml"], "no such file"),
    ([f"{PIPELINES}/dataflow.py:artifact_flow", "--s3-endpoint", "http://127.0.0.1:9"], "needs --bucket"),
])
def test_errors_are_one_line_and_exit_2(tmp_path, capsys, argv, message):
    assert run(tmp_path, *argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("translate run: ") and message in err and "\n" not in err


def test_unsupported_workflow_is_refused_with_exit_2(tmp_path, capsys):
    wf = tmp_path / "steps.yaml"
    wf.write_text(dump_yaml([{"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": {"name": "s"},
                              "spec": {"entrypoint": "main", "templates": [
                                  {"name": "main", "steps": [[{"name": "a", "template": "a"}]]},
                                  {"name": "a", "container": {"image": "busybox", "command": ["true"]}}]}}]))
    assert run(tmp_path, str(wf)) == 2
    assert "field 'steps' is not supported" in capsys.readouterr().err
