"""`translate run` stopped by a signal (SIGTERM from a supervisor, SIGINT from Ctrl-C) behaves
as `argo stop`: every running step's process group is terminated (none keeps running under
PID 1), nothing new starts, exit handlers run, the summary is written. A real subprocess."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PIPELINE = Path(__file__).parent / "pipelines" / "stopping.py"
TRANSLATE = Path(sys.executable).parent / "translate"


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_every_step_and_runs_exit_handlers(tmp_path, signum):
    pid_file, summary = tmp_path / "step.pid", tmp_path / "summary.json"
    proc = subprocess.Popen([str(TRANSLATE), "run", str(PIPELINE), "-p", f"pid_file={pid_file}",
                             "--work-dir", str(tmp_path / "work"), "--summary", str(summary)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 300
        while not pid_file.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.time() < deadline, "the step never started"
            time.sleep(0.2)
        step = int(pid_file.read_text())
        assert alive(step)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum, err
    for _ in range(50):
        if not alive(step):
            break
        time.sleep(0.1)
    assert not alive(step), "the step's process outlived `translate run`"
    data = json.loads(summary.read_text())
    assert data["phase"] == "Failed"
    tasks = {n["task"]: n for n in data["nodes"]}
    assert tasks["sleeper"]["phase"] == "Failed"
    assert "later" not in tasks or tasks["later"]["phase"] != "Succeeded"
    assert tasks["cleanup"]["phase"] == "Succeeded" and tasks["cleanup"]["outputs"]["parameters"]["Output"] == "FAILED"
    assert "Traceback" not in err
