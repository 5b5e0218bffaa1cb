"""Pipelines for KFP caching semantics on Argo memoization."""
from kfp import dsl
from kfp.dsl import Dataset, Input, Output

IMAGE = "python:3.11-slim"


@dsl.component(base_image=IMAGE)
def source(seed: int, data: Output[Dataset]):
    with open(data.path, "w") as fh:
        fh.write(str(seed % 2))  # seeds with equal parity write identical bytes


@dsl.component(base_image=IMAGE)
def double(data: Input[Dataset], out: Output[Dataset]):
    with open(out.path, "w") as fh:
        fh.write(open(data.path).read() * 2)


@dsl.component(base_image=IMAGE)
def count(data: Input[Dataset], label: str) -> str:
    return f"{label}:{len(open(data.path).read())}"


@dsl.pipeline(name="cache-chain")
def cache_chain(seed: int = 1, label: str = "a"):
    s = source(seed=seed)
    d = double(data=s.outputs["data"])
    count(data=d.outputs["out"], label=label)


@dsl.pipeline(name="cache-upstream-off")
def cache_upstream_off(seed: int = 1):
    s = source(seed=seed).set_caching_options(False)
    d = double(data=s.outputs["data"])
    count(data=d.outputs["out"], label="x")


@dsl.component(base_image=IMAGE)
def flaky(marker_dir: str) -> str:
    import os
    path = os.path.join(marker_dir, "attempts")
    n = int(open(path).read()) + 1 if os.path.exists(path) else 1
    with open(path, "w") as fh:
        fh.write(str(n))
    if n < 3:
        raise RuntimeError(f"attempt {n} fails on purpose")
    return f"succeeded on attempt {n}"


@dsl.component(base_image=IMAGE)
def after(text: str) -> str:
    return text + "!"


@dsl.pipeline(name="retry-then-succeed")
def retry_then_succeed(marker_dir: str):
    f = flaky(marker_dir=marker_dir).set_retry(num_retries=2, backoff_duration="0s").set_caching_options(False)
    after(text=f.output).set_caching_options(False)


@dsl.pipeline(name="fail-stops")
def fail_stops(marker_dir: str):
    f = flaky(marker_dir=marker_dir).set_retry(num_retries=1, backoff_duration="0s").set_caching_options(False)
    after(text=f.output)
