"""Bad input, odd output targets and options that would do nothing (issue 10): each is one line
on stderr, exit 2, nothing written; output is byte-identical whatever the hash seed."""
from __future__ import annotations

import json
import os
import resource
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import translator
from translator.cli import dump_yaml

from .conftest import REPO

HELLO = """\
components:
  comp-echo:
    executorLabel: exec-echo
deploymentSpec:
  executors:
    exec-echo:
      container:
        args: [hello world]
        command: [echo]
        image: python:3.11-slim
pipelineInfo:
  name: echo
root:
  dag:
    tasks:
      echo:
        componentRef: {name: comp-echo}
        taskInfo: {name: echo}
schemaVersion: 2.1.0
sdkVersion: kfp-2.14.6
"""


def cli(*args: str, cwd: Path | None = None, stdin: str | None = None, env: dict | None = None,
        preexec=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "translator.cli", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, input=stdin, env={**os.environ, **(env or {})}, preexec_fn=preexec)


def one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture()
def hello(tmp_path: Path) -> Path:
    path = tmp_path / "hello.yaml"
    path.write_text(HELLO)
    return path


def with_tasks(tmp_path: Path, edit) -> Path:
    doc = yaml.safe_load(HELLO)
    edit(doc)
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


# --- item 7: -o and - ---------------------------------------------------------------------------

