"""A real Prometheus in the local cluster, scraping the in-cluster operator as a user's Prometheus would.

`Prometheus(stack)` (a context manager) applies `MANIFEST`: the namespace `monitoring` with a Prometheus pod
(image `prom/prometheus`, which the local node runs with Debian's `prometheus`) and its Service; its
ServiceAccount, bound in `ray-system` to a Role that grants what `kubernetes_sd_configs` with `role: endpoints`
reads there (get, list and watch on endpoints, services and pods) and nothing else. The pod reaches the API
server with its ServiceAccount token and in-cluster configuration, discovers the `ray-operator-metrics` Service's
endpoints, and scrapes every operator pod's `/metrics` every `SCRAPE_S` seconds.

Guarantees:
1. On entry it returns once Prometheus is ready and has scraped at least one operator pod successfully (target
   `up == 1`), or raises `StackError`; on exit it deletes what it applied and waits until it is gone.
2. `query(expr)` runs an instant PromQL query through Prometheus' HTTP API (`/api/v1/query`) on the Service's
   ClusterIP and returns the result vector; a query Prometheus refuses raises `PromQLError` with its message.
3. `dashboard_queries(namespace, window)` lists every PromQL expression of the Grafana dashboard in
   manifests/grafana, with Grafana's variables filled in (`$namespace`, `$__rate_interval`) as Grafana would
   send them to Prometheus.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from types import TracebackType
from typing import Any

from e2e import observe as ob
from e2e.localstack import ROOT, LocalStack, StackError, wait_for

DASHBOARD = ROOT / "manifests" / "grafana" / "rayservice-upgrades.json"
NAMESPACE = "monitoring"
SCRAPE_S = 2
PORT = 9090
MANIFEST = f"""\
apiVersion: v1
kind: Namespace
metadata:
  name: {NAMESPACE}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: prometheus
  namespace: {NAMESPACE}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: prometheus-discovery
  namespace: ray-system
rules:
  - apiGroups: [""]
    resources: [endpoints, services, pods]
    verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: prometheus-discovery
  namespace: ray-system
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: prometheus-discovery
subjects:
  - kind: ServiceAccount
    name: prometheus
    namespace: {NAMESPACE}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: prometheus
  namespace: {NAMESPACE}
data:
  prometheus.yml: |
    global:
      scrape_interval: {SCRAPE_S}s
      evaluation_interval: {SCRAPE_S}s
    scrape_configs:
      - job_name: ray-operator
        kubernetes_sd_configs:
          - role: endpoints
            namespaces:
              names: [ray-system]
        relabel_configs:
          - source_labels: [__meta_kubernetes_service_label_app_kubernetes_io_component]
            regex: metrics
            action: keep
          - source_labels: [__meta_kubernetes_endpoint_port_name]
            regex: metrics
            action: keep
          - source_labels: [__meta_kubernetes_pod_name]
            target_label: pod
---
apiVersion: v1
kind: Pod
metadata:
  name: prometheus
  namespace: {NAMESPACE}
  labels:
    app.kubernetes.io/name: prometheus
spec:
  serviceAccountName: prometheus
  containers:
    - name: prometheus
      image: prom/prometheus:v2.42.0
      args:
        - --config.file=/etc/prometheus/prometheus.yml
        - --storage.tsdb.path=/prometheus
        - --web.listen-address=:{PORT}
      ports:
        - name: web
          containerPort: {PORT}
      readinessProbe:
        httpGet:
          path: /-/ready
          port: web
        periodSeconds: 2
      volumeMounts:
        - name: config
          mountPath: /etc/prometheus
  volumes:
    - name: config
      configMap:
        name: prometheus
---
apiVersion: v1
kind: Service
metadata:
  name: prometheus
  namespace: {NAMESPACE}
spec:
  selector:
    app.kubernetes.io/name: prometheus
  ports:
    - name: web
      port: {PORT}
      targetPort: web
"""


class PromQLError(Exception):
    pass


class Prometheus:
    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.ip = ""

    def __enter__(self) -> Prometheus:
        ob.apply(self.stack, MANIFEST)
        try:
            wait_for("the Prometheus pod ready", self._pod_ready, 90)
            svc = self.stack.get(f"/api/v1/namespaces/{NAMESPACE}/services/prometheus") or {}
            self.ip = str((svc.get("spec") or {}).get("clusterIP") or "")
            wait_for("Prometheus scraping an operator pod (up == 1)",
                     lambda: any(s["value"][1] == "1" for s in self.query('up{job="ray-operator"}')), 60, 0.5)
        except StackError as err:
            why = self._diagnosis()
            self._delete()
            raise StackError(f"{err}; {why}") from err
        except BaseException:
            self._delete()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._delete()

    def _pod_ready(self) -> bool:
        pod = self.stack.get(f"/api/v1/namespaces/{NAMESPACE}/pods/prometheus")
        return pod is not None and ob.is_ready(pod)

    def _diagnosis(self) -> str:
        """The pod's status and its log's last lines, for the error."""
        pod = self.stack.get(f"/api/v1/namespaces/{NAMESPACE}/pods/prometheus") or {}
        try:
            log = self.stack.kubectl("logs", "-n", NAMESPACE, "prometheus", "--tail=15")
        except StackError as err:
            log = str(err)
        return f"pod status {json.dumps(pod.get('status'))}; its log:\n{log}"

    def _delete(self) -> None:
        self.stack.kubectl("delete", "-f", "-", "--wait=true", "--ignore-not-found", stdin=MANIFEST)

    def query(self, expr: str) -> list[dict[str, Any]]:
        url = f"http://{self.ip}:{PORT}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                answer = json.loads(resp.read())
        except urllib.error.HTTPError as err:  # 400/422: the query is refused, with a reason
            raise PromQLError(f"{expr}: {err.read().decode(errors='replace')}") from err
        if answer.get("status") != "success":
            raise PromQLError(f"{expr}: {answer}")
        return list(answer["data"]["result"])


def dashboard_queries(namespace: str, window: str) -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    found = [str(t["expr"]) for panel in dashboard["panels"] for t in panel["targets"]]
    return [e.replace("$__rate_interval", window).replace("$namespace", namespace) for e in found]

