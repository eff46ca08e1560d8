"""The projection against the real Neo4j: equal to the book, idempotent, self-repairing."""

from __future__ import annotations

import threading
from decimal import Decimal

from portfolio.graph.changes import graph_take_dirty, parse_entries
from portfolio.graph.connection import graph_query, graph_write
from portfolio.graph.projection import graph_project_changes, graph_resync_full


def _project_pending() -> int:
    """What the projection task does: take the pending changes and project them."""
    return graph_project_changes(changes=parse_entries(graph_take_dirty()))


def _holds(label: str, pk: int) -> dict[str, tuple[str, str, str]]:
    return {
        iid: (q, v, g)
        for iid, q, v, g in graph_query(
            f"MATCH (:{label} {{pk: $pk}})-[h:HOLDS]->(i:Instrument) "
            "RETURN i.instrument_id, h.quantity, h.value, h.gross",
            {"pk": pk},
        )
    }


def test_projection_equals_the_book_after_a_scripted_set_of_changes(graph, book, django_capture_on_commit_callbacks):
    from portfolio.models import Position
    from strategies.models import Strategy
    from trading.signal_router.models import SignalRoute

    graph_resync_full(correlations=False)

    # Each change goes through the real path: model signal -> after commit -> Redis set -> projection.
    with django_capture_on_commit_callbacks(execute=True):
        book.p1.quantity = Decimal("12")  # A: 12 x 100 for S1
        book.p1.save()
        book.p3.quantity = Decimal("0")  # B goes flat: its position leaves the graph
        book.p3.save()
        Position.objects.create(
            account=book.account,
            strategy=book.s2,
            instrument=book.d,
            quantity=Decimal("-2"),
            avg_price=Decimal("25"),
            mark_price=Decimal("30"),
        )
        book.c.sector = book.tech  # C moves sector
        book.c.save()
        book.s1.status = Strategy.Status.DELETED
        book.s1.save()
        SignalRoute.objects.create(name="G route", strategy=book.s2, account=book.account)
    assert _project_pending() > 0

    # The graph now says what the book says...
    assert _holds("Account", book.account.pk) == {
        "GA.GSIM": ("17", "1700", "1700"),
        "GC.GSIM": ("4", "1000", "1000"),
        "GD.GSIM": ("6", "140", "260"),
    }
    assert _holds("Strategy", book.s2.pk) == {"GA.GSIM": ("5", "500", "500"), "GD.GSIM": ("-2", "-60", "60")}
    assert graph_query("MATCH (s:Strategy {pk: $pk}) RETURN s", {"pk": book.s1.pk}) == []
    assert graph_query("MATCH (p:Position {pk: $pk}) RETURN p", {"pk": book.p3.pk}) == []
    assert graph_query("MATCH (:Instrument {pk: $pk})-[:IN_SECTOR]->(s) RETURN s.code", {"pk": book.c.pk}) == [
        ["g-tech"]
    ]
    assert graph_query("MATCH (:Strategy {pk: $pk})-[r:ROUTES_TO]->(a) RETURN a.pk", {"pk": book.s2.pk}) == [
        [book.account.pk]
    ]
    # ...and exactly what a projection of the whole book would be: a full resync finds nothing to change.
    assert graph_resync_full(correlations=False)["changes"] == 0


def test_projecting_the_same_changes_twice_changes_nothing(graph, book):
    keys = {"position": {book.p1.pk, book.p4.pk}, "strategy": {book.s1.pk}}
    assert graph_project_changes(changes=keys) > 0
    assert graph_project_changes(changes=keys) == 0


def test_full_resync_changes_nothing_the_second_time(graph, book):
    first = graph_resync_full()
    assert first["changes"] > 0
    assert first["correlation_edges"] > 0  # no price history: the feed model's sector structure
    second = graph_resync_full()
    assert second["changes"] == 0
    labels = dict(graph_query("MATCH (n) RETURN labels(n)[0], count(*)"))
    assert labels["Position"] == 5 and labels["Strategy"] == 2 and labels["AssetClass"] >= 2


