#!/usr/bin/env bash
# Regenerate tests/compat/kfp-*/: the project's test pipelines compiled by a spread of kfp
# releases, each in its own throwaway venv outside the repository. Needs PyPI.
#   tests/compat/regenerate.sh [VERSION ...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(2.0.1 2.4.0 2.7.0 2.10.0 2.14.6 2.17.3)
venvs="${KFP_COMPAT_VENVS:-$(mktemp -d)}"
for v in "${versions[@]}"; do
  venv="$venvs/kfp-$v"
  [ -x "$venv/bin/python" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet "kfp==$v"; }
  rm -rf "$here/kfp-$v"
  "$venv/bin/python" "$here/compile_pipelines.py" "$here/kfp-$v"
  echo "kfp $v: $(ls "$here/kfp-$v"/*.yaml | wc -l) pipelines"
done
