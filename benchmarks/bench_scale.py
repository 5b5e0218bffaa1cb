"""Size and time of translation at scale: synthetic pipelines of 100 to 10,000 tasks.

    .venv/bin/python benchmarks/bench_scale.py [--sizes 100,1000,5000,10000] [--shapes chain,fan,dag20,dag50]
                                               [--repeat 3] [--write benchmarks/SCALE.md]

For every shape (benchmarks/synthetic.py) and size: the pipeline is compiled with
`kfp.compiler` (timed: "kfp compile"), then in this one process, warm (modules imported, one
untimed run first), best CPU time (`time.process_time`) of `--repeat`:
- translation: `translate IR -o OUT` as the CLI does it (read and validate the IR, build the
  graph, emit and validate the Workflow, write the YAML);
- the floor: PyYAML's C loader reading the same IR plus its C dumper writing our output (no
  translation at all: what any YAML-to-YAML tool pays).
Peak RSS is the translation's in a fresh process (`translate` CLI, `ru_maxrss`). Bytes: our YAML,
and our Workflow as JSON against Argo's 1 MiB (MAX_WORKFLOW_SIZE). Also the 200-task, 50-component
DAG (the size target) and `translate --help`.
"""
from __future__ import annotations

import argparse
import gc
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

from benchmarks.synthetic import SHAPES, chain_ir, compile_ir  # noqa: E402
from translator.cli import main as translate_main  # noqa: E402
from translator.limits import ARGO_MAX, json_size  # noqa: E402

TARGET_RATIO = 1.3


def _best(fn, repeat: int) -> float:
    """Best CPU seconds of this process (the machine is shared: wall time measures the others)."""
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


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
    if scaled:  # the chain's IR laid out without kfp's compiler (benchmarks/synthetic.py chain_ir)
        ir, compile_s = chain_ir(n, work), float("nan")
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
    t = _best(translate, repeat)
    floor = _best(lambda: _floor(ir_text, manifests), repeat)
    rss, cold = _peak_rss(ir, work / "rss.yaml")
    js = sum(json_size(m) for m in manifests)
    return dict(shape=shape, n=n, translate=t, floor=floor, compile=compile_s, rss=rss, cold=cold,
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


def render(rows: list[dict], help_wall: float, help_cpu: float, repeat: int) -> str:
    load = os.getloadavg()
    lines = [
        "# Translation at scale: time and size",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `benchmarks/bench_scale.py --repeat {repeat}`, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, load average {load[0]:.1f} "
        "(the machine is shared: absolute times are noisy, the ratios are measured in one process, back to back).",
        "",
        "Columns: *translate* = `translate IR -o OUT` in-process, warm, best CPU seconds of the repeats; *floor* = PyYAML's C "
        "loader reading the IR + its C dumper writing our output; *kfp compile* = `kfp.compiler` writing the IR; "
        "*cold* = a fresh `translate` process (imports included); *RSS* = its peak; *JSON* = our Workflow as Go's "
        "encoding/json writes it, against Argo's 1 MiB.",
        "",
        "| shape | tasks | translate s | floor s | × floor | ms/task | kfp compile s | × kfp compile | cold s | peak RSS MiB | YAML bytes | JSON bytes | JSON / 1 MiB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r['shape']} | {r['n']:,} | {r['translate']:.2f} | {r['floor']:.2f} | {r['translate'] / r['floor']:.2f} | "
            f"{1000 * r['translate'] / r['n']:.2f} | {r['compile']:.2f} | {r['translate'] / r['compile']:.2f} | "
            f"{r['cold']:.2f} | {r['rss']:.0f} | {r['yaml_bytes']:,} | {r['json_bytes']:,} | {r['json_bytes'] / ARGO_MAX:.2f} |")
    lines += ["", f"`translate --help`: median {help_wall:.3f} s wall, {help_cpu:.3f} s CPU (15 runs).", ""]
    lines += ["## Targets (computed from the table)", ""]
    by = {(r["shape"], r["n"]): r for r in rows}
    if ("dag50", 200) in by:
        size = by[("dag50", 200)]["json_bytes"]
        lines.append(f"- 200 tasks, 50 components <= 256 KiB as JSON: {size:,} bytes = {size / 1024:.0f} KiB "
                     f"({'met' if size <= 256 * 1024 else 'missed'})")
    chain = by.get(("chain", 10_000))
    lines.append(f"- 10,000 chained tasks translate: {'met' if chain else 'not measured'}")
    for n in (1000, 5000):
        ratios = [f"{r['shape']} {r['translate'] / r['floor']:.2f}" for r in rows if r["n"] == n]
        if ratios:
            worst = max(r["translate"] / r["floor"] for r in rows if r["n"] == n)
            lines.append(f"- <= {TARGET_RATIO}x the floor at {n:,} tasks: {', '.join(ratios)} "
                         f"({'met' if worst <= TARGET_RATIO else 'missed'})")
    flat = []
    for shape in dict.fromkeys(r["shape"] for r in rows):
        a, b = by.get((shape, 1000)), by.get((shape, 10_000))
        if a and b:
            flat.append(f"{shape} {(b['translate'] / b['n']) / (a['translate'] / a['n']):.2f}")
    if flat:
        lines.append(f"- time per task flat from 1,000 to 10,000 (ms/task at 10,000 / at 1,000): {', '.join(flat)}")
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
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write", help="write the table here (markdown)")
    ap.add_argument("--scaled-chain", action="store_true",
                    help="chain only, its IR laid out by chain_ir (kfp's compiler is too slow at 10,000 tasks)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="kfpt-scale-") as tmp:
        cases = [(shape, n) for n in sizes for shape in args.shapes.split(",")]  # small sizes first
        if args.scaled_chain:
            cases = [("chain", n) for n in sizes]
        elif "dag50" in args.shapes.split(","):
            cases.insert(0, ("dag50", 200))
        help_wall, help_cpu = help_time()
        for shape, n in cases:
            row = measure(shape, n, Path(tmp), args.repeat if n <= 1000 else 1, scaled=args.scaled_chain)
            rows.append(row)
            print(f"{shape:6} {n:6}  translate {row['translate']:7.2f}s  floor {row['floor']:7.2f}s  "
                  f"x{row['translate'] / row['floor']:.2f}  JSON {row['json_bytes']:,}", flush=True)
            if args.write:  # after every case: a long run leaves its results so far
                write(Path(args.write), render(rows, help_wall, help_cpu, args.repeat))
    print(render(rows, help_wall, help_cpu, args.repeat))


if __name__ == "__main__":
    main()
