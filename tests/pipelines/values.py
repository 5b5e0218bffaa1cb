"""Values that look like our own encodings or Argo's syntax: they must arrive as the user wrote them."""
from typing import Optional

from kfp import dsl


@dsl.component(base_image="python:3.11-slim")
def show(text: Optional[str] = None) -> str:
    return "None" if text is None else "value:" + text


@dsl.container_component
def echo_file(text: str, out: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image="busybox:1.36", command=["sh", "-c", 'printf "%s" "$0" > "$1"'], args=[text, out])


JINJA = "Hello {{ name }}! }}{{ {{workflow.name}} {{=1+1}} {{inputs.parameters.text}}"
ENCODED = "__KFP_B64__:aGVsbG8="


@dsl.pipeline(name="brace-constants")
def brace_constants():
    show(text=JINJA).set_caching_options(False)
    echo_file(text=JINJA).set_caching_options(False)


@dsl.pipeline(name="encoded-constants")
def encoded_constants():
    show(text=ENCODED).set_caching_options(False)
    echo_file(text=ENCODED).set_caching_options(False)


@dsl.pipeline(name="user-params")
def user_params(text: Optional[str] = None):
    show(text=text).set_caching_options(False)
    echo_file(text=text).set_caching_options(False)


@dsl.container_component
def env_expand(out: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image="busybox:1.36", command=["sh", "-c", 'printf "%s" "$0" > "$1"'],
                             args=["greeting=$(GREETING) literal=$$(GREETING)", out])


@dsl.pipeline(name="kube-env-expansion")
def kube_env_expansion():
    env_expand().set_env_variable("GREETING", "hi").set_caching_options(False)


@dsl.component(base_image="python:3.11-slim")
def produce(text: str) -> str:
    return text


@dsl.pipeline(name="pod-outputs")
def pod_outputs(text: str = "plain"):
    made = produce(text=text).set_caching_options(False)
    show(text=made.output).set_caching_options(False)
    echo_file(text=made.output).set_caching_options(False)


@dsl.component(base_image="python:3.11-slim")
def fail_now():
    raise SystemExit(3)


@dsl.component(base_image="python:3.11-slim")
def never_after_a_failure() -> str:
    return "ran"


@dsl.pipeline(name="after-only")
def after_only():
    failed = fail_now().set_caching_options(False)
    never_after_a_failure().after(failed).set_caching_options(False)


@dsl.component(base_image="python:3.11-slim")
def write_state(where: str, looks_like_a_path: str) -> str:
    import os

    os.makedirs(where, exist_ok=True)
    with open(os.path.join(where, "counter"), "a") as f:  # a path built at run time
        f.write("1")
    return looks_like_a_path + "|" + open(os.path.join(where, "counter")).read()


@dsl.pipeline(name="pvc-state")
def pvc_state(where: str = "/mnt/kfpt-state-test", text: str = "/kfp/outputs/x"):
    from kfp import kubernetes

    task = write_state(where=where, looks_like_a_path=text).set_caching_options(False)
    kubernetes.mount_pvc(task, pvc_name="state", mount_path="/mnt/kfpt-state-test")


@dsl.container_component
def write_lines(out: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image="busybox:1.36", command=["sh", "-c", 'printf "line\\n\\n" > "$0"'], args=[out])


@dsl.pipeline(name="newline-outputs")
def newline_outputs():
    made = write_lines().set_caching_options(False)
    show(text=made.output).set_caching_options(False)
    py = produce(text="line\n\n").set_caching_options(False)
    echo_file(text=py.output).set_caching_options(False)


@dsl.pipeline(name="four-params")
def four_params(a: str, b: str, c: str, d: str):
    for value in (a, b, c, d):
        show(text=value).set_caching_options(False)
        echo_file(text=value).set_caching_options(False)
