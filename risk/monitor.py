"""The risk monitor: one pass over the whole desk, every ``RISK_CHECK_INTERVAL`` seconds.

Computes per account (and for the desk) portfolio value, daily P&L, drawdown and
max drawdown, VaR/ES (historical and parametric, 95/99 %, 1-day, per position and
total), limit utilisation for every limit and the configured stress scenarios;
stores the result as ``RiskMetricSnapshot`` history, pushes it on the ``risk``
topic, writes the ``ni:risk:monitor`` heartbeat, raises exactly one alert per
breach incident (resolving it when the breach clears) and engages the kill
switch automatically on a daily-loss or drawdown breach. Off the hot path, it
also refreshes the correlation matrix the gate's correlation check reads.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from monitoring.broadcast import publish_on_commit
from monitoring.models import Alert
from monitoring.redis_client import redis_client
from monitoring.templatetags.desk import fixed
from risk import metrics
from risk.gate import reservation
from risk.gate.events import gate_publish
from risk.gate.loader import CORRELATIONS_KEY, snapshot_load
from risk.gate.snapshot import ZERO, GateSnapshot
from risk.gate.utilisation import limit_utilisation
from risk.models import KillSwitch, PriceHistory, RiskMetricSnapshot, StressScenario
from risk.status import MONITOR_KEY

LOOKBACK_DAYS = 250
AUTO_KILL_KINDS = frozenset({"daily_loss", "max_drawdown_pct"})
ALERT_PREFIX = "risk:limit:"
ORPHAN_RESERVATION_SECONDS = 300


def _q(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.0001"))


def price_history_returns(instrument_pks: dict[int, str], *, before) -> dict[str, list[Decimal]]:
    """Daily returns of completed days per instrument id, aligned on the dates all of them share."""
    closes: dict[str, dict] = defaultdict(dict)
    rows = (
        PriceHistory.objects.filter(instrument_id__in=list(instrument_pks), date__lt=before)
        .order_by("date")
        .values_list("instrument_id", "date", "close")
    )
    for pk, day, close in rows:
        closes[instrument_pks[pk]][day] = close
    if not closes:
        return {}
    common = sorted(set.intersection(*(set(v) for v in closes.values())))[-(LOOKBACK_DAYS + 1) :]
    return {iid: metrics.simple_returns([series[d] for d in common]) for iid, series in closes.items()}


def _record_today_closes(snap: GateSnapshot, today) -> None:
    for iid, inst in snap.instruments.items():
        mark = snap.mark(iid)
        if mark:
            PriceHistory.objects.update_or_create(instrument_id=inst.pk, date=today, defaults={"close": mark})


def _refresh_correlations(returns: dict[str, list[Decimal]]) -> bool:
    matrix = metrics.correlation_matrix(returns, min_abs=0.3)
    r = redis_client()
    payload = json.dumps({"matrix": matrix}, sort_keys=True)
    old = r.get(CORRELATIONS_KEY)
    if old is not None and old.decode() == payload:
        return False
    r.set(CORRELATIONS_KEY, payload)
    gate_publish({"type": "correlations"})
    return True


def account_risk(
    snap: GateSnapshot,
    account_id: int,
    returns: dict[str, list[Decimal]],
    scenarios: list[StressScenario],
    sector_codes: dict[int, str],
) -> dict[str, Any]:
    info = snap.accounts[account_id]
    state = snap.account_state[account_id]
    positions = []
    series = []
    for iid, value in sorted(state.inst_notional.items()):
        inst = snap.instruments[iid]
        r = returns.get(iid, [])
        pnl = metrics.pnl_scenarios(value, r)
        series.append(pnl)
        _m, sigma = metrics.mean_std(r) if len(r) >= 2 else (ZERO, ZERO)
        row = {
            "instrument": iid,
            "quantity": snap.net_position[(account_id, iid)],
            "value": value,
            "sector": sector_codes.get(inst.sector_id, ""),
            "sigma": sigma,
            "history_days": len(r),
        }
        row.update(metrics.var_es_all(pnl))
        positions.append(row)
    total = metrics.var_es_all(metrics.portfolio_pnl([s for s in series if s]))
    stress = []
    for sc in scenarios:
        rows = [
            {
                "instrument": p["instrument"],
                "pnl": metrics.stress_position_pnl(
                    value=p["value"],
                    instrument_id=p["instrument"],
                    sector=p["sector"],
                    sigma=p["sigma"],
                    shocks=sc.shocks,
                ),
            }
            for p in positions
        ]
        stress.append({"scenario": sc.name, "total": sum((r["pnl"] for r in rows), ZERO), "positions": rows})
    equity = state.equity
    peak = max(info.peak_equity, equity)
    history = list(
        RiskMetricSnapshot.objects.filter(account_id=account_id)
        .order_by("-at")
        .values_list("portfolio_value", flat=True)[:5000]
    )[::-1]
    max_dd, _ = metrics.max_drawdown([info.peak_equity, *history, equity])
    return {
        "account": account_id,
        "currency": info.base_ccy,
        "portfolio_value": equity,
        "daily_pnl": equity - info.session_start_equity,
        "drawdown": peak - equity,
        "max_drawdown": max_dd,
        "peak_value": peak,
        "gross_exposure": state.gross,
        "net_exposure": sum(state.inst_notional.values(), ZERO),
        "positions": positions,
        "stress": stress,
        **total,
    }


def _shown(value: Decimal) -> str:
    """A figure as a person reads it: 32,500 or 0.125, not 32500.0000000000."""
    return fixed(_q(value), 0)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(_q(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _alert_for_breach(item: dict[str, Any]) -> tuple[str, Alert | None]:
    key = f"{ALERT_PREFIX}{item['limit_id']}:{item['where']}"
    scope = " ".join(str(x) for x in (item["scope"], item["target"]) if x)
    measured, limit = _shown(item["measured"]), _shown(item["value"])
    severity = Alert.Severity.CRITICAL if item["kind"] in AUTO_KILL_KINDS else Alert.Severity.WARNING
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                severity=severity,
                category=Alert.Category.RISK,
                title=f"Risk limit breached: {item['kind']} ({scope})",
                message=f"{item['where'] or item['scope']}: {measured} vs limit {limit}",
                source="risk.monitor",
                dedup_key=key[:200],
                details=_plain(
                    {
                        k: item[k]
                        for k in (
                            "limit_id",
                            "version",
                            "kind",
                            "scope",
                            "target",
                            "value",
                            "measured",
                            "where",
                            "utilisation_pct",
                        )
                    }
                ),
            )
    except IntegrityError:
        # An open incident with this key exists: same incident, no new alert.
        return key, None
    payload = {
        "id": alert.pk,
        "severity": alert.severity,
        "title": alert.title,
        "message": alert.message,
        "dedup_key": alert.dedup_key,
        "details": alert.details,
    }
    publish_on_commit("alerts", "alert", payload)
    publish_on_commit("risk", "breach", payload)
    return key, alert


def _auto_kill(item: dict[str, Any], snap: GateSnapshot) -> None:
    from risk.killswitch import kill_switch_engage

    rule = snap.limits[item["limit_id"]]
    mode = rule.params.get("auto_kill_switch", "halt")
    if mode not in ("halt", "reduce_only"):
        return
    if rule.scope == "strategy":
        scope, target = "strategy", rule.target
    elif item["where"].startswith("account "):
        scope, target = "account", int(item["where"].split()[1])
    else:
        scope, target = "global", None
    filters = {"scope": scope, "engaged": True}
    if target is not None:
        filters[f"{scope}_id"] = target
    if KillSwitch.objects.filter(**filters).exists():
        return
    kill_switch_engage(
        scope=scope,
        target=target,
        mode=mode,
        user=None,
        automatic=True,
        reason=(
            f"Automatic: {item['kind']} {_shown(item['measured'])} over limit {_shown(item['value'])} ({item['where']})"
        ),
    )


def _reconcile_reservations() -> int:
    """Give back reservations whose order has ended (or never existed) — e.g. a crash between approve and send."""
    from trading.lifecycle import TERMINAL_STATUSES
    from trading.models import Order

    ids = reservation.reservation_ids()
    if not ids:
        return 0
    orders = {
        o["client_order_id"]: o
        for o in Order.objects.filter(client_order_id__in=ids).values(
            "client_order_id", "status", "filled_quantity", "instrument__lot_size"
        )
    }
    released = 0
    now_ms = time.time() * 1000
    r = redis_client()
    for coid in ids:
        o = orders.get(coid)
        if o is not None and o["status"] in TERMINAL_STATUSES:
            lots = int(o["filled_quantity"] / o["instrument__lot_size"])
            released += reservation.reservation_release(client_order_id=coid, filled_lots=lots)
        elif o is None:
            ts = r.hget(reservation.RECORD_PREFIX + coid, "_ts")
            if ts is not None and now_ms - float(ts) > ORPHAN_RESERVATION_SECONDS * 1000:
                released += reservation.reservation_release(client_order_id=coid)
    return released


def risk_monitor_run() -> dict[str, Any]:
    from risk.killswitch import kill_switch_mirror_all
    from trading.models import Account, Sector

    started = time.monotonic()
    now = timezone.now()
    today = datetime.now(UTC).date()
    snap = snapshot_load()
    _record_today_closes(snap, today)
    returns = price_history_returns({i.pk: iid for iid, i in snap.instruments.items()}, before=today)
    _refresh_correlations(returns)
    sector_codes = dict(Sector.objects.values_list("id", "code"))
    scenarios = list(StressScenario.objects.filter(enabled=True))
    utilisation = limit_utilisation(snap, counters=reservation.reservation_counters())
    breaches = [u for u in utilisation if u["breached"]]

    # An account with a position or balance that has no price or FX rate has no equity to speak of:
    # recording cash alone as its value would leave a false trough in its drawdown history.
    valued = [aid for aid in snap.accounts if (st := snap.account_state.get(aid)) is not None and st.complete]
    unvalued = sorted(
        Account.objects.filter(pk__in=[aid for aid in snap.accounts if aid not in valued]).values_list(
            "name", flat=True
        )
    )
    results = [account_risk(snap, aid, returns, scenarios, sector_codes) for aid in valued]
    with transaction.atomic():
        rows = []
        for res in results:
            rows.append(
                RiskMetricSnapshot(
                    at=now,
                    account_id=res["account"],
                    currency=res["currency"],
                    **{
                        k: _q(res[k])
                        for k in (
                            "portfolio_value",
                            "daily_pnl",
                            "drawdown",
                            "max_drawdown",
                            "peak_value",
                            "gross_exposure",
                            "net_exposure",
                            "var_hist_95",
                            "var_hist_99",
                            "es_hist_95",
                            "es_hist_99",
                            "var_param_95",
                            "var_param_99",
                            "es_param_95",
                            "es_param_99",
                        )
                    },
                    breaches=sum(1 for b in breaches if b["where"].startswith(f"account {res['account']}")),
                    details={
                        "positions": _plain(res["positions"]),
                        "stress": _plain(res["stress"]),
                        "limits": _plain(
                            [u for u in utilisation if u["scope"] == "global" or u["target"] == res["account"]]
                        ),
                    },
                )
            )
        RiskMetricSnapshot.objects.bulk_create(rows)
        open_keys = set()
        for item in breaches:
            key, _alert = _alert_for_breach(item)
            open_keys.add(key[:200])
            if item["kind"] in AUTO_KILL_KINDS:
                _auto_kill(item, snap)
        # A cleared breach ends its incident; the next breach is a new one.
        Alert.objects.filter(
            dedup_key__startswith=ALERT_PREFIX, status__in=[Alert.Status.OPEN, Alert.Status.ACKNOWLEDGED]
        ).exclude(dedup_key__in=open_keys).update(status=Alert.Status.RESOLVED, resolved_at=now)
        summary = {
            "at": now.isoformat(),
            "accounts": [_plain({k: v for k, v in r.items() if k not in ("positions", "stress")}) for r in results],
            "limits": _plain(utilisation),
            "breaches": len(breaches),
        }
        publish_on_commit("risk", "metrics", summary)
    kill_switch_mirror_all()
    released = _reconcile_reservations()
    state = "breach" if breaches else "ok"
    detail = (
        f"{len(breaches)} limit(s) breached"
        if breaches
        else f"{len(utilisation)} limits within bounds, {len(results)} accounts"
    ) + (f"; not valued: {', '.join(unvalued)}" if unvalued else "")
    pipe = redis_client().pipeline()
    pipe.hset(
        MONITOR_KEY,
        mapping={"heartbeat": time.time(), "state": state, "detail": detail, "unvalued": json.dumps(unvalued)},
    )
    pipe.hdel(MONITOR_KEY, "failed_at", "error")
    pipe.execute()
    return {
        "accounts": len(results),
        "unvalued": unvalued,
        "limits": len(utilisation),
        "breaches": len(breaches),
        "released_reservations": released,
        "seconds": round(time.monotonic() - started, 3),
    }
