"""Pipelines that exercise KFP's data model end to end: every parameter type, artifacts with
metadata, metrics, return values, NamedTuple outputs, OutputPath, conditions."""
from typing import Dict, List, NamedTuple, Optional

from kfp import dsl
from kfp.dsl import ClassificationMetrics, Dataset, Input, Metrics, Model, Output, OutputPath

IMAGE = "python:3.11-slim"


@dsl.component(base_image=IMAGE)
def echo_types(s: str, i: int, f: float, b: bool, lst: list, d: dict,
               opt: Optional[str] = None, dflt: int = 7) -> NamedTuple(
        "Out", [("s", str), ("i", int), ("f", float), ("b", bool), ("lst", list), ("d", dict),
                ("opt_seen", str), ("dflt", int)]):
    Out = NamedTuple("Out", [("s", str), ("i", int), ("f", float), ("b", bool), ("lst", list),
                             ("d", dict), ("opt_seen", str), ("dflt", int)])
    assert type(i) is int and type(f) is float and type(b) is bool, (type(i), type(f), type(b))
    return Out(s, i, f, b, lst, d, "none" if opt is None else opt, dflt)


@dsl.component(base_image=IMAGE)
def typed_check(s: str, i: int, f: float, b: bool, lst: list, d: dict) -> str:
    import json
    assert type(i) is int and type(f) is float and type(b) is bool
    return json.dumps({"s": s, "i": i, "f": f, "b": b, "lst": lst, "d": d}, sort_keys=True)


@dsl.pipeline(name="param-types")
def param_types(s: str = "plain", i: int = 3, f: float = 0.25, b: bool = True,
                lst: list = [1, "two", 3.5], d: dict = {"k": [1, 2], "n": False}):
    t = echo_types(s=s, i=i, f=f, b=b, lst=lst, d=d)
    typed_check(s=t.outputs["s"], i=t.outputs["i"], f=t.outputs["f"], b=t.outputs["b"],
                lst=t.outputs["lst"], d=t.outputs["d"])


@dsl.component(base_image=IMAGE)
def make_data(rows: int, data: Output[Dataset], stats: Output[Metrics], report: OutputPath(str)) -> int:
    with open(data.path, "w") as fh:
        fh.write("".join(f"{n},{n * n}\n" for n in range(rows)))
    data.metadata["rows"] = rows
    data.metadata["columns"] = ["n", "square"]
    stats.log_metric("rows", rows)
    stats.log_metric("mean", sum(range(rows)) / rows)
    with open(report, "w") as fh:
        fh.write(f"wrote {rows} rows")
    return rows * 10


@dsl.component(base_image=IMAGE)
def train(data: Input[Dataset], model: Output[Model], cm: Output[ClassificationMetrics]) -> float:
    import os
    rows = [line.split(",") for line in open(data.path).read().splitlines()]
    os.makedirs(model.path)
    with open(os.path.join(model.path, "weights.txt"), "w") as fh:
        fh.write(str(len(rows)))
    model.metadata["trained_on_rows"] = data.metadata["rows"]
    model.metadata["columns_seen"] = data.metadata["columns"]
    cm.log_confusion_matrix(["a", "b"], [[len(rows), 1], [2, 3]])
    return len(rows) / 10


@dsl.component(base_image=IMAGE)
def inspect_model(model: Input[Model], score: float, threshold: float) -> str:
    import os
    weights = open(os.path.join(model.path, "weights.txt")).read()
    return f"{weights}|{model.metadata['trained_on_rows']}|{score}|{score >= threshold}"


@dsl.component(base_image=IMAGE)
def deploy(note: str) -> str:
    return "deployed:" + note


@dsl.pipeline(name="artifact-flow")
def artifact_flow(rows: int = 5, threshold: float = 0.5):
    made = make_data(rows=rows)
    trained = train(data=made.outputs["data"])
    seen = inspect_model(model=trained.outputs["model"], score=trained.outputs["Output"], threshold=threshold)
    with dsl.If(trained.outputs["Output"] >= threshold):
        deploy(note=seen.output)


@dsl.component(base_image=IMAGE)
def emit(text: str) -> str:
    return text


@dsl.pipeline(name="string-guards")
def string_guards(text: str = "x", expected: str = "x"):
    e = emit(text=text)
    with dsl.If(e.output == expected):
        emit(text="matched").set_display_name("on-match")
    with dsl.Else():
        emit(text="different").set_display_name("on-miss")
