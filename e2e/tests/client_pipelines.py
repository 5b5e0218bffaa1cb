"""Pipelines of the client's e2e tests: typed outputs of every KFP parameter type, a pipeline
output, an artifact, a log line to read back, and a step that runs long enough to be stopped."""
from typing import NamedTuple

from kfp import dsl

IMAGE = "python:3.11-slim"


@dsl.component(base_image=IMAGE)
def produce(n: int, word: str, out_data: dsl.Output[dsl.Dataset]) -> NamedTuple(
        "Outputs", count=int, ratio=float, ok=bool, items=list, info=dict, text=str):
    from collections import namedtuple

    print(f"client-e2e log line: n={n} word={word}")
    with open(out_data.path, "w") as f:
        f.write(word * n)
    out_data.metadata["rows"] = n
    Outputs = namedtuple("Outputs", "count ratio ok items info text")
    return Outputs(n * 2, n / 4, n > 1, [word, n], {"word": word, "n": n}, f"{word}!")


@dsl.component(base_image=IMAGE)
def shout(text: str) -> str:
    return text.upper()


@dsl.pipeline(name="client-typed")
def typed_outputs(n: int = 3, word: str = "hi") -> str:
    p = produce(n=n, word=word)
    p.set_caching_options(False)
    s = shout(text=p.outputs["text"])
    s.set_caching_options(False)
    return s.output


@dsl.component(base_image=IMAGE)
def nap(seconds: int) -> str:
    import time

    print("napping", flush=True)
    time.sleep(seconds)
    return "woke"


@dsl.pipeline(name="client-nap")
def napper(seconds: int = 300):
    nap(seconds=seconds).set_caching_options(False)


@dsl.component(base_image=IMAGE)
def fail(reason: str):
    raise SystemExit(f"failing on purpose: {reason}")


@dsl.pipeline(name="client-fails")
def fails(reason: str = "test"):
    fail(reason=reason).set_caching_options(False)


@dsl.component(base_image=IMAGE)
def first(word: str) -> str:
    print(f"first ran with {word}", flush=True)
    return word * 2


@dsl.component(base_image=IMAGE)
def flaky(text: str) -> str:
    import os

    if os.environ.get("RETRY_SWITCH") != "pass":
        raise SystemExit(f"failing until the ConfigMap says pass (it says {os.environ.get('RETRY_SWITCH')!r})")
    return text.upper()


@dsl.component(base_image=IMAGE)
def measure(text: str) -> int:
    return len(text)


def retried(config_map: str):
    """A pipeline whose middle task fails until ConfigMap `config_map` has `switch: pass`
    (read at pod start through kfp-kubernetes' use_config_map_as_env): the retry test flips it."""
    from kfp import kubernetes

    @dsl.pipeline(name="client-retry")
    def pipeline(word: str = "ab") -> int:
        f = first(word=word)
        f.set_caching_options(False)
        k = flaky(text=f.output)
        k.set_caching_options(False)
        kubernetes.use_config_map_as_env(k, config_map, {"switch": "RETRY_SWITCH"})
        m = measure(text=k.output)
        m.set_caching_options(False)
        return m.output

    return pipeline


@dsl.component(base_image=IMAGE)
def flaky_item(item: int) -> int:
    import os

    if item == 2 and os.environ.get("RETRY_SWITCH") != "pass":
        raise SystemExit(f"item 2 fails until the ConfigMap says pass (it says {os.environ.get('RETRY_SWITCH')!r})")
    print(f"item {item} done", flush=True)
    return item * 10


@dsl.component(base_image=IMAGE)
def goodbye(note: str):
    print(f"exit handler: {note}", flush=True)


def retried_loop(config_map: str):
    """A loop whose iteration 2 fails (through one retry of its own) until `config_map` says
    `pass`, inside an exit handler: the retry test's Retry, loop and onExit nodes."""
    from kfp import kubernetes

    @dsl.pipeline(name="client-retry-loop")
    def pipeline(word: str = "ab"):
        with dsl.ExitHandler(goodbye(note="bye").set_caching_options(False)):
            f = first(word=word)
            f.set_caching_options(False)
            with dsl.ParallelFor([1, 2, 3]) as item:
                k = flaky_item(item=item)
                k.set_caching_options(False)
                k.set_retry(num_retries=1)
                kubernetes.use_config_map_as_env(k, config_map, {"switch": "RETRY_SWITCH"})
                k.after(f)

    return pipeline


@dsl.component(base_image=IMAGE)
def score(scores: dsl.Output[dsl.Metrics], quality: dsl.Output[dsl.ClassificationMetrics],
          notes: dsl.Output[dsl.Markdown]) -> float:
    scores.log_metric("accuracy", 0.875)
    scores.log_metric("examples", 120)
    quality.log_confusion_matrix(["cat", "dog"], [[50, 10], [5, 55]])
    quality.log_roc_curve(fpr=[0.0, 0.2, 1.0], tpr=[0.0, 0.8, 1.0], threshold=[1.0, 0.5, 0.0])
    with open(notes.path, "w") as f:
        f.write("# Scores\n\nAccuracy **0.875** on 120 examples.\n")
    return 0.875


WRITE_SCRIPT = (
    'mkdir -p "$(dirname "$0")" "$(dirname "$1")" "$(dirname "$2")" "$(dirname "$3")"\n'
    'printf "# Container summary\\n\\n| name | value |\\n| --- | --- |\\n| rows | 42 |\\n" > "$0"\n'
    'printf "<html><body><h1>Container page</h1></body></html>" > "$1"\n'
    'printf "{\\"rmse\\": 0.25, \\"rows\\": 42}" > "$2"\n'
    'printf "{\\"metrics\\": [{\\"name\\": \\"auc\\", \\"numberValue\\": 0.91}]}" > "$3"\n')


@dsl.container_component
def container_writer(summary: dsl.Output[dsl.Markdown], page: dsl.Output[dsl.HTML],
                     scores: dsl.Output[dsl.Metrics], legacy: dsl.Output[dsl.Metrics]):
    """A container component (no pod shim): its artifacts' types are known only from the pipeline."""
    return dsl.ContainerSpec(image=IMAGE, command=["sh", "-c", WRITE_SCRIPT],
                             args=[summary.path, page.path, scores.path, legacy.path])


@dsl.pipeline(name="client-report")
def report_pipeline():
    score().set_caching_options(False)
    container_writer().set_caching_options(False)
