"""What every strategy we ship shares: the position cap and the risk budget.

Each strategy decides a *target* net position; ``move_to_target`` turns it into
one market order that never takes the net position (counting orders still in
flight) beyond ``max_position``. The cap lives here, in the strategy's own order
logic, so it holds in a backtest with no desk gate in front of the engine.

``risk_budget`` is a loss budget in the account's currency: once the strategy's
realised plus unrealised P&L falls to minus the budget it flattens and stops
opening positions for the rest of the run.
"""

from __future__ import annotations

from decimal import Decimal

from nautilus_trader.config import StrategyConfig
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import OrderSide, TimeInForce
from nautilus_trader.model.events import PositionClosed, PositionOpened
from nautilus_trader.model.identifiers import InstrumentId
from nautilus_trader.model.instruments import Instrument
from nautilus_trader.trading.strategy import Strategy


class DeskStrategyConfig(StrategyConfig, kw_only=True, frozen=True):
    """Fields common to every strategy we ship.

    Parameters
    ----------
    instrument_id : InstrumentId
        The one instrument the strategy trades.
    bar_type : BarType, optional
        The bars it trades on (``None``: quote ticks, market maker only).
    trade_size : Decimal
        The quantity of one entry.
    max_position : Decimal
        The largest absolute net position the strategy will ever hold or have in flight.
    risk_budget : Decimal, optional
        Loss (in ``budget_currency``) at which the strategy flattens and stops trading.
    budget_currency : str, optional
        The account currency the budget is counted in.
    """

    instrument_id: InstrumentId
    bar_type: BarType | None = None
    trade_size: Decimal
    max_position: Decimal
    risk_budget: Decimal | None = None
    budget_currency: str | None = None
    close_positions_on_stop: bool = True


class DeskStrategy(Strategy):
    """Target-position plumbing; subclasses implement ``on_bar`` (and/or ``on_quote_tick``)."""

    def __init__(self, config: DeskStrategyConfig) -> None:
        super().__init__(config)
        self.instrument: Instrument | None = None
        self.halted = False
        self._closed_pnl = Decimal(0)
        self._last_price: Decimal | None = None
        self._budget_checkable = True
        self._open_position = None

    # -- lifecycle -----------------------------------------------------------------
    def on_start(self) -> None:
        self.instrument = self.cache.instrument(self.config.instrument_id)
        if self.instrument is None:
            self.log.error(f"Instrument {self.config.instrument_id} is not in the cache")
            self.stop()
            return
        self.setup_indicators()
        if self.config.bar_type is not None:
            self.subscribe_bars(self.config.bar_type)
        else:
            self.subscribe_quote_ticks(self.config.instrument_id)

    def setup_indicators(self) -> None:
        """Create/register indicators (subclasses)."""

    def on_stop(self) -> None:
        self.cancel_all_orders(self.config.instrument_id)
        if self.config.close_positions_on_stop:
            self.close_all_positions(self.config.instrument_id)

    def on_reset(self) -> None:
        self.halted = False
        self._closed_pnl = Decimal(0)

    def on_position_opened(self, event: PositionOpened) -> None:
        # Held so the per-bar budget check reads one position instead of querying the cache.
        self._open_position = self.cache.position(event.position_id)

    def on_position_closed(self, event: PositionClosed) -> None:
        self._open_position = None
        self._closed_pnl += self._to_budget_currency(event.realized_pnl.as_decimal(), event.realized_pnl.currency.code)

    # -- position arithmetic -----------------------------------------------------------
    def net_position(self) -> Decimal:
        return self.portfolio.net_position(self.config.instrument_id)

    def has_orders_in_flight(self) -> bool:
        return bool(
            self.cache.orders_inflight(instrument_id=self.config.instrument_id, strategy_id=self.id)
            or self.cache.orders_open(instrument_id=self.config.instrument_id, strategy_id=self.id)
        )

    def clamp(self, target: Decimal) -> Decimal:
        cap = self.config.max_position
        return max(-cap, min(cap, target))

    def move_to_target(self, target: Decimal) -> None:
        """Send the one market order that takes the net position to ``target`` (capped).

        Nothing is sent while an earlier order of the strategy is still working, so
        the net position plus everything in flight never exceeds ``max_position``.
        """
        if self.halted and target != 0:
            target = Decimal(0)
        delta = self.clamp(target) - self.net_position()
        if delta == 0 or self.has_orders_in_flight():
            return
        quantity = self.instrument.make_qty(abs(delta), round_down=True)
        if quantity.as_decimal() <= 0:
            return
        order = self.order_factory.market(
            instrument_id=self.config.instrument_id,
            order_side=OrderSide.BUY if delta > 0 else OrderSide.SELL,
            quantity=quantity,
            time_in_force=TimeInForce.GTC,
        )
        self.submit_order(order)

    # -- risk budget -----------------------------------------------------------------
    def _to_budget_currency(self, amount: Decimal, currency: str) -> Decimal:
        budget_ccy = self.config.budget_currency
        if budget_ccy is None or currency == budget_ccy:
            return amount
        base = getattr(self.instrument, "base_currency", None)
        if base is not None and base.code == budget_ccy and self._last_price:
            # P&L of e.g. USD/JPY arrives in JPY; the last price converts it to USD.
            return amount / self._last_price
        self._budget_checkable = False
        return Decimal(0)

    def budget_exhausted(self, price: Bar | Decimal) -> bool:
        """True once closed plus open P&L has lost the whole budget (then stay halted)."""
        if self.halted:
            return True
        if self.config.risk_budget is None:
            return False
        if isinstance(price, Bar):
            mark = price.close
            self._last_price = mark.as_decimal()
        else:
            self._last_price = price
            mark = self.instrument.make_price(price)
        pnl = self._closed_pnl
        position = self._open_position
        if position is not None and position.is_open:
            unrealized = position.unrealized_pnl(mark)
            realized = position.realized_pnl
            pnl += self._to_budget_currency(unrealized.as_decimal(), unrealized.currency.code)
            if realized is not None:
                pnl += self._to_budget_currency(realized.as_decimal(), realized.currency.code)
        if self._budget_checkable and pnl <= -self.config.risk_budget:
            self.log.warning(f"Risk budget {self.config.risk_budget} exhausted; flattening and halting")
            self.halted = True
            self.cancel_all_orders(self.config.instrument_id)
            self.move_to_target(Decimal(0))
            return True
        return False
