"""python -m e2e.cluster.node --state <state dir> [--cleanup]"""
import argparse
import logging
import os
import sys
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m e2e.cluster.node", description=__doc__)
    parser.add_argument("--state", default=os.environ.get("KFPT_E2E_STATE", "e2e/.cluster"),
                        help="cluster state folder (kubeconfig, pki/, pods/, volumes/)")
    parser.add_argument("--cleanup", action="store_true",
                        help="kill leftover containers and remove pod folders, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    state = Path(args.state).resolve()
    if args.cleanup:
        from .cleanup import cleanup
        cleanup(state)
        return 0
    if not (state / "kubeconfig").exists():
        print(f"python -m e2e.cluster.node: {state / 'kubeconfig'} not found (run make e2e-up)", file=sys.stderr)
        return 2
    from .agent import Agent
    Agent(state).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
