"""kfp-kubernetes settings on Tekton, including those chosen at run time (docs/tekton.md,
"kfp-kubernetes settings").

The front end lifts a run-time value of a setting (a secret name from a pipeline parameter, a
PVC claim from a CreatePVC output) into a task input `kfp-k8s-N`. On Tekton that input is an
ordinary Task param, and the setting's field names it as `$(params.kfp-k8s-N)`: Tekton
substitutes Task params into a Task's volumes (configMap name, secret secretName, PVC claimName)
and its steps' env (`valueFrom` secretKeyRef / configMapKeyRef name), and into the TaskRun's pod
template (imagePullSecrets names) when it builds the pod (tektoncd/pipeline v1.15.0:
pkg/reconciler/taskrun/resources/apply.go `ApplyReplacements`, `ApplyPodTemplateReplacements`;
pkg/container/container_replacements.go). The Argo mapping (backends/argo/platform.py) then
builds the same fields as on Argo, with these strings in place of Argo's variables.

A whole JSON object chosen at run time (node selector, toleration, node affinity) cannot be
substituted: Tekton replaces text inside string fields only. A setting whose value is absent
(an optional input given no value) is left out, as KFP's driver skips it.
"""
from __future__ import annotations

from typing import Any

from backends.argo.platform import PodSettings, pod_settings
from translator.errors import TranslateError

from .flatten import TEKTON_VAR, Unit, Value
from .names import param_name
from .values import ABSENT

K8S_INPUT = "kfp-k8s-"  # the inputs the front end lifts run-time settings into (translator/normalize.py)

# JSON settings: Tekton cannot substitute a whole object into a pod template
_JSON = {"nodeSelectorJson": "node selector", "tolerationJson": "toleration", "nodeAffinityJson": "node affinity"}

_DROP = object()  # a setting whose run-time value is absent: left out, as KFP does


def is_setting_input(name: str) -> bool:
    return name.startswith(K8S_INPUT)


def check_value(name: str, value: Value, unit: Unit, setting: str) -> None:
    """A run-time setting must be one string Tekton substitutes into the pod's fields: not a
    value the pod shim picks out of a list or fetches from the store."""
    what = None
    if value.oneof:
        what = "a dsl.OneOf value"
    elif value.loop is not None or value.collected is not None:
        what = "a per-iteration or collected value"
    elif value.item is not None and (unit.loop is None or unit.loop.iterations is None):
        what = "the item of a loop over a run-time list (each TaskRun receives the whole list)"
    if what is not None:
        raise TranslateError(f"kfp-kubernetes setting '{setting}' read from {what} is not supported on Tekton",
                             element=unit.element)


def settings(unit: Unit, resolver) -> PodSettings:
    """The unit's kfp-kubernetes settings as fields of its Task and pod template."""
    platform = {}
    for key, value in sorted(unit.task.platform.items()):
        resolved = _resolve(value, unit, key, key)
        if resolved is not _DROP:
            platform[key] = resolved
    return pod_settings(platform, resolver)


def setting_of(unit: Unit) -> dict[str, str]:
    """For each lifted input, the top-level setting that reads it (for error messages)."""
    found: dict[str, str] = {}

    def walk(node: Any, setting: str) -> None:
        if isinstance(node, dict):
            if set(node) == {"param"}:
                found.setdefault(node["param"], setting)
            for v in node.values():
                walk(v, setting)
        elif isinstance(node, list):
            for v in node:
                walk(v, setting)

    for key, value in unit.task.platform.items():
        walk(value, key)
    return found


def _resolve(node: Any, unit: Unit, setting: str, key: str) -> Any:
    """One setting with its lifted inputs as Tekton param references; `_DROP` for an entry
    that reads an absent value."""
    if isinstance(node, list):
        items = [_resolve(x, unit, setting, key) for x in node]
        return [x for x in items if x is not _DROP]
    if isinstance(node, str):
        if TEKTON_VAR.search(node):
            raise TranslateError(f"kfp-kubernetes setting '{setting}': the constant {node[:60]!r} spells a Tekton "
                                 "variable, which Tekton would substitute", element=unit.element)
        return node
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for k, v in node.items():
        if isinstance(v, dict) and set(v) == {"param"}:
            ref = unit.params.get(v["param"])
            if ref is None or (isinstance(ref, Value) and ref.text == ABSENT):
                return _DROP  # KFP's driver skips a setting whose parameter resolved to null
            if k in _JSON:
                raise TranslateError(f"kfp-kubernetes setting '{setting}': a {_JSON[k]} chosen at run time ({k}) is "
                                     "not supported on Tekton (Tekton substitutes parameters into the strings of a "
                                     "pod template, not a whole object)", element=unit.element)
            out[k] = f"$(params.{param_name(v['param'])})"
        elif k in _JSON and isinstance(v, dict) and "json" in v:
            raise TranslateError(f"kfp-kubernetes setting '{setting}': a {_JSON[k]} given as JSON ({k}) is not "
                                 "supported on Tekton yet", element=unit.element)
        else:
            resolved = _resolve(v, unit, setting, k)
            if resolved is _DROP:
                return _DROP
            out[k] = resolved
    return out
