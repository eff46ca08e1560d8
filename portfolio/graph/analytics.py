"""Graph analytics: reads over the projection that a table answers badly.

Every function queries Neo4j and raises ``GraphUnavailable`` when it cannot;
none of them is on the pre-trade path (the risk gate reads its own snapshot,
and an adopted cluster reaches it as an ordinary RiskLimit row).

Exposure is the market value of the book's positions as projected on HOLDS
edges (quantity x mark, or average price before the first mark, x multiplier),
in each instrument's quote currency — summed in Python as ``Decimal`` so the
figures equal the book's to the cent. Gross is the sum of the positions'
absolute values (an account long for one strategy and short for another
carries both), net the signed sum; contagion costs use net. Values of different currencies are added
as they stand, like the book's own exposure figures.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from portfolio.graph.connection import graph_query
from portfolio.graph.correlation import connected_components

ZERO = Decimal(0)
HUNDRED = Decimal(100)
DEFAULT_CLUSTER_RHO = 0.7
DEFAULT_CONTAGION_RHO = 0.5
DEFAULT_SHOCK_PCT = Decimal("-10")
MAX_DEPTH = 3


def _rho(value: float) -> Decimal:
    # rho is a float statistic; it enters money arithmetic at 6 places, exactly.
    return Decimal(repr(round(float(value), 6)))


def _pct(part: Decimal, whole: Decimal) -> Decimal:
    return (part / whole * HUNDRED).quantize(Decimal("0.01")) if whole else ZERO


def instrument_exposures(*, holder: str = "Account") -> dict[int, tuple[Decimal, Decimal]]:
    """(net, gross) exposure per instrument pk, summed over every ``holder`` (Account: the whole book)."""
    # One record of parallel lists: the Python driver spends far more per record than per value.
    pks, values, grosses = graph_query(
        f"MATCH (:{holder})-[h:HOLDS]->(i:Instrument) "
        "WITH i, collect(h.value) AS values, collect(coalesce(h.gross, h.value)) AS grosses "
        "RETURN collect(i.pk), collect(values), collect(grosses)"
    )[0]
    return {
        pk: (sum(map(Decimal, v), ZERO), sum((abs(Decimal(g)) for g in gs), ZERO))
        for pk, v, gs in zip(pks, values, grosses, strict=True)
    }


def _net(exposures: dict[int, tuple[Decimal, Decimal]], pk: int) -> Decimal:
    return exposures.get(pk, (ZERO, ZERO))[0]


def _gross(exposures: dict[int, tuple[Decimal, Decimal]], pk: int) -> Decimal:
    return exposures.get(pk, (ZERO, ZERO))[1]


# ---------------------------------------------------------------------------
# Exposure by sector / asset class
# ---------------------------------------------------------------------------

DIMENSIONS = {"sector": ("IN_SECTOR", "Sector"), "asset_class": ("IN_ASSET_CLASS", "AssetClass")}


def exposure_by(*, dimension: str) -> dict[str, Any]:
    """Gross and net exposure per sector or asset class, by traversal Account-HOLDS-Instrument-IN_x-x."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"dimension must be one of {', '.join(DIMENSIONS)}")
    rel, label = DIMENSIONS[dimension]
    rows = graph_query(
        f"MATCH (:Account)-[h:HOLDS]->(i:Instrument)-[:{rel}]->(g:{label}) "
        "RETURN g.code, coalesce(g.name, g.code), i.instrument_id, h.value, coalesce(h.gross, h.value)"
    )
    groups: dict[str, dict[str, Any]] = {}
    for code, name, iid, value, gross in rows:
        g = groups.setdefault(code, {"code": code, "name": name, "gross": ZERO, "net": ZERO, "instruments": set()})
        g["gross"] += abs(Decimal(gross))
        g["net"] += Decimal(value)
        g["instruments"].add(iid)
    total_gross = sum((g["gross"] for g in groups.values()), ZERO)
    out = sorted(groups.values(), key=lambda g: (-g["gross"], g["code"]))
    for g in out:
        g["instruments"] = sorted(g["instruments"])
        g["share_pct"] = _pct(g["gross"], total_gross)
    return {
        "dimension": dimension,
        "total_gross": total_gross,
        "total_net": sum((g["net"] for g in out), ZERO),
        "groups": out,
    }


# ---------------------------------------------------------------------------
# Correlation clusters
# ---------------------------------------------------------------------------


@dataclass
class Cluster:
    instruments: list[dict[str, Any]]
    gross: Decimal
    net: Decimal
    share_pct: Decimal
    edges: int
    min_rho: float
    instrument_ids: list[str] = field(default_factory=list)


