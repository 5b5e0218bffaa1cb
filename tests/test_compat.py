"""IR written by a spread of kfp 2.x releases translates, passes Argo's lint and runs.

tests/compat/kfp-<version>/ holds the project's own test pipelines (tests/pipelines, plus
tests/compat/pipelines.py) as each release's compiler wrote them; tests/compat/regenerate.sh
recompiles them, one throwaway venv per release. `translate run` executes the steps with the
kfp release the IR pins (KFP's own `pip install kfp==<version>` line), as KFP runs them.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import translator
from translator import lint
from translator.cli import main as translate_main

from .test_lint import argolint  # noqa: F401  (session fixture: builds the Go helper)

COMPAT = Path(__file__).resolve().parent / "compat"
VERSIONS = sorted((p.name.removeprefix("kfp-") for p in COMPAT.glob("kfp-*")), key=lambda v: tuple(map(int, v.split("."))))
CASES = sorted(COMPAT.glob("kfp-*/*.yaml"))


def test_a_spread_of_releases_is_covered():
    assert [v.rsplit(".", 1)[0] for v in VERSIONS] == ["2.0", "2.4", "2.7", "2.10", "2.14", "2.17"]
    for version in VERSIONS:
        ir = yaml.safe_load((COMPAT / f"kfp-{version}" / "pipelines.loop_collect_models.yaml").read_text())
        assert ir["sdkVersion"] == f"kfp-{version}"
    assert len(list((COMPAT / "kfp-2.17.3").glob("*.yaml"))) >= 19


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_release_ir_translates(path: Path):
    [wf] = translator.translate(str(path))
    assert wf["kind"] == "Workflow"


def test_release_ir_passes_argo_lint(argolint):  # noqa: F811
    docs = []
    for path in CASES:
        [wf] = translator.translate(str(path))
        for p in wf["spec"].get("arguments", {}).get("parameters", []):
            p.setdefault("value", "placeholder")  # required parameters, as `argo submit -p` gives them
        docs.append(wf)
    errors = lint.lint_documents(docs, linter=argolint)
    assert [str(e) for e in errors] == []


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("compat-run")


def run(work: Path, ir: Path) -> dict:
    summary = work / f"{ir.parent.name}-{ir.stem}.json"
    code = translate_main(["run", str(ir), "--work-dir", str(work / "wd"), "--summary", str(summary), "--jobs", "2"])
    data = json.loads(summary.read_text())
    assert code == 0, [(n["task"], n["phase"]) for n in data["nodes"]]
    return {n["task"]: n for n in data["nodes"]}


@pytest.mark.parametrize("version", VERSIONS)
def test_loop_over_an_artifact_consumer_runs(work: Path, version: str):
    """The seed's shape: a ParallelFor whose task consumes an artifact from outside the loop and
    produces one collected after it (an internal error before, whichever release compiled it)."""
    nodes = run(work, COMPAT / f"kfp-{version}" / "pipelines.loop_collect_models.yaml")
    assert nodes["read-models"]["phase"] == "Succeeded"
    assert nodes["read-models"]["outputs"]["parameters"]["Output"] == "0,2,4"


def test_loop_collecting_parameters_runs_with_kfp_2_7(work: Path):
    nodes = run(work, COMPAT / "kfp-2.7.0" / "pipelines.loop_artifact_consumer.yaml")
    assert nodes["total"]["outputs"]["parameters"]["Output"] == 6
