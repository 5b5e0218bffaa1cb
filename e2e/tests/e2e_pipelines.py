"""Pipelines the e2e suite needs beyond tests/pipelines: state shared between pods goes through the
loopback data server (pods share no files), steps that run long enough to be stopped, and hostile
text as defaults, `-p` values and constants."""
import json

from kfp import dsl

IMAGE = "python:3.11-slim"

HOSTILE = [
    "it's \"quoted\"",
    "line one\nline two\n",
    "{{workflow.name}} {{inputs.parameters.s}} {{=1+1}} {{x}}",
    "$(echo pwned) $$ $(HOME) `id` ; rm -rf / && echo",
    "",
    "unicode: é ü 日本 \u2028",
]
# Argo's own `{{` syntax reaches a container component base64-encoded (README: known limits), and
# the translator refuses it in a constant (e2e-findings F1): those get the other values.
PLAIN_HOSTILE = [v for v in HOSTILE if "{{" not in v]
CONSTANTS = PLAIN_HOSTILE + ["{x} } {"]  # six constants


@dsl.component(base_image=IMAGE)
def flaky(counter_url: str, fail_below: int) -> str:
    """Fails while the server's counter for this run is below `fail_below` (attempts are pods)."""
    import urllib.request

    n = int(urllib.request.urlopen(counter_url, timeout=30).read())
    if n < fail_below:
        raise RuntimeError(f"attempt {n} fails on purpose")
    return f"succeeded on attempt {n}"


@dsl.component(base_image=IMAGE)
def after(text: str) -> str:
    return text + "!"


@dsl.pipeline(name="retry-then-succeed")
def retry_then_succeed(counter_url: str):
    f = flaky(counter_url=counter_url, fail_below=3).set_retry(num_retries=2, backoff_duration="0s")
    f.set_caching_options(False)
    after(text=f.output).set_caching_options(False)


@dsl.pipeline(name="fail-stops")
def fail_stops(counter_url: str):
    f = flaky(counter_url=counter_url, fail_below=9).set_retry(num_retries=1, backoff_duration="0s")
    f.set_caching_options(False)
    after(text=f.output)


@dsl.component(base_image=IMAGE)
def nap(seconds: int) -> str:
    import time

    time.sleep(seconds)
    return "woke"


@dsl.component(base_image=IMAGE)
def status_of(status: dsl.PipelineTaskFinalStatus) -> str:
    return status.state


@dsl.pipeline(name="long-step")
def long_step(seconds: int = 600):
    done = status_of()
    with dsl.ExitHandler(done):
        nap(seconds=seconds)


@dsl.component(base_image=IMAGE)
def echo_all(values: list, given0: str, given1: str, given2: str, given3: str, given4: str, given5: str,
             default0: str, default1: str, default2: str, default3: str, default4: str, default5: str,
             const0: str, const1: str, const2: str, const3: str, const4: str, const5: str) -> str:  # noqa: PLR0913
    import json

    return json.dumps({"values": values, "given": [given0, given1, given2, given3, given4, given5],
                       "default": [default0, default1, default2, default3, default4, default5],
                       "const": [const0, const1, const2, const3, const4, const5]}, ensure_ascii=False)


@dsl.container_component
def shell_echo(text: str, out: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image="busybox:1.36", command=["sh", "-c", 'printf "%s" "$0" > "$1"'],
                             args=[text, out])


@dsl.pipeline(name="hostile-values")
def hostile_values(given0: str, given1: str, given2: str, given3: str, given4: str, given5: str,
                   default0: str = HOSTILE[0], default1: str = HOSTILE[1], default2: str = HOSTILE[2],
                   default3: str = HOSTILE[3], default4: str = HOSTILE[4], default5: str = HOSTILE[5],
                   values: list = json.loads(json.dumps(HOSTILE))):
    echo_all(values=values, given0=given0, given1=given1, given2=given2, given3=given3, given4=given4,
             given5=given5, default0=default0, default1=default1, default2=default2, default3=default3,
             default4=default4, default5=default5, const0=CONSTANTS[0], const1=CONSTANTS[1], const2=CONSTANTS[2],
             const3=CONSTANTS[3], const4=CONSTANTS[4], const5=CONSTANTS[5])
    for i, value in enumerate(PLAIN_HOSTILE):
        shell_echo(text=value).set_display_name(f"shell-const-{i}")
    shell_echo(text=given3).set_display_name("shell-given")


@dsl.pipeline(name="braces-constant")
def braces_constant():
    """A constant holding Argo's tag syntax (the guide: `{{` arrives unchanged)."""
    after(text="{{workflow.name}} and {{x}}")


@dsl.pipeline(name="container-newline")
def container_newline(text: str = "ends with a newline\n"):
    """A container component's output file ending in a newline: KFP keeps the value as written."""
    shell_echo(text=text)


# dsl.Collected values read by container components (no pip: shell and jq, so the pods are quick).
# Each loop item gives one value of every KFP type; Argo aggregates the outputs as strings.
COLLECTED_ITEMS = [
    {"i": 0, "f": 0.5, "b": True, "s": 'say "hi" $(id) `x`', "d": {"n": 0, "tag": "a&b<c>"}},
    {"i": 10, "f": 1.0, "b": False, "s": "two\nlines", "d": {"n": 1, "tag": "{x}"}},
    {"i": 20, "f": 2.25, "b": True, "s": "{\"looks\": \"json\"}", "d": {"n": 2, "tag": ""}},
]


@dsl.container_component
def emit_values(item: dict, oi: dsl.OutputPath(int), of: dsl.OutputPath(float), ob: dsl.OutputPath(bool),
                os_: dsl.OutputPath(str), od: dsl.OutputPath(dict)):
    """Each field of the loop item as an output of its KFP type (jq -j: the text, no newline)."""
    return dsl.ContainerSpec(
        image="jetbrainsinfra/jq",
        command=["sh", "-c", 'set -e; for f in i f b s; do mkdir -p "$(dirname "$1")"; printf "%s" "$0" | jq -j ".$f" > "$1"; '
                 'shift; done; mkdir -p "$(dirname "$1")"; printf "%s" "$0" | jq -cj .d > "$1"'],
        args=[item, oi, of, ob, os_, od])


@dsl.container_component
def jq_add(nums: list, total: dsl.OutputPath(str)):
    """As KFP's parameters_simple (`jq add`: numbers sum, strings concatenate), the list quoted."""
    return dsl.ContainerSpec(image="jetbrainsinfra/jq", command=["sh", "-c", 'printf "%s" "$0" | jq -c add > "$1"'],
                             args=[nums, total])


@dsl.container_component
def jq_compact(values: list, shown: dsl.OutputPath(str)):
    return dsl.ContainerSpec(image="jetbrainsinfra/jq", command=["sh", "-c", 'printf "%s" "$0" | jq -c . > "$1"'],
                             args=[values, shown])


@dsl.pipeline(name="collected-container")
def collected_container():
    with dsl.ParallelFor(COLLECTED_ITEMS) as item:
        v = emit_values(item=item)
    jq_add(nums=dsl.Collected(v.outputs["oi"])).set_display_name("sum-ints")
    jq_add(nums=dsl.Collected(v.outputs["of"])).set_display_name("sum-floats")
    jq_compact(values=dsl.Collected(v.outputs["ob"])).set_display_name("bools")
    jq_compact(values=dsl.Collected(v.outputs["os_"])).set_display_name("strings")
    jq_compact(values=dsl.Collected(v.outputs["od"])).set_display_name("dicts")
