"""deploy/observability: the Grafana dashboard loads, the alert rules parse with the alerts
operators need, and both ask only for series the code exports (names read off a real
/metrics exposition, not a list kept by hand)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from litestar import Litestar, get
from litestar.testing import TestClient

from gateway import observability as gateway_observability
from shared.platform.observability import metrics

pytestmark = pytest.mark.unit

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "observability"
ALERTS = {"ClassifierStreamLagGrowing", "ClassifierPendingEntriesOld", "ClassifierDeadLetters",
          "ClassifierDeadLetterStreamNotEmpty", "ClassifierHttpErrorRate",
          "ClassifierCommandFailureRate", "ClassifierMongoDBSlow"}
METRIC = re.compile(r"\b((?:clf|faststream)_[a-z_]+)\b")


def dashboard() -> dict:
    return json.loads((DEPLOY / "grafana-dashboard.json").read_text())


def rules() -> list[dict]:
    return [r for g in yaml.safe_load((DEPLOY / "alerts.yaml").read_text())["groups"] for r in g["rules"]]


def exported() -> set[str]:
    """Sample names on a gateway's /metrics (its request series, a 500 among them) and those
    a service's broker middleware and the stream, command and MongoDB metrics register."""

    @get("/ok", sync_to_thread=False)
    def ok() -> str:
        return "ok"

    @get("/boom", sync_to_thread=False)
    def boom() -> str:
        raise RuntimeError("a server error, counted")

    metrics.broker_middleware("unit")  # FastStream's series, registered as a service's are
    app = Litestar([ok, boom, *gateway_observability.routes()], middleware=gateway_observability.middleware())
    with TestClient(app) as client:
        client.get("/ok")
        client.get("/boom")
        text = client.get("/metrics").text
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):  # a family no sample of which exists yet names its series
            _, _, name, kind = line.split(" ")
            base = name.removesuffix("_total")
            names |= {"counter": {base + "_total"}, "gauge": {name},
                      "histogram": {base + s for s in ("_bucket", "_count", "_sum")}}.get(kind, set())
        elif line and line[0] != "#":
            names.add(line.split("{")[0].split(" ")[0])
    return names


def test_the_dashboard_loads_with_a_query_on_every_panel():
    panels = [p for p in dashboard()["panels"] if p["type"] != "row"]
    assert len(panels) >= 10
    for panel in panels:
        assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"]), panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}"
    assert {p["title"] for p in panels} >= {"Lag", "Pending", "Oldest pending entry age", "Dead letters"}


def test_the_alert_rules_parse_with_the_expected_alerts():
    found = {r["alert"]: r for r in rules()}
    assert set(found) == ALERTS
    for rule in found.values():
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}
        assert rule["annotations"]["summary"]
        assert METRIC.search(rule["expr"]), rule["alert"]


def test_dashboard_and_alerts_name_only_series_the_code_exports():
    names = exported()
    exprs = [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]
    exprs += [r["expr"] for r in rules()]
    referenced = {m for e in exprs for m in METRIC.findall(e)}
    assert referenced >= {"clf_http_requests_total", "clf_commands_total", "clf_stream_group_lag",
                          "clf_stream_group_pending", "clf_stream_group_oldest_pending_age_seconds",
                          "clf_dead_letter_stream_length", "clf_mongodb_command_duration_seconds_bucket"}
    assert referenced - names == set(), "named in deploy/observability, exported by no process"
