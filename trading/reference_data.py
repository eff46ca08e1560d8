"""The desk's default universe: the offline simulated venue and what trades on it.

Created on first run by ``setup --init-db`` (and by tests through the same
service), so a fresh machine can trade without any internet access.
"""

from __future__ import annotations

from decimal import Decimal as D

SECTORS = [
    ("currencies", "Currencies"),
    ("digital-assets", "Digital Assets"),
    ("technology", "Technology"),
    ("financials", "Financials"),
    ("energy", "Energy"),
]

VENUES = [
    # code, name, adapter
    ("SIM", "Simulated exchange", "simulated"),
    ("BINANCE", "Binance", "binance_spot"),
    ("IB", "Interactive Brokers", "interactive_brokers"),
]

ACCOUNTS = [
    # name, venue, type, base currency, starting balance, leverage, status
    ("SIM-001", "SIM", "margin", "USD", D("1000000"), D("10"), "disconnected"),
    ("BINANCE-SPOT", "BINANCE", "cash", "USDT", D("100000"), D("1"), "disconnected"),
    # The demo history that `seed_demo` generates lives here: a disabled account no
    # node runs and no order can use, so the engine's book (which starts flat) and
    # the demo book never have to agree. Real trading happens on SIM-001.
    ("SIM-DEMO", "SIM", "margin", "USD", D("1000000"), D("10"), "disabled"),
]

# symbol, asset class, sector, base, quote, tick, lot, min qty, reference price
INSTRUMENTS = [
    ("EUR/USD", "fx", "currencies", "EUR", "USD", D("0.00001"), D("1000"), D("1000"), D("1.08500")),
    ("GBP/USD", "fx", "currencies", "GBP", "USD", D("0.00001"), D("1000"), D("1000"), D("1.27000")),
    ("USD/JPY", "fx", "currencies", "USD", "JPY", D("0.001"), D("1000"), D("1000"), D("151.500")),
    ("AUD/USD", "fx", "currencies", "AUD", "USD", D("0.00001"), D("1000"), D("1000"), D("0.65500")),
    ("BTC/USD", "crypto", "digital-assets", "BTC", "USD", D("0.01"), D("0.00001"), D("0.00001"), D("65000.00")),
    ("ETH/USD", "crypto", "digital-assets", "ETH", "USD", D("0.01"), D("0.0001"), D("0.0001"), D("3400.00")),
    ("AAPL", "equity", "technology", "", "USD", D("0.01"), D("1"), D("1"), D("190.00")),
    ("MSFT", "equity", "technology", "", "USD", D("0.01"), D("1"), D("1"), D("420.00")),
    ("JPM", "equity", "financials", "", "USD", D("0.01"), D("1"), D("1"), D("195.00")),
    ("XOM", "equity", "energy", "", "USD", D("0.01"), D("1"), D("1"), D("115.00")),
]
