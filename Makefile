# kfp-translate developer tasks. The README's two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXAMPLE ?= examples/ml_training_pipeline.py

.PHONY: install demo test corpus golden argolint tektonlint lint-manifests bench-run bench-pods bench-scale fuzz clean e2e-build e2e-up e2e-down e2e

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Translate the example pipeline to an Argo Workflow (build/ml_training_pipeline.argo.yaml).
demo: install
	mkdir -p build
	$(BIN)/translate --backend argo $(EXAMPLE) -o build/ml_training_pipeline.argo.yaml
	@echo "wrote build/ml_training_pipeline.argo.yaml (submit it with: argo submit build/ml_training_pipeline.argo.yaml)"

## Run the whole test suite. The KFP corpus tests run when the corpus is there (KFP_CORPUS,
## ../shared/kfp-corpus, or .cache/kfp-corpus from `make corpus`) and are skipped otherwise.
## Test files run in TEST_JOBS parallel workers (pytest-xdist; a file stays on one worker, since
## some files' tests build on each other); the slowest tests are listed at the end.
TEST_JOBS ?= 3
test: install
	$(BIN)/python -m pytest -q -n $(TEST_JOBS) --dist loadfile --durations=25

## Fetch the KFP corpus (KFP's own test data at a pinned tag) into .cache/kfp-corpus.
KFP_CORPUS_TAG ?= 2.15.0
corpus:
	tools/fetch_corpus.sh $(KFP_CORPUS_TAG) .cache/kfp-corpus

## Regenerate every golden manifest after an intended change (first the minified pod shims,
## translator/runtime/packed_shims.json); review the diff before committing.
golden: install
	$(BIN)/python tools/pack_shim.py
	KFP_TRANSLATE_UPDATE_GOLDEN=1 $(BIN)/python -m pytest -q tests/test_golden.py tests/test_tekton_golden.py

## Build the Go helper that runs Argo's own offline lint.
argolint:
	cd tools/argolint && CGO_ENABLED=0 go build -trimpath -gcflags=all=-dwarf=false -o bin/argolint .

## Build the Go helper that runs Tekton Pipelines' own validation (tools/tektonlint).
tektonlint:
	cd tools/tektonlint && CGO_ENABLED=0 go build -trimpath -gcflags=all=-dwarf=false -o bin/tektonlint .

## Lint every golden manifest with Argo's own validation code (required pipeline parameters get
## a placeholder value, as `argo submit -p` would give), plus the broken-manifest checks.
lint-manifests: install argolint tektonlint
	$(BIN)/python -m pytest -q tests/test_lint_goldens.py tests/test_lint.py tests/test_tektonlint.py

## Per-step overhead of `translate run` against kfp.local (rewrites benchmarks/RESULTS.md).
bench-run: install
	$(BIN)/python benchmarks/bench_overhead.py --write benchmarks/RESULTS.md

## Pods per run and manifest size against KFP's own Argo backend (rewrites benchmarks/pods_per_run.md).
bench-pods: install
	$(BIN)/python benchmarks/pods_per_run.py

## Translation time and size at 100 to 10,000 tasks against PyYAML's floor (rewrites benchmarks/SCALE.md;
## above 1,000 tasks the IR is laid out by benchmarks/synthetic.py scaled_ir: kfp's compiler takes too long).
bench-scale: install
	$(BIN)/python benchmarks/bench_scale.py --write benchmarks/SCALE.md

## Coverage-guided fuzzing of the loader and the translation (atheris), FUZZ_SECONDS long, at low
## priority. Findings land in .cache/fuzz/findings; keep fixed ones in tests/fuzz_regressions/.
FUZZ_SECONDS ?= 300
FUZZ_FLAGS ?=
fuzz: install
	$(BIN)/python -c "import atheris" 2>/dev/null || $(BIN)/pip install --quiet 'atheris>=2.3'
	nice -n 19 $(BIN)/python fuzz/fuzz_translate.py -max_total_time=$(FUZZ_SECONDS) $(FUZZ_FLAGS)

## The single-machine cluster (e2e/README.md): build its programs once, start, stop, run the e2e suite.
e2e-build: install
	$(BIN)/python -m e2e.cluster.build

e2e-up: install
	$(BIN)/python -m e2e.cluster up

e2e-down:
	$(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) -m e2e.cluster down

## `make e2e E2E_ARGS=...` passes pytest options; KFPT_E2E_CASES / KFPT_E2E_SCENARIOS select a subset.
e2e: e2e-up
	$(BIN)/python -m pytest -q e2e/tests $(E2E_ARGS); status=$$?; $(MAKE) e2e-down; exit $$status

clean:
	rm -rf build tools/argolint/bin tools/tektonlint/bin .pytest_cache
