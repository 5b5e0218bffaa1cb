"""Pipelines for the kfp-release compatibility tests (tests/test_compat.py), beside tests/pipelines.

`loop_artifact_consumer` is the seed article's shape compiled by kfp 2.7.0 (the release the article
installs): a ParallelFor whose task consumes an artifact produced outside the loop.
"""
from typing import List

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

IMAGE = "python:3.11-slim"


@dsl.component(base_image=IMAGE)
def make_table(rows: int, table: Output[Dataset]):
    with open(table.path, "w") as fh:
        fh.write("".join(f"{n / rows}\n" for n in range(rows)))


@dsl.component(base_image=IMAGE)
def fit_threshold(table: Input[Dataset], threshold: float) -> int:
    with open(table.path) as fh:
        return sum(1 for line in fh if float(line) >= threshold)


@dsl.component(base_image=IMAGE)
def total(counts: list) -> int:
    return sum(counts)


@dsl.pipeline(name="loop-artifact-consumer")
def loop_artifact_consumer(rows: int = 4):
    table = make_table(rows=rows)
    with dsl.ParallelFor([0.0, 0.5, 0.9]) as threshold:
        fit = fit_threshold(table=table.outputs["table"], threshold=threshold)
    total(counts=dsl.Collected(fit.output))


@dsl.component(base_image=IMAGE)
def fit_model(table: Input[Dataset], threshold: float, model: Output[Model]):
    with open(table.path) as fh, open(model.path, "w") as out:
        out.write(str(sum(1 for line in fh if float(line) >= threshold)))


@dsl.component(base_image=IMAGE)
def read_models(models: Input[List[Model]]) -> str:
    return ",".join(sorted(open(m.path).read() for m in models))


@dsl.pipeline(name="loop-collect-models")
def loop_collect_models(rows: int = 4):
    """The loop's task consumes an artifact and produces one that is collected after the loop
    (kfp-translate < this fix: internal error "passes 'table-digest', which template ... does
    not declare", whichever kfp compiled it)."""
    table = make_table(rows=rows)
    with dsl.ParallelFor([0.0, 0.5, 0.9]) as threshold:
        fit = fit_model(table=table.outputs["table"], threshold=threshold)
    read_models(models=dsl.Collected(fit.outputs["model"]))
