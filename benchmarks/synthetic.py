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


def _plan(shape: str, n: int) -> list[tuple[int, dict[str, int | None], dict[str, int], list[int]]]:
    """The tasks `pipeline_source(shape, n)` creates, in creation order, without kfp: for each,
    (component index, parameter -> producer task index or None for the seed, artifact ->
    producer task index, extra `.after` task indexes). Replays the DSL body's own arithmetic and
    random draws."""
    d, tasks = DISTINCT[shape], []
    if shape == "chain":
        for i in range(n):
            tasks.append(((n - 1 - i) * d // n, {"x": i - 1 if i else None}, {}, []))
    elif shape == "fan":
        tasks.append((0, {"x": None}, {}, []))
        tasks += [(1 + i % (d - 1), {"x": 0}, {}, []) for i in range(n - 2)]
        tasks.append((0, {"x": None}, {}, list(range(1, n - 1))))
    else:
        rng = random.Random(SEED)
        for i in range(n):
            k = rng.randrange(d)
            arity = k % 3
            params: dict[str, int | None] = {"n": None if not tasks else rng.randrange(len(tasks))}
            arts: dict[str, int] = {}
            for j in range(arity):
                if not tasks:
                    break
                arts[f"a{j}"] = rng.randrange(len(tasks))
            if len(params) + len(arts) < 1 + arity:
                k, arts = k - arity, {}
            tasks.append((k, params, arts, []))
    return tasks


def _base_source(shape: str, n: int) -> str:
    """A pipeline named like the n-task one that uses each distinct component exactly once."""
    source = pipeline_source(shape, DISTINCT[shape])
    head = source[:source.index("def pipeline(seed: int = 1):")]
    if shape in ("chain", "fan"):
        uses = "    for comp in COMPS:\n        comp(x=seed)\n"
    else:  # every artifact input reads the first task's
        uses = ("    first = COMPS[0](n=seed)\n"
                "    for k, comp in enumerate(COMPS[1:], 1):\n"
                "        comp(n=first.outputs[\"Output\"], **{f\"a{j}\": first.outputs[\"out\"] for j in range(k % 3)})\n")
    head = head.replace(f'name="synthetic-{shape}-{DISTINCT[shape]}"', f'name="synthetic-{shape}-{n}"')
    return head + "def pipeline(seed: int = 1):\n" + uses


def scaled_ir(shape: str, n: int, directory: Path) -> Path:
    """The IR `kfp.compiler` writes for `pipeline_source(shape, n)`, without running the compiler
    on n tasks (its time grows faster than linearly: a 10,000-task chain did not compile in 40
    minutes here, a 5,000-task fan or DAG not within a session). One real compile of a pipeline
    using each distinct component once, then KFP's own layout for repeated uses: task, component
    and executor `NAME-J` for the J-th use, `dependentTasks` sorted (tests/test_scale.py checks
    the result equals a real compile at 100 tasks for every shape)."""
    import yaml

    directory = Path(directory)
    base_dir = directory / f"base-{shape}-{n}"
    base_dir.mkdir(parents=True, exist_ok=True)
    module_path = base_dir / "base.py"
    module_path.write_text(_base_source(shape, n))
    namespace: dict = {"__name__": f"synthetic_base_{shape}", "__file__": str(module_path)}
    exec(compile(module_path.read_text(), str(module_path), "exec", dont_inherit=True), namespace)  # noqa: S102
    from kfp import compiler

    base_path = base_dir / "base.yaml"
    compiler.Compiler().compile(namespace["pipeline"], str(base_path))
    base = yaml.load(base_path.read_text(), Loader=yaml.CSafeLoader)
    stem = "step" if shape in ("chain", "fan") else "part"
    components, executors, tasks, names = {}, {}, {}, []
    uses: dict[int, int] = {}
    for k, params, arts, after in _plan(shape, n):
        uses[k] = uses.get(k, 0) + 1
        name = f"{stem}-{k:02d}" + (f"-{uses[k]}" if uses[k] > 1 else "")
        names.append(name)
        component = dict(copy.deepcopy(base["components"][f"comp-{stem}-{k:02d}"]), executorLabel=f"exec-{name}")
        components[f"comp-{name}"] = component  # copies: shared objects would become YAML aliases
        executors[f"exec-{name}"] = copy.deepcopy(base["deploymentSpec"]["executors"][f"exec-{stem}-{k:02d}"])
        inputs: dict = {}
        if arts:
            inputs["artifacts"] = {a: {"taskOutputArtifact": {"outputArtifactKey": "out", "producerTask": names[i]}}
                                   for a, i in arts.items()}
        inputs["parameters"] = {
            p: {"componentInputParameter": "seed"} if i is None else
               {"taskOutputParameter": {"outputParameterKey": "Output", "producerTask": names[i]}}
            for p, i in params.items()}
        upstream = sorted({names[i] for i in [*params.values(), *arts.values(), *after] if i is not None})
        tasks[name] = {"cachingOptions": {"enableCache": True}, "componentRef": {"name": f"comp-{name}"},
                       **({"dependentTasks": upstream} if upstream else {}),
                       "inputs": inputs, "taskInfo": {"name": name}}
    ir = dict(base, components=dict(sorted(components.items())),
              deploymentSpec={"executors": dict(sorted(executors.items()))},
              root=dict(base["root"], dag={"tasks": dict(sorted(tasks.items()))}))
    path = directory / f"{shape}_{n}.yaml"
    header = base_path.read_text().split("components:", 1)[0]
    # kfp writes with PyYAML's pure-Python dumper (byte-identical up to 1,000 tasks, tested at 100);
    # above that the C dumper writes the same document (long quoted strings folded differently,
    # the same data when read) in a tenth of the time: 17 MB at 10,000 tasks
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper) if n > 1000 else yaml.Dumper
    path.write_text(header + yaml.dump_all([ir], sort_keys=True, Dumper=dumper))  # as kfp.compiler writes it
    return path


def chain_ir(n: int, directory: Path) -> Path:
    """The chain's IR laid out by `scaled_ir` (kept for its callers)."""
    return scaled_ir("chain", n, directory)
