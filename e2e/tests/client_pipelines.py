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
