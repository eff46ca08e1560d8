"""Projecting the book into the graph: batches of changes, and the full resync that repairs drift.

The ORM is the source of truth; the graph is rebuilt from it and never read
back into it. Every write is idempotent: nodes MERGE on their key, properties
are only SET when they differ, relationships of a source that the book no
longer has are deleted. Running either service twice leaves the graph as the
first run left it, and the second run reports zero changes.

Writers take turns (``graph_write_lock``: a PostgreSQL advisory lock per graph
server), so what a writer read from the graph is still true when it writes: a
relationship found missing is CREATEd, not MERGEd (MERGE scans the relationships
of both ends, minutes on 100k edges between dense nodes), and never twice.

Bulk writes go as UNWIND batches of plain rows (``graph_write``): neomodel's
per-object save is far too slow for 100k correlation edges.

Rows are built from the ORM by ``rows_*`` (reads only) and written by
``write_*`` (graph only), so the benchmark can write synthetic rows of the
same shape without a database.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import OperationalError, connection

from portfolio.graph.connection import GraphUnavailable, graph_query, graph_write
from portfolio.graph.correlation import CorrelationResult, Edge, correlations_compute
from portfolio.graph.models import NODE_CLASSES

logger = logging.getLogger(__name__)

NODE_BATCH = 5000
EDGE_BATCH = 10000
# The kinds of book rows the projection follows, in the order they are written
# (a relationship needs both ends).
KINDS = ("sector", "venue", "instrument", "account", "strategy", "position", "route")


def money(value: Decimal) -> str:
    """Canonical decimal string (no exponent, no trailing zeros) so equal values compare equal in Cypher."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _batches(rows: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _grouped_batches(groups: list[list], size: int) -> Iterable[list[list]]:
    """Batches of ``[source, targets, ...]`` groups holding about ``size`` targets each."""
    batch: list[list] = []
    count = 0
    for group in groups:
        batch.append(group)
        count += len(group[1])
        if count >= size:
            yield batch
            batch, count = [], 0
    if batch:
        yield batch


def _props(**values: Any) -> dict[str, Any]:
    # A null property does not exist in Neo4j; keeping it out makes map equality exact.
    return {k: v for k, v in values.items() if v is not None}


# ---------------------------------------------------------------------------
# Writers take turns
# ---------------------------------------------------------------------------

# A resync of the full book holds it for seconds; a batch waiting longer than this gives its
# keys back for the next run (GraphUnavailable) instead of holding a worker.
WRITE_LOCK_WAIT = "120s"
# How deeply this thread holds the turn (Django's connection, and so the advisory lock, is per thread).
_write_turn = threading.local()


@contextmanager
def graph_write_lock() -> Iterator[None]:
    """Hold the graph's write turn: one projection or resync at a time per graph server.

    A session-level PostgreSQL advisory lock keyed by the Bolt URL: released on exit,
    and by PostgreSQL when a worker dies holding it. Re-entrant: a nested call (a resync
    writing its rows) holds the turn its thread already has, without asking PostgreSQL again.
    """
    if getattr(_write_turn, "depth", 0):
        _write_turn.depth += 1
        try:
            yield
        finally:
            _write_turn.depth -= 1
        return
    key = f"graph-projection {settings.NEO4J_BOLT_URL}"
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = '{WRITE_LOCK_WAIT}'")
            try:
                cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", [key])
            finally:
                cursor.execute("RESET lock_timeout")
    except OperationalError as exc:
        raise GraphUnavailable(
            f"Another graph projection has held the graph for over {WRITE_LOCK_WAIT}; this one will run again."
        ) from exc
    _write_turn.depth = 1
    try:
        yield
    finally:
        _write_turn.depth = 0
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])


# ---------------------------------------------------------------------------
# Schema
# ---------------------------------------------------------------------------

_schema_lock = threading.Lock()
_schema_installed_for: set[str] = set()


