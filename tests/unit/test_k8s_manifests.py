"""The Kubernetes manifests (deploy/k8s): the base and the example overlay, rendered here
without kubectl, are valid against the Kubernetes schemas (kubernetes-validate, strict: no
unknown field), every pod passes the "restricted" Pod Security profile, every process has
probes, a disruption budget and an autoscaler, runs at least two replicas in the overlay,
and the network policies leave only the gateway reachable from outside."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

pytestmark = pytest.mark.unit

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
PROCESSES = {"gateway": 8000, "annotation": 8101, "task": 8102, "workflow": 8103}
# The oldest Kubernetes the manifests promise to work on (README.md there), and the newest
# the validator knows.
VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
PLATFORM = {"app.kubernetes.io/part-of": "classifier-platform"}


# --- a renderer of the kustomize subset the manifests use ------------------------------------


def render(directory: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize directory` for the fields used in deploy/k8s: `resources` (files and
    directories holding a kustomization.yaml), `namespace`, `images` (newName/newTag),
    `replicas` and `patches` by path (strategic merge by kind and name, where a map merges
    into a map and anything else replaces; the patched lists here have no merge key, so
    kustomize replaces them too). Anything else in a kustomization fails the test, so the
    renderer cannot silently fall behind the files."""
    k = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(k) - {"apiVersion", "kind", "resources", "namespace", "images", "replicas", "patches"}
    assert not unknown, f"{directory}: render() does not apply {unknown}"
    docs: list[dict[str, Any]] = []
    for entry in k.get("resources", []):
        path = directory / entry
        docs += render(path) if path.is_dir() else [d for d in yaml.safe_load_all(path.read_text()) if d]
    for patch in k.get("patches", []):
        assert set(patch) == {"path"}, f"{directory}: only patches by path are rendered"
        for change in yaml.safe_load_all((directory / patch["path"]).read_text()):
            target = one(docs, change["kind"], change["metadata"]["name"])
            merge(target, change)
    for r in k.get("replicas", []):
        one(docs, "Deployment", r["name"])["spec"]["replicas"] = r["count"]
    for image in k.get("images", []):
        for container in containers(docs):
            name, _, tag = container["image"].partition(":")
            if name == image["name"]:
                container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"
    if ns := k.get("namespace"):
        for d in docs:
            if d["kind"] != "Namespace":
                d["metadata"]["namespace"] = ns
    return docs


def merge(into: dict[str, Any], change: dict[str, Any]) -> None:
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{len(found)} {kind} named {name}"
    return found[0]


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def pod_specs(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d["spec"]["template"]["spec"] for d in docs if d["kind"] in ("Deployment", "StatefulSet", "Job")]


def containers(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for spec in pod_specs(docs) for c in spec.get("initContainers", []) + spec["containers"]]


BASE = render(K8S / "base")
OVERLAY = render(K8S / "overlays" / "example")


# --- the checks --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("rendered", ["base", "overlay"])
def test_every_manifest_is_valid_against_the_kubernetes_schemas_strictly(rendered, version):
    docs = BASE if rendered == "base" else OVERLAY
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{doc['kind']} {doc['metadata']['name']}: {e.message} at {list(e.path)}")


def test_the_overlay_is_what_kubectl_applies_the_base_with():
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in OVERLAY if d["kind"] != "Namespace")
    assert kinds == sorted((d["kind"], d["metadata"]["name"]) for d in BASE)
    assert {d["metadata"].get("namespace") for d in OVERLAY if d["kind"] != "Namespace"} == {"classifier"}
    assert {c["image"] for c in containers(OVERLAY)} == {"registry.example.com/classifier-platform:0.1.0"}
    assert one(OVERLAY, "ConfigMap", "classifier-config")["data"]["PUBLIC_URL"] == "https://annotate.example.com"
    assert one(OVERLAY, "ConfigMap", "classifier-config")["data"]["MONGODB_DB"] == "classifier"  # merged, not replaced


