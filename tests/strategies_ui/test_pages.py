"""The Strategies section's pages: form, validation panel, versions, import/export, delete, bulk, roles."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from monitoring.models import AuditLog
from monitoring.roles import Role
from strategies.models import Strategy, StrategyVersion
from tests.strategies_ui.conftest import make_strategy, seed_spec

pytestmark = pytest.mark.django_db

SEED_FORM = {
    "name": "Test Strategy 1",
    "strategy_type": "mean_reversion",
    "instruments": ["EUR/USD.SIM"],
    "account": "SIM-001",
    "bar_spec": "1-MINUTE-MID",
    "risk_budget": "1000",
    "max_position": "50000",
    "allocation": "50000",
    "mean_reversion__bb_period": "20",
    "mean_reversion__bb_std": "2",
    "mean_reversion__trade_size": "10000",
}


def test_create_form_offers_the_parameters_of_every_type(client_for):
    html = client_for(Role.TRADER).get("/strategies/new/").content.decode()
    for field in (
        "mean_reversion__bb_period",
        "ema_cross__fast_ema_period",
        "breakout__lookback_bars",
        "market_maker__spread_bps",
        'name="strategy_path"',
        "Risk Limit ($)",
    ):
        assert field in html


def test_creates_the_seed_strategy_from_the_form_with_a_first_version(client_for, role_users):
    response = client_for(Role.TRADER).post("/strategies/new/", {**SEED_FORM, "action": "save"})
    strategy = Strategy.objects.get(name="Test Strategy 1")
    assert response.status_code == 302 and response["Location"] == f"/strategies/{strategy.pk}/"
    spec = strategy.current_version.spec
    assert spec == seed_spec() | {"parameters": {"bb_period": 20, "bb_std": "2", "trade_size": "10000"}}
    assert strategy.status == "draft" and strategy.account.name == "SIM-001"
    assert AuditLog.objects.filter(action="strategy.create", object_id=str(strategy.pk)).exists()


def test_validate_button_lists_every_problem_and_saves_nothing(client_for):
    bad = {
        **SEED_FORM,
        "mean_reversion__bb_period": "1",
        "mean_reversion__bb_std": "two",
        "max_position": "-5",
        "instruments": ["EUR/USD.SIM", "GBP/USD.SIM"],
        "action": "validate",
    }
    response = client_for(Role.TRADER).post("/strategies/new/", bad)
    html = response.content.decode()
    assert response.status_code == 200 and 'data-testid="validation-problems"' in html
    for path in ("parameters.bb_period", "parameters.bb_std", "risk.max_position", "instruments"):
        assert path in html
    assert not Strategy.objects.exists()


def test_validate_button_passes_a_good_spec(client_for):
    response = client_for(Role.TRADER).post("/strategies/new/", {**SEED_FORM, "action": "validate"})
    assert 'data-testid="validation-ok"' in response.content.decode() and not Strategy.objects.exists()


def test_save_refuses_a_malformed_spec_naming_the_fields(client_for):
    response = client_for(Role.TRADER).post(
        "/strategies/new/", {**SEED_FORM, "mean_reversion__trade_size": "", "allocation": "lots", "action": "save"}
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert "mean_reversion__trade_size" in form.errors and "allocation" in form.errors
    assert not Strategy.objects.exists()


def test_validate_action_moves_draft_to_validated_and_never_500s(client_for, role_users):
    strategy = make_strategy(role_users[Role.TRADER], seed_spec())
    client = client_for(Role.TRADER)
    response = client.post(f"/strategies/{strategy.pk}/validate/")
    assert response.status_code == 200 and 'data-testid="validation-ok"' in response.content.decode()
    strategy.refresh_from_db()
    assert strategy.status == "validated"
    # A broken (unvalidatable) version: the panel names the problems, the status falls back to draft.
    from strategies.services import strategy_update

    strategy_update(strategy=strategy, user=role_users[Role.TRADER], spec={"instruments": ["EUR/USD.SIM"]})
    response = client.post(f"/strategies/{strategy.pk}/validate/")
    html = response.content.decode()
    assert response.status_code == 200 and "spec_version" in html and "risk" in html
    strategy.refresh_from_db()
    assert strategy.status == "draft"


def test_edit_creates_a_new_version_and_diff_and_restore_work(client_for, role_users):
    strategy = make_strategy(role_users[Role.TRADER], seed_spec())
    client = client_for(Role.TRADER)
    edit = {**SEED_FORM, "mean_reversion__bb_period": "30", "risk_budget": "800", "note": "slower", "action": "save"}
    assert client.post(f"/strategies/{strategy.pk}/edit/", edit).status_code == 302
    strategy.refresh_from_db()
    assert strategy.current_version.number == 2 and strategy.current_version.note == "slower"
    assert StrategyVersion.objects.get(strategy=strategy, number=1).spec["parameters"]["bb_period"] == 20

    html = client.get(f"/strategies/{strategy.pk}/?a=1&b=2").content.decode()
    assert 'data-testid="version-diff"' in html
    assert html.count('data-testid="diff-changed"') == 2  # parameters.bb_period and risk.risk_budget

    assert client.post(f"/strategies/{strategy.pk}/restore/", {"version": "1"}).status_code == 302
    strategy.refresh_from_db()
    assert strategy.current_version.number == 3 and strategy.current_version.spec == seed_spec()
    assert strategy.current_version.note == "Restored from v1"
    response = client.post(f"/strategies/{strategy.pk}/restore/", {"version": "9"})
    assert response.status_code == 400 and "no version 9" in response.content.decode()


def test_export_then_import_round_trips_and_a_malformed_file_creates_nothing(client_for, role_users):
    strategy = make_strategy(role_users[Role.TRADER], seed_spec())
    client = client_for(Role.TRADER)
    exported = client.get(f"/strategies/{strategy.pk}/export/")
    assert exported["Content-Disposition"].endswith('-v1.json"')
    spec = json.loads(exported.content)
    assert spec == seed_spec()

    for raw, expected in (
        (b"{not json", "file: is not valid JSON"),
        (b"[1, 2]", "file: must hold one JSON object"),
        (json.dumps({**spec, "name": "Other", "parameters": {"bb_period": 0.5}}).encode(), "parameters.bb_period"),
        (json.dumps(spec).encode(), "already exists"),
    ):
        response = client.post("/strategies/import/", {"file": SimpleUploadedFile("s.json", raw)})
        assert response.status_code == 400 and expected in response.content.decode(), expected
    assert Strategy.objects.count() == 1

    fresh = {**spec, "name": "Imported copy"}
    response = client.post("/strategies/import/", {"file": SimpleUploadedFile("s.json", json.dumps(fresh).encode())})
    imported = Strategy.objects.get(name="Imported copy")
    assert response.status_code == 302 and imported.current_version.spec == fresh
    assert imported.status == "validated"


def test_delete_of_a_running_strategy_is_refused_with_the_reason(client_for, role_users):
    strategy = make_strategy(role_users[Role.TRADER], seed_spec())
    Strategy.objects.filter(pk=strategy.pk).update(status="simulation")
    client = client_for(Role.TRADER)
    response = client.post(f"/strategies/{strategy.pk}/delete/")
    assert response.status_code == 409
    assert "stop it before deleting it" in response.content.decode()
    Strategy.objects.filter(pk=strategy.pk).update(status="stopped")
    assert client.post(f"/strategies/{strategy.pk}/delete/").status_code == 302
    strategy.refresh_from_db()
    assert strategy.status == "deleted" and strategy.versions.count() == 1


def test_bulk_operations_report_each_strategy(client_for, role_users):
    trader = role_users[Role.TRADER]
    good = make_strategy(trader, seed_spec("Good one"))
    broken = make_strategy(trader, seed_spec("Broken one", parameters={"bb_period": 1, "trade_size": "10000"}))
    running = make_strategy(trader, seed_spec("Running one", allocation="1000"))
    Strategy.objects.filter(pk=running.pk).update(status="simulation")
    client = client_for(Role.TRADER)

    response = client.post("/strategies/", {"action": "validate", "strategies": [good.pk, broken.pk]})
    results = {r["name"]: r for r in response.context["bulk_results"]}
    assert response.status_code == 200
    assert results["Good one"]["ok"] and results["Good one"]["status"] == "validated"
    assert not results["Broken one"]["ok"] and "parameters.bb_std" in results["Broken one"]["message"]

    response = client.post("/strategies/", {"action": "delete", "strategies": [good.pk, running.pk, 99999]})
    results = [(r["name"], r["ok"]) for r in response.context["bulk_results"]]
    assert results == [("Good one", True), ("Running one", False), ("#99999", False)]
    assert "stop it before deleting it" in response.context["bulk_results"][1]["message"]
    assert 'data-testid="bulk-results"' in response.content.decode()

    response = client.post("/strategies/", {"action": "explode", "strategies": [good.pk]})
    assert response.status_code == 400 and "action: must be one of" in response.content.decode()


def test_viewer_reads_every_page_but_cannot_change_anything(client_for, role_users):
    strategy = make_strategy(role_users[Role.TRADER], seed_spec())
    viewer = client_for(Role.VIEWER)
    for url in (
        "/strategies/",
        f"/strategies/{strategy.pk}/",
        f"/strategies/{strategy.pk}/export/",
        f"/strategies/{strategy.pk}/?fragment=live",
    ):
        assert viewer.get(url).status_code == 200, url
    html = viewer.get(f"/strategies/{strategy.pk}/").content.decode()
    assert "action-deploy" not in html and "edit-strategy" not in html
    assert "create-strategy" not in viewer.get("/strategies/").content.decode()
    assert viewer.get("/strategies/new/").status_code == 403
    for url, data in (
        ("/strategies/new/", {**SEED_FORM, "action": "save"}),
        (f"/strategies/{strategy.pk}/edit/", {**SEED_FORM, "action": "save"}),
        (f"/strategies/{strategy.pk}/validate/", {}),
        (f"/strategies/{strategy.pk}/deploy/", {}),
        (f"/strategies/{strategy.pk}/stop/", {}),
        (f"/strategies/{strategy.pk}/delete/", {}),
        (f"/strategies/{strategy.pk}/restore/", {"version": "1"}),
        (f"/strategies/{strategy.pk}/backtests/", {}),
        ("/strategies/", {"action": "delete", "strategies": [strategy.pk]}),
        ("/strategies/import/", {}),
    ):
        assert viewer.post(url, data).status_code == 403, url
    strategy.refresh_from_db()
    assert strategy.status == "draft" and strategy.versions.count() == 1


def test_live_promotion_needs_every_check_and_another_risk_manager(client_for, role_users, settings):
    from django.utils import timezone

    from strategies.models import Backtest, StrategyDeployment

    trader, risk = role_users[Role.TRADER], role_users[Role.RISK_MANAGER]
    strategy = make_strategy(trader, seed_spec())
    client = client_for(Role.TRADER)
    response = client.post(f"/strategies/{strategy.pk}/live-request/")
    html = response.content.decode()
    assert response.status_code == 400 and all(f"live.{c}" in html for c in ("backtest", "simulation", "drift"))

    # A completed backtest of this exact spec, a long enough simulation and no drift satisfy the gate.
    version = strategy.current_version
    now = timezone.now()
    Backtest.objects.create(
        strategy_version=version,
        start=now - timezone.timedelta(days=2),
        end=now,
        venue="SIM",
        starting_balance=1000000,
        currency="USD",
        status="succeeded",
        equity_curve=[[(now - timezone.timedelta(days=2)).isoformat(), "1000000"], [now.isoformat(), "1000000"]],
        finished_at=now,
    )
    settings.STRATEGY_LIVE_MIN_SIMULATION_SECONDS = 3600
    Strategy.objects.filter(pk=strategy.pk).update(status="simulation")
    running = StrategyDeployment.objects.create(
        strategy=strategy, version=version, spec_hash=version.spec_hash, target="simulation", state="active"
    )
    StrategyDeployment.objects.filter(pk=running.pk).update(started_at=now - timezone.timedelta(days=1))
    assert client.post(f"/strategies/{strategy.pk}/live-request/").status_code == 302
    pending = StrategyDeployment.objects.get(target="live")
    assert pending.state == "pending_approval" and pending.spec_hash == version.spec_hash

    assert client.post(f"/strategies/promotions/{pending.pk}/decide/", {"decision": "approve"}).status_code == 403
    risk_client = client_for(Role.RISK_MANAGER)
    response = risk_client.post(f"/strategies/promotions/{pending.pk}/decide/", {"decision": "approve"})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.state == "approved" and pending.decided_by == risk
    strategy.refresh_from_db()
    assert strategy.status == "simulation"  # no live venue here: it keeps running in simulation
    assert "no live venue" in risk_client.get(f"/strategies/{strategy.pk}/").content.decode()
