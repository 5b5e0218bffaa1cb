"""Typed models of the Tekton Pipelines v1 objects we write (tekton.dev/v1).

No maintained Python package models Tekton's v1 API, so these are our own, field for field
after `pkg/apis/pipeline/v1` of tektoncd/pipeline v1.15.0 (only the fields we use). Kubernetes
core types (env, volumes, resources, tolerations, ...) are hera's models of the Kubernetes API.
`extra="forbid"` catches a misspelt field here; Tekton's own validation (tools/tektonlint)
checks the rest.
"""
from __future__ import annotations

from typing import Any, Literal, Optional, Union

from hera.workflows import models as k
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

API_VERSION = "tekton.dev/v1"


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


ParamValue = Union[str, list[str], dict[str, str]]


class ParamSpec(_Model):
    name: str
    type: Literal["string", "array", "object"] = "string"
    description: Optional[str] = None
    default: Optional[ParamValue] = None


class Param(_Model):
    name: str
    value: ParamValue


class TaskResult(_Model):
    name: str
    type: Optional[Literal["string", "array", "object"]] = None
    description: Optional[str] = None


class WhenExpression(_Model):
    input: Optional[str] = None
    operator: Optional[Literal["in", "notin"]] = None
    values: Optional[list[str]] = None
    cel: Optional[str] = None


class StepResult(_Model):
    name: str
    type: Optional[Literal["string", "array", "object"]] = None
    description: Optional[str] = None


class Step(_Model):
    name: str
    image: str
    command: Optional[list[str]] = None
    args: Optional[list[str]] = None
    script: Optional[str] = None
    working_dir: Optional[str] = None
    env: Optional[list[k.EnvVar]] = None
    env_from: Optional[list[k.EnvFromSource]] = None
    compute_resources: Optional[k.ResourceRequirements] = None
    volume_mounts: Optional[list[k.VolumeMount]] = None
    image_pull_policy: Optional[str] = None
    security_context: Optional[k.SecurityContext] = None
    results: Optional[list[StepResult]] = None  # step results (stable since StepActions)
    when: Optional[list[WhenExpression]] = None  # step `when`: the entrypoint skips the step


class StepTemplate(_Model):
    env: Optional[list[k.EnvVar]] = None
    volume_mounts: Optional[list[k.VolumeMount]] = None


class WorkspaceDeclaration(_Model):
    name: str
    mount_path: Optional[str] = None
    optional: Optional[bool] = None


class TaskSpec(_Model):
    params: Optional[list[ParamSpec]] = None
    results: Optional[list[TaskResult]] = None
    step_template: Optional[StepTemplate] = None
    steps: list[Step]
    volumes: Optional[list[k.Volume]] = None
    workspaces: Optional[list[WorkspaceDeclaration]] = None


class EmbeddedTask(TaskSpec):
    metadata: Optional[dict[str, dict[str, str]]] = None  # labels / annotations of the TaskRun's pod


class MatrixInclude(_Model):
    name: str
    params: list[Param]


class MatrixParams(_Model):
    params: Optional[list[Param]] = None
    include: Optional[list[MatrixInclude]] = None


class WorkspacePipelineTaskBinding(_Model):
    name: str
    workspace: str


class PipelineTask(_Model):
    name: str
    display_name: Optional[str] = None
    task_spec: EmbeddedTask
    params: Optional[list[Param]] = None
    matrix: Optional[MatrixParams] = None
    when: Optional[list[WhenExpression]] = None
    run_after: Optional[list[str]] = None
    retries: Optional[int] = None
    timeout: Optional[str] = None
    workspaces: Optional[list[WorkspacePipelineTaskBinding]] = None


class PipelineResult(_Model):
    name: str
    value: str
    type: Optional[Literal["string", "array", "object"]] = None
    description: Optional[str] = None


class PipelineWorkspaceDeclaration(_Model):
    name: str
    description: Optional[str] = None
    optional: Optional[bool] = None


class PipelineSpec(_Model):
    display_name: Optional[str] = None
    description: Optional[str] = None
    params: Optional[list[ParamSpec]] = None
    tasks: list[PipelineTask]
    finally_: Optional[list[PipelineTask]] = Field(default=None, alias="finally")
    results: Optional[list[PipelineResult]] = None
    workspaces: Optional[list[PipelineWorkspaceDeclaration]] = None


class ObjectMeta(_Model):
    name: Optional[str] = None
    generate_name: Optional[str] = None
    namespace: Optional[str] = None
    labels: Optional[dict[str, str]] = None
    annotations: Optional[dict[str, str]] = None


class PodTemplate(_Model):
    """pkg/apis/pipeline/pod/template.go (the fields we set)."""

    node_selector: Optional[dict[str, str]] = None
    tolerations: Optional[list[k.Toleration]] = None
    affinity: Optional[k.Affinity] = None
    security_context: Optional[k.PodSecurityContext] = None
    volumes: Optional[list[k.Volume]] = None
    image_pull_secrets: Optional[list[k.LocalObjectReference]] = None


class PipelineTaskRunSpec(_Model):
    pipeline_task_name: str
    service_account_name: Optional[str] = None
    pod_template: Optional[PodTemplate] = None
    compute_resources: Optional[k.ResourceRequirements] = None
    metadata: Optional[dict[str, dict[str, str]]] = None


class VolumeClaimTemplate(_Model):
    metadata: Optional[ObjectMeta] = None
    spec: k.PersistentVolumeClaimSpec


class WorkspaceBinding(_Model):
    name: str
    volume_claim_template: Optional[VolumeClaimTemplate] = None
    empty_dir: Optional[dict[str, Any]] = None


class TaskRunTemplate(_Model):
    service_account_name: Optional[str] = None
    pod_template: Optional[PodTemplate] = None


class Timeouts(_Model):
    pipeline: Optional[str] = None
    tasks: Optional[str] = None
    finally_: Optional[str] = Field(default=None, alias="finally")


class PipelineRef(_Model):
    name: str


class PipelineRunSpec(_Model):
    pipeline_spec: Optional[PipelineSpec] = None
    pipeline_ref: Optional[PipelineRef] = None
    params: Optional[list[Param]] = None
    task_run_template: Optional[TaskRunTemplate] = None
    task_run_specs: Optional[list[PipelineTaskRunSpec]] = None
    workspaces: Optional[list[WorkspaceBinding]] = None
    timeouts: Optional[Timeouts] = None


class PipelineRun(_Model):
    api_version: Literal["tekton.dev/v1"] = API_VERSION
    kind: Literal["PipelineRun"] = "PipelineRun"
    metadata: ObjectMeta
    spec: PipelineRunSpec


class Pipeline(_Model):
    api_version: Literal["tekton.dev/v1"] = API_VERSION
    kind: Literal["Pipeline"] = "Pipeline"
    metadata: ObjectMeta
    spec: PipelineSpec


def dump(obj: _Model) -> dict[str, Any]:
    """The manifest as plain data: Kubernetes field names, unset fields left out."""
    return obj.model_dump(mode="json", by_alias=True, exclude_none=True)
