"""`translate run` with what a cluster would give: Secrets and ConfigMaps from flags, env files or
a kubeconfig context, checked before any step runs; clear one-line errors; a summary of user
values and artifact metadata; a closing line naming a folder that exists. Real subprocess steps."""
from __future__ import annotations

import json
import re
from pathlib import Path

from translator.cli import main as translate_main

PIPELINE = f"{Path(__file__).parent / 'pipelines' / 'kube_objects.py'}:kube_objects"


def run(tmp_path, *argv):
    return translate_main(["run", *argv, "--work-dir", str(tmp_path / "work")])


def test_secrets_and_config_maps_come_from_flags_and_env_files(tmp_path, capsys):
    env_file = tmp_path / "settings.env"
    env_file.write_text("# the ConfigMap's data\nmode=fast=yes\n")
    summary = tmp_path / "s.json"
    code = run(tmp_path, PIPELINE, "--secret", "db-creds:password=hunter2 $(x) {{y}}",
               "--from-env-file", f"configmap/settings={env_file}", "--summary", str(summary))
    err = capsys.readouterr().err
    assert code == 0, err
    nodes = {n["task"]: n for n in json.loads(summary.read_text())["nodes"]}
    # user values, never our base64 form; artifact metadata in the summary
    assert nodes["first"]["outputs"]["parameters"]["Output"] == "{{workflow.name}} stays"
    assert nodes["first"]["outputs"]["metadata"] == {"out": {"rows": 2}}
    assert nodes["uses-objects"]["outputs"]["parameters"]["Output"] == "{{workflow.name}} stays|hunter2 $(x) {{y}}|fast=yes"
    folder = re.search(r"files in (\S+)", err).group(1)
    assert Path(folder).is_dir()


def test_what_is_missing_is_named_before_any_step_runs(tmp_path, capsys):
    assert run(tmp_path, PIPELINE, "--secret", "db-creds:password=x") == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "task 'uses-objects'" in err and "ConfigMap 'settings'" in err
    assert "--from-env-file configmap/settings=FILE" in err
    assert not (tmp_path / "work" / "pods").exists()  # no step ran


def test_a_kubeconfig_context_that_does_not_exist_is_one_line(tmp_path, capsys, monkeypatch):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "here",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "here", "context": {"cluster": "c", "user": "u", "namespace": "ml"}}]}))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    assert run(tmp_path, PIPELINE, "--kube-context", "elsewhere") == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--kube-context elsewhere: no such context" in err


def test_an_unreachable_s3_endpoint_is_one_line(tmp_path, capsys):
    assert run(tmp_path, PIPELINE, "--s3-endpoint", "http://127.0.0.1:9", "--bucket", "b") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("translate run: ") and "not reachable" in err and "\n" not in err
