"""Recurring runs on both engines at once (they wait for cron ticks, ~2.5 minutes together): a
schedule every minute with max_concurrency=1 and a run that outlasts two ticks fires once and
skips the next tick; disable, enable, list and delete."""
from __future__ import annotations

import time

from kubernetes import client as k8s

from .client_pipelines import napper
from .test_client import client_selected, make_client, manifests, selectable, unique  # noqa: F401 - the fixtures

ENGINES = ("argo", "tekton")


def _creator_logs(cluster, schedule: str) -> str:
    """What the Tekton schedule's creator pods printed (its Jobs carry the schedule's label)."""
    core = k8s.CoreV1Api(cluster.api)
    pods = core.list_namespaced_pod(cluster.namespace, label_selector=f"kfp-translate.dev/schedule={schedule}").items
    texts = []
    for pod in pods:
        try:
            texts.append(core.read_namespaced_pod_log(pod.metadata.name, cluster.namespace))
        except k8s.ApiException:
            pass
    return "\n".join(texts)


def _next_minute(after: float) -> float:
    return (int(after) // 60 + 1) * 60


@selectable
def test_recurring_run_fires_and_respects_max_concurrency(manifests, cluster):  # noqa: F811
    clients = {e: make_client(e) for e in ENGINES}
    names = {e: unique(f"every-minute-{e}") for e in ENGINES}
    made = {e: clients[e].create_recurring_run(names[e], "* * * * *", pipeline_func=napper, arguments={"seconds": 240},
                                               max_concurrency=1, experiment_name="client-schedules")
            for e in ENGINES}
    created = time.time()
    try:
        for e in ENGINES:
            assert made[e].enabled and made[e].max_concurrency == 1 and made[e].cron_expression == "* * * * *"
            assert names[e] in {s.recurring_run_id for s in clients[e].list_recurring_runs(experiment_name="client-schedules")}
        # first tick fires a run; the next tick finds it unfinished and must not start another
        second_tick = _next_minute(_next_minute(created)) + 1
        deadline = second_tick + 40  # the controllers' and the creator pod's latency
        counts: dict[str, int] = {}
        while time.time() < deadline:
            counts = {e: len(clients[e].list_runs(recurring_run_id=names[e])) for e in ENGINES}
            assert max(counts.values()) <= 1, f"a second run started while the first ran: {counts}"
            skipped = "skipped: 1 of at most 1 runs unfinished" in _creator_logs(cluster, names["tekton"])
            if time.time() > second_tick + 5 and min(counts.values()) == 1 and skipped:
                break
            time.sleep(3)
        assert counts == {"argo": 1, "tekton": 1}, f"runs per schedule after two ticks: {counts}"
        assert "skipped: 1 of at most 1 runs unfinished" in _creator_logs(cluster, names["tekton"])
        for e in ENGINES:
            [run] = clients[e].list_runs(recurring_run_id=names[e])
            assert run.state in ("PENDING", "RUNNING") and run.experiment_id == "client-schedules"
            clients[e].disable_recurring_run(names[e])
            assert clients[e].get_recurring_run(names[e]).enabled is False
            clients[e].enable_recurring_run(names[e])
            assert clients[e].get_recurring_run(names[e]).enabled is True
    finally:
        for e in ENGINES:  # (deleting a CronWorkflow deletes its Workflows too: runs first)
            for run in clients[e].list_runs(recurring_run_id=names[e]):
                clients[e].delete_run(run.run_id)
            clients[e].delete_recurring_run(names[e])
    for e in ENGINES:
        assert names[e] not in {s.recurring_run_id for s in clients[e].list_recurring_runs()}


@selectable
def test_max_concurrency_two(manifests, cluster):  # noqa: F811
    """max_concurrency=2 and runs that outlast three ticks: Tekton's creator skips the third tick;
    Argo starts it but its semaphore holds it Pending while two run (the documented difference)."""
    clients = {e: make_client(e) for e in ENGINES}
    names = {e: unique(f"two-at-a-time-{e}") for e in ENGINES}
    for e in ENGINES:
        clients[e].create_recurring_run(names[e], "* * * * *", pipeline_func=napper, arguments={"seconds": 400},
                                        max_concurrency=2)
    created = time.time()
    try:
        assert clients["argo"].get_recurring_run(names["argo"]).max_concurrency == 2
        third_tick = _next_minute(_next_minute(_next_minute(created))) + 1
        deadline = third_tick + 50
        runs: dict[str, list] = {}
        while time.time() < deadline:
            runs = {e: clients[e].list_runs(recurring_run_id=names[e]) for e in ENGINES}
            running = {e: sum(r.state == "RUNNING" for r in runs[e]) for e in ENGINES}
            assert max(running.values()) <= 2, f"more than two runs at a time: {running}"
            assert len(runs["tekton"]) <= 2, f"Tekton started a third run: {[r.run_id for r in runs['tekton']]}"
            skipped = "skipped: 2 of at most 2 runs unfinished" in _creator_logs(cluster, names["tekton"])
            if time.time() > third_tick + 5 and len(runs["argo"]) == 3 and len(runs["tekton"]) == 2 and skipped:
                break
            time.sleep(3)
        assert len(runs["tekton"]) == 2 and "skipped: 2 of at most 2 runs unfinished" in _creator_logs(cluster, names["tekton"])
        states = sorted(r.state for r in runs["argo"])
        assert len(states) == 3 and states.count("PENDING") >= 1 and states.count("RUNNING") <= 2, states
        waiting = [r for r in runs["argo"] if r.state == "PENDING"]
        assert any("lock" in r.message.lower() or "semaphore" in r.message.lower() for r in waiting), \
            [r.message for r in waiting]
    finally:
        for e in ENGINES:
            for run in clients[e].list_runs(recurring_run_id=names[e]):
                clients[e].delete_run(run.run_id)
            clients[e].delete_recurring_run(names[e])


def _conditions(clients, name: str) -> list:
    return (clients["argo"].get_recurring_run(name).raw.get("status") or {}).get("conditions") or []


@selectable
def test_interval_and_time_window(manifests, cluster):  # noqa: F811
    """interval_second with an end_time a little ahead, on both engines (~2.5 minutes): runs are
    created while the window is open and none after it closes; a schedule whose start_time is
    ahead creates nothing. On Argo the window is the CronWorkflow's `when` (a broken expression
    would show as a SubmissionError condition: checked), on Tekton the creator pod's clock."""
    from datetime import datetime, timedelta, timezone

    clients = {e: make_client(e) for e in ENGINES}
    now = datetime.now(timezone.utc)
    names = {"argo": unique("every-20s"), "tekton": unique("every-60s"), "later": unique("not-yet")}
    argo_end, tekton_end = now + timedelta(seconds=50), now + timedelta(seconds=90)
    made = {
        "argo": clients["argo"].create_recurring_run(names["argo"], pipeline_func=napper, arguments={"seconds": 1},
                                                     interval_second=20, end_time=argo_end, max_concurrency=None),
        "tekton": clients["tekton"].create_recurring_run(names["tekton"], pipeline_func=napper, arguments={"seconds": 1},
                                                         interval_second=60, start_time=now - timedelta(hours=1),
                                                         end_time=tekton_end, max_concurrency=None, no_catchup=True),
        "later": clients["argo"].create_recurring_run(names["later"], "* * * * *", pipeline_func=napper,
                                                      arguments={"seconds": 1}, start_time=now + timedelta(hours=1)),
    }
    started = time.time()
    try:
        assert (made["argo"].interval_second, made["argo"].cron_expression) == (20, "")
        assert made["tekton"].end_time == tekton_end.strftime("%Y-%m-%dT%H:%M:%SZ")
        engine = {"argo": "argo", "tekton": "tekton", "later": "argo"}
        deadline = started + 165
        counts: dict[str, int] = {}
        while time.time() < deadline:
            counts = {k: len(clients[engine[k]].list_runs(recurring_run_id=n)) for k, n in names.items()}
            closed = "is not before the end time" in _creator_logs(cluster, names["tekton"])
            if time.time() > argo_end.timestamp() + 45 and counts["tekton"] >= 1 and closed:
                break
            time.sleep(5)
        argo_runs = clients["argo"].list_runs(recurring_run_id=names["argo"])
        created_at = sorted(datetime.fromisoformat(r.created_at.replace("Z", "+00:00")) for r in argo_runs)
        assert 1 <= len(argo_runs) <= 3, f"Argo runs every 20 s until {argo_end}: {[r.run_id for r in argo_runs]}"
        assert all(t < argo_end + timedelta(seconds=2) for t in created_at), (created_at, argo_end)
        assert not [c for c in _conditions(clients, names["argo"]) if c.get("type") == "SubmissionError"]
        assert counts["tekton"] == 1, f"Tekton: one tick inside the window, the next after it: {counts}"
        assert "is not before the end time" in _creator_logs(cluster, names["tekton"])
        assert counts["later"] == 0, "a run was created before start_time"
        assert not [c for c in _conditions(clients, names["later"]) if c.get("type") == "SubmissionError"]
    finally:
        for key, name in names.items():
            c = clients["tekton" if key == "tekton" else "argo"]
            for run in c.list_runs(recurring_run_id=name):
                c.delete_run(run.run_id)
            c.delete_recurring_run(name)
