"""The graph's schema as neomodel classes: labels, keys, relationship types.

Every node carries ``pk``, the primary key of the row it projects (asset
classes, which have no table, are keyed by ``code``), under a uniqueness
constraint, so projection MERGEs on it. Money and quantities are stored as
decimal strings and summed in Python with ``Decimal``: Neo4j has no exact
decimal type and the graph must never disagree with the book by a rounding.
``rho`` is a statistic and stays a float.

Bulk projection writes with UNWIND through ``db.cypher_query`` (see
projection.py); these classes own the schema (``graph_install_schema``) and
give typed reads where one node is wanted.

    (Instrument)-[:IN_SECTOR]->(Sector)
    (Instrument)-[:IN_ASSET_CLASS]->(AssetClass)
    (Instrument)-[:LISTED_ON]->(Venue)
    (Account)-[:ON_VENUE]->(Venue)
    (Strategy)-[:TRADES]->(Instrument)
    (Account|Strategy)-[:HOLDS {quantity, value, gross}]->(Instrument)   the holder's positions summed
    (Account|Strategy)-[:HAS_POSITION]->(Position)-[:IN_INSTRUMENT]->(Instrument)
    (Instrument)-[:CORRELATED_WITH {rho, window, computed_at, basis}]->(Instrument)   once per pair, low pk -> high pk
    (Strategy|Instrument)-[:ROUTES_TO {route, name, priority, group, enabled}]->(Account)   signal routes
"""

from __future__ import annotations

from neomodel import (
    BooleanProperty,
    DateTimeProperty,
    FloatProperty,
    IntegerProperty,
    RelationshipTo,
    StringProperty,
    StructuredNode,
    StructuredRel,
)


class HoldsRel(StructuredRel):
    quantity = StringProperty(required=True)  # net of the holder's positions in the instrument
    value = StringProperty(required=True)  # net signed market value
    gross = StringProperty(required=True)  # sum of the positions' absolute market values
    currency = StringProperty()


class CorrelatedRel(StructuredRel):
    rho = FloatProperty(required=True, index=True)
    window = IntegerProperty(required=True)
    computed_at = DateTimeProperty(required=True)
    basis = StringProperty()


class RouteRel(StructuredRel):
    route = IntegerProperty(required=True)
    name = StringProperty()
    priority = IntegerProperty()
    group = StringProperty()
    enabled = BooleanProperty()


class Sector(StructuredNode):
    pk = IntegerProperty(unique_index=True, required=True)
    code = StringProperty(required=True)
    name = StringProperty()


class AssetClass(StructuredNode):
    code = StringProperty(unique_index=True, required=True)
    name = StringProperty()


class Venue(StructuredNode):
    pk = IntegerProperty(unique_index=True, required=True)
    code = StringProperty(required=True)
    name = StringProperty()
    adapter = StringProperty()


class Instrument(StructuredNode):
    pk = IntegerProperty(unique_index=True, required=True)
    instrument_id = StringProperty(required=True, index=True)
    symbol = StringProperty()
    currency = StringProperty()
    tradable = BooleanProperty()
    sector = RelationshipTo(Sector, "IN_SECTOR")
    asset_class = RelationshipTo(AssetClass, "IN_ASSET_CLASS")
    venue = RelationshipTo(Venue, "LISTED_ON")
    correlated = RelationshipTo("Instrument", "CORRELATED_WITH", model=CorrelatedRel)
    routes = RelationshipTo("Account", "ROUTES_TO", model=RouteRel)


class Position(StructuredNode):
    pk = IntegerProperty(unique_index=True, required=True)
    quantity = StringProperty(required=True)
    value = StringProperty(required=True)
    side = StringProperty()
    instrument = RelationshipTo(Instrument, "IN_INSTRUMENT")


class Account(StructuredNode):
    pk = IntegerProperty(unique_index=True, required=True)
    name = StringProperty(required=True)
    base_currency = StringProperty()
    status = StringProperty()
    venue = RelationshipTo(Venue, "ON_VENUE")
    holds = RelationshipTo(Instrument, "HOLDS", model=HoldsRel)
    positions = RelationshipTo(Position, "HAS_POSITION")


class Strategy(StructuredNode):
    pk = IntegerProperty(unique_index=True, required=True)
    name = StringProperty(required=True)
    status = StringProperty()
    trades = RelationshipTo(Instrument, "TRADES")
    holds = RelationshipTo(Instrument, "HOLDS", model=HoldsRel)
    positions = RelationshipTo(Position, "HAS_POSITION")
    routes = RelationshipTo(Account, "ROUTES_TO", model=RouteRel)


NODE_CLASSES = (Sector, AssetClass, Venue, Instrument, Position, Account, Strategy)
