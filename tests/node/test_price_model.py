"""The offline venue's price model: deterministic per seed, tick-exact, sectors move together."""

import itertools
from decimal import Decimal as D

from trading.market_data.model import ModelInstrument, QuoteModel


def universe():
    return [
        ModelInstrument("AAPL.SIM", "equity", "tech", D("0.01"), D("1"), D("190.00")),
        ModelInstrument("MSFT.SIM", "equity", "tech", D("0.01"), D("1"), D("420.00")),
        ModelInstrument("XOM.SIM", "equity", "energy", D("0.01"), D("1"), D("115.00")),
        ModelInstrument("EUR/USD.SIM", "fx", "fx", D("0.00001"), D("1000"), D("1.08500")),
    ]


def test_same_seed_gives_the_same_quotes():
    a = QuoteModel(universe(), seed=7, volatility_scale=50)
    b = QuoteModel(universe(), seed=7, volatility_scale=50)
    assert [a.step(1.0) for _ in range(50)] == [b.step(1.0) for _ in range(50)]


def test_quotes_are_on_the_tick_with_a_positive_spread():
    model = QuoteModel(universe(), seed=1, volatility_scale=50)
    for _ in range(200):
        for q in model.step(1.0):
            tick = next(i.tick_size for i in universe() if i.instrument_id == q.instrument_id)
            assert q.ask > q.bid > 0
            assert q.bid % tick == 0 and q.ask % tick == 0


def test_names_in_one_sector_are_more_correlated_than_across_sectors():
    model = QuoteModel(universe(), seed=3, volatility_scale=200)
    mids = {i.instrument_id: [] for i in universe()}
    for _ in range(2000):
        for q in model.step(60.0):
            mids[q.instrument_id].append(float((q.bid + q.ask) / 2))

    def returns(xs):
        return [b / a - 1 for a, b in itertools.pairwise(xs)]

    def corr(x, y):
        mx, my = sum(x) / len(x), sum(y) / len(y)
        cov = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
        return cov / (sum((a - mx) ** 2 for a in x) * sum((b - my) ** 2 for b in y)) ** 0.5

    same = corr(returns(mids["AAPL.SIM"]), returns(mids["MSFT.SIM"]))
    across = corr(returns(mids["AAPL.SIM"]), returns(mids["XOM.SIM"]))
    assert same > 0.35
    assert abs(across) < 0.15