def graph_install_schema() -> None:
    """Uniqueness constraints on the keys and the index on rho; once per process and server."""
    url = settings.NEO4J_BOLT_URL
    if url in _schema_installed_for:
        return
    with _schema_lock:
        for cls in NODE_CLASSES:
            key = "code" if cls.__label__ == "AssetClass" else "pk"
            graph_write(
                f"CREATE CONSTRAINT graph_{cls.__label__.lower()}_{key} IF NOT EXISTS "
                f"FOR (n:{cls.__label__}) REQUIRE n.{key} IS UNIQUE"
            )
        graph_write("CREATE INDEX graph_corr_rho IF NOT EXISTS FOR ()-[e:CORRELATED_WITH]-() ON (e.rho)")
        graph_write("CREATE INDEX graph_instrument_iid IF NOT EXISTS FOR (n:Instrument) ON (n.instrument_id)")
        graph_query("CALL db.awaitIndexes(60)")
        _schema_installed_for.add(url)


def graph_schema_forget() -> None:
    """Forget that the schema was installed (a test that wiped the server calls this)."""
    _schema_installed_for.clear()


# ---------------------------------------------------------------------------
# Rows: what the graph should hold, read from the book
# ---------------------------------------------------------------------------


@dataclass
class GraphRows:
    """Plain rows for one projection batch; ``deleted`` lists keys the book no longer has."""

    sectors: list[dict] = field(default_factory=list)
    asset_classes: list[dict] = field(default_factory=list)
    venues: list[dict] = field(default_factory=list)
    instruments: list[dict] = field(default_factory=list)
    accounts: list[dict] = field(default_factory=list)
    strategies: list[dict] = field(default_factory=list)
    positions: list[dict] = field(default_factory=list)
    routes: list[dict] = field(default_factory=list)
    deleted: dict[str, list[int]] = field(default_factory=dict)


def _asset_class_names() -> dict[str, str]:
    from trading.models import Instrument

    return dict(Instrument.AssetClass.choices)


