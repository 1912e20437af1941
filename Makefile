# Two commands do all set-up on a fresh machine with Python 3.11+:
#   make demo   - create .venv, install, solve a bundled example and print its report
#   make test   - create .venv, install with dev tools and Ray, run lint, types and the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXAMPLE ?= examples/inference-fleet.yaml

.PHONY: demo test lint typecheck pytest bench lock clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,plot,ray]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/taskalloc validate $(EXAMPLE)
	$(BIN)/taskalloc solve $(EXAMPLE) -o plans/demo-plan.yaml
	$(BIN)/taskalloc check $(EXAMPLE) plans/demo-plan.yaml
	$(BIN)/taskalloc report $(EXAMPLE) plans/demo-plan.yaml

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check pkg cli solvers problems tests benchmarks
	$(BIN)/ruff format --check pkg cli solvers problems tests benchmarks

# mypy cannot see through the editable install's name mapping (cli/ -> taskalloc.cli, ...),
# so it checks a symlink tree laid out like the installed package.
typecheck: $(STAMP)
	rm -rf .typecheck && mkdir -p .typecheck/taskalloc
	for f in pkg/*.py pkg/py.typed; do ln -s ../../$$f .typecheck/taskalloc/; done
	ln -s ../../cli .typecheck/taskalloc/cli
	ln -s ../../solvers .typecheck/taskalloc/solvers
	ln -s ../../problems .typecheck/taskalloc/problems
	cd .typecheck && ../$(BIN)/mypy --config-file ../pyproject.toml -p taskalloc

pytest: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_startup.py
	$(BIN)/python benchmarks/bench_load.py
	$(BIN)/python benchmarks/bench_greedy.py

lock: $(STAMP)
	{ echo "# Exact pins for every dependency (runtime, extras and dev tools), so a plan is reproducible."; \
	  echo "# Regenerate after changing pyproject.toml: make lock"; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^taskalloc'; } > constraints.txt

clean:
	rm -rf $(VENV) .typecheck .pytest_cache .mypy_cache .ruff_cache plans
