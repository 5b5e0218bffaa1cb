"""kfp-kubernetes `CreatePVC` / `DeletePVC` → Argo resource templates.

KFP marks these tasks with stub images (`argostub/createpvc`, `argostub/deletepvc`) and lets its
driver call the Kubernetes API. Argo does that itself with a resource template. The manifest is
built by one expression tag (`toJson`), so parameter values land in it as JSON strings and can
never add fields or documents to it. The workflow's service account needs create/delete rights
on persistentvolumeclaims (see manifests/base/pvc-rbac.yaml).
"""
from __future__ import annotations

import json

from hera.workflows import models as m

from translator import graph as g
from translator.errors import TranslateError

from .names import param_name
from .values import ABSENT, encode

CREATE_IMAGE = "argostub/createpvc"
DELETE_IMAGE = "argostub/deletepvc"


def is_resource_stub(impl: g.ContainerImpl) -> bool:
    return impl.image in (CREATE_IMAGE, DELETE_IMAGE)


def _param(name: str) -> str:
    return "inputs.parameters[%s]" % json.dumps(name)


def _given(name: str) -> str:
    return '%s != "%s"' % (_param(name), "\\uffff")


def build_resource_template(name: str, comp: g.Component, element: str) -> m.Template:
    impl = comp.impl
    assert isinstance(impl, g.ContainerImpl)
    iface = comp.interface
    inputs = []
    for p in iface.input_params:
        default = encode(p.default, p.type) if p.has_default and p.default is not None else (ABSENT if p.optional else None)
        inputs.append(m.Parameter(name=param_name(p.name), default=default))
    declared = {p.name for p in iface.input_params}
    if impl.image == CREATE_IMAGE:
        missing = {"access_modes", "size"} - declared
        if missing:
            raise TranslateError(f"CreatePVC component lacks input '{sorted(missing)[0]}'", element=element)

        def optional(key: str, value: str) -> str:
            """The value when the input was given, else null (Kubernetes: field unset)."""
            return f"({_given(key)} ? {value} : nil)" if key in declared else "nil"

        pvc_name = (
            f'({_given("pvc_name")} ? {_param("pvc_name")} : workflow.name + '
            f'({_given("pvc_name_suffix")} ? {_param("pvc_name_suffix")} : "-pvc"))'
        )
        storage_class = (
            f'({_given("storage_class_name")} && {_param("storage_class_name")} != "" ? {_param("storage_class_name")} : nil)'
            if "storage_class_name" in declared
            else "nil"
        )
        spec = (
            f'{{"accessModes": fromJSON({_param("access_modes")}), '
            f'"resources": {{"requests": {{"storage": {_param("size")} }} }}, '
            f'"storageClassName": {storage_class}, '
            f'"volumeName": {optional("volume_name", _param("volume_name"))}, '
            f'"dataSource": {optional("data_source", "fromJSON(" + _param("data_source") + ")")} }}'
        )
        metadata = f'{{"name": {pvc_name}, "annotations": {optional("annotations", "fromJSON(" + _param("annotations") + ")")} }}'
        manifest = '{{=toJson({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": %s, "spec": %s })}}' % (
            metadata,
            spec,
        )
        resource = m.ResourceTemplate(action="create", manifest=manifest, set_owner_reference=False)
        outputs = m.Outputs(parameters=[m.Parameter(name="name", value_from=m.ValueFrom(json_path="{.metadata.name}"))])
    else:
        if "pvc_name" not in declared:
            raise TranslateError("DeletePVC component lacks input 'pvc_name'", element=element)
        manifest = '{{=toJson({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": %s } })}}' % _param(
            "pvc_name"
        )
        # KFP requests the deletion and goes on; kubectl would wait for the claim, which stays in use while
        # the pods that mounted it exist (until pod GC, after the workflow): `--wait=false` (e2e F3).
        resource = m.ResourceTemplate(action="delete", manifest=manifest, flags=["--ignore-not-found", "--wait=false"])
        outputs = None
    return m.Template(name=name, inputs=m.Inputs(parameters=inputs or None), outputs=outputs, resource=resource)