def rows_for(keys: dict[str, set[int]]) -> GraphRows:
    """Rows for the given book keys per kind, plus what they point at (so both ends of every edge exist).

    Keys absent from the book (deleted rows, flat positions, deleted strategies)
    come back in ``deleted``.
    """
    from portfolio.models import Position
    from strategies.models import Strategy
    from trading.models import Account, Instrument, Sector, Venue
    from trading.signal_router.models import SignalRoute

    want = {kind: set(keys.get(kind, ())) for kind in KINDS}
    out = GraphRows()

    routes = list(
        SignalRoute.objects.filter(pk__in=want["route"]).values(
            "pk", "name", "priority", "group", "enabled", "strategy_id", "instrument_id", "account_id"
        )
    )
    for r in routes:
        if r["strategy_id"]:
            want["strategy"].add(r["strategy_id"])
        elif r["instrument_id"]:
            want["instrument"].add(r["instrument_id"])
        want["account"].add(r["account_id"])

    positions = list(
        Position.objects.filter(pk__in=want["position"])
        .exclude(quantity=0)
        .values(
            "pk",
            "account_id",
            "strategy_id",
            "instrument_id",
            "quantity",
            "avg_price",
            "mark_price",
            "instrument__multiplier",
            "instrument__quote_currency",
        )
    )
    for p in positions:
        want["account"].add(p["account_id"])
        want["instrument"].add(p["instrument_id"])
        if p["strategy_id"]:
            want["strategy"].add(p["strategy_id"])

    strategies = list(
        Strategy.objects.filter(pk__in=want["strategy"])
        .exclude(status=Strategy.Status.DELETED)
        .select_related("current_version")
    )
    trades: dict[int, set[int]] = defaultdict(set)
    spec_ids = {
        s.pk: (s.current_version.spec.get("instruments") or []) if s.current_version else [] for s in strategies
    }
    wanted_iids = {iid for ids in spec_ids.values() for iid in ids if isinstance(iid, str)}
    by_iid = dict(Instrument.objects.filter(instrument_id__in=wanted_iids).values_list("instrument_id", "pk"))
    for s_pk, ids in spec_ids.items():
        trades[s_pk].update(by_iid[i] for i in ids if i in by_iid)

    # HOLDS are the net of the book per (holder, instrument): recomputed whole for every
    # account and strategy in the batch.
    live_strategy_pks = [s.pk for s in strategies]
    holdings = list(
        Position.objects.exclude(quantity=0)
        .filter(account_id__in=want["account"])
        .values(
            "account_id",
            "strategy_id",
            "instrument_id",
            "quantity",
            "avg_price",
            "mark_price",
            "instrument__multiplier",
            "instrument__quote_currency",
        )
    )
    holdings += list(
        Position.objects.exclude(quantity=0)
        .filter(strategy_id__in=live_strategy_pks)
        .exclude(account_id__in=want["account"])
        .values(
            "account_id",
            "strategy_id",
            "instrument_id",
            "quantity",
            "avg_price",
            "mark_price",
            "instrument__multiplier",
            "instrument__quote_currency",
        )
    )
    account_holds: dict[int, dict[int, list[Decimal]]] = defaultdict(lambda: defaultdict(lambda: [Decimal(0)] * 3))
    strategy_holds: dict[int, dict[int, list[Decimal]]] = defaultdict(lambda: defaultdict(lambda: [Decimal(0)] * 3))
    currency: dict[int, str] = {}
    for h in holdings:
        value = _signed_value(h)
        currency[h["instrument_id"]] = h["instrument__quote_currency"]
        want["instrument"].add(h["instrument_id"])
        if h["account_id"] in want["account"]:
            cell = account_holds[h["account_id"]][h["instrument_id"]]
            cell[0] += h["quantity"]
            cell[1] += value
            cell[2] += abs(value)
        if h["strategy_id"] in live_strategy_pks:
            cell = strategy_holds[h["strategy_id"]][h["instrument_id"]]
            cell[0] += h["quantity"]
            cell[1] += value
            cell[2] += abs(value)
            trades[h["strategy_id"]].add(h["instrument_id"])
    for s_pk in live_strategy_pks:
        want["instrument"].update(trades[s_pk])

    accounts = list(
        Account.objects.filter(pk__in=want["account"]).values("pk", "name", "base_currency", "status", "venue_id")
    )
    want["venue"].update(a["venue_id"] for a in accounts)
    instruments = list(
        Instrument.objects.filter(pk__in=want["instrument"]).values(
            "pk", "instrument_id", "symbol", "quote_currency", "tradable", "sector_id", "asset_class", "venue_id"
        )
    )
    want["venue"].update(i["venue_id"] for i in instruments)
    want["sector"].update(i["sector_id"] for i in instruments)
    venues = list(Venue.objects.filter(pk__in=want["venue"]).values("pk", "code", "name", "adapter"))
    sectors = list(Sector.objects.filter(pk__in=want["sector"]).values("pk", "code", "name"))

    names = _asset_class_names()
    out.sectors = [{"pk": s["pk"], "props": _props(pk=s["pk"], code=s["code"], name=s["name"])} for s in sectors]
    out.asset_classes = [
        {"code": c, "props": _props(code=c, name=names.get(c, c))}
        for c in sorted({i["asset_class"] for i in instruments})
    ]
    out.venues = [
        {"pk": v["pk"], "props": _props(pk=v["pk"], code=v["code"], name=v["name"], adapter=v["adapter"])}
        for v in venues
    ]
    out.instruments = [
        {
            "pk": i["pk"],
            "sector": i["sector_id"],
            "asset_class": i["asset_class"],
            "venue": i["venue_id"],
            "props": _props(
                pk=i["pk"],
                instrument_id=i["instrument_id"],
                symbol=i["symbol"],
                currency=i["quote_currency"],
                tradable=i["tradable"],
            ),
        }
        for i in instruments
    ]
    out.accounts = [
        {
            "pk": a["pk"],
            "venue": a["venue_id"],
            "props": _props(pk=a["pk"], name=a["name"], base_currency=a["base_currency"], status=a["status"]),
            "holds": _holds_rows(account_holds.get(a["pk"], {}), currency),
        }
        for a in accounts
    ]
    out.strategies = [
        {
            "pk": s.pk,
            "props": _props(pk=s.pk, name=s.name, status=s.status),
            "trades": sorted(trades[s.pk]),
            "holds": _holds_rows(strategy_holds.get(s.pk, {}), currency),
        }
        for s in strategies
    ]
    out.positions = [
        {
            "pk": p["pk"],
            "account": p["account_id"],
            "strategy": p["strategy_id"],
            "instrument": p["instrument_id"],
            "props": _props(
                pk=p["pk"],
                quantity=money(p["quantity"]),
                value=money(_signed_value(p)),
                side="LONG" if p["quantity"] > 0 else "SHORT",
            ),
        }
        for p in positions
    ]
    out.routes = [
        {
            "route": r["pk"],
            "src_label": "Strategy" if r["strategy_id"] else "Instrument",
            "src": r["strategy_id"] or r["instrument_id"],
            "account": r["account_id"],
            "props": _props(
                route=r["pk"], name=r["name"], priority=r["priority"], group=r["group"], enabled=r["enabled"]
            ),
        }
        for r in routes
        if r["strategy_id"] or r["instrument_id"]
    ]
    found = {
        "sector": {s["pk"] for s in sectors},
        "venue": {v["pk"] for v in venues},
        "instrument": {i["pk"] for i in instruments},
        "account": {a["pk"] for a in accounts},
        "strategy": set(live_strategy_pks),
        "position": {p["pk"] for p in positions},
        "route": {r["route"] for r in out.routes},
    }
    out.deleted = {kind: sorted(set(keys.get(kind, ())) - found[kind]) for kind in KINDS if keys.get(kind)}
    return out


