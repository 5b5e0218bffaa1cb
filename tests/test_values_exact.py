"""Values are data (GUIDE: our own encodings never alter a user's value): constants holding `{{`,
values that look like our base64 form or like ABSENT reach Python and container components byte
for byte, through a real `translate run` (the pods as local processes, Argo's substitution
passes emulated, KFP's executor inside the pod shim)."""
from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

import translator
from translator.runner.engine import Runner

from .pipelines import values


def run(tmp_path: Path, pipeline, **params):
    [workflow] = translator.translate(pipeline, backend="argo")
    result = Runner(tmp_path / "work").run(workflow, params)
    assert result.phase == "Succeeded", [(n.path, n.message[-600:]) for n in result.nodes if n.phase != "Succeeded"]
    return result


def outputs(result):
    """What the Python component returned (as the next pod shim reads the Argo parameter: values
    Argo would rewrite leave a pod base64-encoded) and what the container component received."""
    py = result.node("show").parameters["Output"]
    if py.startswith("__KFP_B64__:"):
        py = base64.b64decode(py[len("__KFP_B64__:"):]).decode()
    return py, result.node("echo-file").parameters["out"]


def test_constants_holding_double_braces_arrive_unchanged(tmp_path):
    py, container = outputs(run(tmp_path, values.brace_constants))
    assert py == "value:" + values.JINJA
    assert container == values.JINJA


def test_constants_that_look_base64_encoded_arrive_unchanged(tmp_path):
    py, container = outputs(run(tmp_path, values.encoded_constants))
    assert py == "value:" + values.ENCODED
    assert container == values.ENCODED


def test_parameters_arrive_unchanged_in_python_and_container_components(tmp_path):
    given = [values.ENCODED, values.JINJA, "\uffff", "a\uffffb"]
    [workflow] = translator.translate(values.four_params, backend="argo", parameters=tuple(zip("abcd", given)))
    result = Runner(tmp_path / "work").run(workflow, {})
    assert result.phase == "Succeeded", [(n.path, n.message[-600:]) for n in result.nodes]
    for i, value in enumerate(given):
        suffix = f"-{i + 1}" if i else ""  # KFP names the repeated tasks show, show-2, ...
        py = result.node("show" + suffix).parameters["Output"]
        py = base64.b64decode(py[len("__KFP_B64__:"):]).decode() if py.startswith("__KFP_B64__:") else py
        assert py == "value:" + value, i
        assert result.node("echo-file" + suffix).parameters["out"] == value, i


def test_unset_optional_parameter_is_still_none(tmp_path):
    py, _ = outputs(run(tmp_path, values.user_params))
    assert py == "None"


def test_kubelet_expands_var_references_in_container_commands_as_under_kfp(tmp_path):
    """KFP's driver puts the component's command and args in the pod's command/args (after its
    launcher), so the kubelet expands `$(VAR)` from the container's env and turns `$$` into `$`."""
    result = run(tmp_path, values.kube_env_expansion)
    assert result.node("env-expand").parameters["out"] == "greeting=hi literal=$(GREETING)"


def test_mount_paths_stay_in_the_work_dir_and_path_like_values_are_not_rewritten(tmp_path):
    """A step writing to its PVC's mount path (a path built at run time) writes the run's volume
    directory, never this machine's real path; a value that looks like a pod path is data."""
    host = Path("/mnt/kfpt-state-test")
    assert not host.exists()
    result = run(tmp_path, values.pvc_state)
    assert not host.exists(), "the step wrote to this machine's real mount path"
    assert result.node("write-state").parameters["Output"] == "/kfp/outputs/x|1"
    assert (tmp_path / "work" / "volumes" / "pvc" / "state" / "counter").read_text() == "1"


GO_MODULES = Path(os.environ.get("GOMODCACHE") or Path(os.environ.get("GOPATH") or Path.home() / "go") / "pkg" / "mod")
ARGO_EXECUTOR = GO_MODULES / "github.com/argoproj/argo-workflows/v4@v4.0.7/workflow/executor/executor.go"


def test_container_output_parameters_lose_one_trailing_newline_as_on_argo(tmp_path):
    """Documents a limit (README, known limits): Argo's executor trims one newline from every
    output parameter file, and a container component has no shim to add one back, so its
    `line\\n\\n` arrives as `line\\n` (KFP keeps the file's bytes). A Python component's output
    keeps every byte: the shim writes the newline Argo takes."""
    if ARGO_EXECUTOR.is_file():  # the engine's own code says so (Go module cache)
        assert 'strings.TrimSuffix(output.String(), "\\n")' in ARGO_EXECUTOR.read_text()
    result = run(tmp_path, values.newline_outputs)
    assert result.node("show").parameters["Output"] == "value:line\n"
    # the container received the Python output's bytes `line\n\n` and wrote them to its own
    # output file, which Argo trims in turn
    assert result.node("echo-file").parameters["out"] == "line\n"
