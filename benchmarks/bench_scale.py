"""Size and time of translation at scale: synthetic pipelines of 100 to 10,000 tasks.

    .venv/bin/python benchmarks/bench_scale.py [--sizes 100,1000,5000,10000] [--shapes chain,fan,dag20,dag50]
                                               [--repeat 3] [--large-repeat 1] [--kfp-max 1000]
                                               [--write benchmarks/SCALE.md]

For every shape (benchmarks/synthetic.py) and size: the pipeline is compiled with
`kfp.compiler` (timed: "kfp compile") up to `--kfp-max` tasks; above, its IR is laid out by
`synthetic.scaled_ir` (the same bytes, tested; kfp's compiler grows faster than linearly and
takes tens of minutes there). Then in this one process, warm (modules imported, one untimed run
first), best CPU time (`time.process_time`) of `--repeat` (`--large-repeat` above 1,000 tasks),
translation and floors interleaved so that a change in the machine's load hits all alike:
- translation: `translate IR -o OUT` as the CLI does it (read and validate the IR, build the
  graph, emit and validate the Workflow, write the YAML);
- the floor: PyYAML's C loader reading the same IR plus its C dumper writing our output (no
  translation at all: what any YAML-to-YAML tool pays), as the interpreter runs it by default;
- the same floor with CPython's cyclic collector paused, as `translate` runs (translator/cli.py):
  most of the default floor is that collector, so this is the like-for-like baseline for our own
  work.
Peak RSS is the translation's in a fresh process (`translate` CLI, `ru_maxrss`). Bytes: our YAML,
and our Workflow as JSON against Argo's 1 MiB (MAX_WORKFLOW_SIZE). Also the 200-task, 50-component
DAG (the size target) and `translate --help`.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402

from benchmarks.synthetic import SHAPES, compile_ir, scaled_ir  # noqa: E402
from translator.cli import main as translate_main  # noqa: E402
from translator.limits import ARGO_MAX, json_size  # noqa: E402

TARGET_RATIO = 1.3


def _best(fns: list, repeat: int) -> list[float]:
    """Best CPU seconds of this process for each function (the machine is shared: wall time
    measures the others), the functions run in turn in every round."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, spent in zip(fns, times):
            gc.collect()
            start = time.process_time()
            fn()
            spent.append(time.process_time() - start)
    return [min(t) for t in times]


def _gc_paused(fn):
    def run() -> None:
        gc.disable()
        try:
            fn()
        finally:
            gc.enable()
    return run


def _floor(ir_text: str, manifests: list) -> None:
    list(yaml.load_all(ir_text, Loader=yaml.CSafeLoader))
    yaml.dump_all(manifests, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True, width=100)


def _peak_rss(ir: Path, out: Path) -> tuple[float, float]:
    """(peak RSS MiB, wall seconds) of a fresh `translate` process, imports included."""
    code = ("import resource, sys, time; t = time.perf_counter(); from translator.cli import main; "
            "rc = main(sys.argv[1:]); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
            "time.perf_counter() - t); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, str(ir), "-o", str(out), "--allow-oversize"], capture_output=True, text=True,
                          cwd=REPO, check=True)
    kib, wall = proc.stdout.split()
    return int(kib) / 1024, float(wall)


def measure(shape: str, n: int, work: Path, repeat: int, scaled: bool = False) -> dict:
    if scaled:  # the IR laid out without kfp's compiler (benchmarks/synthetic.py scaled_ir)
        ir, compile_s = scaled_ir(shape, n, work), float("nan")
    else:
        ir, compile_s = compile_ir(shape, n, work)
    out = work / f"{shape}_{n}.argo.yaml"
    ir_text = ir.read_text()
    limit = sys.getrecursionlimit()  # the translator must not need more: keep Python's default
    assert limit <= 1000, limit

    def translate() -> None:
        assert translate_main([str(ir), "-o", str(out), "--allow-oversize"]) == 0

    translate()  # warm
    manifests = list(yaml.load_all(out.read_text(), Loader=yaml.CSafeLoader))
    floor_fn = lambda: _floor(ir_text, manifests)  # noqa: E731
    t, floor, floor_paused = _best([translate, floor_fn, _gc_paused(floor_fn)], repeat)
    rss, cold = _peak_rss(ir, work / "rss.yaml")
    js = sum(json_size(m) for m in manifests)
    return dict(shape=shape, n=n, translate=t, floor=floor, floor_paused=floor_paused, compile=compile_s, rss=rss, cold=cold,
                yaml_bytes=out.stat().st_size, json_bytes=js, ir_bytes=len(ir_text.encode()))


