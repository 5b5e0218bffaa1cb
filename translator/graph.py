"""The normalized pipeline graph every backend consumes.

The IR spreads one task over a DAG entry, a component, an executor and a platform entry, and
copies each component per task. Here a task points at one deduplicated `Component` whose
implementation is a container, an importer or a nested DAG, and every input is a typed
`Binding`. Backends read this graph; they never look at the IR.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

# KFP parameter types, as in the IR.
STRING = "STRING"
INTEGER = "NUMBER_INTEGER"
DOUBLE = "NUMBER_DOUBLE"
BOOLEAN = "BOOLEAN"
LIST = "LIST"
STRUCT = "STRUCT"
TASK_FINAL_STATUS = "TASK_FINAL_STATUS"


@dataclass(frozen=True)
class ParamDef:
    name: str
    type: str
    default: Any = None
    has_default: bool = False
    optional: bool = False


@dataclass(frozen=True)
class ArtifactDef:
    name: str
    schema_title: str
    schema_version: str
    is_list: bool = False
    optional: bool = False


@dataclass(frozen=True)
class Interface:
    input_params: tuple[ParamDef, ...] = ()
    input_artifacts: tuple[ArtifactDef, ...] = ()
    output_params: tuple[ParamDef, ...] = ()
    output_artifacts: tuple[ArtifactDef, ...] = ()

    def input_param(self, name: str) -> ParamDef | None:
        return next((p for p in self.input_params if p.name == name), None)

    def input_artifact(self, name: str) -> ArtifactDef | None:
        return next((a for a in self.input_artifacts if a.name == name), None)

    def output_param(self, name: str) -> ParamDef | None:
        return next((p for p in self.output_params if p.name == name), None)

    def output_artifact(self, name: str) -> ArtifactDef | None:
        return next((a for a in self.output_artifacts if a.name == name), None)


# --- where a task input comes from ------------------------------------------------------------


@dataclass(frozen=True)
class Const:
    """A literal value, already typed as the consuming input declares (an int is an int)."""

    value: Any


@dataclass(frozen=True)
class FromInput:
    """An input of the enclosing DAG (a pipeline parameter at the root)."""

    name: str


@dataclass(frozen=True)
class FromTask:
    """An output of a sibling task in the same DAG."""

    task: str
    output: str


@dataclass(frozen=True)
class FromTaskStatus:
    """PipelineTaskFinalStatus of a sibling task."""

    task: str


@dataclass(frozen=True)
class FromInputField:
    """One field of a JSON object held by an input of the enclosing DAG (a loop item's field)."""

    name: str
    field: str


Binding = Union[Const, FromInput, FromTask, FromTaskStatus, FromInputField]


# --- implementations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Resources:
    cpu_request: str | None = None
    cpu_limit: str | None = None
    memory_request: str | None = None
    memory_limit: str | None = None
    accelerator_type: str | None = None
    accelerator_count: str | None = None


@dataclass(frozen=True)
class ContainerImpl:
    image: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    resources: Resources = Resources()

    @property
    def is_python_function(self) -> bool:
        """KFP lightweight components take their ExecutorInput as the `{{$}}` placeholder."""
        return any("{{$}}" in part for part in self.command + self.args)


@dataclass(frozen=True)
class ImporterImpl:
    uri: Binding
    schema_title: str
    schema_version: str
    metadata: Any = None
    reimport: bool = False


@dataclass(frozen=True)
class Iterator:
    """A ParallelFor: items are a literal list, a DAG input (parameter) or an artifact list."""

    item_input: str
    items: Binding
    is_artifact: bool = False
    parallelism: int | None = None


@dataclass(frozen=True)
class Retry:
    max_retry_count: int
    backoff_duration: str | None = None
    backoff_factor: float | None = None
    backoff_max_duration: str | None = None


@dataclass(frozen=True)
class Task:
    name: str  # the IR task name (unique within its DAG)
    display_name: str
    component: "Component"
    params: tuple[tuple[str, Binding], ...] = ()
    artifacts: tuple[tuple[str, Binding], ...] = ()
    after: tuple[str, ...] = ()  # sibling tasks this one waits for
    condition: str | None = None  # raw KFP CEL condition
    run_after_upstream_completed: bool = False
    cache: bool = False
    cache_key: str | None = None
    retry: Retry | None = None
    iterator: Iterator | None = None
    platform: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def param(self, name: str) -> Binding | None:
        return dict(self.params).get(name)

    def artifact(self, name: str) -> Binding | None:
        return dict(self.artifacts).get(name)


@dataclass(frozen=True)
class DagOutput:
    """A DAG output: one selector, or several (OneOf: the first that ran)."""

    name: str
    sources: tuple[FromTask, ...]
    is_artifact: bool


@dataclass(frozen=True)
class DagImpl:
    tasks: tuple[Task, ...]
    outputs: tuple[DagOutput, ...] = ()

    def task(self, name: str) -> Task:
        for t in self.tasks:
            if t.name == name:
                return t
        raise KeyError(name)


Implementation = Union[ContainerImpl, ImporterImpl, DagImpl]


@dataclass(frozen=True, eq=False)
class Component:
    """One distinct component. `digest` identifies its content (interface and implementation)."""

    name: str  # the IR component name of its first use, e.g. "comp-train-model"
    interface: Interface
    impl: Implementation
    digest: str


@dataclass(frozen=True)
class Pipeline:
    name: str
    display_name: str | None
    description: str | None
    root: Component
    sdk_version: str | None = None
    source: str | None = None
    workspace: dict[str, Any] | None = None  # kfp PipelineConfig.workspace: {size, kubernetes: {pvcSpecPatch}}
