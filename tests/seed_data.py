"""The seed pipeline's input data, shared by every test that runs it (the runner, the report, e2e)."""
from __future__ import annotations

import random
from pathlib import Path


def write_seed_csv(path: Path, rows: int = 400, seed: int = 7) -> Path:
    """A CSV with four features and a `target` column that two of them predict (plus noise), so the
    seed's training pipeline learns something and its metrics are meaningful; fixed by `seed`."""
    rng = random.Random(seed)
    lines = ["f0,f1,f2,f3,target"]
    for _ in range(rows):
        f = [round(rng.gauss(0, 1), 4) for _ in range(4)]
        lines.append(",".join(map(str, f + [int(f[0] + 0.5 * f[1] + rng.gauss(0, 0.3) > 0)])))
    path.write_text("\n".join(lines) + "\n")
    return path
