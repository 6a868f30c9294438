# rayservice: a Kubernetes operator for Ray Serve.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# The operator image; manifests/manager/deployment.yaml runs this exact name and tag.
IMAGE ?= rayservice-operator:0.1.0

.PHONY: install system-deps test lint demo run bench clean manifests docs image

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

# The node agent's tests (root only) need iproute2 and util-linux; install them with apt-get when missing.
system-deps:
	@command -v ip >/dev/null && command -v unshare >/dev/null && command -v nsenter >/dev/null || \
	  { [ "$$(id -u)" != 0 ] || { apt-get update -qq && apt-get install -y -qq iproute2 util-linux; }; }

test: install system-deps
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict e2e/localcluster
	$(VENV)/bin/lint-imports

# The whole journey on one machine: control plane (simulated pods), fake Ray dashboard, operator, sample RayService.
demo: install
	$(PY) -m e2e.demo

# The embedded Kubernetes API server on its own (kubectl --kubeconfig /tmp/localcluster.kubeconfig get ns).
run: install
	$(PY) -m e2e.localcluster apiserver --port 6443 --kubeconfig /tmp/localcluster.kubeconfig

# The CRDs, generated from the models in rayservice/api (tests/unit/api/test_crdgen.py fails when they drift).
manifests: install
	$(PY) -m rayservice.api.crdgen manifests/crd

# The API reference, generated from the same models (tests/unit/test_api_reference_doc.py fails when it drifts).
docs: install
	$(PY) docs/gen_api_reference.py

# The operator image from the Dockerfile (multi-stage: wheel, then python:3.11-slim, non-root 65532).
# Needs Docker with BuildKit; Docker is not available on this development machine, so the image is built where
# Docker runs (a workstation, CI): make image [IMAGE=registry.example.com/rayservice-operator:0.1.0].
image:
	docker build -t $(IMAGE) .

# DESIGN §7: the API server's write rate, then the operator's scenarios (bench/results/<UTC>.json).
# make bench ARGS=--quick (under 2 min each). ARGS goes to both; OPERATOR_ARGS (e.g. --steady-s 300) to the second.
bench: install
	$(PY) -m bench.apiserver_writes $(ARGS)
	$(PY) -m bench.operator $(ARGS) $(OPERATOR_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
