"""A stale or bad feed raises one data alert per incident and resolves it when the feed is clean."""

import json
import time

from monitoring.models import Alert
from monitoring.redis_client import redis_client
from trading.market_data.alerts import feed_alerts_sync


def feed(ts_ns: int, issues=()):
    redis_client().hset("ni:feeds", "SIM", json.dumps({"ts": ts_ns, "rate": 10.0, "issues": list(issues)}))


def test_stale_feed_raises_one_alert_per_incident_and_resolves_when_fresh(db):
    feed(time.time_ns() - 60 * 10**9)
    feed_alerts_sync()
    feed_alerts_sync()
    alerts = Alert.objects.filter(dedup_key="data:stale:SIM")
    assert alerts.count() == 1
    assert alerts.get().category == "data" and alerts.get().status == "open"
    feed(time.time_ns())
    feed_alerts_sync()
    assert Alert.objects.get(dedup_key="data:stale:SIM").status == "resolved"
    feed(time.time_ns() - 60 * 10**9)
    feed_alerts_sync()
    assert Alert.objects.filter(dedup_key="data:stale:SIM").count() == 2  # a new incident, a new row


def test_bad_quotes_raise_a_data_alert_naming_the_instrument(db):
    feed(time.time_ns(), [{"kind": "crossed", "instrument_id": "EUR/USD.SIM", "message": "bid 1.2 above ask 1.1"}])
    feed_alerts_sync()
    alert = Alert.objects.get(dedup_key="data:bad:SIM")
    assert "crossed" in alert.title and "EUR/USD.SIM" in alert.message
    assert not Alert.objects.filter(dedup_key="data:stale:SIM").exists()


def test_clean_fresh_feed_raises_nothing(db):
    feed(time.time_ns())
    assert feed_alerts_sync()["raised"] == 0
    assert not Alert.objects.exists()
