"""docker-compose.yml against the Compose Specification's schema (vendored in
tests/compose-spec, offline), and what the deployment issue asks of it: one image built once,
start order by health, resource limits and log rotation on every service."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests" / "compose-spec" / "compose-spec.json"
SCHEMA_SHA256 = "d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64"  # README.md there
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
PLATFORM = ("gateway", "annotation", "task", "workflow")


def test_the_vendored_schema_is_the_one_its_readme_names():
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256


def test_the_compose_file_is_valid_against_the_compose_specification():
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(COMPOSE)]
    assert not errors, "\n".join(errors)


def test_the_schema_check_refuses_what_compose_refuses():
    schema = json.loads(SCHEMA.read_text())
    wrong = COMPOSE | {"services": COMPOSE["services"] | {"task": COMPOSE["services"]["task"] | {"restart_policy": "always"}}}
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(wrong))


def test_the_platform_image_is_built_once_and_every_process_runs_it():
    services = COMPOSE["services"]
    builders = [name for name, s in services.items() if "build" in s]
    assert builders == ["gateway"]
    assert services["gateway"]["build"]["dockerfile"] == "deploy/Dockerfile"
    images = {services[name]["image"] for name in PLATFORM}
    assert len(images) == 1
    assert all(services[name]["pull_policy"] == "never" for name in PLATFORM if name != "gateway")


def test_processes_start_in_order_of_health():
    services = COMPOSE["services"]
    for name, service in services.items():
        assert "test" in service["healthcheck"], f"{name} has no health check"
    for name in PLATFORM:
        needs = services[name]["depends_on"]
        assert {"redis", "mongo"} <= set(needs), name
        assert all(n["condition"] == "service_healthy" for n in needs.values()), name
    assert {"annotation", "task", "workflow"} <= set(services["gateway"]["depends_on"])


def test_every_service_has_resource_limits_and_rotated_logs():
    for name, service in COMPOSE["services"].items():
        limits = service["deploy"]["resources"]["limits"]
        assert {"cpus", "memory"} <= set(limits), name
        logging = service["logging"]
        assert logging["driver"] == "json-file" and {"max-size", "max-file"} <= set(logging["options"]), name
