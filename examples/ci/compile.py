"""Compile the CI example's pipeline to IR YAML, as the seed's `pipelines/compile.py` does."""
import sys
from pathlib import Path

from kfp import compiler

sys.path.insert(0, str(Path(__file__).resolve().parent / "pipelines"))
from training import ci_training  # noqa: E402

out = Path(sys.argv[1] if len(sys.argv) > 1 else "ml_pipeline.yaml")
out.parent.mkdir(parents=True, exist_ok=True)
compiler.Compiler().compile(pipeline_func=ci_training, package_path=str(out))
print(f"compiled {out}")
