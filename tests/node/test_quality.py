"""Each data-quality detector fires on crafted bad data and stays quiet on clean data."""

import math
from decimal import Decimal as D

from trading.market_data.quality import (
    NS,
    FeedMonitor,
    detect_crossed_or_locked,
    detect_gap,
    detect_out_of_order,
    detect_outlier,
    detect_stale,
    update_rate,
)

T0 = 1_700_000_000 * NS


def test_stale_fires_after_the_limit_and_not_before():
    assert detect_stale("X", T0, T0 + 6 * NS, 5.0).kind == "stale"
    assert detect_stale("X", None, T0, 5.0).kind == "stale"
    assert detect_stale("X", T0, T0 + 4 * NS, 5.0) is None


def test_crossed_and_locked_quotes_are_flagged_and_normal_ones_are_not():
    assert detect_crossed_or_locked("X", D("1.0002"), D("1.0001")).kind == "crossed"
    assert detect_crossed_or_locked("X", D("1.0001"), D("1.0001")).kind == "locked"
    assert detect_crossed_or_locked("X", D("1.0001"), D("1.0002")) is None


def test_gap_fires_on_a_hole_in_the_stream_only():
    assert detect_gap("X", T0, T0 + 12 * NS, 5.0).kind == "gap"
    assert detect_gap("X", T0, T0 + NS // 2, 5.0) is None
    assert detect_gap("X", None, T0, 5.0) is None


def test_out_of_order_timestamps_are_flagged():
    assert detect_out_of_order("X", T0, T0 - 1).kind == "out_of_order"
    assert detect_out_of_order("X", T0, T0) is None


def test_outlier_fires_on_a_jump_far_outside_recent_moves_only():
    calm = [0.0001 * math.sin(i) for i in range(50)]
    assert detect_outlier("X", calm, 0.02).kind == "outlier"
    assert detect_outlier("X", calm, 0.0002) is None
    # Not enough history yet: no verdict.
    assert detect_outlier("X", calm[:5], 0.5) is None


def test_update_rate_counts_updates_in_the_window():
    stamps = [T0 + i * NS // 10 for i in range(100)]  # 10/s for 10 s
    assert update_rate(stamps, T0 + 10 * NS, 10.0) == 10.0


def test_monitor_is_quiet_on_a_clean_stream_and_reports_each_bad_quote():
    monitor = FeedMonitor(max_gap_s=5, stale_after_s=5)
    mid = 1.1
    for i in range(100):
        mid *= 1 + 0.00005 * math.sin(i)
        bid = D(f"{mid:.5f}")
        issues = monitor.observe(
            instrument_id="EUR/USD.SIM", source="SIM", bid=bid, ask=bid + D("0.00002"), ts_ns=T0 + i * NS // 4
        )
        assert issues == []
    t = T0 + 30 * NS
    kinds = [
        i.kind for i in monitor.observe(instrument_id="EUR/USD.SIM", source="SIM", bid=D("1.2"), ask=D("1.1"), ts_ns=t)
    ]
    assert "crossed" in kinds and "gap" in kinds
    kinds = [
        i.kind
        for i in monitor.observe(
            instrument_id="EUR/USD.SIM", source="SIM", bid=D("1.5"), ask=D("1.50002"), ts_ns=t + NS // 4
        )
    ]
    assert kinds == ["outlier"]
    report = monitor.source_report(t + NS, monitor.drain_issues())
    assert {i["kind"] for i in report["SIM"]["issues"]} >= {"crossed", "gap", "outlier"}
    assert monitor.instrument_report(t + 60 * NS)["EUR/USD.SIM"]["stale"] is True
