"""What the client hands back: runs, their tasks and outputs, experiments, schedules, pipelines.

Names follow kfp.Client's objects where the concept maps (`run_id`, `display_name`, `state`,
`experiment_id`, `recurring_run_id`, `pipeline_id`); `raw` keeps the engine's object."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

LABEL = "kfp-translate.dev"
EXPERIMENT = f"{LABEL}/experiment"          # label: the experiment's id (a DNS label)
EXPERIMENT_NAME = f"{LABEL}/experiment-name"  # annotation: its display name
RUN_NAME = f"{LABEL}/run-name"              # annotation: the run's display name (kfp run_name)
SCHEDULE = f"{LABEL}/schedule"              # label: the recurring run that created a run
PIPELINE_NAME = f"{LABEL}/pipeline-name"    # label on uploads: the uploaded pipeline's id
PIPELINE_VERSION = f"{LABEL}/pipeline-version"
DESCRIPTION = f"{LABEL}/description"
KIND = f"{LABEL}/kind"                      # label on our ConfigMaps: experiment | pipeline-ir | ...
DONE_STATES = {"SUCCEEDED", "FAILED", "CANCELED", "SKIPPED"}


@dataclass
class Artifact:
    """Where an output artifact is: an s3:// URI (bucket and key) and its metadata, when known."""

    name: str
    uri: str
    key: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Task:
    """One KFP task of a run (a loop iteration is one Task each, `iteration` set)."""

    name: str
    state: str
    outputs: dict[str, Any] = field(default_factory=dict)   # output parameters, typed as KFP types them
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    iteration: int | None = None
    pod: str | None = None
    message: str = ""


@dataclass
class Run:
    run_id: str                 # the Workflow's / PipelineRun's name in `namespace`
    name: str
    namespace: str
    engine: str
    state: str                  # PENDING RUNNING SUCCEEDED FAILED CANCELED (kfp's V2beta1RuntimeState)
    display_name: str = ""
    experiment_id: str | None = None
    pipeline_name: str | None = None
    created_at: str | None = None
    finished_at: str | None = None
    message: str = ""
    url: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)  # the pipeline's outputs, typed
    tasks: list[Task] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def done(self) -> bool:
        return self.state in DONE_STATES

    def task(self, name: str) -> Task:
        found = [t for t in self.tasks if t.name == name and t.iteration is None]
        if len(found) != 1:
            raise KeyError(f"run {self.run_id}: {len(found)} tasks named {name!r} "
                           f"(tasks: {sorted({t.name for t in self.tasks})})")
        return found[0]


@dataclass
class Experiment:
    experiment_id: str
    display_name: str
    namespace: str
    description: str = ""


@dataclass
class RecurringRun:
    recurring_run_id: str       # the CronWorkflow's / CronJob's name
    display_name: str
    namespace: str
    engine: str
    cron_expression: str
    max_concurrency: int | None
    enabled: bool
    experiment_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    interval_second: int | None = None   # set instead of cron_expression for a periodic schedule
    start_time: str | None = None        # UTC RFC 3339: no run is created before it / from end_time on
    end_time: str | None = None


@dataclass
class PipelineVersion:
    pipeline_id: str            # the uploaded pipeline's id (a DNS label)
    pipeline_version_id: str    # the object's name: <pipeline>-<version>
    version: str
    namespace: str
    engine: str
    description: str = ""
    created_at: str | None = None
