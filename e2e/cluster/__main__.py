"""`python -m e2e.cluster up|down|status`: the single-machine cluster."""
import sys

from e2e.cluster.up import main

sys.exit(main(sys.argv[1:]))
