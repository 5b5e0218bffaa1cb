"""A manifest over Argo's 1 MiB or etcd's 1.5 MiB gets one warning line on stderr."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from translator.limits import ARGO_MAX, ETCD_MAX, json_size

from .conftest import REPO

PIPELINE = textwrap.dedent('''
    from kfp import dsl

    @dsl.component(base_image="python:3.11")
    def echo(text: str) -> str:
        return text

    @dsl.pipeline(name="big-default")
    def pipeline(text: str = "x" * {n}):
        echo(text=text)
    ''')


def _translate(tmp_path: Path, n: int) -> tuple[subprocess.CompletedProcess[str], Path]:
    source = tmp_path / "p.py"
    source.write_text(PIPELINE.replace("{n}", str(n)))
    out = tmp_path / "wf.yaml"
    proc = subprocess.run([sys.executable, "-m", "translator.cli", str(source), "-o", str(out)],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    return proc, out


def _go_size(manifest: dict) -> int:
    """Go's json.Marshal size, computed independently: compact JSON, HTML characters escaped."""
    text = json.dumps(manifest, separators=(",", ":"), ensure_ascii=False)
    for ch in "<>&":
        text = text.replace(ch, "\\u%04x" % ord(ch))
    return len(text.encode())


def test_json_size_counts_as_go_writes():
    doc = {"a": "<x> & é \u2713", "b": [1, 2.5, None, True]}
    assert json_size(doc) == _go_size(doc) == len('{"a":"\\u003cx\\u003e \\u0026 é ✓","b":[1,2.5,null,true]}'.encode())


# The default is written twice (workflow arguments, root DAG input): n characters weigh ~2n.
@pytest.mark.parametrize("n,low,high,needle", [
    (2000, 0, ARGO_MAX, None),
    (560_000, ARGO_MAX, ETCD_MAX, "over Argo's 1 MiB workflow limit (MAX_WORKFLOW_SIZE)"),
    (800_000, ETCD_MAX, 2 * ETCD_MAX, "over etcd's 1.5 MiB object limit"),
])
def test_size_warning(tmp_path, n, low, high, needle):
    proc, out = _translate(tmp_path, n)
    assert proc.returncode == 0, proc.stderr
    [manifest] = yaml.safe_load_all(out.read_text())
    size = _go_size(manifest)
    assert low < size <= high
    if needle is None:
        assert proc.stderr == ""
        return
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"translate: warning: {out}: Workflow big-default- is {size:,} bytes as JSON")
    assert needle in lines[0] and "split the pipeline" in lines[0]
