"""kfp-kubernetes executor settings → fields of one Argo container template.

Values chosen at run time (a secret name from a pipeline parameter, a node selector from a task
output) were lifted by the front end into task inputs named `kfp-k8s-N`; here they appear as
`{"param": "kfp-k8s-N"}` and become `{{inputs.parameters.kfp-k8s-N}}`. JSON-valued settings
read at run time (node selector, affinity, toleration JSON) go through `podSpecPatch`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hera.workflows import models as m

from translator.errors import TranslateError

from .placeholders import Resolver

SUPPORTED = {
    "pvcMount",
    "secretAsEnv",
    "secretAsVolume",
    "configMapAsEnv",
    "configMapAsVolume",
    "fieldPathAsEnv",
    "podMetadata",
    "nodeSelector",
    "tolerations",
    "nodeAffinity",
    "imagePullSecret",
    "imagePullPolicy",
    "activeDeadlineSeconds",
    "emptyDirMounts",
    "genericEphemeralVolume",
    "enabledSharedMemory",
    "securityContext",
}


@dataclass
class PodSettings:
    env: list[m.EnvVar] = field(default_factory=list)
    env_from: list[m.EnvFromSource] = field(default_factory=list)
    volumes: list[m.Volume] = field(default_factory=list)
    volume_mounts: list[m.VolumeMount] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[m.Toleration] = field(default_factory=list)
    affinity: m.Affinity | None = None
    image_pull_policy: str | None = None
    active_deadline_seconds: m.IntOrString | None = None
    security_context: m.PodSecurityContext | None = None
    pod_patch: dict[str, Any] = field(default_factory=dict)
    container_patch: dict[str, Any] = field(default_factory=dict)
    raw_patches: list[str] = field(default_factory=list)

    def metadata(self) -> m.Metadata | None:
        if not self.labels and not self.annotations:
            return None
        return m.Metadata(labels=self.labels or None, annotations=self.annotations or None)

    def pod_spec_patch(self) -> str | None:
        """One JSON patch; values substituted at run time are spliced in as raw JSON."""
        patch = dict(self.pod_patch)
        if self.container_patch:
            patch["containers"] = [{"name": "main", **self.container_patch}]
        if not patch and not self.raw_patches:
            return None
        text = json.dumps(patch, sort_keys=True, separators=(",", ":"))
        for raw in self.raw_patches:  # '"key":{{inputs.parameters.x}}' fragments
            text = text[:-1] + ("," if text != "{}" else "") + raw + "}"
        return text


def _value(ref: Any, element: str) -> str:
    if isinstance(ref, dict) and "param" in ref:
        return "{{inputs.parameters.%s}}" % ref["param"]
    if isinstance(ref, dict) and "json" in ref:  # a constant JSON setting (node selector, ...)
        return json.dumps(ref["json"], sort_keys=True, separators=(",", ":"))
    if isinstance(ref, str):
        return ref
    raise TranslateError(f"unsupported Kubernetes setting value {json.dumps(ref)[:60]}", element=element)


def _json_value(ref: Any, fallback: str, element: str) -> str:
    """JSON spliced into the pod spec patch; an optional input given no value (ABSENT) gives
    `fallback` instead, as KFP skips the setting. Single-quoted literals: this is JSON text."""
    if isinstance(ref, dict) and "param" in ref:
        p = "inputs.parameters['%s']" % ref["param"]
        return "{{=%s != '\\uffff' ? %s : '%s'}}" % (p, p, fallback)
    return _value(ref, element)


def _name(entry: dict, literal_key: str, param_key: str, element: str) -> str:
    if entry.get(param_key) is not None:
        return _value(entry[param_key], element)
    if entry.get(literal_key):
        return entry[literal_key]
    raise TranslateError(f"Kubernetes setting has no {literal_key}", element=element)


def pod_settings(platform: dict[str, Any], resolver: Resolver) -> PodSettings:
    element = resolver.element
    unknown = sorted(set(platform) - SUPPORTED)
    if unknown:
        raise TranslateError(f"unsupported kfp-kubernetes setting '{unknown[0]}'", element=element)
    s = PodSettings()
    for i, pvc in enumerate(platform.get("pvcMount", [])):
        vol = f"kfp-pvc-{i}"
        name = _name(pvc, "constant", "pvcNameParameter", element)
        s.volumes.append(m.Volume(name=vol, persistent_volume_claim=m.PersistentVolumeClaimVolumeSource(claim_name=name)))
        s.volume_mounts.append(m.VolumeMount(name=vol, mount_path=pvc["mountPath"], sub_path=pvc.get("subPath") or None))
    for sec in platform.get("secretAsEnv", []):
        name = _name(sec, "secretName", "secretNameParameter", element)
        for kv in sec.get("keyToEnv", []):
            s.env.append(
                m.EnvVar(
                    name=kv["envVar"],
                    value_from=m.EnvVarSource(
                        secret_key_ref=m.SecretKeySelector(name=name, key=kv["secretKey"], optional=sec.get("optional") or None)
                    ),
                )
            )
    for i, sec in enumerate(platform.get("secretAsVolume", [])):
        vol = f"kfp-secret-{i}"
        name = _name(sec, "secretName", "secretNameParameter", element)
        s.volumes.append(m.Volume(name=vol, secret=m.SecretVolumeSource(secret_name=name, optional=sec.get("optional") or None)))
        s.volume_mounts.append(m.VolumeMount(name=vol, mount_path=sec["mountPath"]))
    for cm in platform.get("configMapAsEnv", []):
        name = _name(cm, "configMapName", "configMapNameParameter", element)
        for kv in cm.get("keyToEnv", []):
            s.env.append(
                m.EnvVar(
                    name=kv["envVar"],
                    value_from=m.EnvVarSource(
                        config_map_key_ref=m.ConfigMapKeySelector(
                            name=name, key=kv["configMapKey"], optional=cm.get("optional") or None
                        )
                    ),
                )
            )
    for i, cm in enumerate(platform.get("configMapAsVolume", [])):
        vol = f"kfp-configmap-{i}"
        name = _name(cm, "configMapName", "configMapNameParameter", element)
        s.volumes.append(m.Volume(name=vol, config_map=m.ConfigMapVolumeSource(name=name, optional=cm.get("optional") or None)))
        s.volume_mounts.append(m.VolumeMount(name=vol, mount_path=cm["mountPath"]))
    for fp in platform.get("fieldPathAsEnv", []):
        s.env.append(m.EnvVar(name=fp["name"], value_from=m.EnvVarSource(field_ref=m.ObjectFieldSelector(field_path=fp["fieldPath"]))))
    meta = platform.get("podMetadata", {})
    s.labels.update(meta.get("labels", {}))
    s.annotations.update(meta.get("annotations", {}))
    selector = platform.get("nodeSelector", {})
    s.node_selector.update(selector.get("labels", {}))
    if selector.get("nodeSelectorJson") is not None:
        s.raw_patches.append('"nodeSelector":' + _json_value(selector["nodeSelectorJson"], "{}", element))
    json_tolerations = []
    for tol in platform.get("tolerations", []):
        if tol.get("tolerationJson") is not None:
            json_tolerations.append(_json_value(tol["tolerationJson"], "", element))
            continue
        s.tolerations.append(
            m.Toleration(
                key=tol.get("key") or None,
                operator=tol.get("operator") or None,
                value=tol.get("value") or None,
                effect=tol.get("effect") or None,
                toleration_seconds=tol.get("tolerationSeconds"),
            )
        )
    if json_tolerations:
        if s.tolerations:
            raise TranslateError("tolerations mix constants and run-time JSON; use one kind", element=element)
        if len(json_tolerations) > 1:
            raise TranslateError("more than one run-time toleration JSON is not supported", element=element)
        s.raw_patches.append('"tolerations":[' + json_tolerations[0] + "]")
    terms = []
    for term in platform.get("nodeAffinity", []):
        if term.get("nodeAffinityJson") is not None:
            s.raw_patches.append('"affinity":{"nodeAffinity":' + _json_value(term["nodeAffinityJson"], "{}", element) + "}")
            continue
        terms.append(term)
    if terms:
        required = [t for t in terms if not t.get("weight")]
        preferred = [t for t in terms if t.get("weight")]

        def selector_term(t: dict) -> m.NodeSelectorTerm:
            def reqs(items: list) -> list[m.NodeSelectorRequirement] | None:
                return [m.NodeSelectorRequirement(key=r["key"], operator=r["operator"], values=r.get("values")) for r in items] or None

            return m.NodeSelectorTerm(match_expressions=reqs(t.get("matchExpressions", [])), match_fields=reqs(t.get("matchFields", [])))

        s.affinity = m.Affinity(
            node_affinity=m.NodeAffinity(
                required_during_scheduling_ignored_during_execution=m.NodeSelector(
                    node_selector_terms=[selector_term(t) for t in required]
                )
                if required
                else None,
                preferred_during_scheduling_ignored_during_execution=[
                    m.PreferredSchedulingTerm(weight=int(t["weight"]), preference=selector_term(t)) for t in preferred
                ]
                or None,
            )
        )
    pull = [_name(p, "secretName", "secretNameParameter", element) for p in platform.get("imagePullSecret", [])]
    if pull:
        s.pod_patch["imagePullSecrets"] = [{"name": n} for n in pull]
    if platform.get("imagePullPolicy"):
        s.image_pull_policy = platform["imagePullPolicy"]
    if platform.get("activeDeadlineSeconds"):
        s.active_deadline_seconds = m.IntOrString(int(platform["activeDeadlineSeconds"]))
    for i, ed in enumerate(platform.get("emptyDirMounts", [])):
        vol = ed.get("volumeName") or f"kfp-emptydir-{i}"
        size = ed.get("sizeLimit")
        s.volumes.append(
            m.Volume(name=vol, empty_dir=m.EmptyDirVolumeSource(medium=ed.get("medium") or None, size_limit=m.Quantity(size) if size else None))
        )
        s.volume_mounts.append(m.VolumeMount(name=vol, mount_path=ed["mountPath"]))
    for gv in platform.get("genericEphemeralVolume", []):
        claim = m.PersistentVolumeClaimSpec(
            access_modes=gv.get("accessModes") or None,
            storage_class_name=None if gv.get("defaultStorageClass") else gv.get("storageClassName") or None,
            resources=m.VolumeResourceRequirements(requests={"storage": m.Quantity(gv["size"])}) if gv.get("size") else None,
        )
        s.volumes.append(
            m.Volume(
                name=gv["volumeName"],
                ephemeral=m.EphemeralVolumeSource(volume_claim_template=m.PersistentVolumeClaimTemplate(spec=claim)),
            )
        )
        s.volume_mounts.append(m.VolumeMount(name=gv["volumeName"], mount_path=gv["mountPath"]))
    shm = platform.get("enabledSharedMemory")
    if shm is not None:
        size = shm.get("size")
        vol = shm.get("volumeName") or "kfp-shm"
        s.volumes.append(m.Volume(name=vol, empty_dir=m.EmptyDirVolumeSource(medium="Memory", size_limit=m.Quantity(size) if size else None)))
        s.volume_mounts.append(m.VolumeMount(name=vol, mount_path="/dev/shm"))
    sc = platform.get("securityContext")
    if sc:
        s.security_context = m.PodSecurityContext(
            run_as_user=sc.get("runAsUser"), run_as_group=sc.get("runAsGroup"), run_as_non_root=sc.get("runAsNonRoot")
        )
    return s
