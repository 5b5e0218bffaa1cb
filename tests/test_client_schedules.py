"""Recurring runs' timing without a cluster: kfp.Client's interval_second, start_time, end_time
and no_catchup mapped onto an Argo CronWorkflow and a Tekton CronJob, the one-line errors for
what an engine cannot express, and the Tekton creator script's window check (the real script,
run as a subprocess with its environment). The cluster half is e2e/tests/test_client_schedules.py."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import translator
from translator.client import Client, ClientError, schedules
from translator.client.timing import Timing, resolve

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from e2e.tests.client_pipelines import typed_outputs  # noqa: E402


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_interval_second_is_an_every_schedule_on_both_engines():
    assert resolve("argo", None, 30, None, None, None) == Timing("@every 30s")
    assert resolve("tekton", None, 120, None, None, True) == Timing("@every 120s")
    assert resolve("argo", "0 2 * * *", None, None, None, None) == Timing("0 2 * * *")


def test_start_and_end_time_are_normalised_to_utc():
    t = resolve("argo", "*/5 * * * *", None, "2026-12-01T11:00:00+01:00", datetime(2026, 12, 2, tzinfo=timezone.utc), None)
    assert (t.start, t.end) == ("2026-12-01T10:00:00Z", "2026-12-02T00:00:00Z")
    assert t.argo_when() == "{{= now() >= date('2026-12-01T10:00:00Z') && now() < date('2026-12-02T00:00:00Z') }}"
    assert resolve("argo", "* * * * *", None, None, "2027-01-01T00:00:00Z", None).argo_when() == \
        "{{= now() < date('2027-01-01T00:00:00Z') }}"
    assert Timing("* * * * *").argo_when() is None


@pytest.mark.parametrize("engine, args, element, text", [
    ("argo", ("0 2 * * *", 60, None, None, None), "cron_expression", "give exactly one of cron_expression and interval_second"),
    ("argo", (None, None, None, None, None), "cron_expression", "give exactly one of cron_expression and interval_second"),
    ("argo", (None, 0, None, None, None), "interval_second", "must be a whole number of seconds, at least 1 (got 0)"),
    ("argo", (None, 1.5, None, None, None), "interval_second", "must be a whole number of seconds, at least 1 (got 1.5)"),
    ("argo", (None, True, None, None, None), "interval_second", "must be a whole number of seconds, at least 1 (got True)"),
    ("tekton", (None, 30, None, None, None), "interval_second", "30 is under 60 on Tekton"),
    ("argo", ("0 2 * * *", None, None, None, False), "no_catchup", "False (start every tick missed while paused) "
                                                                    "cannot be expressed: Argo CronWorkflows start at most"),
    ("tekton", ("0 2 * * *", None, None, None, False), "no_catchup", "False (start every tick missed while paused) "
                                                                      "cannot be expressed: Kubernetes CronJobs start at most"),
    ("argo", ("0 2 * * *", None, "2026-12-01 10:00", None, None), "start_time", "2026-12-01T10:00:00 has no UTC offset"),
    ("argo", ("0 2 * * *", None, None, "tomorrow", None), "end_time", "'tomorrow' is not an RFC 3339 time"),
    ("argo", ("0 2 * * *", None, None, 1700000000, None), "end_time", "must be an RFC 3339 string or a datetime, not int"),
    ("argo", ("0 2 * * *", None, "2026-12-02T00:00:00Z", "2026-12-01T00:00:00Z", None), "end_time",
     "2026-12-01T00:00:00Z is not after start_time 2026-12-02T00:00:00Z"),
])
def test_what_cannot_be_expressed_is_one_line_naming_the_argument(engine, args, element, text):
    with pytest.raises(ClientError) as err:
        resolve(engine, *args)
    assert err.value.element == element
    assert str(err.value).startswith(f"{element}: {text}") and "\n" not in str(err.value)


@pytest.mark.parametrize("backend", ["argo", "tekton"])
def test_client_refuses_before_any_call(backend):
    """The checks run before the cluster is contacted: a closed port is never reached."""
    client = Client(host=f"https://127.0.0.1:{_closed_port()}", token="t", backend=backend)
    with pytest.raises(ClientError, match="^no_catchup: False "):
        client.create_recurring_run("x", "0 2 * * *", pipeline_func=typed_outputs, no_catchup=False)
    with pytest.raises(ClientError, match="^cron_expression: give exactly one of cron_expression and interval_second"):
        client.create_recurring_run("x", pipeline_func=typed_outputs)


def test_argo_cron_workflow_carries_the_window_and_interval():
    [wf] = translator.translate(typed_outputs, backend="argo")
    timing = resolve("argo", None, 90, "2026-12-01T10:00:00Z", "2026-12-31T00:00:00Z", True)
    cron, _ = schedules.argo_cron(wf["spec"], wf["metadata"], "every-90", timing, None, 1, True)
    assert cron["spec"]["schedules"] == ["@every 90s"]
    assert cron["spec"]["when"] == timing.argo_when()
    found = schedules.to_recurring("argo", {**cron, "metadata": {**cron["metadata"], "namespace": "kfp"}})
    assert (found.cron_expression, found.interval_second) == ("", 90)
    assert (found.start_time, found.end_time) == ("2026-12-01T10:00:00Z", "2026-12-31T00:00:00Z")


def test_argo_cron_workflow_passes_argo_lint():
    """Argo's own validation (tools/argolint: ValidateCronWorkflow of argo-workflows v4.0.7)
    accepts the `@every` schedule and the `when` expression."""
    from translator import lint

    try:
        linter = lint.find_linter() or lint.build_linter()
    except lint.GoNotFoundError as exc:
        pytest.skip(f"cannot build tools/argolint: {exc}")
    [wf] = translator.translate(typed_outputs, backend="argo")
    timing = resolve("argo", None, 90, "2026-12-01T10:00:00Z", "2027-01-01T00:00:00Z", None)
    cron, semaphore = schedules.argo_cron(wf["spec"], wf["metadata"], "every-90", timing, None, 2, True)
    assert semaphore is not None
    assert lint.lint_documents([cron], linter) == []
    bad = json.loads(json.dumps(cron))
    bad["spec"]["schedules"] = ["@every 90x"]
    assert lint.lint_documents([bad], linter) != []  # the lint does look at the schedule


def test_tekton_cronjob_carries_the_window_and_interval():
    [run] = translator.translate(typed_outputs, backend="tekton")
    timing = resolve("tekton", None, 120, "2026-12-01T10:00:00Z", "2026-12-31T00:00:00Z", None)
    cronjob, _ = schedules.tekton_cronjob(run, "every-2m", timing, None, 2, True, "python:3.12-slim")
    assert cronjob["spec"]["schedule"] == "@every 120s"
    env = {e["name"]: e["value"] for e in cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert (env["KFPT_START"], env["KFPT_END"]) == ("2026-12-01T10:00:00Z", "2026-12-31T00:00:00Z")
    plain, _ = schedules.tekton_cronjob(run, "nightly", Timing("0 2 * * *"), None, 1, True, "python:3.12-slim")
    env = {e["name"] for e in plain["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert not env & {"KFPT_START", "KFPT_END"}


def _stamp(delta: timedelta) -> str:
    return (datetime.now(timezone.utc) + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("start, end, expected", [
    (timedelta(hours=1), None, "skipped: {now} is before the start time {start}"),
    (None, timedelta(hours=-1), "skipped: {now} is not before the end time {end}"),
])
def test_scheduler_script_creates_nothing_outside_the_window(tmp_path, start, end, expected):
    """The real create_run.py, as the CronJob runs it: outside the window it prints why and exits 0
    before it reads the service account or contacts anything."""
    env = {"KFPT_SCHEDULE": "s", "KFPT_TEMPLATE": str(tmp_path / "absent.json"), "PATH": "/usr/bin:/bin"}
    if start is not None:
        env["KFPT_START"] = _stamp(start)
    if end is not None:
        env["KFPT_END"] = _stamp(end)
    done = subprocess.run([sys.executable, str(REPO / "manifests/components/tekton/create_run.py")], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert line.startswith("skipped: ") and line.endswith(env.get("KFPT_START") or env["KFPT_END"])
    assert ("before the start time" in line) == (start is not None)


def test_scheduler_script_inside_the_window_goes_on_to_the_api(tmp_path):
    """Inside the window the script goes on (here it then fails: no service account outside a pod)."""
    env = {"KFPT_SCHEDULE": "s", "KFPT_TEMPLATE": str(tmp_path / "absent.json"), "PATH": "/usr/bin:/bin",
           "KFPT_START": _stamp(timedelta(hours=-1)), "KFPT_END": _stamp(timedelta(hours=1))}
    done = subprocess.run([sys.executable, str(REPO / "manifests/components/tekton/create_run.py")], capture_output=True,
                          text=True, env=env, timeout=60)
    assert done.returncode != 0 and "KUBERNETES_SERVICE_HOST" in done.stderr


def _translate_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "translator.cli", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=120)


def test_cli_schedule_interval_errors_are_one_line_before_any_call():
    host = ["--host", f"https://127.0.0.1:{_closed_port()}", "--token", "t"]
    done = _translate_cli("schedule", "create", "x", "examples/ml_training_pipeline.py", "--interval", "30",
                          "--backend", "tekton", *host)
    assert done.returncode == 2 and done.stderr.startswith("translate schedule: interval_second: 30 is under 60 on Tekton")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    done = _translate_cli("schedule", "create", "x", "examples/ml_training_pipeline.py", "--interval", "60",
                          "--end-time", "soon", *host)
    assert done.returncode == 2 and done.stderr.startswith("translate schedule: end_time: 'soon' is not an RFC 3339 time")
    done = _translate_cli("schedule", "create", "x", "examples/ml_training_pipeline.py", "--interval", "60",
                          "--cron", "* * * * *", *host)
    assert done.returncode == 2 and "not allowed with argument" in done.stderr
