"""The F8 connector against a real HTTP server: healthy, failing, slow and garbage, and catching up."""

from decimal import Decimal as D

import pytest

from monitoring.models import Alert
from portfolio.f8.status import f8_status
from portfolio.f8.sync import f8_sync_run
from portfolio.models import Discrepancy, F8Limit, F8OutboxItem
from tests.f8.support import fill
from tests.factories import make_reference_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(f8_settings):
    make_reference_data()


def _pending():
    return F8OutboxItem.objects.filter(state="pending").count()


def test_pushes_trades_and_positions_once_and_reports_ok(desk, fake_f8, make_client):
    fill(qty="10000", px="1.08500")
    fill(instrument="GBP/USD.SIM", side="SELL", qty="5000", px="1.27000")
    client = make_client()

    report = f8_sync_run(client=client)

    assert report["state"] == "ok"
    assert len(fake_f8.applied_keys("trade")) == 2
    assert {(p["instrument_id"], p["quantity"]) for p in fake_f8.applied["position"]} == {
        ("EUR/USD.SIM", "10000"),
        ("GBP/USD.SIM", "-5000"),
    }
    trade = fake_f8.applied["trade"][0]
    assert trade["price"] == "1.085" and trade["quantity"] == "10000" and trade["side"] == "BUY"
    assert _pending() == 0
    # Nothing new: a second run sends nothing.
    f8_sync_run(client=client)
    assert fake_f8.received_count("trade") == 2 and fake_f8.received_count("position") == 2
    status = f8_status()
    assert status.state == "ok" and status.circuit == "closed" and status.backlog == 0


def test_failing_f8_opens_the_circuit_keeps_the_backlog_and_catches_up_exactly_once(desk, fake_f8, make_client):
    client = make_client(threshold=2, reset=0.5)
    assert f8_sync_run(client=client)["state"] == "ok"
    fake_f8.mode = "failing"
    fill(qty="10000")

    first = f8_sync_run(client=client)
    assert first["state"] == "failed" and first["error_kind"] == "unavailable"
    assert f8_status().state == "degraded"
    second = f8_sync_run(client=client)
    assert second["circuit"] == "open"
    status = f8_status()
    assert status.state == "down" and status.circuit == "open" and status.backlog == 2
    assert Alert.objects.filter(dedup_key="f8:down", status="open").exists()

    # The desk keeps trading while F8 is down; the open circuit spares F8 our calls.
    calls_before = sum(fake_f8.requests.values())
    fill(instrument="GBP/USD.SIM", qty="3000", px="1.27000")
    third = f8_sync_run(client=client)
    assert third["error_kind"] == "circuit_open"
    assert sum(fake_f8.requests.values()) == calls_before
    assert _pending() == 4  # two trades, two positions

    fake_f8.mode = "healthy"
    from tests.f8.support import poll

    poll(lambda: client.breaker.read().retry_in == 0, timeout=5, what="the circuit's reset timeout")
    recovered = f8_sync_run(client=client)

    assert recovered["state"] == "ok"
    assert sorted(fake_f8.applied_keys("trade")) == sorted(
        F8OutboxItem.objects.filter(kind="trade").values_list("idempotency_key", flat=True)
    )
    assert len(fake_f8.applied_keys("trade")) == 2
    assert len(fake_f8.applied_keys("position")) == 2
    assert _pending() == 0
    assert f8_status().state == "ok"
    assert not Alert.objects.filter(dedup_key="f8:down").exclude(status="resolved").exists()


def test_slow_f8_times_out_and_the_retry_is_never_applied_twice(desk, fake_f8, make_client):
    client = make_client(threshold=5, timeout=0.3, attempts=2)
    fake_f8.mode = "slow"
    fake_f8.delay = 1.0
    fill(qty="10000")

    report = f8_sync_run(client=client)

    assert report["state"] == "failed" and "timeout" in report["error"]
    # F8 applied the push but we never heard back: it stays pending here.
    assert len(fake_f8.applied_keys("trade")) == 1
    assert F8OutboxItem.objects.get(kind="trade").state == "pending"

    fake_f8.mode = "healthy"
    assert f8_sync_run(client=client)["state"] == "ok"

    item = F8OutboxItem.objects.get(kind="trade")
    assert item.state == "sent" and item.f8_result == "duplicate"
    assert fake_f8.received_count("trade") >= 3  # two timed-out attempts, then the catch-up
    assert len(fake_f8.applied_keys("trade")) == 1


