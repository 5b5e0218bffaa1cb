"""Synthetic KFP pipelines of any size, written as real `kfp` DSL and compiled by `kfp.compiler`.

Shapes:
- `chain`: task i reads task i-1's output; 10 distinct components, used in blocks so that the
  task sorting first by name is 90% of the way down the chain (a depth-first walk in name order
  starts near the far end).
- `fan`: one source, n-2 parallel tasks reading it, one sink after all of them; 10 components.
- `dag20` / `dag50`: a random DAG (seeded) over 20 / 50 distinct components with artifacts:
  each task reads 0-2 Dataset artifacts and an int from random earlier tasks.

    from benchmarks.synthetic import compile_ir
    ir_path = compile_ir("chain", 1000, tmp_dir)      # -> Path of the IR YAML
"""
from __future__ import annotations

import copy
import random
import sys
import textwrap
import time
from pathlib import Path

SHAPES = ("chain", "fan", "dag20", "dag50")
DISTINCT = {"chain": 10, "fan": 10, "dag20": 20, "dag50": 50}
SEED = 11


def _scalar_component(k: int) -> str:
    return textwrap.dedent(f"""
        @dsl.component(base_image="python:3.11")
        def step_{k:02d}(x: int) -> int:
            return x + {k}
        """)


def _artifact_component(k: int) -> str:
    arity = k % 3  # 0, 1 or 2 input artifacts: distinct interfaces, not only distinct bodies
    ins = "".join(f", a{j}: Input[Dataset]" for j in range(arity))
    reads = " + ".join([f"len(open(a{j}.path).read())" for j in range(arity)] or ["0"])
    return textwrap.dedent(f"""
        @dsl.component(base_image="python:3.11")
        def part_{k:02d}(n: int{ins}, out: Output[Dataset]) -> int:
            total = n + {reads} + {k}
            with open(out.path, "w") as f:
                f.write(str(total))
            return total
        """)


def pipeline_source(shape: str, n: int) -> str:
    """A Python module defining the components and `pipeline` for one shape and size."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r} (choose from {', '.join(SHAPES)})")
    d = DISTINCT[shape]
    head = "from kfp import dsl\nfrom kfp.dsl import Dataset, Input, Output\nimport random\n"
    if shape in ("chain", "fan"):
        comps = "".join(_scalar_component(k) for k in range(d))
        names = ", ".join(f"step_{k:02d}" for k in range(d))
    else:
        comps = "".join(_artifact_component(k) for k in range(d))
        names = ", ".join(f"part_{k:02d}" for k in range(d))
    body = {
        "chain": f"""
            # components in blocks, the last block first in name order
            prev = None
            for i in range({n}):
                comp = COMPS[({n} - 1 - i) * {d} // {n}]
                prev = comp(x=seed if prev is None else prev.output)
            """,
        "fan": f"""
            source = COMPS[0](x=seed)
            mids = [COMPS[1 + i % ({d} - 1)](x=source.output) for i in range({n} - 2)]
            COMPS[0](x=seed).after(*mids)
            """,
        "dag20": "", "dag50": "",
    }[shape] or f"""
            rng = random.Random({SEED})
            made = []  # (task, arity) of the tasks so far
            for i in range({n}):
                k = rng.randrange({d})
                arity = k % 3
                kwargs = {{"n": seed if not made else rng.choice(made).outputs["Output"]}}
                for j in range(arity):
                    if not made:
                        break
                    kwargs[f"a{{j}}"] = rng.choice(made).outputs["out"]
                if len(kwargs) < 1 + arity:  # not enough producers yet: a component with none
                    k, kwargs = k - arity, {{"n": kwargs["n"]}}
                made.append(COMPS[k](**kwargs))
            """
    pipeline = textwrap.dedent(f"""
        COMPS = [{names}]

        @dsl.pipeline(name="synthetic-{shape}-{n}")
        def pipeline(seed: int = 1):
        """) + textwrap.indent(textwrap.dedent(body), "    ")
    return head + comps + pipeline


def compile_ir(shape: str, n: int, directory: Path) -> tuple[Path, float]:
    """Compile the pipeline with `kfp.compiler`; returns the IR file and the compile seconds."""
    from kfp import compiler

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    module_path = directory / f"{shape}_{n}.py"
    module_path.write_text(pipeline_source(shape, n))
    namespace: dict = {"__name__": f"synthetic_{shape}_{n}", "__file__": str(module_path)}
    code = compile(module_path.read_text(), str(module_path), "exec", dont_inherit=True)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * n + 1000))  # kfp's own compiler recurses over the graph
    try:
        exec(code, namespace)  # noqa: S102 - our generated module
        ir_path = directory / f"{shape}_{n}.yaml"
        start = time.perf_counter()
        compiler.Compiler().compile(namespace["pipeline"], str(ir_path))
        seconds = time.perf_counter() - start
    finally:
        sys.setrecursionlimit(limit)
    return ir_path, seconds


def chain_ir(n: int, directory: Path) -> Path:
    """The IR `kfp.compiler` writes for the `chain` pipeline of n tasks, without running the
    compiler on n tasks (its time grows faster than linearly: a 10,000-task chain did not compile
    in 40 minutes here). One real compile of the distinct components (a chain that uses each
    once), then KFP's own layout for repeated uses: task, component and executor `step-KK-J`
    for the J-th use (tests/test_scale.py checks the result equals a real compile at 100 tasks)."""
    import yaml

    d = DISTINCT["chain"]
    base_path, _ = compile_ir("chain", d, Path(directory) / "base")
    base = yaml.load(base_path.read_text(), Loader=yaml.CSafeLoader)
    components, executors, tasks = {}, {}, {}
    uses: dict[int, int] = {}
    prev = None
    for i in range(n):
        k = (n - 1 - i) * d // n
        uses[k] = uses.get(k, 0) + 1
        name = f"step-{k:02d}" + (f"-{uses[k]}" if uses[k] > 1 else "")
        component = dict(copy.deepcopy(base["components"][f"comp-step-{k:02d}"]), executorLabel=f"exec-{name}")
        components[f"comp-{name}"] = component  # copies: shared objects would become YAML aliases
        executors[f"exec-{name}"] = copy.deepcopy(base["deploymentSpec"]["executors"][f"exec-step-{k:02d}"])
        source = {"componentInputParameter": "seed"} if prev is None else \
            {"taskOutputParameter": {"outputParameterKey": "Output", "producerTask": prev}}
        task = {"cachingOptions": {"enableCache": True}, "componentRef": {"name": f"comp-{name}"},
                **({"dependentTasks": [prev]} if prev else {}),
                "inputs": {"parameters": {"x": source}}, "taskInfo": {"name": name}}
        tasks[name] = task
        prev = name
    ir = dict(base, components=dict(sorted(components.items())),
              deploymentSpec={"executors": dict(sorted(executors.items()))},
              pipelineInfo={"name": f"synthetic-chain-{n}"},
              root=dict(base["root"], dag={"tasks": dict(sorted(tasks.items()))}))
    path = Path(directory) / f"chain_{n}.yaml"
    header = base_path.read_text().split("components:", 1)[0].replace(f"synthetic-chain-{d}", f"synthetic-chain-{n}")
    path.write_text(header + yaml.dump_all([ir], sort_keys=True))  # as kfp.compiler writes it
    return path
