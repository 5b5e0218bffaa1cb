"""Every kfp-kubernetes setting lands in the task's Argo template where Kubernetes expects it,
constants inline and values chosen at run time as template inputs the DAG passes in."""
import json

from kfp import dsl, kubernetes

import translator
from backends.argo import validate

IMAGE = "python:3.11-slim"


@dsl.component(base_image=IMAGE)
def name_of_secret() -> str:
    return "from-a-task"


@dsl.component(base_image=IMAGE)
def work(x: str) -> str:
    return x


@dsl.pipeline(name="k8s-settings")
def k8s_settings(secret: str = "db-creds", claim: str = "data-pvc"):
    made = name_of_secret()
    t = work(x="hi")
    kubernetes.use_secret_as_env(t, secret_name=secret, secret_key_to_env={"password": "DB_PASSWORD"})
    kubernetes.use_secret_as_env(t, secret_name=made.output, secret_key_to_env={"token": "TOKEN"}, optional=True)
    kubernetes.use_secret_as_volume(t, secret_name="tls", mount_path="/etc/tls")
    kubernetes.use_config_map_as_env(t, config_map_name="settings", config_map_key_to_env={"mode": "MODE"})
    kubernetes.use_config_map_as_volume(t, config_map_name="settings", mount_path="/etc/settings")
    kubernetes.use_field_path_as_env(t, env_name="POD_NAME", field_path="metadata.name")
    kubernetes.add_node_selector(t, label_key="pool", label_value="gpu")
    kubernetes.add_toleration(t, key="gpu", operator="Exists", effect="NoSchedule")
    kubernetes.add_node_affinity(t, match_expressions=[{"key": "zone", "operator": "In", "values": ["a", "b"]}])
    kubernetes.add_pod_label(t, label_key="team", label_value="ml")
    kubernetes.add_pod_annotation(t, annotation_key="owner", annotation_value="alice")
    kubernetes.set_image_pull_secrets(t, secret_names=["regcred"])
    kubernetes.set_image_pull_policy(t, policy="Always")
    kubernetes.set_timeout(t, seconds=600)
    kubernetes.empty_dir_mount(t, volume_name="scratch", mount_path="/scratch", medium="Memory", size_limit="1Gi")
    kubernetes.mount_pvc(t, pvc_name=claim, mount_path="/data")
    kubernetes.set_security_context(t, run_as_user=1000, run_as_non_root=True)
    kubernetes.add_ephemeral_volume(t, volume_name="eph", mount_path="/eph", access_modes=["ReadWriteOnce"], size="5Gi")


def _templates():
    [wf] = translator.translate(k8s_settings)
    validate.check(wf)
    by_name = {t["name"]: t for t in wf["spec"]["templates"]}
    work_task = next(task for task in by_name["main"]["dag"]["tasks"] if task["template"].startswith("work"))
    return by_name[work_task["template"]], work_task


def test_env_from_secrets_config_maps_and_field_paths():
    tmpl, task = _templates()
    env = {e["name"]: e for e in tmpl["container"]["env"]}
    assert env["DB_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "password"
    secret_ref = env["DB_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"]
    assert secret_ref.startswith("{{inputs.parameters.kfp-k8s-")  # a pipeline parameter: passed in
    args = {p["name"]: p["value"] for p in task["arguments"]["parameters"]}
    assert args[secret_ref[len("{{inputs.parameters."):-2]] == "{{inputs.parameters.secret}}"
    token = env["TOKEN"]["valueFrom"]["secretKeyRef"]
    assert token["optional"] is True
    assert args[token["name"][len("{{inputs.parameters."):-2]].startswith("{{tasks.name-of-secret.outputs.parameters.Output")
    assert "name-of-secret" in task["depends"]
    assert env["MODE"]["valueFrom"]["configMapKeyRef"] == {"name": "settings", "key": "mode"}
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_volumes_and_mounts():
    tmpl, task = _templates()
    volumes = {v["name"]: v for v in tmpl["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in tmpl["container"]["volumeMounts"]}
    assert volumes[mounts["/etc/tls"]]["secret"]["secretName"] == "tls"
    assert volumes[mounts["/etc/settings"]]["configMap"]["name"] == "settings"
    assert volumes[mounts["/scratch"]]["emptyDir"] == {"medium": "Memory", "sizeLimit": "1Gi"}
    assert volumes[mounts["/data"]]["persistentVolumeClaim"]["claimName"].startswith("{{inputs.parameters.kfp-k8s-")
    eph = volumes[mounts["/eph"]]["ephemeral"]["volumeClaimTemplate"]["spec"]
    assert eph["accessModes"] == ["ReadWriteOnce"] and eph["resources"]["requests"]["storage"] == "5Gi"
    assert mounts["/kfp/outputs"] == "kfp-outputs"  # the pod contract's own volume


def test_scheduling_metadata_and_pod_settings():
    tmpl, _ = _templates()
    assert tmpl["nodeSelector"] == {"pool": "gpu"}
    assert tmpl["tolerations"] == [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    terms = tmpl["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}]
    assert tmpl["metadata"]["labels"] == {"team": "ml"} and tmpl["metadata"]["annotations"]["owner"] == "alice"
    assert tmpl["container"]["imagePullPolicy"] == "Always"
    assert tmpl["activeDeadlineSeconds"] == 600
    assert tmpl["securityContext"] == {"runAsUser": 1000, "runAsNonRoot": True}
    assert json.loads(tmpl["podSpecPatch"]) == {"imagePullSecrets": [{"name": "regcred"}]}