def correlation_clusters(*, threshold: float = DEFAULT_CLUSTER_RHO, min_size: int = 2) -> dict[str, Any]:
    """Connected components of instruments joined by CORRELATED_WITH with rho >= ``threshold``.

    Each cluster carries the book's exposure concentrated in it; clusters are
    ordered by gross exposure, then size.
    """
    if not -1.0 <= threshold <= 1.0:
        raise ValueError("threshold must be between -1 and 1")
    # Each source instrument's strong neighbours, all in one record of parallel lists (the
    # driver's cost is per record more than per value); components by union-find here.
    sources, neighbours, weakest_rho = graph_query(
        "MATCH (a:Instrument)-[e:CORRELATED_WITH]->(b:Instrument) WHERE e.rho >= $t "
        "WITH a, collect(b.pk) AS bs, min(e.rho) AS weakest "
        "RETURN collect(a.pk), collect(bs), collect(weakest)",
        {"t": float(threshold)},
    )[0]
    adjacency = list(zip(sources, neighbours, weakest_rho, strict=True))
    components = [
        c for c in connected_components((), ((a, b) for a, bs, _ in adjacency for b in bs)) if len(c) >= min_size
    ]
    exposures = instrument_exposures()
    member_pks = [pk for c in components for pk in c]
    ids = (
        dict(
            zip(
                *graph_query(
                    "MATCH (i:Instrument) WHERE i.pk IN $pks RETURN collect(i.pk), collect(i.instrument_id)",
                    {"pks": member_pks},
                )[0],
                strict=True,
            )
        )
        if member_pks
        else {}
    )
    where = {pk: n for n, c in enumerate(components) for pk in c}
    edge_count: dict[int, int] = defaultdict(int)
    weakest: dict[int, float] = {}
    for a, bs, rho in adjacency:
        n = where.get(a)
        if n is not None:
            edge_count[n] += len(bs)
            weakest[n] = min(weakest.get(n, 1.0), rho)
    book_gross = sum((g for _n, g in exposures.values()), ZERO)
    clusters = []
    for n, members in enumerate(components):
        rows = [
            {
                "pk": pk,
                "instrument_id": ids.get(pk, str(pk)),
                "exposure": _net(exposures, pk),
                "gross": _gross(exposures, pk),
            }
            for pk in members
        ]
        gross = sum((r["gross"] for r in rows), ZERO)
        clusters.append(
            Cluster(
                instruments=sorted(rows, key=lambda r: (-r["gross"], r["instrument_id"])),
                gross=gross,
                net=sum((r["exposure"] for r in rows), ZERO),
                share_pct=_pct(gross, book_gross),
                edges=edge_count[n],
                min_rho=weakest.get(n, threshold),
                instrument_ids=sorted(r["instrument_id"] for r in rows),
            )
        )
    clusters.sort(key=lambda c: (-c.gross, -len(c.instruments), c.instrument_ids))
    return {"threshold": threshold, "book_gross": book_gross, "clusters": clusters}


# ---------------------------------------------------------------------------
# Contagion
# ---------------------------------------------------------------------------


def contagion(
    *,
    instrument_id: str,
    shock_pct: Decimal = DEFAULT_SHOCK_PCT,
    min_rho: float = DEFAULT_CONTAGION_RHO,
    depth: int = 2,
) -> dict[str, Any]:
    """What else moves if ``instrument_id`` moves by ``shock_pct``, and what it costs the book.

    A neighbour reached over a path of correlations moves by the product of the
    rhos along the strongest path (each |rho| >= ``min_rho``, at most ``depth``
    hops) times the shock; its impact is its net exposure times that move.
    The source's own impact is its exposure times the shock.
    """
    if not 1 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be between 1 and {MAX_DEPTH}")
    found = graph_query("MATCH (x:Instrument {instrument_id: $iid}) RETURN x.pk", {"iid": instrument_id})
    if not found:
        raise LookupError(f"Unknown instrument {instrument_id!r} (not in the graph).")
    source_pk = found[0][0]
    rows = graph_query(
        f"MATCH p = (x:Instrument {{pk: $pk}})-[:CORRELATED_WITH*1..{depth}]-(j:Instrument) "
        "WHERE j <> x AND all(e IN relationships(p) WHERE abs(e.rho) >= $min) "
        "WITH j, reduce(w = 1.0, e IN relationships(p) | w * e.rho) AS w, length(p) AS hops "
        "ORDER BY abs(w) DESC, hops "
        "WITH j, collect([w, hops])[0] AS best "
        "RETURN j.pk, j.instrument_id, best[0], best[1]",
        {"pk": source_pk, "min": float(min_rho)},
    )
    exposures = instrument_exposures()
    shock = Decimal(shock_pct) / HUNDRED
    source_exposure = _net(exposures, source_pk)
    neighbours = []
    for pk, iid, weight, hops in rows:
        w = _rho(weight)
        exposure = _net(exposures, pk)
        neighbours.append(
            {
                "instrument_id": iid,
                "weight": w,
                "hops": hops,
                "move_pct": w * Decimal(shock_pct),
                "exposure": exposure,
                "impact": exposure * w * shock,
            }
        )
    neighbours.sort(key=lambda n: (-abs(n["impact"]), -abs(n["weight"]), n["instrument_id"]))
    source_impact = source_exposure * shock
    return {
        "instrument_id": instrument_id,
        "shock_pct": Decimal(shock_pct),
        "min_rho": min_rho,
        "depth": depth,
        "exposure": source_exposure,
        "impact": source_impact,
        "neighbours": neighbours,
        "total_impact": source_impact + sum((n["impact"] for n in neighbours), ZERO),
    }