def _signed_value(p: dict) -> Decimal:
    price = p["mark_price"] if p["mark_price"] is not None else p["avg_price"]
    return p["quantity"] * price * p["instrument__multiplier"]


def _holds_rows(cells: dict[int, list[Decimal]], currency: dict[int, str]) -> list[dict]:
    # value nets the holder's positions (an account long for one strategy and short for
    # another can be flat); gross keeps what the positions carry, so both figures survive.
    return [
        {
            "instrument": i_pk,
            "props": _props(quantity=money(q), value=money(v), gross=money(g), currency=currency.get(i_pk)),
        }
        for i_pk, (q, v, g) in sorted(cells.items())
        if g != 0 or q != 0
    ]


def rows_all() -> GraphRows:
    """Rows for the whole book."""
    from portfolio.models import Position
    from strategies.models import Strategy
    from trading.models import Account, Instrument, Sector, Venue
    from trading.signal_router.models import SignalRoute

    return rows_for(
        {
            "sector": set(Sector.objects.values_list("pk", flat=True)),
            "venue": set(Venue.objects.values_list("pk", flat=True)),
            "instrument": set(Instrument.objects.values_list("pk", flat=True)),
            "account": set(Account.objects.values_list("pk", flat=True)),
            "strategy": set(Strategy.objects.exclude(status=Strategy.Status.DELETED).values_list("pk", flat=True)),
            "position": set(Position.objects.exclude(quantity=0).values_list("pk", flat=True)),
            "route": set(SignalRoute.objects.values_list("pk", flat=True)),
        }
    )


# ---------------------------------------------------------------------------
# Writes: rows into the graph
# ---------------------------------------------------------------------------

LABELS = {
    "sector": "Sector",
    "venue": "Venue",
    "instrument": "Instrument",
    "account": "Account",
    "strategy": "Strategy",
    "position": "Position",
}


