"""Build a Nautilus ``TradingNode`` from the database and the JSON config (node process only).

``node_plan`` reads the database (accounts → adapter plans, instruments of the
venues that will run); ``trading_node_config`` maps the validated JSON and the
plan onto Nautilus's ``TradingNodeConfig``; ``build_node`` creates the node,
registers the client factories and puts the instruments in its cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from nautilus_trader.cache.config import CacheConfig
from nautilus_trader.common.config import DatabaseConfig, LoggingConfig, MessageBusConfig
from nautilus_trader.config import ImportableControllerConfig, ImportableStrategyConfig
from nautilus_trader.live.config import (
    LiveDataEngineConfig,
    LiveExecEngineConfig,
    LiveRiskEngineConfig,
    TradingNodeConfig,
)
from nautilus_trader.live.node import TradingNode
from nautilus_trader.model.data import QuoteTick, TradeTick
from nautilus_trader.model.identifiers import TraderId

from trading.models import Account, Instrument
from trading.node.adapters import ClientPlan, Unavailable, plan_account
from trading.node.config import NodeSettings
from trading.node.instruments import UnsupportedInstrument, build_instrument
from trading.node.sim_venue import SimDataClientConfig, SimDataClientFactory, sim_exec_client_factory


@dataclass
class NodePlan:
    clients: list[ClientPlan] = field(default_factory=list)
    unavailable: list[Unavailable] = field(default_factory=list)
    instruments: list[Instrument] = field(default_factory=list)
    skipped_instruments: dict[str, str] = field(default_factory=dict)
    # Desk strategies deployed to simulation/live (strategies.deployment), loaded at start.
    strategies: list[ImportableStrategyConfig] = field(default_factory=list)


def node_plan() -> NodePlan:
    plan = NodePlan()
    accounts = Account.objects.select_related("venue").exclude(status=Account.Status.DISABLED)
    for account in accounts:
        result = plan_account(account)
        (plan.clients if isinstance(result, ClientPlan) else plan.unavailable).append(result)
    sim_venues = {c.account.venue.code for c in plan.clients if c.account.venue.adapter == "simulated"}
    for row in Instrument.objects.select_related("sector", "venue").filter(venue__code__in=sim_venues):
        try:
            build_instrument(row)
        except UnsupportedInstrument as exc:
            plan.skipped_instruments[row.instrument_id] = str(exc)
            continue
        plan.instruments.append(row)
    from strategies.deployment import deployed_strategy_configs

    plan.strategies = deployed_strategy_configs()
    return plan


def _database(s: NodeSettings) -> DatabaseConfig:
    db = s.cache_database
    return DatabaseConfig(
        type="redis",
        host=db.host,
        port=db.port,
        username=db.username,
        password=db.password,
        ssl=db.ssl,
        connection_timeout=2,
        response_timeout=2,
    )


def _notional_caps(s: NodeSettings, instruments: list[Instrument]) -> dict[str, int]:
    caps: dict[str, int] = {}
    for key, amount in s.risk_engine.max_notional_per_order.items():
        targets = [key] if "." in key else [i.instrument_id for i in instruments if i.quote_currency == key]
        for instrument_id in targets:
            # Nautilus takes whole units; a fractional cap is rounded down (never loosened).
            caps[instrument_id] = int(amount)
    return caps


def _sim_data_config(venue: str, s: NodeSettings, instruments: list[Instrument]) -> SimDataClientConfig:
    return SimDataClientConfig(
        venue=venue,
        instruments=[
            {
                "instrument_id": i.instrument_id,
                "asset_class": i.asset_class,
                "sector": i.sector.code,
                "tick_size": str(i.tick_size.normalize()),
                "lot_size": str(i.lot_size.normalize()),
                "start_price": str((i.reference_price or Decimal(100)).normalize()),
            }
            for i in instruments
            if i.venue.code == venue
        ],
        seed=s.simulation.seed,
        tick_rate=s.simulation.tick_rate,
        volatility_scale=s.simulation.volatility_scale,
        replay=s.simulation.replay,
        replay_speed=s.simulation.replay_speed,
        catalog_path=str(settings.NAUTILUS_DATA_PATH),
    )


def desk_orders_strategy(trader_id: str) -> ImportableStrategyConfig:
    """The desk's command stream enters the node here: ``trading.node.desk_orders`` reads
    ``ni:node:<trader_id>:commands`` and streams order events back. The consumer name is
    stable across restarts so commands delivered to a node that died are re-delivered."""
    return ImportableStrategyConfig(
        strategy_path="trading.node.desk_orders:DeskOrders",
        config_path="trading.node.desk_orders:DeskOrdersConfig",
        config={
            "redis_url": settings.REDIS_URL,
            "desk_trader_id": trader_id,
            "consumer": f"node-{trader_id}",
            "order_id_tag": "DESK",
        },
    )


def strategy_host_controller(trader_id: str) -> ImportableControllerConfig:
    """``trading.node.strategy_host``: deploy/pause/resume/stop of desk strategies on the running node."""
    return ImportableControllerConfig(
        controller_path="trading.node.strategy_host:StrategyHost",
        config_path="trading.node.strategy_host:StrategyHostConfig",
        config={"redis_url": settings.REDIS_URL, "desk_trader_id": trader_id},
    )


def extra_strategies() -> list[ImportableStrategyConfig]:
    """Strategies to run beside ``DeskOrders``, from the JSON file named by the environment variable
    ``NAUTILUS_EXTRA_STRATEGIES`` (a list of ``{"strategy_path", "config_path", "config"}``). Their
    orders pass the desk gate through ``trading.node.risk_hook`` like any strategy's."""
    import json
    import os

    path = os.environ.get("NAUTILUS_EXTRA_STRATEGIES")
    if not path:
        return []
    with open(path) as f:
        return [ImportableStrategyConfig(**item) for item in json.load(f)]