def help_time(repeat: int = 15) -> tuple[float, float]:
    """(median wall, median CPU) seconds of `translate --help` as users start it."""
    exe = Path(sys.executable).with_name("translate")
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([str(exe), "--help"], check=True, capture_output=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def _ratio(r: dict, key: str = "floor") -> float:
    return r["translate"] / r[key]


def render(rows: list[dict], help_wall: float, help_cpu: float, args: argparse.Namespace) -> str:
    load = os.getloadavg()
    lines = [
        "# Translation at scale: time and size",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `benchmarks/bench_scale.py --repeat {args.repeat} "
        f"--large-repeat {args.large_repeat} --kfp-max {args.kfp_max}`, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {load[0]:.1f} at the end "
        "(the machine is shared: absolute times are noisy, the ratios are measured in one process, interleaved).",
        "",
        "Columns: *translate* = `translate IR -o OUT` in-process, warm, best CPU seconds of the repeats (up to 1,000 "
        f"tasks {args.repeat}, above {args.large_repeat}); *floor* = PyYAML's C loader reading the IR + its C dumper writing "
        "our output, as the interpreter runs by default; *floor, GC paused* = the same with CPython's cyclic collector "
        "paused, as `translate` runs: the like-for-like baseline for our own work; *kfp compile* = `kfp.compiler` "
        f"writing the IR (above {args.kfp_max:,} tasks the IR is laid out by `synthetic.scaled_ir`, byte for byte "
        "the same, and not timed: —); *cold* = a fresh `translate` process (imports included); *RSS* = its peak; "
        "*JSON* = our Workflow as Go's encoding/json writes it, against Argo's 1 MiB.",
        "",
        "| shape | tasks | translate s | floor s | × floor | floor, GC paused s | × floor, GC paused | ms/task | "
        "kfp compile s | × kfp compile | cold s | peak RSS MiB | YAML bytes | JSON bytes | JSON / 1 MiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        compiled = r["compile"] == r["compile"]  # not NaN
        lines.append(
            f"| {r['shape']} | {r['n']:,} | {r['translate']:.2f} | {r['floor']:.2f} | {_ratio(r):.2f} | "
            f"{r['floor_paused']:.2f} | {_ratio(r, 'floor_paused'):.2f} | {1000 * r['translate'] / r['n']:.2f} | "
            f"{r['compile']:.2f} | {r['translate'] / r['compile']:.2f} | " if compiled else
            f"| {r['shape']} | {r['n']:,} | {r['translate']:.2f} | {r['floor']:.2f} | {_ratio(r):.2f} | "
            f"{r['floor_paused']:.2f} | {_ratio(r, 'floor_paused'):.2f} | {1000 * r['translate'] / r['n']:.2f} | — | — | ")
        lines[-1] += (f"{r['cold']:.2f} | {r['rss']:.0f} | {r['yaml_bytes']:,} | {r['json_bytes']:,} | "
                      f"{r['json_bytes'] / ARGO_MAX:.2f} |")
    lines += ["", f"`translate --help`: median {help_wall:.3f} s wall, {help_cpu:.3f} s CPU (15 runs).", ""]
    lines += ["## Targets (computed from the table)", ""]
    by = {(r["shape"], r["n"]): r for r in rows}
    if ("dag50", 200) in by:
        size = by[("dag50", 200)]["json_bytes"]
        lines.append(f"- 200 tasks, 50 components <= 256 KiB as JSON: {size:,} bytes = {size / 1024:.0f} KiB "
                     f"({'met' if size <= 256 * 1024 else 'missed'})")
    chain = by.get(("chain", 10_000))
    lines.append(f"- 10,000 chained tasks translate: {'met' if chain else 'not measured'}")
    for n in (1000, 5000, 10_000):
        at = [r for r in rows if r["n"] == n]
        if not at:
            continue
        for key, label in (("floor", "the floor"), ("floor_paused", "the floor with its GC paused too")):
            worst = max(_ratio(r, key) for r in at)
            ratios = ", ".join(f"{r['shape']} {_ratio(r, key):.2f}" for r in at)
            lines.append(f"- <= {TARGET_RATIO}x {label} at {n:,} tasks: {ratios} "
                         f"({'met' if worst <= TARGET_RATIO else 'missed'})")
    flat = []
    for shape in dict.fromkeys(r["shape"] for r in rows):
        a = by.get((shape, 1000))
        for n in (5000, 10_000):
            b = by.get((shape, n))
            if a and b:
                flat.append(f"{shape} {n:,}: {(b['translate'] / b['n']) / (a['translate'] / a['n']):.2f}")
    if flat:
        lines.append(f"- time per task flat from 1,000 to 10,000 (ms/task at N / at 1,000): {', '.join(flat)}")
    lines.append(f"- `translate --help` < 0.15 s: {help_wall:.3f} s wall, {help_cpu:.3f} s CPU "
                 f"({'met' if help_wall < 0.15 else 'met in CPU time, wall time inflated by the load' if help_cpu < 0.15 else 'missed'})")
    lines.append("")
    return "\n".join(lines)


NOTES = "<!-- notes: kept when the table is rewritten -->"


def write(path: Path, text: str) -> None:
    """Rewrite the table; keep the hand-written notes after the NOTES marker."""
    old = path.read_text() if path.exists() else ""
    notes = old[old.index(NOTES):] if NOTES in old else NOTES + "\n"
    path.write_text(text + "\n" + notes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,1000,5000,10000")
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--repeat", type=int, default=3, help="repetitions up to 1,000 tasks")
    ap.add_argument("--large-repeat", type=int, default=1, help="repetitions above 1,000 tasks")
    ap.add_argument("--kfp-max", type=int, default=1000,
                    help="compile with kfp up to this many tasks; above, lay the IR out with scaled_ir")
    ap.add_argument("--write", help="write the table here (markdown)")
    ap.add_argument("--rows", help="also save the measured rows here (JSON), for --merge")
    ap.add_argument("--merge", help="no measuring: write the table of rows saved by runs in parallel (A.json,B.json)")
    args = ap.parse_args()
    if args.merge:
        rows = [row for part in args.merge.split(",") for row in json.loads(Path(part).read_text())["rows"]]
        saved = json.loads(Path(args.merge.split(",")[0]).read_text())
        rows.sort(key=lambda r: (r["n"] != 200, r["n"], SHAPES.index(r["shape"])))
        text = render(rows, saved["help_wall"], saved["help_cpu"], args)
        if args.write:
            write(Path(args.write), text)
        print(text)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    shapes = args.shapes.split(",")
    rows = []
    with tempfile.TemporaryDirectory(prefix="kfpt-scale-") as tmp:
        cases = [(shape, n) for n in sizes for shape in shapes]  # small sizes first
        if "dag50" in shapes:
            cases.insert(0, ("dag50", 200))
        help_wall, help_cpu = help_time()
        for shape, n in cases:
            row = measure(shape, n, Path(tmp), args.repeat if n <= 1000 else args.large_repeat,
                          scaled=n > args.kfp_max)
            rows.append(row)
            print(f"{shape:6} {n:6}  translate {row['translate']:7.2f}s  floor {row['floor']:7.2f}s  "
                  f"x{_ratio(row):.2f}  paused floor {row['floor_paused']:7.2f}s  x{_ratio(row, 'floor_paused'):.2f}  "
                  f"JSON {row['json_bytes']:,}", flush=True)
            if args.write:  # after every case: a long run leaves its results so far
                write(Path(args.write), render(rows, help_wall, help_cpu, args))
            if args.rows:
                Path(args.rows).write_text(json.dumps({"rows": rows, "help_wall": help_wall, "help_cpu": help_cpu}))
    print(render(rows, help_wall, help_cpu, args))


if __name__ == "__main__":
    main()
