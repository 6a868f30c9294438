# syntax=docker/dockerfile:1
# The operator image: `make image` (docker build -t rayservice-operator:0.1.0 .).
#
# Stage 1 builds wheels for the operator and its dependencies; stage 2 installs them into a clean slim Python
# without pip caches, build tools or sources, and runs as the unprivileged user 65532 (the "nonroot" user of
# distroless images), matching the Deployment's securityContext in manifests/manager/deployment.yaml.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
# Only what the wheel needs: the end-to-end harness and the tests stay out of the image.
COPY pyproject.toml README.md ./
COPY rayservice ./rayservice
RUN pip wheel --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels rayservice \
    && rayservice run --help > /dev/null
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["rayservice"]
CMD ["run"]