def _upsert_nodes(label: str, rows: list[dict], key: str = "pk") -> int:
    """Create the missing nodes and SET those whose properties differ from ``row.props``; the rest are left alone."""
    present = {
        props.get(key): props
        for props in graph_query(
            f"MATCH (n:{label}) WHERE n.{key} IN $keys RETURN collect(properties(n))", {"keys": [r[key] for r in rows]}
        )[0][0]
    }
    missing = [r["props"] for r in rows if r[key] not in present]
    changed = [r["props"] for r in rows if r[key] in present and present[r[key]] != r["props"]]
    changes = 0
    # CREATE for the missing ones: the caller holds graph_write_lock, and the key's uniqueness
    # constraint would refuse a second node anyway; MERGE would look each key up once more.
    for items, statement in (
        (missing, f"UNWIND $rows AS p CREATE (n:{label}) SET n = p"),
        (changed, f"UNWIND $rows AS p MATCH (n:{label} {{{key}: p.{key}}}) SET n = p"),
    ):
        for batch in _batches(items, NODE_BATCH):
            changes += graph_write(statement, {"rows": list(batch)})
    return changes


def _sync_rels(
    src: str,
    rel: str,
    dst: str,
    wanted: dict[Any, dict[Any, dict]],
    *,
    dst_key: str = "pk",
    incoming: bool = False,
) -> int:
    """Make the ``rel`` relationships between each source in ``wanted`` and ``dst`` nodes exactly its targets.

    ``wanted`` maps a source pk to {target key: relationship properties}. The
    relationships the graph holds are read once (three lists in one record:
    Bolt decodes values far faster than records), diffed here, and only the
    difference is written: stale ones deleted, missing ones CREATEd (the caller
    holds ``graph_write_lock``, so nothing else adds them meanwhile), changed ones
    SET. On an unchanged graph this writes nothing at all.
    ``incoming`` points the relationship from the target to the source
    (Account-[:HAS_POSITION]->Position, kept per position).
    """
    if not wanted:
        return 0
    edge = f"(n)<-[e:{rel}]-(t)" if incoming else f"(n)-[e:{rel}]->(t)"
    pattern = f"(n:{src})<-[e:{rel}]-(t:{dst})" if incoming else f"(n:{src})-[e:{rel}]->(t:{dst})"
    sources, targets, props = graph_query(
        f"MATCH {pattern} WHERE n.pk IN $keys RETURN collect(n.pk), collect(t.{dst_key}), collect(properties(e))",
        {"keys": list(wanted)},
    )[0]
    present = {(s, t): p for s, t, p in zip(sources, targets, props, strict=True)}
    delete = f"UNWIND $rows AS r MATCH {pattern} WHERE n.pk = r[0] AND t.{dst_key} = r[1] DELETE e"
    changes = _delete_doubles(sources, targets, present, delete)
    stale = [[s, t] for (s, t) in present if t not in wanted.get(s, {})]
    fresh, bare, moved = [], [], []
    for s, to in wanted.items():
        for t, p in to.items():
            if (s, t) not in present:
                if p:
                    fresh.append([s, t, p])
                else:
                    bare.append([s, t])  # most relationships carry no properties: nothing to SET
            elif present[(s, t)] != p:
                moved.append([s, t, p])
    ends = f"MATCH (n:{src} {{pk: r[0]}}) MATCH (t:{dst} {{{dst_key}: r[1]}})"
    for rows, statement in (
        (stale, delete),
        (bare, f"UNWIND $rows AS r {ends} CREATE {edge}"),
        (fresh, f"UNWIND $rows AS r {ends} CREATE {edge} SET e = r[2]"),
        (moved, f"UNWIND $rows AS r {ends} MATCH {edge} SET e = r[2]"),
    ):
        for batch in _batches(rows, EDGE_BATCH):
            changes += graph_write(statement, {"rows": list(batch)})
    return changes


