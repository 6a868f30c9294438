"""The node's image table (e2e/localcluster/node/images.py): which local program stands in for an image."""

from __future__ import annotations

import pytest

from e2e.localcluster.node.images import ImageNotFound, container_argv, normalize, resolve, writable_paths


def everything(name: str) -> str | None:
    return f"/usr/bin/{name}"


def nothing(name: str) -> str | None:
    return None


@pytest.mark.parametrize(("image", "repository", "tag"), [
    ("nginx", "nginx", ""),
    ("docker.io/library/nginx:1.27", "nginx", "1.27"),
    ("docker.io/rayproject/ray:2.60.0", "rayproject/ray", "2.60.0"),
    ("localhost:5000/rayservice-operator:0.1.0", "rayservice-operator", "0.1.0"),
    ("registry.example.com/rayservice-operator@sha256:abc", "rayservice-operator", ""),
    ("redis:7", "redis", "7"),
])
def test_references_are_read_as_a_container_runtime_reads_them(image: str, repository: str, tag: str) -> None:
    ref = normalize(image)
    assert (ref.repository, ref.tag) == (repository, tag)


def test_ray_images_run_the_project_environment_with_the_containers_command() -> None:
    for image in ("rayproject/ray:2.60.0", "rayproject/ray-ml:2.60.0-py311", "docker.io/rayproject/ray"):
        config = resolve(image, python_bin="/venv/bin", which=nothing)
        assert "Ray" in config.runs
        assert container_argv(config, ["ray", "start", "--head"], []) == ["ray", "start", "--head"]


def test_the_operator_image_runs_the_venvs_rayservice_with_the_containers_args() -> None:
    config = resolve("rayservice-operator:0.1.0", python_bin="/venv/bin", which=nothing)
    assert container_argv(config, [], ["run", "--leader-elect"]) == ["/venv/bin/rayservice", "run", "--leader-elect"]
    assert container_argv(config, [], []) == ["/venv/bin/rayservice", "run"]  # the image's ENTRYPOINT and CMD
    assert resolve("registry.example.com/team/rayservice-operator:dev", python_bin="/b", which=nothing).entrypoint \
        == ("/b/rayservice",)


def test_busybox_and_curl_images_run_host_tools() -> None:
    busybox = resolve("busybox:1.36", python_bin="/venv/bin", which=everything)
    assert container_argv(busybox, [], []) == ["sh"]
    assert container_argv(busybox, ["sh", "-c", "echo hi"], []) == ["sh", "-c", "echo hi"]
    assert container_argv(resolve("radial/busyboxplus:curl", python_bin="/b", which=everything), [], []) == ["sh"]
    curl = resolve("curlimages/curl:8.10.1", python_bin="/venv/bin", which=everything)
    assert container_argv(curl, [], ["-s", "http://x"]) == ["curl", "-s", "http://x"]


def test_redis_runs_debians_redis_server_and_says_how_to_install_it_when_missing() -> None:
    config = resolve("redis:7", python_bin="/venv/bin", which=everything)
    assert container_argv(config, [], []) == ["redis-server", "--protected-mode", "no"]
    # args replace CMD, and the image's entrypoint puts redis-server before bare options
    assert container_argv(config, [], ["--port", "7000"]) == ["redis-server", "--protected-mode", "no", "--port",
                                                               "7000"]
    assert container_argv(config, ["redis-cli", "PING"], []) == ["redis-cli", "PING"]
    assert config.workdir == "/tmp"
    with pytest.raises(ImageNotFound, match=r"redis-server is not installed on this node \(make system-deps"):
        resolve("redis:7", python_bin="/venv/bin", which=nothing)


def test_an_unknown_image_is_not_found_with_a_message_that_names_the_table() -> None:
    with pytest.raises(ImageNotFound) as caught:
        resolve("nginx:1.27", python_bin="/venv/bin", which=everything)
    message = str(caught.value)
    assert 'image "nginx:1.27" is not in the local node\'s image table' in message
    assert "rayproject/ray*" in message and "rayservice-operator" in message and "redis" in message
    assert "docs/local-cluster.md" in message
    with pytest.raises(ImageNotFound, match="names no image"):
        resolve("", python_bin="/venv/bin", which=everything)
    with pytest.raises(ImageNotFound):
        resolve("rayproject-fork/ray:1", python_bin="/venv/bin", which=everything)


def test_the_redis_image_keeps_data_writable_and_other_or_unknown_images_add_no_paths() -> None:
    assert resolve("redis:7.4.0", python_bin="/venv/bin", which=everything).writable == ("/data",)
    containers = [{"image": "rayproject/ray:2.52.0"}, {"image": "nginx"}, {"image": "redis:7.4.0"},
                  {"image": "docker.io/library/redis"}]
    assert writable_paths(containers, python_bin="/venv/bin", which=everything) == ["/data"]
    assert writable_paths(containers, python_bin="/venv/bin", which=nothing) == []  # no redis-server: no image


def test_prometheus_runs_debians_prometheus_with_the_official_images_defaults_and_writable_tsdb() -> None:
    for image in ("prom/prometheus:v2.42.0", "quay.io/prometheus/prometheus:v3.0.0"):
        config = resolve(image, python_bin="/venv/bin", which=everything)
        assert container_argv(config, [], []) == [
            "prometheus", "--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
        args = ["--config.file=/etc/p/p.yml"]
        assert container_argv(config, [], args) == ["prometheus", *args]
        assert config.workdir == "/prometheus" and config.writable == ("/prometheus",)
    with pytest.raises(ImageNotFound, match=r"prometheus is not installed on this node \(make system-deps"):
        resolve("prom/prometheus", python_bin="/venv/bin", which=nothing)
