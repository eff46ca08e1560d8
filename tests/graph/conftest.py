from __future__ import annotations

from decimal import Decimal

import pytest


@pytest.fixture
def graph(neo4j_server, settings):
    """The test run's Neo4j, running and empty, with the schema installed."""
    from portfolio.graph.connection import graph_reset_connection
    from portfolio.graph.projection import graph_clear, graph_install_schema, graph_schema_forget

    if not neo4j_server.running:
        neo4j_server.start()
    settings.NEO4J_BOLT_URL = neo4j_server.url
    graph_reset_connection()
    graph_schema_forget()
    graph_clear()
    graph_install_schema()
    yield neo4j_server
    if not neo4j_server.running:
        neo4j_server.start()


class Book:
    """A small hand-checkable book: four instruments in two sectors, one account, two strategies.

    Account HOLDS: A +1500 (gross 1500), B -1000, C +1000, D +200.
    """

    def __init__(self) -> None:
        from portfolio.models import Position
        from strategies.models import Strategy
        from trading.models import Account, Instrument, Sector, Venue

        self.tech = Sector.objects.create(code="g-tech", name="G Tech")
        self.energy = Sector.objects.create(code="g-energy", name="G Energy")
        self.venue = Venue.objects.create(code="GSIM", name="Graph sim")
        self.account = Account.objects.create(name="G-ACC", venue=self.venue)
        self.s1 = Strategy.objects.create(name="G one", strategy_type="custom")
        self.s2 = Strategy.objects.create(name="G two", strategy_type="custom")

        def inst(symbol: str, sector, asset_class: str = "equity") -> Instrument:
            return Instrument.objects.create(
                symbol=symbol,
                venue=self.venue,
                instrument_id=f"{symbol}.GSIM",
                asset_class=asset_class,
                sector=sector,
                quote_currency="USD",
                tick_size=Decimal("0.01"),
                lot_size=Decimal("1"),
            )

        self.a = inst("GA", self.tech)
        self.b = inst("GB", self.tech)
        self.c = inst("GC", self.energy, "future")
        self.d = inst("GD", self.energy, "future")

        def pos(strategy, instrument, qty: str, mark: str) -> Position:
            return Position.objects.create(
                account=self.account,
                strategy=strategy,
                instrument=instrument,
                quantity=Decimal(qty),
                avg_price=Decimal(mark),
                mark_price=Decimal(mark),
            )

        self.p1 = pos(self.s1, self.a, "10", "100")
        self.p2 = pos(self.s2, self.a, "5", "100")
        self.p3 = pos(self.s2, self.b, "-20", "50")
        self.p4 = pos(self.s1, self.c, "4", "250")
        self.p5 = pos(None, self.d, "8", "25")

    def correlations(self, pairs: dict[tuple[str, str], float]):
        """Write CORRELATED_WITH edges for instrument pairs named by attribute ('a', 'b', ...)."""
        from portfolio.graph.correlation import CorrelationResult, Edge
        from portfolio.graph.projection import write_correlations

        edges = []
        for (x, y), rho in pairs.items():
            pa, pb = getattr(self, x).pk, getattr(self, y).pk
            edges.append(Edge(min(pa, pb), max(pa, pb), rho))
        return write_correlations(CorrelationResult(edges, 60, "history"), [self.a.pk, self.b.pk, self.c.pk, self.d.pk])


@pytest.fixture
def book(db):
    return Book()