def _delete_doubles(sources: list, targets: list, present: dict, delete: str) -> int:
    """Delete every relationship of a pair the graph holds more than once and forget the pair in ``present``.

    A doubled relationship would double an exposure or a correlation weight, and the
    diff (keyed by pair) cannot see it: its pairs are rewritten from scratch instead.
    ``delete`` is an ``UNWIND $rows AS r`` statement deleting the relationships of pair ``r``.
    """
    if len(present) == len(sources):
        return 0
    seen: set = set()
    doubled = set()
    for pair in zip(sources, targets, strict=True):
        (doubled if pair in seen else seen).add(pair)
    for pair in doubled:
        del present[pair]
    logger.warning("graph: %d relationship(s) held more than once; rewriting them", len(doubled))
    return sum(graph_write(delete, {"rows": list(batch)}) for batch in _batches([list(p) for p in doubled], EDGE_BATCH))


def _delete_nodes(label: str, keys: Sequence[Any], key: str = "pk") -> int:
    changes = 0
    for batch in _batches(list(keys), NODE_BATCH):
        changes += graph_write(
            f"UNWIND $keys AS k MATCH (n:{label} {{{key}: k}}) DETACH DELETE n", {"keys": list(batch)}
        )
    return changes


def _single(rows: list[dict], field: str) -> dict[Any, dict[Any, dict]]:
    """Each row's one target (none when the field is empty), for ``_sync_rels``."""
    return {r["pk"]: ({r[field]: {}} if r[field] is not None else {}) for r in rows}


def write_rows(rows: GraphRows) -> int:
    """Write one batch of rows (both ends of every edge are in it or already in the graph); return changes."""
    graph_install_schema()
    with graph_write_lock():
        return _write_rows(rows)


def _write_rows(rows: GraphRows) -> int:
    c = 0
    c += _upsert_nodes("Sector", rows.sectors)
    c += _upsert_nodes("AssetClass", rows.asset_classes, key="code")
    c += _upsert_nodes("Venue", rows.venues)
    c += _upsert_nodes("Instrument", rows.instruments)
    c += _sync_rels("Instrument", "IN_SECTOR", "Sector", _single(rows.instruments, "sector"))
    c += _sync_rels(
        "Instrument", "IN_ASSET_CLASS", "AssetClass", _single(rows.instruments, "asset_class"), dst_key="code"
    )
    c += _sync_rels("Instrument", "LISTED_ON", "Venue", _single(rows.instruments, "venue"))
    c += _upsert_nodes("Account", rows.accounts)
    c += _sync_rels("Account", "ON_VENUE", "Venue", _single(rows.accounts, "venue"))
    c += _upsert_nodes("Strategy", rows.strategies)
    c += _sync_rels(
        "Strategy", "TRADES", "Instrument", {s["pk"]: {i: {} for i in s["trades"]} for s in rows.strategies}
    )
    for label, holders in (("Account", rows.accounts), ("Strategy", rows.strategies)):
        c += _sync_rels(
            label,
            "HOLDS",
            "Instrument",
            {h["pk"]: {x["instrument"]: x["props"] for x in h["holds"]} for h in holders},
        )
    c += _upsert_nodes("Position", rows.positions)
    c += _sync_rels("Position", "IN_INSTRUMENT", "Instrument", _single(rows.positions, "instrument"))
    # HAS_POSITION from the account and (when there is one) the strategy; nothing else owns a position.
    c += _sync_rels("Position", "HAS_POSITION", "Account", _single(rows.positions, "account"), incoming=True)
    c += _sync_rels("Position", "HAS_POSITION", "Strategy", _single(rows.positions, "strategy"), incoming=True)
    c += _write_routes(rows.routes)
    for kind, keys in rows.deleted.items():
        if kind == "route":
            c += graph_write("MATCH ()-[e:ROUTES_TO]->() WHERE e.route IN $keys DELETE e", {"keys": keys})
        elif keys:
            c += _delete_nodes(LABELS[kind], keys)
    return c


