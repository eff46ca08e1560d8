"""Market-data quality: small pure detectors and a per-instrument monitor.

Each detector takes plain values and returns an ``Issue`` or ``None``; they
hold no state and do no I/O, so they are unit-tested on crafted data. The
``FeedMonitor`` keeps the little state the detectors need (previous quote,
recent returns, update times) per instrument and per source; the node's
publisher thread feeds it every quote, and the beat task ``trading.check_feeds``
turns what it reports into alert rows.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

NS = 1_000_000_000


@dataclass(frozen=True)
class Issue:
    kind: str  # stale | crossed | locked | gap | outlier | out_of_order
    instrument_id: str
    message: str

    def as_dict(self) -> dict:
        return {"kind": self.kind, "instrument_id": self.instrument_id, "message": self.message}


# -- detectors ---------------------------------------------------------------------------------


def detect_stale(instrument_id: str, last_ts_ns: int | None, now_ns: int, max_age_s: float) -> Issue | None:
    if last_ts_ns is None:
        return Issue("stale", instrument_id, "no update received yet")
    age = (now_ns - last_ts_ns) / NS
    if age > max_age_s:
        return Issue("stale", instrument_id, f"last update {age:.1f}s ago (limit {max_age_s:g}s)")
    return None


def detect_crossed_or_locked(instrument_id: str, bid: Decimal, ask: Decimal) -> Issue | None:
    if bid > ask:
        return Issue("crossed", instrument_id, f"bid {bid} above ask {ask}")
    if bid == ask:
        return Issue("locked", instrument_id, f"bid equals ask at {bid}")
    return None


def detect_gap(instrument_id: str, prev_ts_ns: int | None, ts_ns: int, max_gap_s: float) -> Issue | None:
    """A hole in the stream: two consecutive updates further apart than ``max_gap_s``."""
    if prev_ts_ns is None:
        return None
    gap = (ts_ns - prev_ts_ns) / NS
    if gap > max_gap_s:
        return Issue("gap", instrument_id, f"{gap:.1f}s without an update (limit {max_gap_s:g}s)")
    return None


def detect_out_of_order(instrument_id: str, prev_ts_ns: int | None, ts_ns: int) -> Issue | None:
    if prev_ts_ns is not None and ts_ns < prev_ts_ns:
        return Issue("out_of_order", instrument_id, f"timestamp {ts_ns} before previous {prev_ts_ns}")
    return None


def detect_outlier(
    instrument_id: str,
    recent_returns: Sequence[float],
    ret: float,
    *,
    k: float = 10.0,
    floor_bps: float = 50.0,
    min_history: int = 20,
) -> Issue | None:
    """A mid move far outside recent behaviour: |r| > k robust sigmas and above a floor.

    Sigma is estimated from the median absolute return (robust to the outliers
    themselves); the floor keeps a very quiet instrument from flagging normal ticks.
    """
    if len(recent_returns) < min_history:
        return None
    mad = statistics.median(abs(r) for r in recent_returns)
    sigma = 1.4826 * mad
    threshold = max(k * sigma, floor_bps / 1e4)
    if abs(ret) > threshold:
        return Issue("outlier", instrument_id, f"mid moved {ret * 1e4:+.0f} bps (threshold {threshold * 1e4:.0f} bps)")
    return None


def update_rate(timestamps_ns: Sequence[int], now_ns: int, window_s: float = 10.0) -> float:
    """Updates per second over the last ``window_s`` seconds."""
    cutoff = now_ns - int(window_s * NS)
    return sum(1 for t in timestamps_ns if t >= cutoff) / window_s


# -- the monitor ---------------------------------------------------------------------------------


@dataclass
class _InstrumentState:
    source: str
    last_ts: int | None = None
    last_mid: Decimal | None = None
    returns: deque = field(default_factory=lambda: deque(maxlen=200))
    times: deque = field(default_factory=lambda: deque(maxlen=5000))
    counts: dict[str, int] = field(default_factory=dict)
    last_issue: Issue | None = None


class FeedMonitor:
    """Feeds every quote through the detectors; reports per instrument and per source."""

    def __init__(self, *, max_gap_s: float = 5.0, stale_after_s: float = 5.0, rate_window_s: float = 10.0):
        self.max_gap_s = max_gap_s
        self.stale_after_s = stale_after_s
        self.rate_window_s = rate_window_s
        self._state: dict[str, _InstrumentState] = {}
        # Issues seen since the last ``drain_issues`` call.
        self._recent: list[Issue] = []

    def observe(self, *, instrument_id: str, source: str, bid: Decimal, ask: Decimal, ts_ns: int) -> list[Issue]:
        st = self._state.get(instrument_id)
        if st is None:
            st = self._state[instrument_id] = _InstrumentState(source=source)
        issues = [
            i
            for i in (
                detect_out_of_order(instrument_id, st.last_ts, ts_ns),
                detect_gap(instrument_id, st.last_ts, ts_ns, self.max_gap_s),
                detect_crossed_or_locked(instrument_id, bid, ask),
            )
            if i is not None
        ]
        mid = (bid + ask) / 2
        if st.last_mid and st.last_mid > 0 and mid > 0 and not any(i.kind == "crossed" for i in issues):
            ret = math.log(float(mid / st.last_mid))
            outlier = detect_outlier(instrument_id, st.returns, ret)
            if outlier:
                issues.append(outlier)
            else:
                st.returns.append(ret)
        if mid > 0:
            st.last_mid = mid
        st.last_ts = ts_ns if st.last_ts is None else max(st.last_ts, ts_ns)
        st.times.append(ts_ns)
        for issue in issues:
            st.counts[issue.kind] = st.counts.get(issue.kind, 0) + 1
            st.last_issue = issue
        self._recent.extend(issues)
        return issues

    def drain_issues(self) -> list[Issue]:
        issues, self._recent = self._recent, []
        return issues

    def instrument_report(self, now_ns: int) -> dict[str, dict]:
        report = {}
        for instrument_id, st in self._state.items():
            stale = detect_stale(instrument_id, st.last_ts, now_ns, self.stale_after_s)
            report[instrument_id] = {
                "source": st.source,
                "ts": st.last_ts,
                "rate": round(update_rate(st.times, now_ns, self.rate_window_s), 2),
                "counts": dict(st.counts),
                "last_issue": st.last_issue.as_dict() if st.last_issue else None,
                "stale": stale is not None,
            }
        return report

    def source_report(self, now_ns: int, recent_issues: Sequence[Issue]) -> dict[str, dict]:
        sources: dict[str, dict] = {}
        for instrument_id, st in self._state.items():
            s = sources.setdefault(st.source, {"ts": 0, "rate": 0.0, "issues": [], "instruments": 0})
            s["ts"] = max(s["ts"], st.last_ts or 0)
            s["rate"] = round(s["rate"] + update_rate(st.times, now_ns, self.rate_window_s), 2)
            s["instruments"] += 1
            stale = detect_stale(instrument_id, st.last_ts, now_ns, self.stale_after_s)
            if stale:
                s["issues"].append(stale.as_dict())
        for issue in recent_issues:
            st = self._state.get(issue.instrument_id)
            if st is not None:
                sources[st.source]["issues"].append(issue.as_dict())
        return sources