def test_output_file_gets_the_umask_mode_and_keeps_an_existing_mode(hello: Path, tmp_path: Path):
    out = tmp_path / "wf.yaml"
    proc = cli(str(hello), "-o", str(out), preexec=lambda: os.umask(0o022))
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    out.chmod(0o640)
    assert cli(str(hello), "-o", str(out), preexec=lambda: os.umask(0o022)).returncode == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_output_writes_through_a_symlink(hello: Path, tmp_path: Path):
    target = tmp_path / "real.yaml"
    target.write_text("old\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(target)
    assert cli(str(hello), "-o", str(link)).returncode == 0
    assert link.is_symlink() and yaml.safe_load(target.read_text())["kind"] == "Workflow"


def test_output_to_dev_stdout_is_not_replaced(hello: Path, tmp_path: Path):
    appended = tmp_path / "log.txt"
    appended.write_text("first line\n")
    with appended.open("a") as fh:
        proc = subprocess.run([sys.executable, "-m", "translator.cli", str(hello), "-o", "/dev/stdout"],
                              stdout=fh, stderr=subprocess.PIPE, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    text = appended.read_text()
    assert text.startswith("first line\n") and "kind: Workflow" in text
    assert Path("/dev/stdout").is_symlink() or Path("/dev/stdout").exists()


def test_output_creates_missing_folders_and_refuses_a_folder(hello: Path, tmp_path: Path):
    deep = tmp_path / "a" / "b" / "wf.yaml"
    assert cli(str(hello), "-o", str(deep)).returncode == 0 and deep.is_file()
    proc = cli(str(hello), "-o", str(tmp_path / "a"))
    one_line_error(proc, "is a folder")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b"]


def test_dash_is_stdout_and_stdin(hello: Path, tmp_path: Path):
    proc = cli("-", "-o", "-", stdin=HELLO, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load(proc.stdout)["kind"] == "Workflow"
    assert [p.name for p in tmp_path.iterdir()] == ["hello.yaml"]  # no file named '-'


def test_failed_translation_leaves_an_existing_output_untouched(tmp_path: Path):
    out = tmp_path / "wf.yaml"
    out.write_text("previous\n")
    bad = with_tasks(tmp_path, lambda d: d["root"]["dag"]["tasks"]["echo"].update(dependentTasks=["echo"]))
    one_line_error(cli(str(bad), "-o", str(out)))
    assert out.read_text() == "previous\n" and sorted(p.name for p in tmp_path.iterdir()) == ["edited.yaml", "wf.yaml"]


# --- item 8: importing the pipeline file ----------------------------------------------------------

PIPELINE_PY = """\
from kfp import dsl
print("printed while imported")
import os; os.system("echo from a child process")

@dsl.component(base_image="python:3.11-slim")
def c() -> str:
    return "x"

@dsl.pipeline(name="printer")
def p():
    c()
"""


def test_prints_at_import_stay_out_of_the_manifest(tmp_path: Path):
    src = tmp_path / "printer.py"
    src.write_text(PIPELINE_PY)
    proc = cli(str(src))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("apiVersion: argoproj.io/v1alpha1\n")
    assert yaml.safe_load(proc.stdout)["kind"] == "Workflow"
    assert "printed while imported" in proc.stderr and "from a child process" in proc.stderr


@pytest.mark.parametrize("body,needle", [
    ("import sys\nsys.exit()\n", "sys.exit(None)"),
    ("import sys\nsys.exit(4)\n", "sys.exit(4)"),
    ("raise RuntimeError('boom')\n", "RuntimeError: boom"),
    ("import nonexistent_module_xyz\n", "ModuleNotFoundError"),
])
def test_exit_or_exception_at_import_is_one_line(tmp_path: Path, body: str, needle: str):
    src = tmp_path / "bad.py"
    src.write_text(body)
    one_line_error(cli(str(src)), str(src), needle)


# --- item 9: KFP's header comment -----------------------------------------------------------------

NEWLINE_DEFAULT = """\
from kfp import compiler, dsl

@dsl.component(base_image="python:3.11-slim")
def echo(s: str) -> str:
    return s

@dsl.pipeline(name="newline-default", description="two\\nlines: here")
def p(s: str = "line1\\nkey: v\\n  - x"):
    echo(s=s)

compiler.Compiler().compile(p, "{out}")
"""


def test_kfp_header_comment_broken_by_a_newline_default_is_ignored(tmp_path: Path):
    ir = tmp_path / "nl.yaml"
    script = tmp_path / "compile.py"
    script.write_text(NEWLINE_DEFAULT.format(out=ir))
    subprocess.run([sys.executable, str(script)], check=True, capture_output=True)
    assert "\nkey: v\n" in ir.read_text()  # the compiler's header really is broken
    proc = cli(str(ir))
    assert proc.returncode == 0, proc.stderr
    [wf] = list(yaml.safe_load_all(proc.stdout))
    assert {p["name"]: p["value"] for p in wf["spec"]["arguments"]["parameters"]} == {"s": "line1\nkey: v\n  - x"}


# --- item 10: bounds ------------------------------------------------------------------------------

BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
"""


def _bomb_pipeline(tmp_path: Path) -> Path:
    body = HELLO.replace("  name: echo\nroot:", "  name: echo\nplatformsx: 1\nroot:")
    text = BOMB + body.replace("root:\n  dag:", "root:\n  inputDefinitions:\n    parameters:\n      p:\n"
                                                "        parameterType: LIST\n        defaultValue: *h\n  dag:")
    path = tmp_path / "bomb.yaml"
    path.write_text(text.replace("platformsx: 1\n", ""))
    return path


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (1536 * 2**20, 1536 * 2**20))


def test_yaml_alias_bomb_is_refused(tmp_path: Path):
    path = _bomb_pipeline(tmp_path)
    assert path.stat().st_size < 1500
    one_line_error(cli(str(path), preexec=_limit_memory), "aliases expand")


@pytest.mark.parametrize("suffix,text", [
    (".json", '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    (".yaml", "a: " + "[" * 300 + "]" * 300 + "\n"),
])
def test_deep_nesting_is_refused(tmp_path: Path, suffix: str, text: str):
    path = tmp_path / f"deep{suffix}"
    path.write_text(text)
    one_line_error(cli(str(path)), "nests")


def test_oversized_input_is_refused(tmp_path: Path):
    path = tmp_path / "huge.yaml"
    with path.open("w") as fh:
        fh.write(HELLO)
        fh.write("# " + "x" * (65 * 2**20) + "\n")
    one_line_error(cli(str(path)), "MiB", "more than the 64 MiB")


def test_manifest_over_the_api_server_limit_is_refused_unless_allowed(tmp_path: Path):
    doc = yaml.safe_load(HELLO)
    doc["root"]["inputDefinitions"] = {"parameters": {"blob": {"parameterType": "STRING", "defaultValue": "x" * (4 * 2**20)}}}
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(doc))
    out = tmp_path / "wf.yaml"
    one_line_error(cli(str(path), "-o", str(out)), "over the 3 MiB", "--allow-oversize")
    assert not out.exists()
    proc = cli(str(path), "-o", str(out), "--allow-oversize")
    assert proc.returncode == 0, proc.stderr[-500:]
    assert out.stat().st_size > 4 * 2**20


# --- item 11: graph errors are bad input ----------------------------------------------------------

def test_self_dependency_and_cycles_are_bad_input(tmp_path: Path):
    own = with_tasks(tmp_path, lambda d: d["root"]["dag"]["tasks"]["echo"].update(dependentTasks=["echo"]))
    one_line_error(cli(str(own)), "task 'echo' depends on itself")

    def cycle(d):
        tasks = d["root"]["dag"]["tasks"]
        tasks["two"] = {**tasks["echo"], "taskInfo": {"name": "two"}, "dependentTasks": ["echo"]}
        tasks["echo"]["dependentTasks"] = ["two"]
    one_line_error(cli(str(with_tasks(tmp_path, cycle))), "dependency cycle", "echo -> two -> echo")


def test_parameter_names_with_template_braces_are_bad_input(tmp_path: Path):
    def edit(d):
        d["root"]["inputDefinitions"] = {"parameters": {"a{{b}}": {"parameterType": "STRING", "defaultValue": "x"}}}
    one_line_error(cli(str(with_tasks(tmp_path, edit))), "a{{b}}")


def test_reading_an_output_the_producer_does_not_declare_is_bad_input(tmp_path: Path):
    def edit(d):
        tasks = d["root"]["dag"]["tasks"]
        d["components"]["comp-take"] = {"executorLabel": "exec-echo",
                                        "inputDefinitions": {"parameters": {"x": {"parameterType": "STRING"}}}}
        tasks["take"] = {"componentRef": {"name": "comp-take"}, "taskInfo": {"name": "take"}, "inputs": {"parameters": {
            "x": {"taskOutputParameter": {"producerTask": "echo", "outputParameterKey": "nope"}}}}}
    one_line_error(cli(str(with_tasks(tmp_path, edit))), "'nope'", "does not declare")


# --- item 12: options ----------------------------------------------------------------------------

@pytest.mark.parametrize("args,needle", [
    (["--schedule", "0 2 * * *"], "--schedule: applies only to --kind CronWorkflow"),
    (["--timezone", "UTC"], "--timezone: applies only to --kind CronWorkflow"),
    (["--concurrency-policy", "Forbid"], "--concurrency-policy: applies only"),
    (["--generate-name", "a-", "--name", "b"], "cannot be combined with --name"),
    (["--kind", "WorkflowTemplate", "--name", "t", "--generate-name", "a-"], "applies only to --kind Workflow"),
    (["--name", "Bad_Name"], "--name: 'Bad_Name' is not a valid Kubernetes name"),
    (["--kind", "CronWorkflow", "--schedule", "@daily", "--name", "x" * 53], "at most 52"),
    (["-n", "NS"], "'NS' is not a valid namespace"),
    (["--service-account", "sa_1"], "--service-account: 'sa_1'"),
    (["--artifact-repository", ":key"], "names no ConfigMap"),
    (["--artifact-repository", "repo:bad key"], "not a valid ConfigMap key"),
    (["--kind", "CronWorkflow", "--schedule", "61 * * * *"], "outside 0-59"),
    (["--kind", "CronWorkflow", "--schedule", "0 2 * *"], "expected 5 fields"),
    (["--kind", "CronWorkflow", "--schedule", "@sometimes"], "unknown descriptor"),
    (["--kind", "CronWorkflow", "--schedule", "0 2 * * *", "--timezone", "Mars/Olympus"], "not an IANA time zone"),
    (["--cache-max-age", "30d"], "'30d' is not a Go duration"),
])
def test_options_that_do_nothing_or_argo_refuses(hello: Path, args: list[str], needle: str):
    one_line_error(cli(str(hello), *args), needle)


@pytest.mark.parametrize("args", [
    ["--kind", "CronWorkflow", "--schedule", "*/5 0-6,22 1 jan-mar mon-fri", "--timezone", "Europe/Berlin"],
    ["--kind", "CronWorkflow", "--schedule", "@every 1h30m", "--concurrency-policy", "Replace"],
    ["--kind", "CronWorkflow", "--schedule", "CRON_TZ=UTC 0 2 * * *", "--name", "nightly"],
    ["--generate-name", "run.v1-", "-n", "ml", "--service-account", "runner.sa", "--cache-max-age", "1h30m"],
    ["--artifact-repository", "repo:s3.main_v1", "--name", "wf.1"],
])
def test_valid_options_pass(hello: Path, args: list[str]):
    proc = cli(str(hello), *args)
    assert proc.returncode == 0, proc.stderr


# --- item 4: the library -------------------------------------------------------------------------

def test_library_takes_typed_parameter_values():
    [wf] = translator.translate(str(REPO / "examples" / "ml_training_pipeline.py"),
                                parameters={"learning_rate": 0.5, "n_estimators": 20, "dataset_url": "s3://b/k"})
    args = {p["name"]: p.get("value") for p in wf["spec"]["arguments"]["parameters"]}
    assert args["learning_rate"] == "0.5" and args["n_estimators"] == "20" and args["dataset_url"] == "s3://b/k"
    with pytest.raises(translator.TranslateError, match="n_estimators"):
        translator.translate(str(REPO / "examples" / "ml_training_pipeline.py"), parameters={"n_estimators": 2.5})


def test_library_takes_ir_as_dict_text_or_bytes_and_refuses_a_non_path():
    expected = dump_yaml(translator.translate(yaml.safe_load(HELLO)))
    assert dump_yaml(translator.translate(HELLO)) == expected
    assert dump_yaml(translator.translate(HELLO.encode())) == expected
    assert dump_yaml(translator.translate(json.dumps(yaml.safe_load(HELLO)))) == expected
    with pytest.raises(translator.TranslateError, match="neither a file name"):
        translator.translate("x" * 5000)
    with pytest.raises(translator.TranslateError, match="no such file"):
        translator.translate("missing-pipeline.yaml")


# --- item 19: hash seeds --------------------------------------------------------------------------

LIST_OF_DICTS = """\
from typing import Dict, List
from kfp import dsl

@dsl.component(base_image="python:3.11-slim")
def show(xs: List[Dict[str, int]], d: Dict[str, int]) -> str:
    return str(xs) + str(d)

@dsl.pipeline(name="list-of-dicts")
def p(xs: List[Dict[str, int]] = [{"alpha": 1, "beta": 2, "gamma": 3, "delta": 4, "epsilon": 5}],
      d: Dict[str, int] = {"zeta": 1, "eta": 2, "theta": 3, "iota": 4}):
    show(xs=xs, d=d)
"""


def test_output_is_identical_across_hash_seeds(tmp_path: Path):
    src = tmp_path / "lod.py"
    src.write_text(LIST_OF_DICTS)
    outputs = {cli(str(src), env={"PYTHONHASHSEED": str(seed)}).stdout for seed in range(8)}
    assert len(outputs) == 1 and "alpha" in next(iter(outputs))
