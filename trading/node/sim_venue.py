"""The offline simulated venue's market-data client (node process only).

``SimMarketDataClient`` is a Nautilus ``LiveMarketDataClient`` that needs no
network. For instruments that have quote history in the Parquet catalog it
replays that history (timestamps re-based to now, at ``replay_speed``); every
other instrument is quoted by ``trading.market_data.model.QuoteModel``. It
quotes every instrument whether or not anything subscribed: the sandbox
execution client matches orders against whatever the node publishes for the
venue, so the market must keep moving for fills to follow it.

Execution is Nautilus's sandbox (``SimExecClientFactory`` below adds a latency
model to it); fees are the instruments' maker/taker rates.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from nautilus_trader.adapters.sandbox.config import SandboxExecutionClientConfig
from nautilus_trader.adapters.sandbox.execution import SandboxExecutionClient
from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.component import LiveClock, MessageBus
from nautilus_trader.common.providers import InstrumentProvider
from nautilus_trader.config import LiveDataClientConfig
from nautilus_trader.live.data_client import LiveMarketDataClient
from nautilus_trader.live.factories import LiveDataClientFactory, LiveExecClientFactory
from nautilus_trader.model.data import QuoteTick, TradeTick
from nautilus_trader.model.enums import AggressorSide
from nautilus_trader.model.identifiers import ClientId, InstrumentId, TradeId, Venue
from nautilus_trader.model.objects import Price, Quantity

from trading.market_data.model import ModelInstrument, QuoteModel

SIM_CLIENT = "SIM"


class SimDataClientConfig(LiveDataClientConfig, frozen=True, kw_only=True):
    venue: str = "SIM"
    # [{"instrument_id", "asset_class", "sector", "tick_size", "lot_size", "start_price"}], strings only.
    instruments: list[dict[str, str]] = []
    seed: int = 42
    tick_rate: float = 2.0
    volatility_scale: float = 5.0
    replay: bool = True
    replay_speed: float = 1.0
    catalog_path: str | None = None
    # Share of quote updates that also print a trade (gives "last").
    trade_probability: float = 0.2


class SimMarketDataClient(LiveMarketDataClient):
    def __init__(self, loop, client_id, msgbus, cache, clock, config: SimDataClientConfig):
        super().__init__(
            loop=loop,
            client_id=client_id,
            venue=Venue(config.venue),
            msgbus=msgbus,
            cache=cache,
            clock=clock,
            instrument_provider=InstrumentProvider(),
            config=config,
        )
        self._sim = config
        self._specs = [
            ModelInstrument(
                instrument_id=d["instrument_id"],
                asset_class=d["asset_class"],
                sector=d["sector"],
                tick_size=Decimal(d["tick_size"]),
                lot_size=Decimal(d["lot_size"]),
                start_price=Decimal(d["start_price"]),
            )
            for d in config.instruments
        ]
        self._replay: dict[str, list[QuoteTick]] = {}
        self._trade_seq = 0
        self._subscribed: set[str] = set()

    # -- connection ---------------------------------------------------------------------------

    async def _connect(self) -> None:
        if self._sim.replay and self._sim.catalog_path:
            # Reading Parquet is blocking I/O: keep it off the event loop.
            self._replay = await self._loop.run_in_executor(None, self._load_history)
        generated = [s for s in self._specs if s.instrument_id not in self._replay]
        if generated:
            self.create_task(self._generate(generated), log_msg="sim-generate")
        for instrument_id, ticks in self._replay.items():
            self.create_task(self._replay_loop(instrument_id, ticks), log_msg=f"sim-replay-{instrument_id}")

    async def _disconnect(self) -> None:
        return None

    def _load_history(self) -> dict[str, list[QuoteTick]]:
        from trading.catalog.store import catalog_quote_ticks

        history = {}
        for spec in self._specs:
            ticks = catalog_quote_ticks(self._sim.catalog_path, spec.instrument_id)
            if len(ticks) >= 2:
                history[spec.instrument_id] = ticks
        return history

    # -- generation ---------------------------------------------------------------------------

    async def _generate(self, specs: list[ModelInstrument]) -> None:
        model = QuoteModel(specs, seed=self._sim.seed, volatility_scale=self._sim.volatility_scale)
        precisions = {s.instrument_id: (_precision(s.tick_size), _precision(s.lot_size)) for s in specs}
        ids = {s.instrument_id: InstrumentId.from_str(s.instrument_id) for s in specs}
        rng = model._rng
        interval = 1.0 / self._sim.tick_rate
        next_at = time.monotonic()
        while True:
            next_at += interval
            for q in model.step(interval):
                pp, sp = precisions[q.instrument_id]
                ts = self._clock.timestamp_ns()
                tick = QuoteTick(
                    instrument_id=ids[q.instrument_id],
                    bid_price=Price(q.bid, pp),
                    ask_price=Price(q.ask, pp),
                    bid_size=Quantity(q.bid_size, sp),
                    ask_size=Quantity(q.ask_size, sp),
                    ts_event=ts,
                    ts_init=ts,
                )
                self._handle_data(tick)
                if rng.random() < self._sim.trade_probability:
                    buy = rng.random() < 0.5
                    self._emit_trade(tick, buy=buy, precision=(pp, sp), ts=ts)
            delay = next_at - time.monotonic()
            if delay < -1.0:
                # Fell far behind (a stalled loop): skip ahead instead of bursting to catch up.
                next_at = time.monotonic()
                delay = 0
            await asyncio.sleep(max(delay, 0))

    def _emit_trade(self, quote: QuoteTick, *, buy: bool, precision: tuple[int, int], ts: int) -> None:
        self._trade_seq += 1
        self._handle_data(
            TradeTick(
                instrument_id=quote.instrument_id,
                price=quote.ask_price if buy else quote.bid_price,
                size=quote.ask_size if buy else quote.bid_size,
                aggressor_side=AggressorSide.BUYER if buy else AggressorSide.SELLER,
                trade_id=TradeId(f"SIM-{self._trade_seq}"),
                ts_event=ts,
                ts_init=ts,
            )
        )

    async def _replay_loop(self, instrument_id: str, ticks: list[QuoteTick]) -> None:
        speed = self._sim.replay_speed
        while True:  # loop the history so the feed never runs dry
            first = ticks[0].ts_event
            started_wall = time.time_ns()
            for tick in ticks:
                due = started_wall + int((tick.ts_event - first) / speed)
                delay = (due - time.time_ns()) / 1e9
                if delay > 0:
                    await asyncio.sleep(delay)
                ts = self._clock.timestamp_ns()
                self._handle_data(
                    QuoteTick(
                        instrument_id=tick.instrument_id,
                        bid_price=tick.bid_price,
                        ask_price=tick.ask_price,
                        bid_size=tick.bid_size,
                        ask_size=tick.ask_size,
                        ts_event=ts,
                        ts_init=ts,
                    )
                )
            await asyncio.sleep(0)

    # -- subscriptions: the feed is always on, these only record interest -------------------

    async def _subscribe_quote_ticks(self, command) -> None:
        self._subscribed.add(str(command.instrument_id))

    async def _unsubscribe_quote_ticks(self, command) -> None:
        self._subscribed.discard(str(command.instrument_id))

    async def _subscribe_trade_ticks(self, command) -> None:
        return None

    async def _unsubscribe_trade_ticks(self, command) -> None:
        return None

    async def _subscribe_instruments(self, command) -> None:
        return None

    async def _subscribe_instrument(self, command) -> None:
        return None

    async def _subscribe_bars(self, command) -> None:
        # Bars are aggregated by the engine from quotes (INTERNAL bar types).
        return None

    async def _unsubscribe_bars(self, command) -> None:
        return None


def _precision(step: Decimal) -> int:
    return max(0, -step.normalize().as_tuple().exponent)


class SimDataClientFactory(LiveDataClientFactory):
    @staticmethod
    def create(loop, name, config: SimDataClientConfig, msgbus: MessageBus, cache: Cache, clock: LiveClock):
        return SimMarketDataClient(loop, ClientId(name), msgbus, cache, clock, config)


class SimExecClientConfig(SandboxExecutionClientConfig, frozen=True, kw_only=True):
    # One-way latency of the simulated venue, in milliseconds.
    latency_ms: int = 0


class SimExecutionClient(SandboxExecutionClient):
    """The sandbox with a latency model.

    The sandbox builds its ``SimulatedExchange`` with ``use_message_queue=False``,
    which makes the exchange's own latency model inert, so commands are delayed
    here instead: an order reaches the matching engine ``latency_ms`` after it
    was sent and fills against the market as it is then.
    """

    def __init__(self, *args, latency_ms: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self._latency = latency_ms / 1000

    def _later(self, fn, command):
        if self._latency <= 0:
            return fn(command)
        self._loop.call_later(self._latency, fn, command)

    def submit_order(self, command):
        return self._later(self._client.submit_order, command)

    def submit_order_list(self, command):
        return self._later(self._client.submit_order_list, command)

    def modify_order(self, command):
        return self._later(self._client.modify_order, command)

    def cancel_order(self, command):
        return self._later(self._client.cancel_order, command)

    def cancel_all_orders(self, command):
        return self._later(self._client.cancel_all_orders, command)


def sim_exec_client_factory(portfolio) -> type[LiveExecClientFactory]:
    """A factory bound to the node's portfolio.

    Nautilus's node builder passes ``portfolio`` only to a factory whose class
    is literally named ``SandboxLiveExecClientFactory``; binding it here avoids
    depending on that name check.
    """

    class SimExecClientFactory(LiveExecClientFactory):
        @staticmethod
        def create(loop, name, config: SimExecClientConfig, msgbus, cache, clock):
            return SimExecutionClient(
                loop=loop,
                clock=clock,
                portfolio=portfolio,
                msgbus=msgbus,
                cache=cache,
                config=config,
                latency_ms=config.latency_ms,
            )

    return SimExecClientFactory
