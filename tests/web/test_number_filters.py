"""How the desk prints numbers: exact prices, money to the cent, no sign on nothing."""

from decimal import Decimal as D

from monitoring.templatetags.desk import fixed, money, signed


def test_money_is_to_the_cent_and_a_rounded_away_loss_has_no_minus_sign():
    assert money(D("-1234.5")) == "-1,234.50"
    assert money(D("1234.565")) == "1,234.56"  # banker's rounding of the exact value
    assert money(D("-0.004")) == "0.00"  # a VaR share of a flat-ish slice, not a loss
    assert money(D("-0")) == "0.00"
    assert signed(D("-0.004")) == "0.00" and signed(D("0.005")) == "0.00" and signed(D("0.006")) == "+0.01"


def test_fixed_keeps_every_digit_of_a_price_and_pads_to_the_tick():
    assert fixed(D("1.085"), 5) == "1.08500"
    assert fixed(D("1.085012"), 5) == "1.085012"
    assert fixed(None) == "—"
