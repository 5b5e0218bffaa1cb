"""Pydantic models of KFP's PipelineSpec IR (schema 2.1.0), as `kfp.compiler` writes it.

Every model forbids unknown fields: an IR construct we do not model is reported by name
instead of being dropped silently. Field names are the IR's camelCase names.
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


ParameterType = Literal[
    "STRING",
    "NUMBER_INTEGER",
    "NUMBER_DOUBLE",
    "BOOLEAN",
    "LIST",
    "STRUCT",
    "TASK_FINAL_STATUS",
    "TASK_CONFIG",
]


# --- component interface -----------------------------------------------------------------


class ArtifactType(_Model):
    schemaTitle: str | None = None
    schemaVersion: str | None = None
    instanceSchema: str | None = None


class ParameterSpec(_Model):
    parameterType: ParameterType
    defaultValue: Any = None
    isOptional: bool = False
    description: str | None = None


class ArtifactSpec(_Model):
    artifactType: ArtifactType
    isArtifactList: bool = False
    isOptional: bool = False
    description: str | None = None


class Definitions(_Model):
    parameters: dict[str, ParameterSpec] = Field(default_factory=dict)
    artifacts: dict[str, ArtifactSpec] = Field(default_factory=dict)


# --- task inputs -------------------------------------------------------------------------


class TaskOutputParameterRef(_Model):
    producerTask: str
    outputParameterKey: str


class TaskOutputArtifactRef(_Model):
    producerTask: str
    outputArtifactKey: str


class RuntimeValue(_Model):
    constant: Any = None


class TaskFinalStatusRef(_Model):
    producerTask: str


class ParameterBinding(_Model):
    componentInputParameter: str | None = None
    taskOutputParameter: TaskOutputParameterRef | None = None
    runtimeValue: RuntimeValue | None = None
    taskFinalStatus: TaskFinalStatusRef | None = None
    parameterExpressionSelector: str | None = None


class ArtifactBinding(_Model):
    componentInputArtifact: str | None = None
    taskOutputArtifact: TaskOutputArtifactRef | None = None


class TaskInputs(_Model):
    parameters: dict[str, ParameterBinding] = Field(default_factory=dict)
    artifacts: dict[str, ArtifactBinding] = Field(default_factory=dict)


# --- tasks ----------------------------------------------------------------------------------


class ComponentRef(_Model):
    name: str


class TaskInfo(_Model):
    name: str


class CachingOptions(_Model):
    enableCache: bool = False
    cacheKey: str | None = None


class TriggerPolicy(_Model):
    condition: str | None = None
    strategy: Literal["ALL_UPSTREAM_TASKS_SUCCEEDED", "ALL_UPSTREAM_TASKS_COMPLETED"] | None = None


class RetryPolicy(_Model):
    maxRetryCount: int | None = None
    backoffDuration: str | None = None
    backoffFactor: float | None = None
    backoffMaxDuration: str | None = None


class ParameterIteratorItems(_Model):
    raw: str | None = None
    inputParameter: str | None = None


class ParameterIterator(_Model):
    itemInput: str
    items: ParameterIteratorItems


class ArtifactIteratorItems(_Model):
    inputArtifact: str


class ArtifactIterator(_Model):
    itemInput: str
    items: ArtifactIteratorItems


class IteratorPolicy(_Model):
    parallelismLimit: int | None = None


class Task(_Model):
    componentRef: ComponentRef
    taskInfo: TaskInfo
    inputs: TaskInputs = Field(default_factory=TaskInputs)
    dependentTasks: list[str] = Field(default_factory=list)
    cachingOptions: CachingOptions | None = None
    triggerPolicy: TriggerPolicy | None = None
    retryPolicy: RetryPolicy | None = None
    parameterIterator: ParameterIterator | None = None
    artifactIterator: ArtifactIterator | None = None
    iteratorPolicy: IteratorPolicy | None = None


# --- DAG outputs ----------------------------------------------------------------------------


class ParameterSelector(_Model):
    producerSubtask: str
    outputParameterKey: str


class OneOfParameters(_Model):
    parameterSelectors: list[ParameterSelector]


class DagOutputParameter(_Model):
    valueFromParameter: ParameterSelector | None = None
    valueFromOneof: OneOfParameters | None = None


class ArtifactSelector(_Model):
    producerSubtask: str
    outputArtifactKey: str


class DagOutputArtifact(_Model):
    artifactSelectors: list[ArtifactSelector]


class DagOutputs(_Model):
    parameters: dict[str, DagOutputParameter] = Field(default_factory=dict)
    artifacts: dict[str, DagOutputArtifact] = Field(default_factory=dict)


class Dag(_Model):
    tasks: dict[str, Task] = Field(default_factory=dict)
    outputs: DagOutputs | None = None


class ComponentSpec(_Model):
    executorLabel: str | None = None
    dag: Dag | None = None
    inputDefinitions: Definitions = Field(default_factory=Definitions)
    outputDefinitions: Definitions = Field(default_factory=Definitions)


# --- executors ------------------------------------------------------------------------------


class EnvVar(_Model):
    name: str
    value: str = ""


class Accelerator(_Model):
    type: str | None = None
    count: int | str | None = None
    resourceType: str | None = None
    resourceCount: str | int | None = None


class Resources(_Model):
    cpuLimit: float | None = None
    memoryLimit: float | None = None
    cpuRequest: float | None = None
    memoryRequest: float | None = None
    resourceCpuLimit: str | None = None
    resourceMemoryLimit: str | None = None
    resourceCpuRequest: str | None = None
    resourceMemoryRequest: str | None = None
    accelerator: Accelerator | None = None



class Container(_Model):
    image: str
    command: list[str] = Field(default_factory=list)
    args: list[str] = Field(default_factory=list)
    env: list[EnvVar] = Field(default_factory=list)
    resources: Resources | None = None


class ImporterUri(_Model):
    constant: Any = None
    runtimeParameter: str | None = None


class Importer(_Model):
    artifactUri: ImporterUri
    typeSchema: ArtifactType
    metadata: dict[str, Any] | None = None
    reimport: bool = False
    downloadToWorkspace: bool = False


class Executor(_Model):
    container: Container | None = None
    importer: Importer | None = None


class DeploymentSpec(_Model):
    executors: dict[str, Executor] = Field(default_factory=dict)


class PipelineInfo(_Model):
    name: str
    displayName: str | None = None
    description: str | None = None


class PipelineSpec(_Model):
    pipelineInfo: PipelineInfo
    root: ComponentSpec
    components: dict[str, ComponentSpec] = Field(default_factory=dict)
    deploymentSpec: DeploymentSpec = Field(default_factory=DeploymentSpec)
    schemaVersion: str
    sdkVersion: str | None = None
    defaultPipelineRoot: str | None = None
