"""The node process: ``python -m trading.node.main [--config PATH]``.

Started (and restarted) by the supervisor in ``trading.node.supervisor``; it
owns its main thread, as a Nautilus ``TradingNode`` requires (the kernel
installs SIGTERM/SIGINT handlers that stop the node gracefully). Exit codes:
0 stopped cleanly, 2 bad configuration (the supervisor does not retry), 1 any
other failure.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trading.node.main")
    parser.add_argument("--config", help="node JSON config (default: settings.NAUTILUS_CONFIG_PATH)")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connections

    from trading.node.config import NodeConfigError, load_node_config
    from trading.node.state import node_state_set
    from trading.node.status import configured_trader_id

    log = logging.getLogger("trading.node")
    try:
        node_settings = load_node_config(args.config)
    except NodeConfigError as exc:
        log.error("invalid node config: %s", exc)
        node_state_set(configured_trader_id(), "failed", reason=f"invalid config: {exc}")
        return EXIT_CONFIG
    trader_id = node_settings.trader_id
    node_state_set(trader_id, "starting", reason="building the node", pid=os.getpid())

    try:
        from trading.node.builder import build_node, node_plan
        from trading.node.services import account_connection_set

        plan = node_plan()
        for missing in plan.unavailable:
            account_connection_set(account=missing.account, connected=False, reason=missing.reason)
            log.warning("account %s disconnected: %s", missing.account.name, missing.reason)
        node = build_node(node_settings, plan)
    except Exception as exc:
        log.exception("node build failed")
        node_state_set(trader_id, "failed", reason=f"build failed: {type(exc).__name__}: {exc}")
        return EXIT_FAILED
    finally:
        # Nothing below touches the database from the event loop.
        connections.close_all()

    from trading.node.bridge import MarketDataPublisher, QuoteBridgeActor, Sink
    from trading.node.risk_hook import NodeRiskHook

    # Before run(): the kill switch and the desk gate are in place before any strategy starts.
    risk_hook = NodeRiskHook(node=node, trader_id=trader_id).install()
    sink = Sink()
    publisher = MarketDataPublisher(
        trader_id=trader_id, sink=sink, settings=node_settings.market_data, extra_heartbeat=risk_hook.heartbeat_fields
    )

    def on_trader_started() -> None:
        publisher.running = True
        # Account status is a database write: off the loop, in a short-lived thread.
        import threading

        def mark_connected() -> None:
            for client in plan.clients:
                account_connection_set(account=client.account, connected=True, reason="")
            connections.close_all()

        threading.Thread(target=mark_connected, name="account-status", daemon=True).start()

    node.trader.add_actor(QuoteBridgeActor(sink, on_started=on_trader_started))
    desk_orders_venues_set(node, plan)
    loop = node.get_event_loop()

    def stamp() -> None:
        publisher.loop_alive = time.time()
        loop.call_later(0.5, stamp)

    loop.call_soon(stamp)
    publisher.start()

    exit_code = EXIT_OK
    try:
        node.run()
    except Exception as exc:
        log.exception("node run failed")
        node_state_set(trader_id, "failed", reason=f"run failed: {type(exc).__name__}: {exc}")
        exit_code = EXIT_FAILED
    finally:
        publisher.stop_event.set()
        risk_hook.stop()
        if exit_code == EXIT_OK:
            node_state_set(trader_id, "stopping", reason="shutting down")
        try:
            node.dispose()
        except Exception:
            log.exception("node dispose failed")
        publisher.join(timeout=3)
        if exit_code == EXIT_OK:
            node_state_set(trader_id, "stopped", reason="stopped")
    return exit_code


def desk_orders_venues_set(node, plan) -> None:
    """Tell the desk's strategy which venues run inside this process: a restart empties them,
    so orders a killed node left working there are closed instead of waiting forever."""
    from trading.node.desk_orders import DeskOrders

    venues = frozenset(c.account.venue.code for c in plan.clients if c.account.venue.adapter == "simulated")
    for strategy in node.trader.strategies():
        if isinstance(strategy, DeskOrders):
            strategy.in_process_venues_set(venues)


if __name__ == "__main__":
    sys.exit(main())
