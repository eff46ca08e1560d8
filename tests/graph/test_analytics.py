"""Analytics over the real Neo4j, against figures worked out by hand from the Book fixture.

Account HOLDS: A +1500, B -1000, C +1000, D +200 (USD); S1 holds A 1000, C 1000; S2 holds A 500, B -1000.
Correlations: A-B 0.8, B-C 0.5, A-D 0.6, C-D 0.3.
"""

from __future__ import annotations

from decimal import Decimal

from portfolio.graph import analytics
from portfolio.graph.projection import graph_resync_full

PAIRS = {("a", "b"): 0.8, ("b", "c"): 0.5, ("a", "d"): 0.6, ("c", "d"): 0.3}


def _ready(book):
    graph_resync_full(correlations=False)
    book.correlations(PAIRS)


def test_exposure_by_sector_and_asset_class_by_traversal(graph, book):
    _ready(book)
    sectors = {g["code"]: g for g in analytics.exposure_by(dimension="sector")["groups"]}
    assert (sectors["g-tech"]["gross"], sectors["g-tech"]["net"]) == (Decimal("2500"), Decimal("500"))
    assert (sectors["g-energy"]["gross"], sectors["g-energy"]["net"]) == (Decimal("1200"), Decimal("1200"))
    assert sectors["g-tech"]["share_pct"] == Decimal("67.57")  # 2500 / 3700
    classes = {g["code"]: g for g in analytics.exposure_by(dimension="asset_class")["groups"]}
    assert classes["equity"]["gross"] == Decimal("2500") and classes["future"]["gross"] == Decimal("1200")


def test_clusters_are_components_above_rho_with_their_exposure(graph, book):
    _ready(book)
    strong = analytics.correlation_clusters(threshold=0.7)["clusters"]
    assert [c.instrument_ids for c in strong] == [["GA.GSIM", "GB.GSIM"]]
    assert (strong[0].gross, strong[0].net, strong[0].share_pct) == (Decimal("2500"), Decimal("500"), Decimal("67.57"))
    assert strong[0].edges == 1 and strong[0].min_rho == 0.8

    loose = analytics.correlation_clusters(threshold=0.5)["clusters"]
    assert [c.instrument_ids for c in loose] == [["GA.GSIM", "GB.GSIM", "GC.GSIM", "GD.GSIM"]]
    assert loose[0].gross == Decimal("3700") and loose[0].share_pct == Decimal("100.00")


def test_contagion_weights_neighbours_by_rho_path_and_exposure(graph, book):
    _ready(book)
    result = analytics.contagion(instrument_id="GA.GSIM", shock_pct=Decimal("-10"), min_rho=0.5, depth=2)
    rows = [(n["instrument_id"], n["weight"], n["hops"], n["impact"]) for n in result["neighbours"]]
    # B: 0.8 direct; C: 0.8 x 0.5 via B (the path via D has 0.3 < 0.5); D: 0.6 direct.
    assert rows == [
        ("GB.GSIM", Decimal("0.8"), 1, Decimal("80")),  # -1000 x 0.8 x -10%
        ("GC.GSIM", Decimal("0.4"), 2, Decimal("-40")),  # 1000 x 0.4 x -10%
        ("GD.GSIM", Decimal("0.6"), 1, Decimal("-12")),  # 200 x 0.6 x -10%
    ]
    assert result["impact"] == Decimal("-150")  # A's own 1500 x -10%
    assert result["total_impact"] == Decimal("-122")
    one_hop = analytics.contagion(instrument_id="GA.GSIM", min_rho=0.5, depth=1)
    assert [n["instrument_id"] for n in one_hop["neighbours"]] == ["GB.GSIM", "GD.GSIM"]


def test_strategy_overlap_counts_shared_and_correlated_exposure(graph, book):
    _ready(book)
    pairs = analytics.strategy_overlap(min_rho=0.7)
    assert len(pairs) == 1
    p = pairs[0]
    assert {p["a"]["name"], p["b"]["name"]} == {"G one", "G two"}
    assert [s["instrument_id"] for s in p["shared"]] == ["GA.GSIM"]
    assert [(c["instrument_a"], c["instrument_b"], c["rho"]) for c in p["correlated"]] == [
        ("GA.GSIM", "GB.GSIM", Decimal("0.8"))
    ]
    # shared A: min(1000, 500) = 500; correlated A~B: 0.8 x min(1000, |-1000|) = 800
    assert p["score"] == Decimal("1300")


def test_graph_elements_draw_instruments_by_exposure_with_strong_correlations(graph, book):
    _ready(book)
    elements = analytics.graph_elements(min_rho=0.7)
    nodes = {n["data"]["id"]: n["data"] for n in elements["nodes"]}
    assert nodes[f"i{book.a.pk}"]["exposure"] == "1500" and nodes[f"i{book.b.pk}"]["exposure"] == "-1000"
    kinds = {e["data"]["kind"] for e in elements["edges"]}
    assert {"IN_SECTOR", "HOLDS", "CORRELATED_WITH", "TRADES"} <= kinds
    corr = [e["data"] for e in elements["edges"] if e["data"]["kind"] == "CORRELATED_WITH"]
    assert [(c["source"], c["target"]) for c in corr] == [(f"i{book.a.pk}", f"i{book.b.pk}")]
