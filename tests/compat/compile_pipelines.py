"""Compile the project's own test pipelines with whatever kfp release runs this script.

    <venv with kfp==X>/bin/python tests/compat/compile_pipelines.py OUT_DIR

Writes OUT_DIR/<module>.<function>.yaml for every @dsl.pipeline in tests/pipelines/*.py and
tests/compat/pipelines.py, exactly as that release's compiler writes it, and OUT_DIR/SKIPPED.txt
listing what that release cannot compile (a DSL feature it does not have yet). kfp releases
before 2.3 have no `dsl.If`: its predecessor `dsl.Condition` (same meaning for one branch) stands in.
Run by tests/compat/regenerate.sh, one throwaway venv per release.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
MODULES = ["tests.pipelines.caching", "tests.pipelines.containers", "tests.pipelines.control",
           "tests.pipelines.dataflow", "tests.compat.pipelines"]


def main(out: Path) -> None:
    import kfp
    from kfp import compiler, dsl
    try:
        from kfp.dsl import graph_component
    except ImportError:  # kfp < 2.1 kept it under kfp.components
        from kfp.components import graph_component

    if not hasattr(dsl, "If"):
        dsl.If = dsl.Condition
    sys.path.insert(0, str(REPO))
    out.mkdir(parents=True, exist_ok=True)
    skipped = []
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - an older DSL lacks something the module uses
            skipped.append(f"{name}: import failed: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            continue
        for func, obj in sorted(vars(module).items()):
            if not isinstance(obj, graph_component.GraphComponent):
                continue
            target = out / f"{name.rsplit('.', 1)[1]}.{func}.yaml"
            try:
                compiler.Compiler().compile(obj, str(target))
            except Exception as exc:  # noqa: BLE001
                skipped.append(f"{name}.{func}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
                target.unlink(missing_ok=True)
    (out / "SKIPPED.txt").write_text(f"kfp {kfp.__version__}\n" + "".join(s + "\n" for s in skipped))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
