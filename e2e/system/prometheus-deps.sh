#!/bin/sh
# Installs a Prometheus whose build has Kubernetes service discovery (`kubernetes_sd_configs`), for the local
# node's `prom/prometheus` image (make system-deps, as root). Debian 12's prometheus (2.42) is built without it,
# so on Debian 12 the packages `prometheus` and `promtool` come from Debian 13 (trixie, 2.53), pinned so that
# nothing else is taken from there; elsewhere they come from the system's own release.
# Does nothing when the installed promtool already accepts a kubernetes_sd_configs scrape config.
set -eu
probe=$(mktemp)
trap 'rm -f "$probe"' EXIT
printf 'scrape_configs:\n  - job_name: probe\n    kubernetes_sd_configs:\n      - role: pod\n        api_server: https://127.0.0.1:1\n' >"$probe"
if command -v promtool >/dev/null && promtool check config "$probe" >/dev/null 2>&1; then
    exit 0
fi
[ "$(id -u)" = 0 ] || { echo "prometheus with Kubernetes service discovery is missing; run make system-deps as root"; exit 0; }
. /etc/os-release
if [ "${VERSION_CODENAME:-}" = bookworm ]; then
    cat >/etc/apt/sources.list.d/rayservice-trixie.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' >/etc/apt/preferences.d/rayservice-trixie
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus/trixie promtool/trixie
else
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus
fi
promtool check config "$probe" >/dev/null || { echo "the installed prometheus has no kubernetes_sd_configs"; exit 1; }
