"""The sampled series: desk-wide totals from the metric files, percentiles and rates, windowed rules."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from monitoring.alerting.evaluation import rule_evaluate
from monitoring.alerting.rules import alert_rule_save
from monitoring.alerting.series import (
    SAMPLES_KEY,
    histogram_quantile,
    registry_totals,
    sample_take,
    samples_read,
    series_points,
)
from monitoring.models import Alert, AlertRule
from monitoring.redis_client import redis_client
from monitoring.roles import Role

pytestmark = pytest.mark.django_db(transaction=True)


def test_histogram_quantile_interpolates_within_the_bucket():
    old = {"0.1": 0.0, "0.5": 0.0, "1": 0.0, "+Inf": 0.0}
    new = {"0.1": 50.0, "0.5": 90.0, "1": 100.0, "+Inf": 100.0}
    assert histogram_quantile(0.5, new, old) == pytest.approx(0.1)
    assert histogram_quantile(0.95, new, old) == pytest.approx(0.75)
    assert histogram_quantile(0.95, old, old) is None  # nothing happened in the window


def test_samples_count_requests_and_find_this_process(client, role_users):
    client.force_login(role_users[Role.VIEWER])
    before = registry_totals()
    for _ in range(5):
        assert client.get("/monitoring/alerts/").status_code == 200
    after = registry_totals()
    assert after["http"]["count"] - before["http"]["count"] == 5
    first = sample_take()
    client.get("/monitoring/rules/")
    second = sample_take()
    assert [s["ts"] for s in samples_read()] == [second["ts"], first["ts"]]
    points = series_points(samples_read())
    assert len(points["t"]) == 1 and points["http_rps"][0] > 0
    assert points["http_p95_ms"][0] is not None


def test_series_endpoint_serves_chart_points(client, role_users):
    client.force_login(role_users[Role.VIEWER])
    sample_take()
    client.get("/monitoring/")
    sample_take()
    body = client.get("/monitoring/series.json", {"minutes": "5"}).json()
    assert body["samples"] == 2 and len(body["points"]["t"]) == 1
    assert client.get("/monitoring/series.json", {"minutes": "soon"}).status_code == 400


def test_windowed_rule_fires_on_latency_over_the_window_and_clears(client, role_users):
    rule = alert_rule_save(
        rule=AlertRule(),
        data={
            "name": "Slow pages",
            "kind": "metric",
            "metric": "http_p95_ms",
            "comparison": "gt",
            "threshold": Decimal("0"),
            "window_seconds": 60,
            "severity": "warning",
            "category": "performance",
            "channels": ["in_app"],
            "max_per_hour": 10,
            "enabled": True,
        },
        user=None,
    )
    client.force_login(role_users[Role.VIEWER])
    older = sample_take()
    for _ in range(3):
        client.get("/monitoring/alerts/")
    newer = sample_take()
    # Two real samples taken a moment apart stand for two taken a minute apart (the beat's view of the window).
    older["ts"] = newer["ts"] - 61
    client_r = redis_client()
    client_r.delete(SAMPLES_KEY)
    client_r.rpush(SAMPLES_KEY, json.dumps(newer), json.dumps(older))
    assert rule_evaluate(rule)["raised"] == 1
    alert = Alert.objects.get(dedup_key=f"rule:{rule.pk}:")
    assert alert.category == "performance" and "HTTP p95 latency" in alert.message
    # A quiet minute: no requests, no p95, so the incident ends.
    quiet = dict(newer, ts=newer["ts"] + 61)
    client_r.lpush(SAMPLES_KEY, json.dumps(quiet))
    assert rule_evaluate(rule)["unknown"] == 0
    alert.refresh_from_db()
    assert alert.status == "resolved"
