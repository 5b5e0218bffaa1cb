"""When a recurring run fires: kfp.Client.create_recurring_run's cron_expression or
interval_second, start_time, end_time and no_catchup, checked once for both engines.

- interval_second -> the schedule `@every <n>s`: robfig/cron's constant-delay descriptor, which
  both Argo's CronWorkflow controller (cron.New()'s standard parser) and the Kubernetes CronJob
  controller (cron.ParseStandard) accept. A CronJob names each tick's Job by its minute, so on
  Tekton the interval must be at least 60 s (two ticks in one minute would be one Job).
- start_time / end_time -> Argo: the CronWorkflow's `when`, an expression template evaluated at
  every tick (`{{= now() >= date(...) }}`: expr's own now() and date()); Tekton: the creator
  pod compares its clock with them and creates no PipelineRun outside the window.
- no_catchup: neither controller backfills ticks it missed: after a pause each starts at most
  the latest one (Argo: within startingDeadlineSeconds; CronJob: within its deadline). That is
  KFP's no_catchup=True; no_catchup=False (start every missed tick) cannot be expressed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .errors import ClientError

START, END = "kfp-translate.dev/start-time", "kfp-translate.dev/end-time"  # annotations, UTC RFC 3339


@dataclass(frozen=True)
class Timing:
    schedule: str             # a 5-field cron expression or `@every <n>s`
    start: str | None = None  # UTC, 2026-12-01T10:00:00Z
    end: str | None = None

    def argo_when(self) -> str | None:
        """The CronWorkflow `when` that lets a tick create a Workflow only inside the window."""
        checks = ([f"now() >= date('{self.start}')"] if self.start else []) + \
                 ([f"now() < date('{self.end}')"] if self.end else [])
        return "{{= " + " && ".join(checks) + " }}" if checks else None

    def annotations(self) -> dict[str, str]:
        return {k: v for k, v in ((START, self.start), (END, self.end)) if v}


def _instant(value: Any, name: str) -> str | None:
    """An RFC 3339 string (or an aware datetime) as UTC `YYYY-MM-DDTHH:MM:SSZ`."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ClientError(f"{value!r} is not an RFC 3339 time (e.g. 2026-12-01T10:00:00Z)",
                              element=name) from None
    if not isinstance(value, datetime):
        raise ClientError(f"must be an RFC 3339 string or a datetime, not {type(value).__name__}", element=name)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ClientError(f"{value.isoformat()} has no UTC offset (add Z or +HH:MM)", element=name)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def resolve(engine: str, cron_expression: str | None, interval_second: Any, start_time: Any, end_time: Any,
            no_catchup: bool | None) -> Timing:
    """The Timing of a recurring run, or a one-line ClientError naming the argument that cannot be
    expressed on `engine`."""
    from backends.argo.options import check_schedule

    if (cron_expression is None) == (interval_second is None):
        raise ClientError("give exactly one of cron_expression and interval_second", element="cron_expression")
    if interval_second is not None:
        if isinstance(interval_second, bool) or not isinstance(interval_second, int) or interval_second < 1:
            raise ClientError(f"must be a whole number of seconds, at least 1 (got {interval_second!r})",
                              element="interval_second")
        if engine == "tekton" and interval_second < 60:
            raise ClientError(f"{interval_second} is under 60 on Tekton: the Kubernetes CronJob that "
                              "schedules it names each tick's Job by its minute, so ticks less than a minute apart "
                              "would be dropped", element="interval_second")
        schedule = f"@every {interval_second}s"
    else:
        assert cron_expression is not None
        check_schedule(cron_expression, "cron_expression")
        schedule = cron_expression
    if no_catchup is False:
        raise ClientError("False (start every tick missed while paused) cannot be expressed: "
                          f"{'Argo CronWorkflows' if engine == 'argo' else 'Kubernetes CronJobs'} start at most the "
                          "latest missed tick (leave no_catchup unset or True)", element="no_catchup")
    start, end = _instant(start_time, "start_time"), _instant(end_time, "end_time")
    if start and end and end <= start:
        raise ClientError(f"{end} is not after start_time {start}", element="end_time")
    return Timing(schedule, start, end)


def interval_of(schedule: str) -> int | None:
    """interval_second back from an `@every <n>s` schedule (None for a cron expression)."""
    if schedule.startswith("@every ") and schedule.endswith("s") and schedule[7:-1].isdigit():
        return int(schedule[7:-1])
    return None
