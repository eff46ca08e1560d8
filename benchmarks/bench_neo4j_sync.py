"""Graph projection: 1k instruments, 10k positions and 100k correlation edges into an empty Neo4j.

Runs against a private Neo4j started from the launcher (free port, throwaway
data), so the graph ``make run`` uses is never touched. The rows are synthetic
but have exactly the shape ``rows_for`` builds from the book; the value is the
wall time of ``write_rows`` + ``write_correlations`` (UNWIND batches). The
cluster query (``correlation_clusters`` at rho >= 0.7: ~24.5k intra-sector
edges over 20 sectors of 50) is timed in the detail, best of 5 warm runs.
"""

from __future__ import annotations

import random
import statistics
import time

NAME = "neo4j_sync"
GOAL_SECONDS = 10.0
CLUSTER_GOAL_MS = 200.0
INSTRUMENTS = 1000
POSITIONS = 10000
EDGES = 100000
SECTORS = 20


def _rows():
    from portfolio.graph.correlation import CorrelationResult, Edge
    from portfolio.graph.projection import GraphRows

    rng = random.Random(42)
    rows = GraphRows()
    rows.sectors = [{"pk": s, "props": {"pk": s, "code": f"s{s}", "name": f"Sector {s}"}} for s in range(SECTORS)]
    rows.asset_classes = [{"code": "equity", "props": {"code": "equity", "name": "Equity"}}]
    rows.venues = [{"pk": 1, "props": {"pk": 1, "code": "SIM", "name": "Sim", "adapter": "simulated"}}]
    rows.instruments = [
        {
            "pk": i,
            "sector": i % SECTORS,
            "asset_class": "equity",
            "venue": 1,
            "props": {
                "pk": i,
                "instrument_id": f"I{i:04d}.SIM",
                "symbol": f"I{i:04d}",
                "currency": "USD",
                "tradable": True,
            },
        }
        for i in range(INSTRUMENTS)
    ]
    accounts = 20
    strategies = 50
    holds_a: dict = {}
    holds_s: dict = {}
    rows.positions = []
    for p in range(POSITIONS):
        a, s, i = p % accounts, p % strategies, rng.randrange(INSTRUMENTS)
        qty = rng.randint(-500, 500) or 1
        value = qty * 100
        rows.positions.append(
            {
                "pk": p,
                "account": a,
                "strategy": s,
                "instrument": i,
                "props": {"pk": p, "quantity": str(qty), "value": str(value), "side": "LONG" if qty > 0 else "SHORT"},
            }
        )
        for table, key in ((holds_a, a), (holds_s, s)):
            q, v, g = table.setdefault(key, {}).get(i, (0, 0, 0))
            table[key][i] = (q + qty, v + value, g + abs(value))

    def holds(table, key):
        return [
            {"instrument": i, "props": {"quantity": str(q), "value": str(v), "gross": str(g), "currency": "USD"}}
            for i, (q, v, g) in sorted(table.get(key, {}).items())
        ]

    rows.accounts = [
        {"pk": a, "venue": 1, "props": {"pk": a, "name": f"ACC-{a}", "status": "connected"}, "holds": holds(holds_a, a)}
        for a in range(accounts)
    ]
    rows.strategies = [
        {
            "pk": s,
            "props": {"pk": s, "name": f"Strategy {s}", "status": "live"},
            "trades": sorted(holds_s.get(s, {})),
            "holds": holds(holds_s, s),
        }
        for s in range(strategies)
    ]

    # 100k edges: every intra-sector pair (20 x C(50,2) = 24,500) strongly correlated, the rest weak.
    pairs = set()
    edges = []
    for i in range(INSTRUMENTS):
        for j in range(i + SECTORS, INSTRUMENTS, SECTORS):
            pairs.add((i, j))
            edges.append(Edge(i, j, round(rng.uniform(0.72, 0.95), 6)))
    while len(edges) < EDGES:
        i, j = sorted(rng.sample(range(INSTRUMENTS), 2))
        if (i, j) not in pairs and (j - i) % SECTORS:
            pairs.add((i, j))
            edges.append(Edge(i, j, round(rng.uniform(0.3, 0.6), 6)))
    return rows, CorrelationResult(edges, 60, "history")


def run() -> dict:
    from django.conf import settings

    from portfolio.graph import analytics
    from portfolio.graph.connection import graph_query, graph_reset_connection
    from portfolio.graph.local_server import LocalNeo4j, launcher_build
    from portfolio.graph.projection import graph_install_schema, graph_schema_forget, write_correlations, write_rows

    launcher_build()
    server = LocalNeo4j()
    started = time.monotonic()
    server.start()
    startup = time.monotonic() - started
    previous = settings.NEO4J_BOLT_URL
    settings.NEO4J_BOLT_URL = server.url
    graph_reset_connection()
    graph_schema_forget()
    try:
        rows, correlations = _rows()
        graph_install_schema()
        t0 = time.monotonic()
        nodes_changes = write_rows(rows)
        t1 = time.monotonic()
        edge_changes = write_correlations(correlations, [r["pk"] for r in rows.instruments])
        t2 = time.monotonic()
        counts = dict(graph_query("MATCH (n) RETURN labels(n)[0], count(*)"))
        correlated = graph_query("MATCH ()-[e:CORRELATED_WITH]->() RETURN count(e)")[0][0]
        t3 = time.monotonic()
        again = write_rows(rows) + write_correlations(correlations, [r["pk"] for r in rows.instruments])
        t4 = time.monotonic()
        timings = []
        clusters = None
        for _ in range(6):
            c0 = time.perf_counter()
            clusters = analytics.correlation_clusters(threshold=0.7)
            timings.append((time.perf_counter() - c0) * 1000)
        timings = timings[1:]  # the first run compiles the query plans
        rss_kb = _rss_kb(server.proc.pid) if server.proc else None
    finally:
        settings.NEO4J_BOLT_URL = previous
        graph_reset_connection()
        server.close()
    total = t2 - t0
    return {
        "value": round(total, 2),
        "unit": "s",
        "goal": GOAL_SECONDS,
        "detail": {
            "nodes_and_positions_s": round(t1 - t0, 2),
            "correlation_edges_s": round(t2 - t1, 2),
            "changes": nodes_changes + edge_changes,
            "nodes": counts,
            "correlation_edges": correlated,
            "second_projection_s": round(t4 - t3, 2),
            "second_projection_changes": again,
            "cluster_query_ms_best": round(min(timings), 1),
            "cluster_query_ms_median": round(statistics.median(timings), 1),
            "cluster_query_goal_ms": CLUSTER_GOAL_MS,
            "clusters": len(clusters["clusters"]) if clusters else None,
            "neo4j_startup_s": round(startup, 1),
            "neo4j_rss_mb": round(rss_kb / 1024) if rss_kb else None,
        },
    }


def _rss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None
