"""Risk measures as pure functions: VaR, expected shortfall, drawdown, correlation, stress.

Money is Decimal throughout. Conventions (so a reference can be computed by hand):

* Returns are simple daily returns ``r_t = p_t / p_{t-1} - 1``; a position's
  1-day P&L scenario is ``value * r_t`` (value signed, in base currency).
* Historical VaR at confidence ``a`` over ``n`` scenarios: with ``k = ceil(n * (1 - a))``,
  VaR is the k-th worst loss and ES the mean of the k worst losses.
* Parametric (normal) VaR = ``z_a * s - m`` and ES = ``s * phi(z_a) / (1 - a) - m``,
  with ``m`` the mean and ``s`` the sample standard deviation (n - 1) of the P&L.
* VaR and ES are reported as positive losses, floored at zero.
Correlations are statistics, not money: computed in float with numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal

ZERO = Decimal(0)
Z = {Decimal("0.95"): Decimal("1.6448536269514715"), Decimal("0.99"): Decimal("2.3263478740408408")}
# phi(z_a) / (1 - a): the normal ES multiplier.
ES_FACTOR = {Decimal("0.95"): Decimal("2.062712807507429"), Decimal("0.99"): Decimal("2.665214220345806")}
CONFIDENCES = (Decimal("0.95"), Decimal("0.99"))


def simple_returns(closes: Sequence[Decimal]) -> list[Decimal]:
    return [closes[i] / closes[i - 1] - 1 for i in range(1, len(closes))]


def pnl_scenarios(value: Decimal, returns: Sequence[Decimal]) -> list[Decimal]:
    return [value * r for r in returns]


def _tail_k(n: int, confidence: Decimal) -> int:
    return max(1, math.ceil(n * (1 - confidence)))


def historical_var(pnl: Sequence[Decimal], confidence: Decimal) -> Decimal:
    if not pnl:
        return ZERO
    worst = sorted(pnl)
    return max(ZERO, -worst[_tail_k(len(worst), confidence) - 1])


def historical_es(pnl: Sequence[Decimal], confidence: Decimal) -> Decimal:
    if not pnl:
        return ZERO
    worst = sorted(pnl)
    k = _tail_k(len(worst), confidence)
    return max(ZERO, -sum(worst[:k], ZERO) / k)


def mean_std(values: Sequence[Decimal]) -> tuple[Decimal, Decimal]:
    n = len(values)
    if n < 2:
        return (values[0] if values else ZERO), ZERO
    m = sum(values, ZERO) / n
    var = sum(((v - m) ** 2 for v in values), ZERO) / (n - 1)
    return m, var.sqrt()


def parametric_var(pnl: Sequence[Decimal], confidence: Decimal) -> Decimal:
    m, s = mean_std(pnl)
    return max(ZERO, Z[confidence] * s - m)


def parametric_es(pnl: Sequence[Decimal], confidence: Decimal) -> Decimal:
    m, s = mean_std(pnl)
    return max(ZERO, s * ES_FACTOR[confidence] - m)


def var_es_all(pnl: Sequence[Decimal]) -> dict[str, Decimal]:
    out = {}
    for c in CONFIDENCES:
        tag = int(c * 100)
        out[f"var_hist_{tag}"] = historical_var(pnl, c)
        out[f"es_hist_{tag}"] = historical_es(pnl, c)
        out[f"var_param_{tag}"] = parametric_var(pnl, c)
        out[f"es_param_{tag}"] = parametric_es(pnl, c)
    return out


def portfolio_pnl(position_scenarios: Sequence[Sequence[Decimal]]) -> list[Decimal]:
    """Scenario-wise sum of aligned per-position P&L series."""
    if not position_scenarios:
        return []
    n = min(len(s) for s in position_scenarios)
    return [sum((s[t] for s in position_scenarios), ZERO) for t in range(n)]


def max_drawdown(equity: Sequence[Decimal]) -> tuple[Decimal, Decimal]:
    """(largest peak-to-trough fall in money, the same as % of that peak)."""
    peak = None
    worst = ZERO
    worst_pct = ZERO
    for v in equity:
        if peak is None or v > peak:
            peak = v
        dd = peak - v
        if dd > worst:
            worst = dd
            worst_pct = dd / peak * 100 if peak > 0 else ZERO
    return worst, worst_pct


def correlation_matrix(returns: dict[str, Sequence[Decimal]], *, min_abs: float = 0.0) -> dict[str, dict[str, float]]:
    """Pearson correlation of aligned return series; pairs below ``min_abs`` are left out."""
    import numpy as np

    names = [k for k, v in returns.items() if len(v) >= 3]
    if len(names) < 2:
        return {}
    n = min(len(returns[k]) for k in names)
    data = np.array([[float(x) for x in returns[k][-n:]] for k in names])
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.corrcoef(data)
    out: dict[str, dict[str, float]] = {}
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if i != j and np.isfinite(corr[i, j]) and abs(corr[i, j]) >= min_abs:
                out.setdefault(a, {})[b] = round(float(corr[i, j]), 6)
    return out


def stress_position_pnl(
    *, value: Decimal, instrument_id: str, sector: str, sigma: Decimal, shocks: Sequence[dict]
) -> Decimal:
    """P&L of one position (signed base-currency value) under a scenario's shocks.

    Sector and instrument shocks add up as price moves in percent; a volatility
    shock moves the price against the position by ``multiplier`` daily sigmas.
    """
    move = ZERO
    adverse = ZERO
    for shock in shocks:
        kind = shock.get("type")
        if kind == "sector" and shock.get("target") == sector:
            move += Decimal(str(shock["shock_pct"])) / 100
        elif kind == "instrument" and shock.get("target") == instrument_id:
            move += Decimal(str(shock["shock_pct"])) / 100
        elif kind == "volatility":
            adverse += Decimal(str(shock.get("multiplier", 1))) * sigma
    return value * move - abs(value) * adverse


def validate_shocks(shocks) -> list[str]:
    """Problems with a scenario's shock list, each naming the item and field."""
    problems = []
    if not isinstance(shocks, list) or not shocks:
        return ["shocks: must be a non-empty list"]
    for i, s in enumerate(shocks):
        if not isinstance(s, dict) or s.get("type") not in ("sector", "instrument", "volatility"):
            problems.append(f"shocks[{i}].type: must be sector, instrument or volatility")
            continue
        field = "multiplier" if s["type"] == "volatility" else "shock_pct"
        try:
            v = Decimal(str(s.get(field)))
            if not v.is_finite() or (s["type"] == "volatility" and v <= 0) or (field == "shock_pct" and abs(v) > 100):
                raise ValueError
        except Exception:
            problems.append(f"shocks[{i}].{field}: must be a finite number (shock_pct within ±100, multiplier > 0)")
        if s["type"] != "volatility" and not s.get("target"):
            problems.append(f"shocks[{i}].target: is required")
    return problems
