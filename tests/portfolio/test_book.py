"""The book of record's arithmetic, checked against Nautilus's own Position and by hand."""

from decimal import Decimal as D

import pytest

from portfolio.book import PositionState, apply_fill, currency_precision, money_round, unrealized_pnl

# (side, qty, price, commission in USD)
EURUSD_SEQUENCE = [
    ("BUY", D("10000"), D("1.10000"), D("2.20")),
    ("BUY", D("5000"), D("1.10100"), D("1.10")),
    ("SELL", D("8000"), D("1.10200"), D("1.76")),
    ("SELL", D("4000"), D("1.09950"), D("0.88")),
    ("BUY", D("2000"), D("1.09900"), D("0.44")),
    ("SELL", D("5000"), D("1.10300"), D("1.10")),
]


def _nautilus_position(sequence):
    from nautilus_trader.model.enums import OrderSide
    from nautilus_trader.model.identifiers import PositionId, TradeId, Venue
    from nautilus_trader.model.objects import Money, Price, Quantity
    from nautilus_trader.model.position import Position
    from nautilus_trader.test_kit.providers import TestInstrumentProvider
    from nautilus_trader.test_kit.stubs.events import TestEventStubs
    from nautilus_trader.test_kit.stubs.execution import TestExecStubs

    instrument = TestInstrumentProvider.default_fx_ccy("EUR/USD", Venue("SIM"))
    position = None
    for i, (side, qty, px, fee) in enumerate(sequence):
        order = TestExecStubs.market_order(
            instrument=instrument,
            order_side=OrderSide.BUY if side == "BUY" else OrderSide.SELL,
            quantity=Quantity.from_str(str(qty)),
        )
        fill = TestEventStubs.order_filled(
            order,
            instrument,
            position_id=PositionId("P-1"),
            trade_id=TradeId(f"T-{i}"),
            last_px=Price.from_str(str(px)),
            last_qty=Quantity.from_str(str(qty)),
            commission=Money(fee, instrument.quote_currency),
        )
        if position is None:
            position = Position(instrument, fill)
        else:
            position.apply(fill)
    return position


def _book(sequence):
    state = PositionState()
    for side, qty, px, fee in sequence:
        state = apply_fill(state, side=side, quantity=qty, price=px, currency="USD", commission=fee)
    return state


@pytest.mark.parametrize("length", range(1, len(EURUSD_SEQUENCE) + 1))
def test_realized_pnl_and_quantity_match_nautilus_position_to_the_cent(length):
    sequence = EURUSD_SEQUENCE[:length]
    ours = _book(sequence)
    theirs = _nautilus_position(sequence)

    assert ours.quantity == D(str(theirs.signed_decimal_qty()))
    assert ours.realized_pnl.quantize(D("0.01")) == theirs.realized_pnl.as_decimal()
    if not ours.is_flat:
        assert abs(ours.avg_price - D(str(theirs.avg_px_open))) < D("1e-9")


def test_unrealized_pnl_matches_nautilus_position():
    from nautilus_trader.model.objects import Price

    sequence = EURUSD_SEQUENCE[:2]
    mark = D("1.10550")
    ours = unrealized_pnl(_book(sequence), mark)
    theirs = _nautilus_position(sequence).unrealized_pnl(Price.from_str(str(mark)))
    assert ours.quantize(D("0.01")) == theirs.as_decimal()


def test_long_to_short_flip_realises_the_closed_part_and_opens_the_rest_at_the_fill_price():
    state = apply_fill(
        PositionState(), side="BUY", quantity=D("100"), price=D("190.00"), currency="USD", commission=D("1")
    )
    state = apply_fill(state, side="SELL", quantity=D("150"), price=D("195.00"), currency="USD", commission=D("1.5"))

    assert state.quantity == D("-50")
    assert state.avg_price == D("195.00")
    # 100 closed at +5.00 each, minus both commissions.
    assert state.realized_pnl == D("500") - D("2.5")


def test_short_position_profits_when_price_falls():
    state = apply_fill(PositionState(), side="SELL", quantity=D("2"), price=D("3400.00"), currency="USD")
    assert unrealized_pnl(state, D("3300.00")) == D("200.00")
    state = apply_fill(state, side="BUY", quantity=D("2"), price=D("3300.00"), currency="USD")
    assert state.is_flat and state.realized_pnl == D("200.00")


@pytest.mark.parametrize("bad", [D("0"), D("-1"), D("NaN"), D("Infinity")])
def test_rejects_non_positive_or_non_finite_fill_quantities(bad):
    with pytest.raises(ValueError, match="quantity"):
        apply_fill(PositionState(), side="BUY", quantity=bad, price=D("1"), currency="USD")


def test_currency_precisions_are_nautilus_currency_table():
    import nautilus_trader.model.currencies as currencies
    from nautilus_trader.model.objects import Currency

    theirs = {c.code: c.precision for c in vars(currencies).values() if isinstance(c, Currency)}
    assert theirs and {code: currency_precision(code) for code in theirs} == theirs


def test_realised_pnl_is_booked_per_fill_in_minor_units_like_nautilus_money():
    from nautilus_trader.model.currencies import JPY, USD
    from nautilus_trader.model.objects import Money

    # 1000 * 0.0005 = 0.5 yen: half away from zero on each fill, as Money(0.5, JPY) is 1 yen.
    state = apply_fill(PositionState(), side="BUY", quantity=D("1000"), price=D("151.500"), currency="JPY")
    state = apply_fill(state, side="SELL", quantity=D("1000"), price=D("151.5005"), currency="JPY")
    assert state.realized_pnl == D("1") == Money(0.5, JPY).as_decimal()
    assert money_round(D("-0.005"), "USD") == D("-0.01") == Money(-0.005, USD).as_decimal()