# ---------------------------------------------------------------------------
# Strategy overlap
# ---------------------------------------------------------------------------


def strategy_overlap(*, min_rho: float = DEFAULT_CLUSTER_RHO) -> list[dict[str, Any]]:
    """Pairs of strategies that share instruments (TRADES or HOLDS) or hold correlated ones.

    ``score`` = Σ over shared instruments of min(|exposure A|, |exposure B|)
              + Σ over correlated held pairs (rho >= ``min_rho``) of rho x min(|exposure A|, |exposure B|):
    the money the two strategies have on the same risk.
    """
    names = dict(graph_query("MATCH (s:Strategy) RETURN s.pk, s.name"))
    held: dict[int, dict[int, Decimal]] = defaultdict(dict)
    for s_pk, i_pk, value in graph_query("MATCH (s:Strategy)-[h:HOLDS]->(i:Instrument) RETURN s.pk, i.pk, h.value"):
        held[s_pk][i_pk] = Decimal(value)
    iids = dict(graph_query("MATCH (i:Instrument)<-[:TRADES|HOLDS]-(:Strategy) RETURN DISTINCT i.pk, i.instrument_id"))
    pairs: dict[tuple[int, int], dict[str, Any]] = {}

    def pair(a: int, b: int) -> dict[str, Any]:
        key = (min(a, b), max(a, b))
        if key not in pairs:
            pairs[key] = {
                "a": {"pk": key[0], "name": names.get(key[0])},
                "b": {"pk": key[1], "name": names.get(key[1])},
                "shared": [],
                "correlated": [],
                "score": ZERO,
            }
        return pairs[key]

    for a, b, i_pk in graph_query(
        "MATCH (s1:Strategy)-[:TRADES|HOLDS]->(i:Instrument)<-[:TRADES|HOLDS]-(s2:Strategy) "
        "WHERE s1.pk < s2.pk RETURN DISTINCT s1.pk, s2.pk, i.pk"
    ):
        ea, eb = held[a].get(i_pk, ZERO), held[b].get(i_pk, ZERO)
        p = pair(a, b)
        p["shared"].append({"instrument_id": iids.get(i_pk), "exposure_a": ea, "exposure_b": eb})
        p["score"] += min(abs(ea), abs(eb))
    for a, b, i_pk, j_pk, rho in graph_query(
        "MATCH (s1:Strategy)-[:HOLDS]->(i:Instrument)-[e:CORRELATED_WITH]-(j:Instrument)<-[:HOLDS]-(s2:Strategy) "
        "WHERE s1 <> s2 AND e.rho >= $min RETURN s1.pk, s2.pk, i.pk, j.pk, e.rho",
        {"min": float(min_rho)},
    ):
        if a > b:
            continue  # each (strategy pair, instrument pair) is matched from both sides; keep one
        ea, eb = held[a][i_pk], held[b][j_pk]
        p = pair(a, b)
        r = _rho(rho)
        p["correlated"].append(
            {
                "instrument_a": iids.get(i_pk),
                "instrument_b": iids.get(j_pk),
                "rho": r,
                "exposure_a": ea,
                "exposure_b": eb,
            }
        )
        p["score"] += r * min(abs(ea), abs(eb))
    out = list(pairs.values())
    for p in out:
        p["shared"].sort(key=lambda s: s["instrument_id"] or "")
        p["correlated"].sort(key=lambda c: (c["instrument_a"] or "", c["instrument_b"] or ""))
    out.sort(key=lambda p: (-p["score"], p["a"]["pk"], p["b"]["pk"]))
    return out