@pytest.mark.parametrize("garbage_kind", ["not_json", "missing_fields", "wrong_types"])
def test_garbage_push_answers_leave_items_pending_and_raise_an_alert(desk, fake_f8, make_client, garbage_kind):
    client = make_client(threshold=5)
    fake_f8.mode, fake_f8.garbage_kind = "garbage", garbage_kind
    fill(qty="10000")

    report = f8_sync_run(client=client)

    assert report["state"] == "failed" and report["error_kind"] == "protocol"
    assert F8OutboxItem.objects.filter(state="pending").count() == 2
    alert = Alert.objects.get(dedup_key="f8:garbage:POST trades")
    assert alert.category == "data" and alert.status == "open"
    if garbage_kind != "not_json":
        assert "$.results[0]" in alert.message

    fake_f8.mode = "healthy"
    assert f8_sync_run(client=client)["state"] == "ok"
    assert len(fake_f8.applied_keys("trade")) == 1
    assert Alert.objects.get(dedup_key="f8:garbage:POST trades").status == "resolved"


@pytest.mark.parametrize("garbage_kind", ["missing_fields", "wrong_types"])
def test_garbage_pulls_are_never_applied_half_way(desk, fake_f8, make_client, garbage_kind):
    from tests.f8.support import fill as record_fill

    client = make_client(threshold=5)
    record_fill(qty="10000")
    assert f8_sync_run(client=client)["state"] == "ok"  # pushes drained, F8 agrees
    F8Limit.objects.all().delete()
    fake_f8.mode, fake_f8.garbage_kind = "garbage", garbage_kind

    report = f8_sync_run(client=client)

    assert report["error_kind"] == "protocol"
    # The first row of the garbage answer differs from the book, but nothing of it is applied.
    assert not Discrepancy.objects.filter(source="f8").exists()
    assert not F8Limit.objects.exists()
    alert = Alert.objects.get(dedup_key="f8:garbage:GET positions")
    assert "$.positions[1]" in alert.message
    assert f8_status().state == "degraded"


def test_wrong_api_key_is_refused_and_reported_down(desk, fake_f8, make_client):
    client = make_client(api_key="not-the-key")
    fill(qty="10000")

    report = f8_sync_run(client=client)

    assert report["error_kind"] == "refused"
    assert Alert.objects.filter(dedup_key="f8:refused:401", severity="critical").exists()
    assert _pending() == 2


def test_an_item_f8_rejects_is_set_aside_with_an_alert_and_the_rest_goes_through(desk, fake_f8, make_client):
    client = make_client()
    fill(qty="10000")
    fill(qty="2000", px="1.08600")
    rejected_key = F8OutboxItem.objects.none()
    from portfolio.f8.outbox import outbox_enqueue_trades

    outbox_enqueue_trades()
    rejected_key = F8OutboxItem.objects.filter(kind="trade").order_by("id").first().idempotency_key
    fake_f8.reject_keys.add(rejected_key)

    assert f8_sync_run(client=client)["state"] == "ok"

    assert F8OutboxItem.objects.get(idempotency_key=rejected_key).state == "rejected"
    assert len(fake_f8.applied_keys("trade")) == 1
    assert Alert.objects.filter(source="f8", title__startswith="F8 rejected trade").count() == 1


def test_disabled_without_f8_api_url(settings, db):
    settings.F8_API_URL = ""
    assert f8_sync_run() == {"state": "disabled"}
    assert f8_status().state == "disabled" and f8_status().healthy


def test_position_changes_are_pushed_and_stale_pending_states_superseded(desk, fake_f8, make_client):
    client = make_client(threshold=5)
    fake_f8.mode = "failing"
    fill(qty="10000")
    f8_sync_run(client=client)
    fill(qty="5000", px="1.08600")
    f8_sync_run(client=client)

    positions = F8OutboxItem.objects.filter(kind="position").order_by("id")
    assert [p.state for p in positions] == ["superseded", "pending"]

    fake_f8.mode = "healthy"
    client.breaker.reset()
    assert f8_sync_run(client=client)["state"] == "ok"
    assert [p["quantity"] for p in fake_f8.applied["position"]] == ["15000"]
    assert D(fake_f8.applied["position"][0]["avg_price"]) == D("1.0853333333")


def test_status_partial_renders_the_state_circuit_and_backlog(desk, fake_f8, make_client):
    from django.template.loader import render_to_string

    fake_f8.mode = "failing"
    fill(qty="10000")
    f8_sync_run(client=make_client(threshold=1))

    html = render_to_string("portfolio/_f8_status.html", {"f8": f8_status()})
    assert 'data-state="down"' in html and "circuit open" in html and "2 queued" in html