def test_full_resync_repairs_drift(graph, book):
    graph_resync_full(correlations=False)
    graph_write("MATCH (p:Position {pk: $pk}) DETACH DELETE p", {"pk": book.p2.pk})
    graph_write("MATCH (:Account)-[h:HOLDS]->(i:Instrument {pk: $pk}) SET h.value = '1'", {"pk": book.a.pk})
    graph_write("CREATE (:Strategy {pk: 999999, name: 'ghost'})")
    graph_write(
        "MATCH (i:Instrument {pk: $a}), (s:Sector {pk: $s}) CREATE (i)-[:IN_SECTOR]->(s)",
        {"a": book.a.pk, "s": book.energy.pk},
    )

    assert graph_resync_full(correlations=False)["changes"] > 0

    assert graph_query("MATCH (s:Strategy {pk: 999999}) RETURN s") == []
    assert graph_query("MATCH (:Instrument {pk: $pk})-[:IN_SECTOR]->(s) RETURN s.code", {"pk": book.a.pk}) == [
        ["g-tech"]
    ]
    assert _holds("Account", book.account.pk)["GA.GSIM"] == ("15", "1500", "1500")
    assert graph_query(
        "MATCH (:Account)-[:HAS_POSITION]->(p:Position {pk: $pk}) RETURN p.value", {"pk": book.p2.pk}
    ) == [["500"]]
    assert graph_resync_full(correlations=False)["changes"] == 0


def test_full_resync_repairs_doubled_relationships(graph, book):
    """A doubled HOLDS or correlation edge (a write raced, or a hand edit) doubles a weight; the resync undoes it."""
    graph_resync_full()
    graph_write(
        "MATCH (a:Account {pk: $acc})-[h:HOLDS]->(i:Instrument {pk: $pk}) CREATE (a)-[d:HOLDS]->(i) SET d = h",
        {"acc": book.account.pk, "pk": book.a.pk},
    )
    graph_write(
        "MATCH (a:Instrument)-[e:CORRELATED_WITH]->(b:Instrument) WITH a, b, e LIMIT 1 "
        "CREATE (a)-[d:CORRELATED_WITH]->(b) SET d = e"
    )
    doubled = (
        "MATCH (a)-[e:HOLDS|CORRELATED_WITH]->(b) WITH a, b, type(e) AS t, count(*) AS n WHERE n > 1 RETURN count(*)"
    )
    assert graph_query(doubled) == [[2]]

    assert graph_resync_full()["changes"] > 0

    assert graph_query(doubled) == [[0]]
    assert _holds("Account", book.account.pk)["GA.GSIM"] == ("15", "1500", "1500")
    assert graph_resync_full()["changes"] == 0


def test_two_resyncs_at_once_write_every_relationship_once(graph, book):
    """The periodic and a manual resync racing into an empty graph: one writes, the other finds it done.

    Both read the graph before writing; without turns both would find every
    relationship missing and create it, doubling every exposure and weight.
    """
    from django.db import connection

    from portfolio.graph.correlation import correlations_compute
    from portfolio.graph.projection import graph_write_full, rows_all

    rows, correlations = rows_all(), correlations_compute()
    assert correlations.edges
    start = threading.Barrier(2)
    counts: list[dict] = []

    def resync() -> None:
        try:
            start.wait(timeout=10)
            counts.append(graph_write_full(rows, correlations))
        finally:
            connection.close()  # this thread's own database connection

    threads = [threading.Thread(target=resync) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert sorted(c["changes"] > 0 for c in counts) == [False, True]
    doubled = "MATCH (a)-[e]->(b) WITH a, b, type(e) AS t, count(*) AS n WHERE n > 1 RETURN count(*)"
    assert graph_query(doubled) == [[0]]
    assert graph_query("MATCH ()-[e:CORRELATED_WITH]->() RETURN count(e)") == [[len(correlations.edges)]]
    assert _holds("Account", book.account.pk)["GA.GSIM"] == ("15", "1500", "1500")
