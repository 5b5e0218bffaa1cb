"""First use (issue 10): a fresh clone's tests stand alone, `translate lint` works right after
`pip install` (building its Go helper once into the user's cache), the README's commands work
as written, and `translate --help`/`--version` say what there is."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from translator import cli as cli_module

from .conftest import REPO

README = (REPO / "README.md").read_text()
BROKEN = REPO / "tests" / "broken_manifests" / "dag-cycle.yaml"
GOOD = REPO / "tests" / "golden" / "examples" / "hp_search_pipeline.yaml"


def test_help_lists_the_commands_and_every_option_has_help():
    proc = subprocess.run([sys.executable, "-m", "translator.cli", "--help"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0
    for name in ("run", "lint"):
        assert re.search(rf"^  {name}\s+\S", proc.stdout, re.M), proc.stdout
    from translator.runner.cli import parser as run_parser

    parsers = [cli_module._translate_parser("translate"), run_parser()]
    for parser in parsers:
        for action in parser._actions:
            assert action.help and action.help != "==SUPPRESS==", (parser.prog, action.option_strings or action.dest)


def test_version():
    from importlib.metadata import version

    proc = subprocess.run([sys.executable, "-m", "translator.cli", "--version"], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0 and proc.stdout.strip() == f"translate {version('kfp-translate')}"


def test_readme_library_example_runs():
    block = re.search(r"As a library:\n\n```python\n(.*?)```", README, re.S).group(1)
    scope: dict = {}
    cwd = os.getcwd()
    os.chdir(REPO)
    try:
        exec(compile(block, "README.md", "exec"), scope)  # noqa: S102 - our own README's example
    finally:
        os.chdir(cwd)
    assert scope["workflow"]["kind"] == "Workflow"


def test_readme_says_what_make_test_needs():
    assert "make test" in README and "KFP_CORPUS" in README and "make corpus" in README


def test_readme_run_example_works_as_written(tmp_path: Path):
    """The exact command under "Run it on this machine", in a shell, from a checkout's root
    (here: a folder holding the checkout's examples/), with `translate` on PATH."""
    block = re.search(r"## Run it on this machine\n\n```sh\n(.*?)```", README, re.S).group(1)
    [command] = [line for line in block.splitlines() if line.startswith("translate run ")]
    (tmp_path / "examples").symlink_to(REPO / "examples")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["sh", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Succeeded" in proc.stderr
    summary = re.search(r"--summary (\S+)", command).group(1)
    import json

    nodes = {n["task"]: n for n in json.loads((tmp_path / summary).read_text())["nodes"]}
    assert nodes["deploy-model"]["phase"] == "Succeeded"


# --- translate lint after pip install -------------------------------------------------------------

@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """kfp-translate installed from a wheel built from this checkout, away from the source tree."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(REPO)],
                   check=True, capture_output=True)
    [wheel] = list(out.glob("*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "translator/_gotools/argolint/go.mod" in names and "translator/_gotools/argolint/main.go" in names
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    return target


def _installed_translate(site: Path, cache: Path, *args: str, path: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KFP_TRANSLATE_ARGOLINT", "PYTHONPATH")}
    env.update(PYTHONPATH=str(site), KFP_TRANSLATE_CACHE=str(cache), PATH=path)
    code = ("import sys, translator; assert translator.__file__.startswith(sys.argv[1]), translator.__file__; "
            "from translator.cli import main; sys.exit(main(sys.argv[2:]))")
    return subprocess.run([sys.executable, "-c", code, str(site), *args], capture_output=True, text=True, env=env,
                          cwd=site, timeout=1200)


def test_lint_after_pip_install_builds_the_helper_once(installed: Path, tmp_path: Path):
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not os.path.exists(go):
        pytest.skip("Go is not installed")
    cache = tmp_path / "cache"
    path = f"{Path(go).parent}{os.pathsep}/usr/bin{os.pathsep}/bin"
    good = tmp_path / "good.yaml"
    docs = [d for d in yaml.safe_load_all(GOOD.read_text()) if d]
    for p in docs[0]["spec"].get("arguments", {}).get("parameters", []):
        p.setdefault("value", "placeholder")
    good.write_text(yaml.safe_dump_all(docs))
    first = _installed_translate(installed, cache, "lint", str(good), path=path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert re.fullmatch(r"translate: building argolint \(once, into .*\) \.\.\.\n", first.stderr), first.stderr
    [built] = list(cache.glob("argolint-*/argolint"))
    second = _installed_translate(installed, cache, "lint", str(BROKEN), path=path)
    assert second.returncode == 1 and "cycle" in second.stdout and second.stderr == ""
    assert list(cache.glob("argolint-*/argolint")) == [built]


def test_lint_without_go_says_what_to_install(installed: Path, tmp_path: Path):
    proc = _installed_translate(installed, tmp_path / "cache", "lint", str(BROKEN), path="/nonexistent")
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert "install Go" in line and "Traceback" not in proc.stderr


# --- a fresh clone without the KFP corpus ----------------------------------------------------------

def test_fresh_clone_without_the_corpus_passes_and_says_how_to_get_it(tmp_path: Path):
    clone = tmp_path / "kfp-translate"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, capture_output=True)
    assert not (tmp_path / "shared").exists()
    env = {k: v for k, v in os.environ.items() if k not in ("KFP_CORPUS", "KFP_CORPUS_REQUIRED")}
    tests = ["tests/test_golden.py", "tests/test_cli.py", "tests/test_conditions.py", "tests/test_run_control.py",
             "tests/test_differential.py", "tests/test_lint_verdicts.py"]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests,
                           "-k", "corpus or golden or invalid or deterministic"],
                          cwd=clone, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:]
    skips = [line for line in proc.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skips) == 1 and "make corpus" in skips[0] and "KFP_CORPUS" in skips[0], skips
    assert re.search(r"\d+ passed, \d+ skipped", proc.stdout)
    env["KFP_CORPUS_REQUIRED"] = "1"  # as CI runs: a missing corpus is a failure there
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_golden.py"],
                          cwd=clone, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0 and "KFP_CORPUS_REQUIRED=1" in proc.stdout + proc.stderr
