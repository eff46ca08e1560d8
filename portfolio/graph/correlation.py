"""Return correlations for the CORRELATED_WITH edges, and clusters over them.

The arithmetic is pure functions over a returns matrix (rows are days, columns
instruments), so it is tested on crafted matrices without a database. The
inputs come from the daily closes the risk monitor keeps (``risk.PriceHistory``,
the history VaR uses); when there is not enough of it — a fresh desk trading
the offline venue — from the simulated feed's own structure, whose shocks mix a
sector factor with an idiosyncratic one (trading/market_data/model.py), so two
names of one sector correlate at sqrt(s_i * s_j) and other pairs not at all.

Correlations are statistics, not money: float64 throughout.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

# Fewer aligned daily returns than this and a sample correlation is noise.
MIN_OBSERVATIONS = 20
WINDOW_DAYS = 60
# Pairs weaker than this are not worth an edge: they move no cluster and no contagion.
MIN_ABS_RHO = 0.3


@dataclass(frozen=True)
class Edge:
    a: int  # instrument pk, a < b
    b: int
    rho: float


def log_returns(closes: np.ndarray) -> np.ndarray:
    """Log returns of a (days x instruments) matrix of positive closes."""
    closes = np.asarray(closes, dtype=np.float64)
    if closes.ndim != 2 or closes.shape[0] < 2:
        raise ValueError("closes must be a 2-D matrix with at least two rows (days)")
    if not np.all(closes > 0):
        raise ValueError("closes must be positive")
    return np.diff(np.log(closes), axis=0)


def correlation_matrix(returns: np.ndarray) -> np.ndarray:
    """Pearson correlation of the columns; a column with no variance correlates with nothing (0)."""
    returns = np.asarray(returns, dtype=np.float64)
    if returns.ndim != 2:
        raise ValueError("returns must be a 2-D matrix (days x instruments)")
    centred = returns - returns.mean(axis=0)
    norms = np.sqrt((centred * centred).sum(axis=0))
    flat = norms == 0
    norms[flat] = 1.0
    unit = centred / norms
    corr = unit.T @ unit
    corr[flat, :] = 0.0
    corr[:, flat] = 0.0
    np.fill_diagonal(corr, 1.0)
    return np.clip(corr, -1.0, 1.0)


def correlation_edges(matrix: np.ndarray, ids: Sequence[int], *, min_abs: float = MIN_ABS_RHO) -> list[Edge]:
    """The pairs with |rho| >= ``min_abs``, once each, keyed low id -> high id, rho rounded to 6 places."""
    matrix = np.asarray(matrix, dtype=np.float64)
    n = len(ids)
    if matrix.shape != (n, n):
        raise ValueError(f"matrix is {matrix.shape}, expected ({n}, {n}) for {n} ids")
    rows, cols = np.triu_indices(n, k=1)
    values = matrix[rows, cols]
    keep = np.abs(values) >= min_abs
    edges = []
    for i, j, rho in zip(rows[keep].tolist(), cols[keep].tolist(), values[keep].tolist(), strict=True):
        a, b = ids[i], ids[j]
        if a > b:
            a, b = b, a
        edges.append(Edge(a, b, round(rho, 6)))
    return edges


def model_correlation_matrix(structure: Sequence[tuple[str, str]]) -> np.ndarray:
    """Correlations implied by the simulated feed for instruments given as (asset class, sector code).

    Each return is sqrt(s)·F_sector + sqrt(1-s)·e with s the asset class's sector
    share of variance, so corr(i, j) = sqrt(s_i·s_j) within a sector and 0 across.
    """
    from trading.market_data.model import ASSET_CLASS_PARAMS

    shares = [ASSET_CLASS_PARAMS.get(asset_class, (0.2, 1.0, 0.5))[2] for asset_class, _ in structure]
    sectors = [sector for _, sector in structure]
    n = len(structure)
    matrix = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            rho = 1.0 if i == j else (math.sqrt(shares[i] * shares[j]) if sectors[i] == sectors[j] else 0.0)
            matrix[i, j] = matrix[j, i] = rho
    return matrix


def connected_components(nodes: Iterable[int], edges: Iterable[tuple[int, int]]) -> list[list[int]]:
    """Connected components (union-find); each sorted, largest first, singletons included."""
    parent: dict[int, int] = {n: n for n in nodes}

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for a, b in edges:
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for n in parent:
        groups.setdefault(find(n), []).append(n)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: (-len(g), g[0]))


# ---------------------------------------------------------------------------
# Inputs from the desk
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CorrelationResult:
    edges: list[Edge]
    window: int  # days of returns (0 for the model-implied structure)
    basis: str  # "history" or "model"


def correlations_compute(
    *, window: int = WINDOW_DAYS, min_abs: float = MIN_ABS_RHO, today: date | None = None
) -> CorrelationResult:
    """Edges for every instrument: from daily closes where there is enough history, else the feed model.

    Instruments with at least ``MIN_OBSERVATIONS`` returns on the days they all
    share get sample correlations; when fewer than two qualify the desk is too
    young for history and the model's structure stands in for all of them.
    """
    from risk.models import PriceHistory
    from trading.models import Instrument

    instruments = list(
        Instrument.objects.select_related("sector").order_by("pk").values_list("pk", "asset_class", "sector__code")
    )
    today = today or date.today()
    since = today - timedelta(days=window * 2)
    closes: dict[int, dict[date, float]] = {}
    for pk, day, close in PriceHistory.objects.filter(date__gte=since, date__lt=today).values_list(
        "instrument_id", "date", "close"
    ):
        closes.setdefault(pk, {})[day] = float(close)
    qualified = {pk: s for pk, s in closes.items() if len(s) > MIN_OBSERVATIONS}
    if len(qualified) >= 2:
        days = sorted(set.intersection(*(set(s) for s in qualified.values())))[-(window + 1) :]
        if len(days) > MIN_OBSERVATIONS:
            ids = sorted(qualified)
            matrix = correlation_matrix(log_returns(np.array([[qualified[pk][d] for pk in ids] for d in days])))
            return CorrelationResult(correlation_edges(matrix, ids, min_abs=min_abs), len(days) - 1, "history")
    ids = [pk for pk, _, _ in instruments]
    matrix = model_correlation_matrix([(ac, sector) for _, ac, sector in instruments])
    return CorrelationResult(correlation_edges(matrix, ids, min_abs=min_abs), 0, "model")
