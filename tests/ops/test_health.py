"""/health and /health/<component> against the real PostgreSQL, Redis, Celery and channel layer."""

from __future__ import annotations

import json
import sys
import time

import pytest

from monitoring.health import checks
from tests.ops.conftest import closed_postgres_url, http_get, poll
from tests.processes import ManagedProcess, child_env
from tests.services import free_port, wait_for_port


def _health(client):
    response = client.get("/health")
    return response.status_code, response.json()


@pytest.mark.slow
def test_health_is_200_when_all_parts_are_up_and_503_while_redis_is_stopped(client, celery_worker, restart_redis_after):
    status, body = poll(lambda: (lambda r: r if r[0] == 200 else None)(_health(client)), timeout=30, what="/health 200")
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"postgres", "redis", "celery", "channel_layer"}
    assert all(c["status"] == "ok" for c in body["checks"].values()), body
    assert any(name.startswith("default-test@") for name in body["checks"]["celery"]["data"]["workers"])

    restart_redis_after.stop()
    started = time.monotonic()
    status, body = _health(client)
    assert time.monotonic() - started < checks.CHECK_DEADLINE + 1
    assert status == 503
    assert body["status"] == "down"
    assert body["checks"]["postgres"]["status"] == "ok"
    for part in ("redis", "celery", "channel_layer"):
        assert body["checks"][part]["status"] == "down", body["checks"][part]
        assert body["checks"][part]["detail"]

    restart_redis_after.start()
    # The worker reconnects to the broker by itself; /health notices without a restart of anything.
    status, body = poll(lambda: (lambda r: r if r[0] == 200 else None)(_health(client)), timeout=60, what="/health 200")
    assert body["status"] == "ok"


