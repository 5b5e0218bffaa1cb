"""Control flow pipelines: loops, fan-in, branches, OneOf, nested pipelines, exit handlers."""
from typing import List

from kfp import dsl

IMAGE = "python:3.11-slim"


@dsl.component(base_image=IMAGE)
def square(x: int) -> int:
    return x * x


@dsl.component(base_image=IMAGE)
def total(values: List[int]) -> int:
    assert all(type(v) is int for v in values), values  # ints stay ints (kfp.local makes floats)
    return sum(values)


@dsl.component(base_image=IMAGE)
def make_list(n: int) -> List[int]:
    return list(range(1, n + 1))


@dsl.component(base_image=IMAGE)
def describe(cfg: dict, name: str, depth: str) -> str:
    return f"{name}:{depth}:{sorted(cfg)}"


@dsl.component(base_image=IMAGE)
def join(items: List[str]) -> str:
    return ",".join(items)


@dsl.pipeline(name="loops")
def loops(n: int = 3):
    # over a literal list, collected
    with dsl.ParallelFor([1, 2, 3, 4]) as x:
        sq = square(x=x)
    total(values=dsl.Collected(sq.output)).set_display_name("total-literal")
    # over a task output list (withParam), with a parallelism limit
    lst = make_list(n=n)
    with dsl.ParallelFor(lst.output, parallelism=2) as y:
        sq2 = square(x=y)
    total(values=dsl.Collected(sq2.output)).set_display_name("total-dynamic")
    # over dicts, reading fields
    configs = [{"label": "a", "depth": 2}, {"label": "b", "depth": 5}]
    with dsl.ParallelFor(configs) as cfg:
        d = describe(cfg=cfg, name=cfg.label, depth=cfg.depth)
    join(items=dsl.Collected(d.output))


@dsl.component(base_image=IMAGE)
def flip(seed: int) -> str:
    return "heads" if seed % 2 == 0 else "tails"


@dsl.component(base_image=IMAGE)
def say(msg: str) -> str:
    return msg


@dsl.pipeline(name="branches")
def branches(seed: int = 0):
    f = flip(seed=seed)
    with dsl.If(f.output == "heads"):
        h = say(msg="got heads")
    with dsl.Else():
        t = say(msg="got tails")
    say(msg=dsl.OneOf(h.output, t.output)).set_display_name("announce")


@dsl.pipeline(name="inner")
def inner(x: int = 2) -> int:
    return square(x=x).output


@dsl.pipeline(name="nested")
def nested(x: int = 3):
    a = inner(x=x)
    inner()  # the nested pipeline's default applies
    square(x=a.output).set_display_name("square-of-inner")


@dsl.component(base_image=IMAGE)
def fail_if(fail: bool) -> str:
    if fail:
        raise RuntimeError("failing on purpose")
    return "ok"


@dsl.component(base_image=IMAGE)
def report(status: dsl.PipelineTaskFinalStatus) -> str:
    return f"{status.state}|{status.pipeline_task_name}|{status.error_code}"


@dsl.pipeline(name="exit-handling")
def exit_handling(fail: bool = False):
    done = report()
    with dsl.ExitHandler(done):
        fail_if(fail=fail)


@dsl.component(base_image=IMAGE)
def cleanup(note: str) -> str:
    return "cleaned:" + note


@dsl.pipeline(name="ignore-upstream")
def ignore_upstream(fail: bool = True):
    f = fail_if(fail=fail)
    cleanup(note="after").after(f).ignore_upstream_failure()


@dsl.component(base_image=IMAGE)
def write_text(text: str, out: dsl.Output[dsl.Dataset]):
    with open(out.path, "w") as fh:
        fh.write(text)
    out.metadata["text"] = text


@dsl.component(base_image=IMAGE)
def read_all(items: dsl.Input[List[dsl.Dataset]]) -> str:
    return "|".join(open(d.path).read() + "@" + d.metadata["text"] for d in items)


@dsl.pipeline(name="inner-collect")
def inner_collect(prefix: str) -> List[dsl.Dataset]:
    with dsl.ParallelFor(["x", "y"]) as letter:
        w = write_text(text=letter)
    return dsl.Collected(w.outputs["out"])


@dsl.pipeline(name="collect-artifacts")
def collect_artifacts():
    with dsl.ParallelFor(["a", "b", "c"]) as letter:
        w = write_text(text=letter)
    read_all(items=dsl.Collected(w.outputs["out"])).set_display_name("read-flat")
    with dsl.ParallelFor(["1", "2"]) as outer:
        with dsl.ParallelFor(["p", "q"]) as inner_item:
            w2 = write_text(text=inner_item)
    read_all(items=dsl.Collected(w2.outputs["out"])).set_display_name("read-nested")
    nested_out = inner_collect(prefix="n")
    read_all(items=nested_out.output).set_display_name("read-from-pipeline")


@dsl.component(base_image=IMAGE)
def halve(x: int) -> float:
    return x / 2


@dsl.pipeline(name="double-condition")
def double_condition(x: int = 3):
    h = halve(x=x)
    with dsl.If(h.output > 1):  # the SDK writes `... > double(1)`
        say(msg="above one").set_display_name("above")
