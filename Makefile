# rayservice: a Kubernetes operator for Ray Serve.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
# The operator image; manifests/manager/deployment.yaml runs this exact name and tag.
IMAGE ?= rayservice-operator:0.1.0

.PHONY: install system-deps test e2e lint demo demo-sim run bench clean manifests docs image

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev,e2e]'
	touch $@

# The local node (make demo, make e2e, the node agent's tests; root only) needs iproute2 and util-linux; its
# image table runs `redis:*` images with Debian's redis-server and `prom/prometheus` with Debian's prometheus
# (one with Kubernetes service discovery, e2e/system/prometheus-deps.sh: the e2e Prometheus scrapes the
# operator); the seed-guide e2e test opens the Ray dashboard in Debian's headless chromium; `make install` needs
# Python's venv module. As root they are installed with apt-get when missing.
system-deps:
	@command -v ip >/dev/null && command -v unshare >/dev/null && command -v nsenter >/dev/null || \
	  { [ "$$(id -u)" != 0 ] || { apt-get update -qq && apt-get install -y -qq iproute2 util-linux; }; }
	@command -v redis-server >/dev/null || \
	  { [ "$$(id -u)" != 0 ] || { apt-get update -qq && apt-get install -y -qq redis-server; }; }
	@sh e2e/system/prometheus-deps.sh
	@command -v chromium >/dev/null || \
	  { [ "$$(id -u)" != 0 ] || { apt-get update -qq && apt-get install -y -qq chromium; }; }
	@python3 -c 'import ensurepip, venv' 2>/dev/null || \
	  { [ "$$(id -u)" != 0 ] || { apt-get update -qq && apt-get install -y -qq python3-venv; }; }

# Two xdist workers, a file's tests on one of them in order (tests/conftest.py).
test: system-deps install
	$(VENV)/bin/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

# The end-to-end suites with real Ray 2.60 in the local cluster (e2e/suites/, marker e2e; root, ~31 min on 2 cores;
# every test's duration is printed at the end).
# `make test` never collects them (testpaths); together the two targets run every test once.
E2E_ARGS ?=
e2e: system-deps install
	$(VENV)/bin/pytest e2e/suites -m e2e -v -s -p no:cacheprovider --durations=0 $(E2E_ARGS)

# ruff, mypy --strict on the operator and the local cluster, the import contracts (STYLE §1), and a wheel that
# carries only the rayservice package. .ci/run runs it before the tests; any failure fails CI.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --strict e2e/localcluster
	$(VENV)/bin/lint-imports --no-cache
	$(PY) .ci/check_wheel.py

# The whole journey on one machine with real Ray (root): local cluster, operator, the alpha sample, an answer.
demo:
	@[ "$$(id -u)" = 0 ] || { echo "make demo runs Ray pods in network and PID namespaces and needs root (sudo make demo); make demo-sim runs the simulated demo without root"; exit 1; }
	@$(MAKE) --no-print-directory system-deps install
	$(PY) -m e2e.demo

# The same journey simulated, without root: simulated pods, one fake Ray dashboard, the operator, the v1 sample.
demo-sim: install
	$(PY) -m e2e.demo --simulated

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
