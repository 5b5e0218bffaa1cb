"""kfp-kubernetes settings chosen at run time on Tekton, on real kfp compiles (docs/tekton.md,
"kfp-kubernetes settings"): each becomes a Task param (`kfp-k8s-N`) that the pipeline task feeds
(a pipeline parameter, a task result, a literal loop's item through matrix.include) and that
Tekton substitutes into the volume, the env `valueFrom` or the pod template; an absent optional
value leaves the setting out, as KFP does; a JSON object chosen at run time is a one-line error.
CreatePVC / DeletePVC are small API-calling tasks. Every output passes tektonlint. What runs on
the real controller: e2e/tests/test_tekton_k8s_runtime.py."""

import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest
from kfp import compiler, dsl, kubernetes

import translator
from translator import lint

from .test_kubernetes_settings import name_of_secret, work  # the Argo side's two components
from .test_tektonlint import tektonlint  # noqa: F401  (the session fixture building the helper)

REPO = Path(__file__).resolve().parent.parent


@dsl.pipeline(name="tk-k8s-runtime")
def runtime_settings(secret: str = "db-creds", claim: str = "data-pvc", cm: str = "settings", pull: str = "regcred"):
    made = name_of_secret()
    t = work(x="hi")
    kubernetes.use_secret_as_env(t, secret_name=secret, secret_key_to_env={"password": "DB_PASSWORD"})
    kubernetes.use_secret_as_env(t, secret_name=made.output, secret_key_to_env={"token": "TOKEN"}, optional=True)
    kubernetes.use_secret_as_volume(t, secret_name=secret, mount_path="/etc/creds")
    kubernetes.use_config_map_as_env(t, config_map_name=cm, config_map_key_to_env={"mode": "MODE"})
    kubernetes.use_config_map_as_volume(t, config_map_name=cm, mount_path="/etc/settings")
    kubernetes.mount_pvc(t, pvc_name=claim, mount_path="/data")
    kubernetes.set_image_pull_secrets(t, secret_names=[pull])


@dsl.pipeline(name="tk-k8s-createpvc")
def created_claim():
    pvc = kubernetes.CreatePVC(pvc_name_suffix="-data", access_modes=["ReadWriteOnce"], size="1Mi",
                               storage_class_name="")
    t = work(x="hi")
    kubernetes.mount_pvc(t, pvc_name=pvc.outputs["name"], mount_path="/data")
    kubernetes.DeletePVC(pvc_name=pvc.outputs["name"]).after(t)


@dsl.pipeline(name="tk-k8s-loop")
def loop_item_secret():
    with dsl.ParallelFor(["alpha-secret", "beta-secret"]) as name:
        t = work(x=name)
        kubernetes.use_secret_as_env(t, secret_name=name, secret_key_to_env={"username": "USER"})


@dsl.pipeline(name="tk-k8s-runtime-loop")
def runtime_loop_secret(names: list = ["alpha-secret"]):
    with dsl.ParallelFor(names) as name:
        t = work(x="x")
        kubernetes.use_secret_as_env(t, secret_name=name, secret_key_to_env={"username": "USER"})


@dsl.pipeline(name="inner")
def inner(secret: Optional[str] = None):
    t = work(x="inner")
    kubernetes.use_secret_as_env(t, secret_name=secret, secret_key_to_env={"password": "PASSWORD"}, optional=True)
    kubernetes.use_secret_as_volume(t, secret_name=secret, mount_path="/etc/creds", optional=True)
    kubernetes.use_secret_as_env(t, secret_name="always-there", secret_key_to_env={"k": "K"})


@dsl.pipeline(name="tk-k8s-absent")
def absent_optional():
    inner()  # no secret: KFP's driver skips the settings that read it


@dsl.pipeline(name="tk-k8s-json")
def runtime_selector(selector: dict = {"pool": "gpu"}):
    t = work(x="x")
    kubernetes.add_node_selector_json(t, node_selector_json=selector)


@dsl.pipeline(name="tk-k8s-tekton-var")
def tekton_var_constant():
    t = work(x="x")
    kubernetes.use_secret_as_volume(t, secret_name="creds", mount_path="/etc/$(params.x)")


def _translate(pipeline, tmp_path: Path, tektonlint: Path | None = None, **options) -> dict:  # noqa: F811
    ir = tmp_path / "p.yaml"
    compiler.Compiler().compile(pipeline, str(ir))
    [pr] = translator.translate(str(ir), backend="tekton", **options)
    if tektonlint is not None:
        assert lint.lint_documents([pr], tektonlint) == []
    return pr


def _tasks(pr: dict) -> dict:
    spec = pr["spec"]["pipelineSpec"]
    return {t["name"]: t for t in spec["tasks"] + spec.get("finally", [])}


def _fed(task: dict) -> dict[str, str]:
    return {p["name"]: p["value"] for p in task.get("params", [])}


def _main(task: dict) -> dict:
    return next(s for s in task["taskSpec"]["steps"] if s["name"] == "main")