# ---------------------------------------------------------------------------
# The picture for the Graph page
# ---------------------------------------------------------------------------


def graph_elements(*, min_rho: float = DEFAULT_CLUSTER_RHO, max_instruments: int = 300) -> dict[str, Any]:
    """Nodes and edges for the visualisation: instruments (sized and coloured by exposure), sectors,
    accounts and strategies, with HOLDS, TRADES, IN_SECTOR and strong CORRELATED_WITH edges.

    The busiest ``max_instruments`` instruments by gross exposure (then by links) keep the page usable.
    """
    exposures = instrument_exposures()
    instruments = graph_query(
        "MATCH (i:Instrument) OPTIONAL MATCH (i)-[:IN_SECTOR]->(s:Sector) "
        "OPTIONAL MATCH (i)-[:IN_ASSET_CLASS]->(c:AssetClass) "
        "RETURN i.pk, i.instrument_id, s.pk, c.code, COUNT { (i)--() } AS degree"
    )
    instruments.sort(key=lambda r: (-_gross(exposures, r[0]), -r[4], r[1]))
    truncated = len(instruments) > max_instruments
    instruments = instruments[:max_instruments]
    shown = {r[0] for r in instruments}
    book_gross = sum((g for _n, g in exposures.values()), ZERO)
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    sector_pks = set()
    for pk, iid, sector_pk, asset_class, _degree in instruments:
        nodes.append(
            {
                "data": {
                    "id": f"i{pk}",
                    "kind": "instrument",
                    "label": iid,
                    "pk": pk,
                    "instrument_id": iid,
                    "asset_class": asset_class,
                    "exposure": str(_net(exposures, pk)),
                    "gross": str(_gross(exposures, pk)),
                    "share": float(_pct(_gross(exposures, pk), book_gross)),
                }
            }
        )
        if sector_pk is not None:
            sector_pks.add(sector_pk)
            edges.append(
                {"data": {"id": f"is{pk}", "source": f"i{pk}", "target": f"s{sector_pk}", "kind": "IN_SECTOR"}}
            )
    for pk, code, name in graph_query(
        "MATCH (s:Sector) WHERE s.pk IN $pks RETURN s.pk, s.code, s.name", {"pks": sorted(sector_pks)}
    ):
        nodes.append({"data": {"id": f"s{pk}", "kind": "sector", "label": name or code, "pk": pk, "code": code}})
    for label, prefix in (("Account", "a"), ("Strategy", "t")):
        holders = set()
        for h_pk, i_pk, value in graph_query(f"MATCH (h:{label})-[x:HOLDS]->(i:Instrument) RETURN h.pk, i.pk, x.value"):
            if i_pk in shown:
                holders.add(h_pk)
                edges.append(
                    {
                        "data": {
                            "id": f"h{prefix}{h_pk}-{i_pk}",
                            "source": f"{prefix}{h_pk}",
                            "target": f"i{i_pk}",
                            "kind": "HOLDS",
                            "value": value,
                        }
                    }
                )
        if label == "Strategy":
            for s_pk, i_pk in graph_query("MATCH (s:Strategy)-[:TRADES]->(i:Instrument) RETURN s.pk, i.pk"):
                if i_pk in shown:
                    holders.add(s_pk)
                    edges.append(
                        {
                            "data": {
                                "id": f"tr{s_pk}-{i_pk}",
                                "source": f"t{s_pk}",
                                "target": f"i{i_pk}",
                                "kind": "TRADES",
                            }
                        }
                    )
        for h_pk, name in graph_query(
            f"MATCH (h:{label}) WHERE h.pk IN $pks RETURN h.pk, h.name", {"pks": sorted(holders)}
        ):
            nodes.append({"data": {"id": f"{prefix}{h_pk}", "kind": label.lower(), "label": name, "pk": h_pk}})
    for a, b, rho in graph_query(
        "MATCH (a:Instrument)-[e:CORRELATED_WITH]->(b:Instrument) WHERE e.rho >= $t AND a.pk IN $pks AND b.pk IN $pks "
        "RETURN a.pk, b.pk, e.rho",
        {"t": float(min_rho), "pks": sorted(shown)},
    ):
        edges.append(
            {
                "data": {
                    "id": f"c{a}-{b}",
                    "source": f"i{a}",
                    "target": f"i{b}",
                    "kind": "CORRELATED_WITH",
                    "rho": round(rho, 3),
                }
            }
        )
    return {"nodes": nodes, "edges": edges, "book_gross": str(book_gross), "min_rho": min_rho, "truncated": truncated}
