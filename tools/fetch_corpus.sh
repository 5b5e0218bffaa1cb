#!/usr/bin/env bash
# Fetch the KFP corpus (Kubeflow Pipelines' own compiled test pipelines, Apache-2.0) at a pinned
# tag into DEST, laid out as the tests expect: ir/valid, ir/invalid, kfp-argo-output.
# Usage: tools/fetch_corpus.sh TAG DEST   (needs git and access to github.com)
set -euo pipefail
tag=${1:?usage: fetch_corpus.sh TAG DEST}
dest=${2:?usage: fetch_corpus.sh TAG DEST}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone --quiet --depth 1 --branch "$tag" --filter=blob:none --sparse \
    https://github.com/kubeflow/pipelines.git "$work/kfp"
git -C "$work/kfp" sparse-checkout set test_data/sdk_compiled_pipelines test_data/compiled-workflows
src="$work/kfp/test_data"
[ -d "$src/sdk_compiled_pipelines/valid" ] || { echo "tag $tag has no test_data/sdk_compiled_pipelines/valid" >&2; exit 1; }
rm -rf "$dest.tmp" && mkdir -p "$dest.tmp/ir"
cp -r "$src/sdk_compiled_pipelines/valid" "$dest.tmp/ir/valid"
[ -d "$src/sdk_compiled_pipelines/invalid" ] && cp -r "$src/sdk_compiled_pipelines/invalid" "$dest.tmp/ir/invalid"
[ -d "$src/compiled-workflows" ] && cp -r "$src/compiled-workflows" "$dest.tmp/kfp-argo-output"
echo "kubeflow/pipelines $tag test_data" > "$dest.tmp/SOURCE"
rm -rf "$dest" && mv "$dest.tmp" "$dest"
echo "KFP corpus ($tag) in $dest: $(find "$dest/ir" -name '*.yaml' | wc -l) pipelines"