def test_names_chosen_at_run_time_are_task_params_tekton_substitutes(tmp_path, tektonlint):  # noqa: F811
    pr = _translate(runtime_settings, tmp_path, tektonlint)
    task = _tasks(pr)["work"]
    fed = _fed(task)
    env = {e["name"]: e for e in _main(task)["env"]}

    def param(ref: str) -> str:
        assert ref.startswith("$(params.kfp-k8s-") and ref.endswith(")"), ref
        return fed[ref.removeprefix("$(params.").removesuffix(")")]

    assert param(env["DB_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"]) == "$(params.secret)"
    assert env["DB_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "password"
    assert param(env["TOKEN"]["valueFrom"]["secretKeyRef"]["name"]) == "$(tasks.name-of-secret.results.Output)"
    assert env["TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert param(env["MODE"]["valueFrom"]["configMapKeyRef"]["name"]) == "$(params.cm)"
    volumes = {v["name"]: v for v in task["taskSpec"]["volumes"]}
    assert param(volumes["kfp-secret-0"]["secret"]["secretName"]) == "$(params.secret)"
    assert param(volumes["kfp-configmap-0"]["configMap"]["name"]) == "$(params.cm)"
    assert param(volumes["kfp-pvc-0"]["persistentVolumeClaim"]["claimName"]) == "$(params.claim)"
    mounts = {m["name"]: m["mountPath"] for m in _main(task)["volumeMounts"]}
    assert mounts == {"kfp-secret-0": "/etc/creds", "kfp-configmap-0": "/etc/settings", "kfp-pvc-0": "/data"}
    # the pull secret lives in the pod template, which Tekton substitutes with the TaskRun's params
    [run_spec] = [s for s in pr["spec"]["taskRunSpecs"] if s["pipelineTaskName"] == "work"]
    [pull] = run_spec["podTemplate"]["imagePullSecrets"]
    assert param(pull["name"]) == "$(params.pull)"
    # the settings' params are not read by the shim, so no maybe-large-value fetch for them
    assert not any(s["name"] == "kfpt-fetch" for s in task["taskSpec"]["steps"])


def test_a_parameter_value_never_reaches_a_name_as_a_tekton_variable(tmp_path, tektonlint):  # noqa: F811
    hostile = "$(context.pipelineRun.name)"
    pr = _translate(runtime_settings, tmp_path, tektonlint, parameters=(("secret", hostile),))
    [given] = [p for p in pr["spec"]["params"] if p["name"] == "secret"]
    assert given["value"].startswith("__KFP_B64__:")  # a name Kubernetes refuses, never one Tekton makes up


def test_createpvc_output_feeds_the_claim_and_the_stub_image_never_runs(tmp_path, tektonlint):  # noqa: F811
    pr = _translate(created_claim, tmp_path, tektonlint)
    tasks = _tasks(pr)
    assert "argostub" not in repr(pr)
    create, delete = tasks["createpvc"], tasks["deletepvc"]
    assert [r["name"] for r in create["taskSpec"]["results"]] == ["name"]
    assert _main(create)["image"] == "python:3.12-slim" and "POST" in _main(create)["script"]
    assert "$" not in _main(create)["script"] + _main(delete)["script"]  # nothing for Tekton or the kubelet to expand
    assert _fed(create) == {"access_modes": '["ReadWriteOnce"]', "pvc_name_suffix": "-data", "size": "1Mi",
                            "storage_class_name": ""}
    work_task = tasks["work"]
    claim = work_task["taskSpec"]["volumes"][-1]["persistentVolumeClaim"]["claimName"]
    assert _fed(work_task)[claim.removeprefix("$(params.").removesuffix(")")] == "$(tasks.createpvc.results.name)"
    assert _fed(delete) == {"pvc_name": "$(tasks.createpvc.results.name)"}
    assert "work" in delete.get("runAfter", [])


def test_a_literal_loops_item_names_the_secret_of_each_iteration(tmp_path, tektonlint):  # noqa: F811
    pr = _translate(loop_item_secret, tmp_path, tektonlint)
    [task] = [t for t in _tasks(pr).values() if t["name"].endswith("work")]
    ref = _main(task)["env"][-1]["valueFrom"]["secretKeyRef"]["name"]
    pname = ref.removeprefix("$(params.").removesuffix(")")
    names = [next(p["value"] for p in entry["params"] if p["name"] == pname) for entry in task["matrix"]["include"]]
    assert names == ["alpha-secret", "beta-secret"]


def test_an_absent_optional_input_leaves_its_settings_out(tmp_path, tektonlint):  # noqa: F811
    pr = _translate(absent_optional, tmp_path, tektonlint)
    [task] = [t for t in _tasks(pr).values() if t["name"].endswith("work")]
    refs = [e for e in _main(task)["env"] if "valueFrom" in e]
    assert [(e["name"], e["valueFrom"]["secretKeyRef"]["name"]) for e in refs] == [("K", "always-there")]
    assert not any("secret" in v for v in task["taskSpec"]["volumes"])
    assert "\uffff" not in repr(task["taskSpec"])


ERRORS = {
    "runtime_selector": (runtime_selector, "task 'work': kfp-kubernetes setting 'nodeSelector': a node selector "
                                           "chosen at run time (nodeSelectorJson) is not supported on Tekton"),
    "runtime_loop_secret": (runtime_loop_secret, "kfp-kubernetes setting 'secretAsEnv' read from the item of a loop "
                                                 "over a run-time list (each TaskRun receives the whole list) is not "
                                                 "supported on Tekton"),
    "tekton_var_constant": (tekton_var_constant, "kfp-kubernetes setting 'secretAsVolume': the constant "
                                                 "'/etc/$(params.x)' spells a Tekton variable"),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_what_tekton_cannot_substitute_is_a_one_line_error(name, tmp_path):
    pipeline, message = ERRORS[name]
    ir = tmp_path / f"{name}.yaml"
    compiler.Compiler().compile(pipeline, str(ir))
    out = tmp_path / "out.yaml"
    proc = subprocess.run([sys.executable, "-m", "translator.cli", "--backend", "tekton", str(ir), "-o", str(out)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and not out.exists(), proc.stderr
    assert proc.stderr.count("\n") == 1 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