def _write_routes(routes: list[dict]) -> int:
    changes = 0
    for batch in _batches(routes, NODE_BATCH):
        batch = list(batch)
        changes += graph_write(
            "UNWIND $rows AS r MATCH (s)-[e:ROUTES_TO {route: r.route}]->(a) "
            "WHERE NOT (a.pk = r.account AND s.pk = r.src AND r.src_label IN labels(s)) DELETE e",
            {"rows": batch},
        )
        for label in ("Strategy", "Instrument"):
            changes += graph_write(
                f"UNWIND [r IN $rows WHERE r.src_label = '{label}'] AS r "
                f"MATCH (s:{label} {{pk: r.src}}) MATCH (a:Account {{pk: r.account}}) "
                "MERGE (s)-[e:ROUTES_TO {route: r.route}]->(a) "
                "WITH e, r WHERE properties(e) <> r.props SET e = r.props",
                {"rows": batch},
            )
    return changes


def write_correlations(result: CorrelationResult, instrument_pks: Iterable[int], *, now: datetime | None = None) -> int:
    """Make the CORRELATED_WITH edges among ``instrument_pks`` exactly ``result.edges``.

    ``computed_at`` moves only when rho, window or basis change, so recomputing
    the same correlations changes nothing.
    """
    graph_install_schema()
    with graph_write_lock():
        return _write_correlations(result, instrument_pks, now or datetime.now(UTC))


def _write_correlations(result: CorrelationResult, instrument_pks: Iterable[int], now: datetime) -> int:
    by_source: dict[int, list[Edge]] = {pk: [] for pk in instrument_pks}
    for e in result.edges:
        by_source.setdefault(e.a, []).append(e)
    # Diff against what the graph holds (one read), then only create, update or delete the
    # difference: MERGE per edge costs a scan of both ends' relationships, which adds up
    # to minutes on 100k edges between dense nodes.
    scope = list(by_source)
    # Parallel lists in one record: decoding 100k records costs seconds of Python, values a fraction.
    sources, targets, rhos, windows, bases = graph_query(
        "MATCH (a:Instrument)-[e:CORRELATED_WITH]->(b:Instrument) WHERE a.pk IN $pks "
        "RETURN collect(a.pk), collect(b.pk), collect(e.rho), collect(e.window), collect(e.basis)",
        {"pks": scope},
    )[0]
    current = {
        (a, b): (rho, window, basis)
        for a, b, rho, window, basis in zip(sources, targets, rhos, windows, bases, strict=True)
    }
    delete = "UNWIND $rows AS r MATCH (a:Instrument {pk: r[0]})-[e:CORRELATED_WITH]->(b:Instrument {pk: r[1]}) DELETE e"
    changes = _delete_doubles(sources, targets, current, delete)
    wanted = {(e.a, e.b): e.rho for e in result.edges}
    stale = [[a, b] for (a, b) in current if (a, b) not in wanted]
    # New edges go grouped by source ([a, [b...], [rho...]]): one index seek for a per source
    # instead of per edge, and far less for the driver to pack.
    fresh: dict[int, list[list]] = {}
    for (a, b), rho in wanted.items():
        if (a, b) not in current:
            targets_rhos = fresh.setdefault(a, [[], []])
            targets_rhos[0].append(b)
            targets_rhos[1].append(rho)
    moved = [
        [a, b, rho]
        for (a, b), rho in wanted.items()
        if (a, b) in current and current[(a, b)] != (rho, result.window, result.basis)
    ]
    for batch in _batches(stale, EDGE_BATCH):
        changes += graph_write(delete, {"rows": list(batch)})
    params = {"window": result.window, "basis": result.basis, "now": now}
    for batch in _grouped_batches([[a, bs, rhos] for a, (bs, rhos) in fresh.items()], EDGE_BATCH):
        changes += graph_write(
            "UNWIND $rows AS r MATCH (a:Instrument {pk: r[0]}) "
            "UNWIND range(0, size(r[1]) - 1) AS k MATCH (b:Instrument {pk: r[1][k]}) "
            # CREATE: the diff above was read under graph_write_lock, so the edge is still missing.
            "CREATE (a)-[:CORRELATED_WITH {rho: r[2][k], window: $window, basis: $basis, computed_at: $now}]->(b)",
            {"rows": batch, **params},
        )
    for batch in _batches(moved, EDGE_BATCH):
        changes += graph_write(
            "UNWIND $rows AS r MATCH (a:Instrument {pk: r[0]})-[e:CORRELATED_WITH]->(b:Instrument {pk: r[1]}) "
            "SET e.rho = r[2], e.window = $window, e.basis = $basis, e.computed_at = $now",
            {"rows": list(batch), **params},
        )
    return changes


