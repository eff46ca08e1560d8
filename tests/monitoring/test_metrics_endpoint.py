"""/metrics adds up every process: two real Celery workers, and orders and gate rejections from order entry."""

from __future__ import annotations

import pytest

from monitoring.roles import Role
from monitoring.tasks import metrics_probe

pytestmark = pytest.mark.django_db(transaction=True)


def _value(text: str, name: str, **labels) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture
def two_workers():
    from tests.processes import start_celery_worker

    procs = [start_celery_worker(f"probe-{n}", f"probe-{n}", pool="solo") for n in ("a", "b")]
    yield procs
    for proc in procs:
        proc.stop()


def test_metrics_sum_counters_across_two_worker_processes(client, two_workers):
    results = [
        metrics_probe.apply_async(kwargs={"label": "two-workers"}, queue=queue)
        for queue in ["probe-a"] * 3 + ["probe-b"] * 2
    ]
    pids = [r.get(timeout=30) for r in results]
    assert set(pids) == {two_workers[0].pid, two_workers[1].pid}  # both real processes ran probes
    text = client.get("/metrics").content.decode()
    assert _value(text, "ni_metrics_probe_total", label="two-workers") == 5.0


def test_metrics_count_an_order_and_a_gate_rejection(client, role_users):
    from tests.factories import make_reference_data
    from trading.order_entry import order_request_check, order_submit

    make_reference_data()
    trader = role_users[Role.TRADER]
    before = client.get("/metrics").content.decode()
    data = {
        "account": "SIM-001",
        "instrument": "EUR/USD.SIM",
        "side": "BUY",
        "order_type": "MARKET",
        "quantity": "10000",
    }
    # No node runs, so the gate has no price for the instrument: it rejects (fails closed).
    order, _ = order_submit(request=order_request_check(data=data, user=trader), user=trader)
    assert order.status == "REJECTED", order.status_reason
    after = client.get("/metrics").content.decode()
    # Transitions are counted (the creation as PENDING is not a transition).
    for status in ("RISK_CHECK", "REJECTED"):
        assert _value(after, "ni_orders_total", status=status) - _value(before, "ni_orders_total", status=status) == 1
    assert _value(after, "ni_gate_rejections_total") - _value(before, "ni_gate_rejections_total") >= 1
    assert _value(after, "ni_gate_seconds_count") - _value(before, "ni_gate_seconds_count") == 1