def trading_node_config(s: NodeSettings, plan: NodePlan) -> TradingNodeConfig:
    data_clients, exec_clients = {}, {}
    for client in plan.clients:
        if client.account.venue.adapter == "simulated":
            data_clients[client.name] = _sim_data_config(client.account.venue.code, s, plan.instruments)
        elif client.data_config is not None:
            data_clients[client.name] = client.data_config
        if client.exec_config is not None:
            exec_clients[client.name] = client.exec_config
    database = _database(s)
    return TradingNodeConfig(
        trader_id=TraderId(s.trader_id),
        logging=LoggingConfig(log_level=s.log_level, log_colors=False),
        cache=CacheConfig(database=database, encoding="msgpack", buffer_interval_ms=100),
        message_bus=MessageBusConfig(
            database=database,
            encoding="json",
            buffer_interval_ms=100,
            autotrim_mins=60,
            # Market data stays inside the node: the bridge publishes conflated quotes itself.
            types_filter=[QuoteTick, TradeTick],
        ),
        data_engine=LiveDataEngineConfig(
            qsize=s.data_engine.qsize,
            time_bars_build_with_no_updates=s.data_engine.time_bars_build_with_no_updates,
            time_bars_timestamp_on_close=s.data_engine.time_bars_timestamp_on_close,
            validate_data_sequence=s.data_engine.validate_data_sequence,
        ),
        risk_engine=LiveRiskEngineConfig(
            bypass=s.risk_engine.bypass,
            max_order_submit_rate=s.risk_engine.max_order_submit_rate,
            max_order_modify_rate=s.risk_engine.max_order_modify_rate,
            max_notional_per_order=_notional_caps(s, plan.instruments),
        ),
        exec_engine=LiveExecEngineConfig(
            qsize=s.exec_engine.qsize,
            debug=s.exec_engine.debug,
            reconciliation=s.exec_engine.reconciliation,
            reconciliation_startup_delay_secs=s.exec_engine.reconciliation_startup_delay_secs,
        ),
        data_clients=data_clients,
        exec_clients=exec_clients,
        strategies=[desk_orders_strategy(s.trader_id), *plan.strategies, *extra_strategies()],
        # A controller lets desk strategies be added to and removed from the running trader.
        controller=strategy_host_controller(s.trader_id),
        timeout_connection=15.0,
        timeout_reconciliation=15.0,
        timeout_portfolio=5.0,
        timeout_disconnection=5.0,
        timeout_post_stop=1.0,
    )


def build_node(s: NodeSettings, plan: NodePlan) -> TradingNode:
    node = TradingNode(config=trading_node_config(s, plan))
    factories_added = set()
    for client in plan.clients:
        prefix = client.name.partition("-")[0]
        if prefix in factories_added:
            continue
        factories_added.add(prefix)
        if client.account.venue.adapter == "simulated":
            node.add_data_client_factory(prefix, SimDataClientFactory)
            node.add_exec_client_factory(prefix, sim_exec_client_factory(node.kernel.portfolio))
            continue
        if client.data_factory:
            node.add_data_client_factory(prefix, client.data_factory)
        if client.exec_factory:
            node.add_exec_client_factory(prefix, client.exec_factory)
    # The sandbox loads its venue's instruments from the cache when it connects.
    for row in plan.instruments:
        node.kernel.cache.add_instrument(build_instrument(row))
    node.build()
    return node