def test_health_needs_no_login_and_says_why_celery_is_down(client, db):
    status, body = _health(client)
    assert status == 503
    assert body["checks"]["postgres"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"
    assert body["checks"]["channel_layer"]["status"] == "ok"
    assert body["checks"]["celery"]["status"] == "down"
    assert "no Celery worker answered" in body["checks"]["celery"]["detail"]


def test_health_reports_postgres_down_with_503_not_500(db):
    """A web process whose database is unreachable still answers /health, with 503."""
    port = free_port()
    web = ManagedProcess(
        "daphne-no-postgres",
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        env=child_env(DATABASE_URL=closed_postgres_url()),
    ).start()
    try:
        wait_for_port(port, timeout=30)
        status, text = http_get(f"http://127.0.0.1:{port}/health")
        assert status == 503, text
        body = json.loads(text)
        assert body["checks"]["postgres"]["status"] == "down"
        assert "connection" in body["checks"]["postgres"]["detail"].lower()
        assert body["checks"]["redis"]["status"] == "ok"
        status, text = http_get(f"http://127.0.0.1:{port}/health/postgres")
        assert status == 503
        assert json.loads(text)["status"] == "down"
    finally:
        web.stop()


def test_health_endpoints_leak_no_secrets(client, db, settings):
    settings.F8_API_URL = "https://desk:f8-password-123@f8.example.test/api"
    settings.F8_API_KEY = "f8-key-456"
    settings.NEO4J_BOLT_URL = "bolt://neo4j:graph-password-789@127.0.0.1:1"
    bodies = [client.get(url).content.decode() for url in ("/health", "/health/f8-integration", "/health/neo4j")]
    text = "".join(bodies)
    for secret in (
        "f8-password-123",
        "f8-key-456",
        "graph-password-789",
        settings.SECRET_KEY,
        settings.DATABASES["default"]["PASSWORD"] + "@",
        settings.CREDENTIALS_KEY,
    ):
        assert secret not in text
    assert json.loads(bodies[1])["data"]["external_service"] == "https://f8.example.test"


def test_unknown_component_is_404_json(client):
    response = client.get("/health/no-such-part")
    assert response.status_code == 404
    assert "nautilus" in response.json()["components"]


# --- components -------------------------------------------------------------------------------


def _component(client, slug):
    response = client.get(f"/health/{slug}")
    return response.status_code, response.json()


def test_nautilus_is_down_until_the_node_beats_and_down_again_when_it_stops(client, redis_conn):
    from trading.node.status import node_key

    status, body = _component(client, "nautilus")
    assert (status, body["status"]) == (503, "down")
    assert "never run" in body["detail"]

    now = time.time()
    redis_conn.hset(node_key(), mapping={"state": "running", "pid": 4242, "started_at": now - 60, "heartbeat": now})
    status, body = _component(client, "nautilus")
    assert (status, body["status"]) == (200, "ok")
    assert body["data"]["state"] == "running"

    redis_conn.hset(node_key(), mapping={"heartbeat": now - 30})
    status, body = _component(client, "nautilus")
    assert (status, body["status"]) == (503, "down")
    assert "no heartbeat for 30s" in body["detail"]


def test_risk_gate_is_down_when_the_monitor_is_silent_and_degraded_when_halted(client, redis_conn):
    from risk.status import KILL_SWITCH_GLOBAL_KEY, MONITOR_KEY

    status, body = _component(client, "risk-gate")
    assert (status, body["status"]) == (503, "down")

    redis_conn.hset(MONITOR_KEY, mapping={"heartbeat": time.time(), "state": "ok", "detail": "3 limits watched"})
    status, body = _component(client, "risk-gate")
    assert (status, body["status"], body["detail"]) == (200, "ok", "3 limits watched")

    redis_conn.set(KILL_SWITCH_GLOBAL_KEY, json.dumps({"engaged": True, "mode": "halt", "reason": "drill"}))
    status, body = _component(client, "risk-gate")
    assert (status, body["status"]) == (200, "degraded")
    assert "drill" in body["detail"]


def test_a_failing_risk_monitor_says_why_until_a_pass_succeeds(client, redis_conn, db):
    """A pass that raises is red with its error, not amber "has not run"; the next good pass clears it."""
    from monitoring.status import indicators
    from risk.gate.loader import CORRELATIONS_KEY
    from risk.tasks import risk_monitor

    redis_conn.set(CORRELATIONS_KEY, "{not json")
    with pytest.raises(json.JSONDecodeError):
        risk_monitor()
    status, body = _component(client, "risk-gate")
    assert (status, body["status"], body["data"]["state"]) == (503, "down", "failing")
    assert "The risk monitor failed" in body["detail"] and "JSONDecodeError" in body["detail"]
    risk = next(i for i in indicators() if i.key == "risk")
    assert (risk.level, risk.state) == ("red", "failing")

    redis_conn.delete(CORRELATIONS_KEY)
    risk_monitor()
    status, body = _component(client, "risk-gate")
    assert (status, body["status"], body["data"]["state"]) == (200, "ok", "active")


def test_f8_integration_is_down_while_reconciliation_lags(client, redis_conn, db):
    """The check also reads the F8 outbox backlog, which lives in PostgreSQL."""
    from portfolio.status import SYNC_KEY

    status, body = _component(client, "f8-integration")
    assert (status, body["status"]) == (503, "down")

    redis_conn.hset(SYNC_KEY, mapping={"heartbeat": time.time(), "state": "synchronized", "discrepancies": 0})
    status, body = _component(client, "f8-integration")
    assert (status, body["status"]) == (200, "ok")

    redis_conn.hset(SYNC_KEY, mapping={"state": "diverged", "discrepancies": 2, "detail": "2 positions differ"})
    status, body = _component(client, "f8-integration")
    assert (status, body["status"], body["data"]["discrepancies"]) == (200, "degraded", 2)


def test_data_feeds_are_down_without_quotes_and_when_every_quote_is_stale(client, redis_conn):
    from trading.market_data.quotes import QUOTES_KEY

    status, body = _component(client, "data-feeds")
    assert (status, body["status"], body["detail"]) == (503, "down", "no quotes received")

    fresh = time.time_ns()
    quote = {"bid": "1.08501", "ask": "1.08503", "ts": fresh, "source": "SIM"}
    redis_conn.hset(QUOTES_KEY, "EUR/USD.SIM", json.dumps(quote))
    status, body = _component(client, "data-feeds")
    assert (status, body["status"]) == (200, "ok")

    redis_conn.hset(QUOTES_KEY, "EUR/USD.SIM", json.dumps({**quote, "ts": fresh - 60 * 10**9}))
    status, body = _component(client, "data-feeds")
    assert (status, body["status"]) == (503, "down")
    assert body["data"]["stale_instruments"] == ["EUR/USD.SIM"]


def test_neo4j_is_not_required_until_configured_and_down_when_unreachable(client, settings):
    settings.NEO4J_BOLT_URL = ""
    status, body = _component(client, "neo4j")
    assert (status, body["status"], body["data"]["configured"]) == (200, "ok", False)

    settings.NEO4J_BOLT_URL = f"bolt://127.0.0.1:{free_port()}"
    status, body = _component(client, "neo4j")
    assert (status, body["status"]) == (503, "down")
    assert "ServiceUnavailable" in body["detail"]


def test_every_component_reports_down_promptly_while_redis_is_stopped(client, restart_redis_after):
    restart_redis_after.stop()
    for slug in ("nautilus", "risk-gate", "f8-integration", "data-feeds", "redis", "celery", "channel-layer"):
        started = time.monotonic()
        status, body = _component(client, slug)
        assert time.monotonic() - started < checks.CHECK_DEADLINE + 1, slug
        assert (status, body["status"]) == (503, "down"), (slug, body)
        assert body["detail"], slug
