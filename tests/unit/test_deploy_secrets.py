"""The compose stack takes every secret from the environment and gives other teams exactly
the Redis user the service-to-service document describes; the Kubernetes manifests take URLs
with credentials from a Secret, never from their ConfigMap."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SECRETS = ("REDIS_PASSWORD", "REDIS_EVENTS_PASSWORD", "MONGO_ROOT_PASSWORD", "MONGO_APP_PASSWORD")


def test_every_password_in_compose_comes_from_a_required_environment_variable():
    text = (ROOT / "docker-compose.yml").read_text()
    for name in SECRETS:
        assert f"${{{name}:?" in text, f"{name} must be required from the environment"
    redis_url = COMPOSE["x-platform-env"]["REDIS_URL"]
    mongo_url = COMPOSE["x-platform-env"]["MONGODB_URL"]
    assert redis_url.startswith("redis://platform:${REDIS_PASSWORD:?")
    assert "${MONGO_APP_PASSWORD:?" in mongo_url and "authSource=" in mongo_url
    mongo_env = COMPOSE["services"]["mongo"]["environment"]
    assert mongo_env["MONGO_INITDB_ROOT_PASSWORD"].startswith("${MONGO_ROOT_PASSWORD:?")
    # nothing that looks like a literal password assignment
    assert not re.search(r"(?i)password\s*[:=]\s*['\"]?[A-Za-z0-9]{8,}", text)


def test_the_redis_acl_of_compose_is_the_documented_one():
    script = COMPOSE["services"]["redis"]["entrypoint"][2]
    compose_line = next(ln for ln in script.splitlines() if ln.startswith("user events-reader"))
    doc = (ROOT / "docs" / "service-to-service.md").read_text()
    doc_line = next(ln for ln in doc.splitlines() if ln.startswith("user events-reader"))
    assert compose_line.replace("$$REDIS_EVENTS_PASSWORD", "${REDIS_EVENTS_PASSWORD}") == doc_line
    assert "user default off" in script


def test_env_files_are_never_committed():
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=ROOT, check=False)
    assert ignored.returncode == 0, ".env must be in .gitignore"
    example = (ROOT / ".env.example").read_text()
    assert all(re.search(rf"^{name}=$", example, re.M) for name in SECRETS), "placeholders stay empty"


def test_every_kubernetes_deployment_takes_credentialed_urls_from_the_optional_secret():
    deployments = [d for f in sorted((ROOT / "deploy" / "k8s" / "base").glob("*.yaml"))
                   for d in yaml.safe_load_all(f.read_text()) if d and d.get("kind") == "Deployment"]
    assert len(deployments) == 4
    for d in deployments:
        for container in d["spec"]["template"]["spec"]["containers"]:
            sources = container["envFrom"]
            # the last source wins: the Secret's URLs override the ConfigMap's
            assert sources[-1] == {"secretRef": {"name": "classifier-secrets", "optional": True}}
            assert {"configMapRef": {"name": "classifier-config"}} in sources[:-1]
            assert not any(e.get("name", "").endswith("_URL") for e in container.get("env", []))
    config = yaml.safe_load((ROOT / "deploy" / "k8s" / "base" / "configmap.yaml").read_text())
    assert all("@" not in v for k, v in config["data"].items() if k.endswith("_URL")), "no credentials"