def _prune_all(rows: GraphRows) -> int:
    """Full resync only: delete every node whose key the book does not have."""
    wanted = {
        "Sector": {r["pk"] for r in rows.sectors},
        "Venue": {r["pk"] for r in rows.venues},
        "Instrument": {r["pk"] for r in rows.instruments},
        "Account": {r["pk"] for r in rows.accounts},
        "Strategy": {r["pk"] for r in rows.strategies},
        "Position": {r["pk"] for r in rows.positions},
    }
    changes = 0
    for label, keys in wanted.items():
        present = set(graph_query(f"MATCH (n:{label}) RETURN collect(n.pk)")[0][0])
        changes += _delete_nodes(label, sorted(present - keys, key=lambda k: (k is None, k or 0)))
    classes = {r["code"] for r in rows.asset_classes}
    present_classes = set(graph_query("MATCH (n:AssetClass) RETURN collect(n.code)")[0][0])
    changes += _delete_nodes("AssetClass", sorted(present_classes - classes), key="code")
    routes = [r["route"] for r in rows.routes]
    changes += graph_write("MATCH ()-[e:ROUTES_TO]->() WHERE NOT e.route IN $keys DELETE e", {"keys": routes})
    return changes


# ---------------------------------------------------------------------------
# The two services
# ---------------------------------------------------------------------------


def graph_project_changes(*, changes: dict[str, Iterable[int]]) -> int:
    """Project the book rows named in ``changes`` (kind -> primary keys); return how many graph changes it made.

    Idempotent: projecting the same keys again changes nothing. Raises
    ``GraphUnavailable`` when Neo4j cannot be written (the caller keeps the keys).
    """
    keys = {kind: {int(pk) for pk in pks} for kind, pks in changes.items() if kind in KINDS and pks}
    if not keys:
        return 0
    # The book is read under the lock too: a resync that read it earlier cannot write its
    # older picture over this one.
    with graph_write_lock():
        return write_rows(rows_for(keys))


def graph_resync_full(*, correlations: bool = True) -> dict[str, int]:
    """Rebuild the graph from the whole book and repair any drift; a second run reports zero changes.

    Also recomputes the correlation edges (history, else the feed model) unless
    ``correlations`` is False.
    """
    with graph_write_lock():
        counts = graph_write_full(rows_all(), correlations_compute() if correlations else None)
    logger.info("graph resync: %s", counts)
    return counts


def graph_write_full(rows: GraphRows, correlations: CorrelationResult | None) -> dict[str, int]:
    """The graph side of the full resync: make the graph exactly ``rows`` (pruning the rest) and ``correlations``.

    Split from the book reads so the benchmark times this very path on synthetic rows.
    """
    with graph_write_lock():
        counts = {"projection": write_rows(rows), "pruned": _prune_all(rows)}
        if correlations is not None:
            counts["correlations"] = write_correlations(correlations, [r["pk"] for r in rows.instruments])
            counts["correlation_edges"] = len(correlations.edges)
    counts["changes"] = counts["projection"] + counts["pruned"] + counts.get("correlations", 0)
    return counts


def graph_clear() -> None:
    """Delete every node and relationship (tests, and `manage.py` repair before a rebuild)."""
    # Relationships first: DETACH DELETE of 10k nodes holding 100k+ relationships outgrows the
    # transaction memory pool of a small server (MemoryPoolOutOfMemoryError).
    graph_write("MATCH ()-[e]->() CALL (e) { DELETE e } IN TRANSACTIONS OF 10000 ROWS")
    graph_write("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS")
