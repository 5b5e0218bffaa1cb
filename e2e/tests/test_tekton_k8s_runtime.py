"""kfp-kubernetes settings chosen at run time on the real Tekton controller (docs/tekton.md,
"kfp-kubernetes settings"): a Secret as env whose name is a pipeline parameter, one whose name is
another task's output, one per iteration of a literal loop, and a PVC made by CreatePVC whose
claim name (a task result) two tasks mount, one writing a file the other reads, then DeletePVC.
Both runs are created first, then awaited."""
import base64
import secrets

import pytest
from kfp import dsl, kubernetes
from kubernetes import client

import translator

IMAGE = "python:3.12-slim"


@dsl.component(base_image=IMAGE)
def reveal(tag: str) -> str:
    import os
    return tag + "=" + os.environ.get("PASSWORD", "<unset>")


@dsl.component(base_image=IMAGE)
def same(name: str) -> str:
    return name


@dsl.component(base_image=IMAGE)
def write_file(text: str) -> str:
    with open("/data/file.txt", "w") as f:
        f.write(text)
    return "written"


@dsl.component(base_image=IMAGE)
def read_file() -> str:
    with open("/data/file.txt") as f:
        return f.read()


@dsl.pipeline(name="tk-k8s-secrets")
def secret_env(secret_name: str, other: str):
    by_param = reveal(tag="param")
    kubernetes.use_secret_as_env(by_param, secret_name=secret_name, secret_key_to_env={"password": "PASSWORD"})
    named = same(name=other)
    by_result = reveal(tag="result")
    kubernetes.use_secret_as_env(by_result, secret_name=named.output, secret_key_to_env={"password": "PASSWORD"})


def _loop_pipeline(names: list):
    @dsl.pipeline(name="tk-k8s-loop-secrets")
    def loop_secrets():
        with dsl.ParallelFor(names) as name:
            t = reveal(tag=name)
            kubernetes.use_secret_as_env(t, secret_name=name, secret_key_to_env={"password": "PASSWORD"})
    return loop_secrets


@dsl.pipeline(name="tk-k8s-pvc")
def pvc_flow(text: str):
    pvc = kubernetes.CreatePVC(pvc_name_suffix="-data", access_modes=["ReadWriteOnce"], size="1Mi",
                               storage_class_name="")
    w = write_file(text=text)
    kubernetes.mount_pvc(w, pvc_name=pvc.outputs["name"], mount_path="/data")
    r = read_file().after(w)
    kubernetes.mount_pvc(r, pvc_name=pvc.outputs["name"], mount_path="/data")
    kubernetes.DeletePVC(pvc_name=pvc.outputs["name"]).after(r)


def _value(text: str) -> str:
    """A result as the shim writes it (a loop's `<index>:`, Tekton's `$` doubling, base64)."""
    prefix = "__KFP_B64__:"
    text = base64.b64decode(text[len(prefix):]).decode() if text.startswith(prefix) else text
    return text.replace("$$", "$")


@pytest.fixture(scope="module")
def runs(cluster):
    token = secrets.token_hex(4)
    values = {f"tk-k8s-{token}-{n}": f"pw-{n}-{secrets.token_hex(6)}" for n in ("param", "result", "a", "b")}
    for name, value in values.items():
        cluster.core.create_namespaced_secret(cluster.namespace, client.V1Secret(
            metadata=client.V1ObjectMeta(name=name), string_data={"password": value}))
    text = f"hello from the producer {token}\nsecond line"
    try:
        manifests = {
            "secrets": translator.translate(secret_env, backend="tekton", namespace=cluster.namespace,
                                            enable_caching=False, parameters=(
                                                ("secret_name", f"tk-k8s-{token}-param"),
                                                ("other", f"tk-k8s-{token}-result")))[0],
            "loop": translator.translate(_loop_pipeline([f"tk-k8s-{token}-a", f"tk-k8s-{token}-b"]), backend="tekton",
                                         namespace=cluster.namespace, enable_caching=False)[0],
            "pvc": translator.translate(pvc_flow, backend="tekton", namespace=cluster.namespace,
                                        enable_caching=False, parameters=(("text", text),))[0],
        }
        names = {case: cluster.create(m)["metadata"]["name"] for case, m in manifests.items()}
        done = {}
        for case, name in names.items():
            pr = cluster.wait_pipelinerun(name, timeout=900)
            results: dict[str, list[dict]] = {}
            for tr in cluster.taskruns(name):
                task = tr["metadata"]["labels"]["tekton.dev/pipelineTask"]
                results.setdefault(task, []).append({r["name"]: r["value"] for r in tr.get("status", {}).get("results", [])})
            done[case] = (pr, results)
        yield values, text, done
    finally:
        for name in values:
            cluster.core.delete_namespaced_secret(name, cluster.namespace)


def _succeeded(pr) -> None:
    cond = next(c for c in pr["status"]["conditions"] if c["type"] == "Succeeded")
    assert cond["status"] == "True", (cond, pr["metadata"]["name"])


def test_secret_named_by_a_parameter_and_by_a_task_output(runs):
    values, _, done = runs
    pr, results = done["secrets"]
    _succeeded(pr)
    token = next(iter(values)).split("-")[2]
    got = sorted(_value(r["Output"]) for task, rs in results.items() if task.startswith("reveal") for r in rs)
    assert got == sorted([f"param={values[f'tk-k8s-{token}-param']}", f"result={values[f'tk-k8s-{token}-result']}"])


def test_each_iteration_of_a_literal_loop_reads_the_secret_its_item_names(runs):
    values, _, done = runs
    pr, results = done["loop"]
    _succeeded(pr)
    [task] = [t for t in results if t.endswith("reveal")]
    got = sorted(_value(r["Output"]).split(":", 1)[1] for r in results[task])  # "<index>:<value>"
    token = next(iter(values)).split("-")[2]
    assert got == sorted(f"tk-k8s-{token}-{n}={values[f'tk-k8s-{token}-{n}']}" for n in ("a", "b"))


def test_a_claim_made_by_createpvc_carries_a_file_from_producer_to_consumer(runs, cluster):
    _, text, done = runs
    pr, results = done["pvc"]
    _succeeded(pr)
    [created] = results["createpvc"]
    claim = created["name"]
    assert claim == pr["metadata"]["name"] + "-data"
    [read] = results["read-file"]
    assert _value(read["Output"]) == text
    assert "deletepvc" in results
    try:  # DeletePVC requested the deletion: gone, or going once the pods that mounted it are
        pvc = cluster.core.read_namespaced_persistent_volume_claim(claim, cluster.namespace)
        assert pvc.metadata.deletion_timestamp is not None
    except client.ApiException as exc:
        assert exc.status == 404
