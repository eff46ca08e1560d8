"""Venue adapters: which Nautilus clients an Account row adds to the node.

Each adapter kind has a *planner*: ``plan(account) -> ClientPlan | Unavailable``.
A ``ClientPlan`` carries the Nautilus data/exec client configs and factories;
``Unavailable`` carries the reason the account will show as
``disconnected: <reason>``.

Why plan instead of "add the client and see": Nautilus's kernel waits up to
``timeout_connection`` for every client before it starts the trader, so one
unreachable venue would hold the simulated venue hostage. The planners
therefore check what can be checked *before* the client is added — credentials
present (environment variables or the Fernet-encrypted field, never plain
text), the adapter's packages importable, and the venue's endpoint reachable by
one TCP connect bounded by ``PROBE_TIMEOUT`` seconds. This is detection, not a
login: a venue that accepts TCP but refuses the keys still fails inside
Nautilus, bounded by the node's ``timeout_connection``.

Custom adapters register with ``register_adapter`` or the
``nautilus_integration.adapters`` entry-point group (docs/adapters.md).
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import metadata
from typing import Any

from django.conf import settings

from trading.models import Account, Venue

PROBE_TIMEOUT = 3.0
ENTRY_POINT_GROUP = "nautilus_integration.adapters"


@dataclass
class ClientPlan:
    account: Account
    name: str  # client key in TradingNodeConfig; the part before "-" selects the factory
    data_config: Any | None = None
    exec_config: Any | None = None
    data_factory: type | None = None
    exec_factory: type | None = None
    instrument_ids: list[str] = field(default_factory=list)


@dataclass
class Unavailable:
    account: Account
    reason: str


Planner = Callable[[Account], "ClientPlan | Unavailable"]
_PLANNERS: dict[str, Planner] = {}


def register_adapter(kind: str, planner: Planner) -> None:
    """Make ``Venue.adapter == kind`` (or ``custom`` venues whose code is ``kind``) use ``planner``."""
    _PLANNERS[kind] = planner


def planner_for(account: Account) -> Planner | None:
    kind = account.venue.adapter
    if kind == Venue.Adapter.CUSTOM:
        kind = account.venue.code
    if kind not in _PLANNERS:
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name == kind:
                _PLANNERS[kind] = ep.load()
    return _PLANNERS.get(kind)


def plan_account(account: Account) -> ClientPlan | Unavailable:
    planner = planner_for(account)
    if planner is None:
        return Unavailable(account, f"no adapter registered for {account.venue.adapter!r}")
    try:
        return planner(account)
    except Exception as exc:  # a broken adapter must not take the node down
        return Unavailable(account, f"adapter error: {type(exc).__name__}: {exc}")


# -- credentials ---------------------------------------------------------------------------------


def _env_prefix(account: Account) -> str:
    return "NI_" + "".join(c if c.isalnum() else "_" for c in account.name.upper())


def account_credentials(account: Account, *, env_names: tuple[str, str]) -> dict[str, str] | None:
    """API key/secret for an account: per-account env vars, then the adapter's usual
    env vars, then the encrypted field. ``None`` when none is set."""
    prefix = _env_prefix(account)
    for key_var, secret_var in ((f"{prefix}_API_KEY", f"{prefix}_API_SECRET"), env_names):
        if os.environ.get(key_var) and os.environ.get(secret_var):
            return {"api_key": os.environ[key_var], "api_secret": os.environ[secret_var]}
    if account.credentials_encrypted:
        from cryptography.fernet import Fernet, InvalidToken

        try:
            plain = Fernet(settings.CREDENTIALS_KEY.encode()).decrypt(account.credentials_encrypted.encode())
        except (InvalidToken, ValueError):
            raise ValueError("stored credentials cannot be decrypted with CREDENTIALS_KEY")
        creds = json.loads(plain)
        if creds.get("api_key") and creds.get("api_secret"):
            return {"api_key": creds["api_key"], "api_secret": creds["api_secret"]}
    return None


def probe_tcp(host: str, port: int, timeout: float = PROBE_TIMEOUT) -> str | None:
    """``None`` when a TCP connection to host:port opens within ``timeout``, else why not.

    Runs in a thread joined with the timeout because name resolution is not
    bounded by the socket timeout.
    """
    result: list[str | None] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(None)
        except OSError as exc:
            result.append(exc.strerror or type(exc).__name__)

    t = threading.Thread(target=attempt, daemon=True, name=f"probe-{host}")
    t.start()
    t.join(timeout + 0.5)
    if not result:
        return f"cannot reach {host}:{port} (no answer within {timeout:g}s)"
    return None if result[0] is None else f"cannot reach {host}:{port} ({result[0]})"


# -- the simulated venue -----------------------------------------------------------------------


def plan_simulated(account: Account) -> ClientPlan:
    from trading.node.sim_venue import SimExecClientConfig

    venue = account.venue.code
    balance = f"{account.starting_balance.normalize():f} {account.base_currency}"
    return ClientPlan(
        account=account,
        name=venue,
        exec_config=SimExecClientConfig(
            venue=venue,
            starting_balances=[balance],
            base_currency=account.base_currency,
            oms_type=account.oms_type,
            account_type=account.account_type.upper(),
            default_leverage=Decimal(account.leverage),
            book_type="L1_MBP",
            # Fills follow the quotes; the model's trade prints are for "last" only.
            trade_execution=False,
            bar_execution=False,
            latency_ms=int(os.environ.get("NI_SIM_LATENCY_MS", "5")),
        ),
    )


# -- Binance ------------------------------------------------------------------------------------


def _binance(account: Account, *, futures: bool) -> ClientPlan | Unavailable:
    creds = account_credentials(account, env_names=("BINANCE_API_KEY", "BINANCE_API_SECRET"))
    if creds is None:
        return Unavailable(
            account,
            f"no API credentials (set {_env_prefix(account)}_API_KEY/_API_SECRET or BINANCE_API_KEY/"
            "BINANCE_API_SECRET, or store encrypted credentials on the account)",
        )
    try:
        from nautilus_trader.adapters.binance.common.enums import BinanceAccountType
        from nautilus_trader.adapters.binance.config import BinanceDataClientConfig, BinanceExecClientConfig
        from nautilus_trader.adapters.binance.factories import (
            BinanceLiveDataClientFactory,
            BinanceLiveExecClientFactory,
        )
    except ImportError as exc:
        return Unavailable(account, f"the Binance adapter cannot be imported ({exc})")
    default_host = "fapi.binance.com" if futures else "api.binance.com"
    host = os.environ.get("BINANCE_PROBE_HOST", default_host)
    port = int(os.environ.get("BINANCE_PROBE_PORT", "443"))
    if reason := probe_tcp(host, port):
        return Unavailable(account, f"network: {reason}")
    account_type = BinanceAccountType.USDT_FUTURES if futures else BinanceAccountType.SPOT
    return ClientPlan(
        account=account,
        name=f"BINANCE-{account.name}",
        data_config=BinanceDataClientConfig(
            api_key=creds["api_key"], api_secret=creds["api_secret"], account_type=account_type
        ),
        exec_config=BinanceExecClientConfig(
            api_key=creds["api_key"], api_secret=creds["api_secret"], account_type=account_type
        ),
        data_factory=BinanceLiveDataClientFactory,
        exec_factory=BinanceLiveExecClientFactory,
    )


def plan_binance_spot(account: Account) -> ClientPlan | Unavailable:
    return _binance(account, futures=False)


def plan_binance_futures(account: Account) -> ClientPlan | Unavailable:
    return _binance(account, futures=True)


# -- Interactive Brokers (through IB Gateway) ------------------------------------------------------


def plan_interactive_brokers(account: Account) -> ClientPlan | Unavailable:
    host = os.environ.get("IB_GATEWAY_HOST", "127.0.0.1")
    port = int(os.environ.get("IB_GATEWAY_PORT", "4002"))
    try:
        from nautilus_trader.adapters.interactive_brokers.config import (
            InteractiveBrokersDataClientConfig,
            InteractiveBrokersExecClientConfig,
        )
        from nautilus_trader.adapters.interactive_brokers.factories import (
            InteractiveBrokersLiveDataClientFactory,
            InteractiveBrokersLiveExecClientFactory,
        )
    except ImportError as exc:
        return Unavailable(
            account, f"the Interactive Brokers adapter cannot be imported ({exc}); install nautilus-ibapi"
        )
    if reason := probe_tcp(host, port):
        return Unavailable(account, f"IB Gateway: {reason}")
    return ClientPlan(
        account=account,
        name=f"IB-{account.name}",
        data_config=InteractiveBrokersDataClientConfig(ibg_host=host, ibg_port=port, connection_timeout=10),
        exec_config=InteractiveBrokersExecClientConfig(
            ibg_host=host, ibg_port=port, account_id=os.environ.get("IB_ACCOUNT_ID"), connection_timeout=10
        ),
        data_factory=InteractiveBrokersLiveDataClientFactory,
        exec_factory=InteractiveBrokersLiveExecClientFactory,
    )


register_adapter(Venue.Adapter.SIMULATED, plan_simulated)
register_adapter(Venue.Adapter.BINANCE_SPOT, plan_binance_spot)
register_adapter(Venue.Adapter.BINANCE_FUTURES, plan_binance_futures)
register_adapter(Venue.Adapter.INTERACTIVE_BROKERS, plan_interactive_brokers)
