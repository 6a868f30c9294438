# rayservice: a Kubernetes operator for Ray Serve.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install test lint run bench clean manifests

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

test: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict e2e/localcluster
	$(VENV)/bin/lint-imports

# The embedded Kubernetes API server on its own (kubectl --kubeconfig /tmp/localcluster.kubeconfig get ns).
run: install
	$(PY) -m e2e.localcluster apiserver --port 6443 --kubeconfig /tmp/localcluster.kubeconfig

# The CRDs, generated from the models in rayservice/api (tests/unit/api/test_crdgen.py fails when they drift).
manifests: install
	$(PY) -m rayservice.api.crdgen manifests/crd

bench: install
	$(PY) -m bench.apiserver_writes $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
