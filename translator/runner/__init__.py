"""`translate run`: a local runner for the Argo Workflows kfp-translate emits, with Argo's semantics.

engine (workflow, memoization, nodes) · scheduler (one template) · dag (DAG rules, loops, hooks)
· pod (a step as a local process) · venvs (one Python environment per image) · store (S3 / dir)
· subst, gojson, depends (Argo's substitution, Go rendering, `depends` grammar) · summary, live, cli.
"""
