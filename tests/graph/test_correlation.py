"""Correlations and clusters as pure functions over crafted matrices (no database)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from portfolio.graph.correlation import (
    Edge,
    connected_components,
    correlation_edges,
    correlation_matrix,
    log_returns,
    model_correlation_matrix,
)


def test_correlation_matrix_matches_numpy_and_treats_a_flat_series_as_uncorrelated():
    rng = np.random.default_rng(7)
    factor = rng.normal(size=250)
    returns = np.column_stack(
        [factor + 0.1 * rng.normal(size=250), factor + 0.1 * rng.normal(size=250), rng.normal(size=250), np.zeros(250)]
    )
    corr = correlation_matrix(returns)
    np.testing.assert_allclose(corr[:3, :3], np.corrcoef(returns[:, :3], rowvar=False), atol=1e-12)
    assert corr[3, 3] == 1.0 and not corr[3, :3].any()
    assert corr[0, 1] > 0.95 and abs(corr[0, 2]) < 0.2


def test_log_returns_rejects_non_positive_closes():
    with pytest.raises(ValueError, match="positive"):
        log_returns(np.array([[1.0, 2.0], [0.0, 2.0]]))


def test_edges_keep_pairs_above_the_threshold_once_each_low_id_first():
    matrix = np.array([[1.0, 0.9, -0.6, 0.1], [0.9, 1.0, 0.2, 0.0], [-0.6, 0.2, 1.0, 0.35], [0.1, 0.0, 0.35, 1.0]])
    edges = correlation_edges(matrix, [40, 10, 30, 20], min_abs=0.3)
    assert sorted(edges, key=lambda e: (e.a, e.b)) == [Edge(10, 40, 0.9), Edge(20, 30, 0.35), Edge(30, 40, -0.6)]


def test_clusters_on_a_crafted_correlation_matrix_are_the_connected_components_above_rho():
    # Two blocks that correlate strongly inside, a bridge that is too weak, and a loner.
    ids = [1, 2, 3, 4, 5, 6, 7]
    m = np.eye(7)

    def link(i, j, rho):
        m[ids.index(i), ids.index(j)] = m[ids.index(j), ids.index(i)] = rho

    link(1, 2, 0.85), link(2, 3, 0.75), link(4, 5, 0.9), link(5, 6, 0.72), link(3, 4, 0.4), link(1, 7, -0.8)
    edges = correlation_edges(m, ids, min_abs=0.3)
    strong = [(e.a, e.b) for e in edges if e.rho >= 0.7]
    assert connected_components(ids, strong) == [[1, 2, 3], [4, 5, 6], [7]]
    # Lowering the threshold through the bridge joins the blocks.
    weaker = [(e.a, e.b) for e in edges if e.rho >= 0.4]
    assert connected_components(ids, weaker) == [[1, 2, 3, 4, 5, 6], [7]]


def test_model_correlation_follows_the_simulated_feed_sector_structure():
    m = model_correlation_matrix([("fx", "currencies"), ("fx", "currencies"), ("equity", "currencies"), ("fx", "tech")])
    assert m[0, 1] == pytest.approx(0.6)  # both FX: sector share 0.6
    assert m[0, 2] == pytest.approx(math.sqrt(0.6 * 0.5))
    assert m[0, 3] == 0.0 and np.allclose(np.diag(m), 1.0)


def test_model_correlation_is_what_the_feed_actually_produces():
    from decimal import Decimal

    from trading.market_data.model import ModelInstrument, QuoteModel

    insts = [
        ModelInstrument(f"X{i}.SIM", "crypto", "s1" if i < 2 else "s2", Decimal("0.01"), Decimal("1"), Decimal("100"))
        for i in range(3)
    ]
    model = QuoteModel(insts, seed=3)
    mids = []
    for _ in range(3000):
        mids.append([float((q.bid + q.ask) / 2) for q in model.step(86400)])
    corr = correlation_matrix(log_returns(np.array(mids)))
    expected = model_correlation_matrix([("crypto", "s1"), ("crypto", "s1"), ("crypto", "s2")])
    np.testing.assert_allclose(corr, expected, atol=0.06)
