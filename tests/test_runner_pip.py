"""`python3 -m pip` in a `translate run` environment (translator/runner/piplock.py): pip does not
run when every requirement is installed already, and runs for everything else.

Each case runs the handler in a real environment made by the runner's Venvs, with real installed
distributions (a folder of .dist-info directories on the path), as a step would."""
from __future__ import annotations

import importlib.metadata
import os
import subprocess
from pathlib import Path

import pytest

from translator.runner.venvs import Venvs

KFP = importlib.metadata.version("kfp")


def _dist(site: Path, name: str, version: str, requires: list[str] = ()) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """An environment of the runner, with three more distributions on its path."""
    root = tmp_path_factory.mktemp("venvs")
    bin_dir = Venvs(root).bin_dir("python:3.11", KFP)
    site = root / "extra-site"
    _dist(site, "alpha", "1.2.0", ["beta>=2", 'gamma; extra == "more"', 'delta; python_version < "3"'])
    _dist(site, "beta", "2.5")
    next((bin_dir.parent / "lib").glob("python*/site-packages")).joinpath("extra.pth").write_text(f"{site}\n")
    return bin_dir


def _decide(bin_dir: Path, *args: str, **env: str) -> bool:
    """What the handler decides for `pip ARGS`, asked in the environment's own interpreter."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import piplock; "
            "print(piplock.nothing_to_do(sys.argv[2:]))")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    out = subprocess.run([str(bin_dir / "python3"), "-c", code, str(bin_dir), *args], check=True,
                         capture_output=True, text=True, env={**clean, **env, "HOME": str(bin_dir)})
    return out.stdout.strip() == "True"


KFP_LINE = ["install", "--quiet", "--no-warn-script-location", f"kfp=={KFP}", "--no-deps",
            'typing-extensions>=3.7.4,<5; python_version<"3.9"']


def test_kfps_own_install_line_is_answered_without_pip(env):
    assert _decide(env, *KFP_LINE, PIP_DISABLE_PIP_VERSION_CHECK="1")


@pytest.mark.parametrize("args", [
    ["install", "--quiet", "alpha==1.2.0"],  # its dependency beta>=2 is there; gamma and delta are not needed
    ["install", "-q", "alpha>=1", "BETA~=2.0"],
    ["install", "-q", "--index-url", "http://127.0.0.1:9/simple", "alpha"],
    ["install", "-q", "--index-url=http://127.0.0.1:9/simple", "alpha"],
])
def test_installed_requirements_need_no_pip(env, args):
    assert _decide(env, *args)


@pytest.mark.parametrize("args, env_vars", [
    (["install", "alpha"], {}),  # not quiet: pip would print "Requirement already satisfied"
    (["install", "-q", "alpha==1.3"], {}),  # another version
    (["install", "-q", "alpha[more]"], {}),  # the extra needs gamma, which is missing
    (["install", "-q", "missing-package"], {}),
    (["install", "-q", "--upgrade", "alpha"], {}),
    (["install", "-q", "--user", "alpha"], {}),
    (["install", "-q", "-r", "requirements.txt"], {}),
    (["install", "-q", "alpha @ https://example.com/alpha-1.2.0.tar.gz"], {}),
    (["install", "-q", "alpha"], {"PIP_UPGRADE": "1"}),
    (["install", "-q", "alpha"], {"PIP_CONFIG_FILE": "/dev/null"}),
    (["list"], {}),
    (["install", "-q"], {}),
])
def test_anything_else_goes_to_pip(env, args, env_vars):
    assert not _decide(env, *args, **env_vars)


def test_dependencies_count_unless_no_deps(env, tmp_path):
    site = next((env.parent / "lib").glob("python*/site-packages"))
    other = tmp_path / "site"
    _dist(other, "needs-missing", "1.0", ["not-installed-anywhere>=1"])
    (site / "other.pth").write_text(f"{other}\n")
    try:
        assert not _decide(env, "install", "-q", "needs-missing")
        assert _decide(env, "install", "-q", "--no-deps", "needs-missing")
    finally:
        (site / "other.pth").unlink()


def test_a_config_file_asking_for_more_sends_it_to_pip(env, tmp_path):
    config = tmp_path / ".config" / "pip" / "pip.conf"
    config.parent.mkdir(parents=True)
    config.write_text("[install]\nupgrade = true\n")
    assert not _decide(env, "install", "-q", "alpha", XDG_CONFIG_HOME=str(tmp_path / ".config"))
    config.write_text("[global]\nindex-url = http://127.0.0.1:9/simple\ntimeout = 5\n")
    assert _decide(env, "install", "-q", "alpha", XDG_CONFIG_HOME=str(tmp_path / ".config"))


def test_through_the_python3_wrapper_pip_runs_only_when_needed(env):
    """The step's own command line: a satisfied install exits 0 silently; a missing package goes
    to the real pip, which (no index here) fails and says so."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    run = lambda *args: subprocess.run([str(env / "python3"), "-m", "pip", *args], capture_output=True,
                                       text=True, env={**clean, "PIP_NO_INDEX": "1", "HOME": str(env)})
    done = run(*KFP_LINE)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    missing = run("install", "--quiet", "surely-not-installed-kfpt==1.0")
    assert missing.returncode == 1 and "surely-not-installed-kfpt" in missing.stderr