@pytest.mark.parametrize("rendered", ["base", "overlay"])
def test_every_pod_passes_the_restricted_pod_security_profile(rendered):
    docs = BASE if rendered == "base" else OVERLAY
    assert len(pod_specs(docs)) == len(PROCESSES)
    for spec in pod_specs(docs):
        assert spec["automountServiceAccountToken"] is False
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert not {"hostNetwork", "hostPID", "hostIPC"} & set(spec)
        assert all(set(v) <= {"name", "emptyDir", "configMap", "secret", "projected"} for v in spec.get("volumes", []))
        for c in spec.get("initContainers", []) + spec["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, c["name"]
            assert sc["capabilities"] == {"drop": ["ALL"]}, c["name"]
            assert sc["readOnlyRootFilesystem"] is True, c["name"]
            assert "privileged" not in sc and "runAsUser" not in sc or sc["runAsUser"] != 0
            assert not any("hostPort" in p for p in c.get("ports", []))
            assert "memory" in c["resources"]["limits"] and "cpu" in c["resources"]["requests"], c["name"]
    namespace = one(OVERLAY, "Namespace", "classifier")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_every_process_has_startup_readiness_and_liveness_probes_on_its_health_port():
    for name, port in PROCESSES.items():
        pod = one(BASE, "Deployment", name)["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        assert container["ports"] == [{"name": "http", "containerPort": port}]
        assert {"name": "PORT", "value": str(port)} in container["env"]
        assert container["startupProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
        assert pod["metadata"]["annotations"] == {"prometheus.io/scrape": "true", "prometheus.io/port": str(port),
                                                  "prometheus.io/path": "/metrics"}


def test_every_deployment_of_the_overlay_runs_two_replicas_at_least_with_a_budget_and_an_autoscaler():
    deployments = of_kind(OVERLAY, "Deployment")
    assert sorted(d["metadata"]["name"] for d in deployments) == sorted(PROCESSES)
    for d in deployments:
        name, labels = d["metadata"]["name"], d["spec"]["selector"]["matchLabels"]
        assert d["spec"]["replicas"] >= 2, name
        pdb = one(OVERLAY, "PodDisruptionBudget", name)
        assert pdb["spec"]["selector"]["matchLabels"] == labels
        assert pdb["spec"].get("maxUnavailable") == 1 or pdb["spec"].get("minAvailable", 0) < d["spec"]["replicas"]
        hpa = one(OVERLAY, "HorizontalPodAutoscaler", name)
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]


def selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    selector = policy["spec"]["podSelector"]
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        assert e["operator"] == "In", "selects() reads In only"
        if labels.get(e["key"]) not in e["values"]:
            return False
    return True


def allowed(labels: dict[str, str]) -> list[dict[str, Any]]:
    """The ingress rules that let traffic reach pods with `labels`."""
    policies = [p for p in of_kind(OVERLAY, "NetworkPolicy") if selects(p, labels)]
    assert policies, f"no policy selects {labels}: all traffic allowed"
    return [rule for p in policies for rule in p["spec"].get("ingress", [])]


def test_network_policies_let_only_the_gateway_be_reached_from_outside():
    deny = one(OVERLAY, "NetworkPolicy", "default-deny-ingress")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}
    (gateway,) = allowed({"app.kubernetes.io/name": "gateway", **PLATFORM})
    assert "from" not in gateway and gateway["ports"] == [{"port": 8000, "protocol": "TCP"}]
    for name in ("annotation", "task", "workflow"):
        for rule in allowed({"app.kubernetes.io/name": name, **PLATFORM}):
            assert rule["from"] == [{"namespaceSelector": {"matchLabels": {
                "kubernetes.io/metadata.name": "monitoring"}}}], name
    for store, port in (("redis", 6379), ("mongo", 27017)):
        for rule in allowed({"app.kubernetes.io/name": store}):
            assert rule["from"] == [{"podSelector": {"matchLabels": PLATFORM}},
                                    {"podSelector": {"matchLabels": {"app.kubernetes.io/name": store}}}], store
            assert {"port": port, "protocol": "TCP"} in rule["ports"]
    assert not of_kind(OVERLAY, "Service")[0]["spec"].get("type")  # ClusterIP: in through the Ingress


def test_the_ingress_passes_the_live_feeds_through_unbuffered_and_keeps_them_open():
    ingress = one(OVERLAY, "Ingress", "gateway")
    notes = ingress["metadata"]["annotations"]
    assert ingress["spec"]["ingressClassName"] == "nginx"  # the annotations are ingress-nginx's
    assert notes["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    assert int(notes["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "annotate.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": "gateway", "port": {"name": "http"}}


def test_the_gateways_metrics_are_closed_to_outside_on_every_host_it_serves():
    """/metrics is public on the gateway's port (for Prometheus in the cluster): the Ingress
    must not pass it on from outside."""
    for docs in (BASE, OVERLAY):
        hosts = {r.get("host") for r in one(docs, "Ingress", "gateway")["spec"]["rules"]}
        closed = one(docs, "Ingress", "gateway-metrics-closed")
        notes = closed["metadata"]["annotations"]
        assert notes["nginx.ingress.kubernetes.io/allowlist-source-range"] == "127.0.0.1/32"
        assert notes["nginx.ingress.kubernetes.io/whitelist-source-range"] == "127.0.0.1/32"
        assert closed["spec"]["ingressClassName"] == "nginx"
        assert {r.get("host") for r in closed["spec"]["rules"]} == hosts
        for rule in closed["spec"]["rules"]:
            assert [(p["path"], p["pathType"]) for p in rule["http"]["paths"]] == [("/metrics", "Exact")]
