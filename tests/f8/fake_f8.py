"""A real HTTP server implementing the F8 contract (docs/f8-api.md), for the connector's tests.

It runs ``http.server`` in a thread on a free loopback port and records every
item it receives and every item it applies, so a test can prove the outbox
drains exactly once. Modes:

* ``healthy`` — the contract as documented;
* ``failing`` — every request answers 500;
* ``slow`` — requests are processed (pushes applied!) but the answer comes
  ``delay`` seconds later, after the client has given up: the retry must be
  answered ``duplicate`` and never applied twice;
* ``garbage`` — 200 with a broken body: ``garbage_kind`` is ``not_json``,
  ``missing_fields`` or ``wrong_types``.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.services import free_port

TRADE_FIELDS = (
    "idempotency_key",
    "account",
    "instrument_id",
    "client_order_id",
    "trade_id",
    "side",
    "quantity",
    "price",
    "commission",
    "commission_currency",
    "ts_event",
)
POSITION_FIELDS = (
    "idempotency_key",
    "account",
    "instrument_id",
    "quantity",
    "avg_price",
    "realized_pnl",
    "commissions",
    "currency",
    "updated_at",
)


class FakeF8:
    def __init__(self, *, api_key: str = "test-key", portfolio_id: str = "PF-TEST"):
        self.api_key = api_key
        self.portfolio_id = portfolio_id
        self.mode = "healthy"
        self.garbage_kind = "not_json"
        self.delay = 1.0
        self.lock = threading.Lock()
        self.received: list[tuple[str, str]] = []  # (kind, idempotency key) of every item of every push
        self.applied: dict[str, list[dict]] = {"trade": [], "position": []}
        self._keys: set[str] = set()
        self.positions: dict[tuple[str, str, str | None], Decimal] = {}
        self.positions_override: list[dict] | None = None
        self.limits: list[dict] = []
        self.requests: Counter[str] = Counter()
        self.reject_keys: set[str] = set()
        self._closing = threading.Event()
        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="fake-f8", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeF8:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()

    # -- what the tests read -----------------------------------------------------------
    def applied_keys(self, kind: str) -> list[str]:
        with self.lock:
            return [item["idempotency_key"] for item in self.applied[kind]]

    def received_count(self, kind: str) -> int:
        with self.lock:
            return sum(1 for k, _ in self.received if k == kind)

    # -- the server ----------------------------------------------------------------------
    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                fake._serve(self, "GET")

            def do_POST(self):
                fake._serve(self, "POST")

        return Handler

    def _send(self, handler, status: int, body, *, raw: bytes | None = None) -> None:
        data = raw if raw is not None else json.dumps(body).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (slow mode): that is the point

    def _serve(self, handler, method: str) -> None:
        prefix = "/v1/portfolios/"
        path = handler.path
        with self.lock:
            self.requests[f"{method} {path.rsplit('/', 1)[-1]}"] += 1
        length = int(handler.headers.get("Content-Length") or 0)
        body_bytes = handler.rfile.read(length) if length else b""
        if handler.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._send(handler, 401, {"error": {"code": "unauthorized", "message": "bad API key"}})
        if not path.startswith(prefix):
            return self._send(handler, 404, {"error": {"code": "not_found", "message": path}})
        pid, _, resource = path[len(prefix) :].partition("/")
        if pid != self.portfolio_id:
            return self._send(handler, 404, {"error": {"code": "unknown_portfolio", "message": pid}})
        if self.mode == "failing":
            return self._send(handler, 500, {"error": {"code": "internal", "message": "F8 is having a bad day"}})
        if self.mode == "garbage":
            return self._garbage(handler, method, resource, body_bytes)
        if method == "POST" and resource in ("trades", "positions"):
            try:
                items = json.loads(body_bytes)["items"]
                assert isinstance(items, list)
            except (ValueError, KeyError, AssertionError, TypeError):
                return self._send(handler, 400, {"error": {"code": "invalid", "message": "items", "field": "items"}})
            results = self._apply(resource[:-1], items)
            answer = {"results": results}
        elif method == "GET" and resource == "positions":
            answer = self._positions_view()
        elif method == "GET" and resource == "limits":
            answer = {"portfolio_id": self.portfolio_id, "as_of": _now(), "limits": list(self.limits)}
        else:
            return self._send(handler, 404, {"error": {"code": "not_found", "message": resource}})
        if self.mode == "slow":
            self._closing.wait(self.delay)
        self._send(handler, 200, answer)

    def _apply(self, kind: str, items: list) -> list[dict]:
        fields = TRADE_FIELDS if kind == "trade" else POSITION_FIELDS
        results = []
        with self.lock:
            for item in items:
                key = item.get("idempotency_key") if isinstance(item, dict) else None
                self.received.append((kind, key))
                missing = [f for f in fields if not isinstance(item, dict) or f not in item]
                if missing or not isinstance(key, str):
                    results.append({"idempotency_key": key, "status": "rejected", "error": f"missing {missing}"})
                    continue
                if key in self.reject_keys:
                    results.append({"idempotency_key": key, "status": "rejected", "error": "instrument not tradable"})
                    continue
                try:
                    for name in ("quantity",):
                        Decimal(item[name])
                except (InvalidOperation, TypeError):
                    results.append({"idempotency_key": key, "status": "rejected", "error": "quantity"})
                    continue
                if key in self._keys:
                    results.append({"idempotency_key": key, "status": "duplicate"})
                    continue
                self._keys.add(key)
                self.applied[kind].append(item)
                if kind == "position":
                    self.positions[(item["account"], item["instrument_id"], item.get("strategy"))] = Decimal(
                        item["quantity"]
                    )
                results.append({"idempotency_key": key, "status": "accepted"})
        return results

    def _positions_view(self) -> dict:
        with self.lock:
            if self.positions_override is not None:
                rows = list(self.positions_override)
            else:
                net: dict[tuple[str, str], Decimal] = {}
                for (account, instrument, _strategy), qty in self.positions.items():
                    net[(account, instrument)] = net.get((account, instrument), Decimal(0)) + qty
                rows = [
                    {"account": a, "instrument_id": i, "quantity": str(q)}
                    for (a, i), q in sorted(net.items())
                    if q != 0
                ]
        return {"portfolio_id": self.portfolio_id, "as_of": _now(), "positions": rows}

    def _garbage(self, handler, method: str, resource: str, body: bytes) -> None:
        if self.garbage_kind == "not_json":
            return self._send(handler, 200, None, raw=b"<html><body>502 Bad Gateway</body></html>")
        if method == "POST":
            items = json.loads(body or b"{}").get("items", [])
            with self.lock:
                self.received.extend((resource[:-1], i.get("idempotency_key")) for i in items)
            if self.garbage_kind == "missing_fields":
                return self._send(handler, 200, {"results": [{"idempotency_key": i["idempotency_key"]} for i in items]})
            return self._send(handler, 200, {"results": [{"idempotency_key": 7, "status": True} for _ in items]})
        if resource == "positions":
            rows = [
                {"account": "SIM-001", "instrument_id": "EUR/USD.SIM", "quantity": "5000"},
                {"account": "SIM-001", "instrument_id": "GBP/USD.SIM"},
            ]
            if self.garbage_kind == "wrong_types":
                rows = [
                    {"account": "SIM-001", "instrument_id": "EUR/USD.SIM", "quantity": 5000.5},
                    {"account": "SIM-001", "instrument_id": 12, "quantity": "1"},
                ]
            return self._send(handler, 200, {"portfolio_id": self.portfolio_id, "as_of": _now(), "positions": rows})
        limits = [
            {"id": "L1", "scope": "global", "target": None, "kind": "max_order_quantity", "value": "1"},
            {"id": "L2", "scope": "global", "target": None, "kind": "daily_loss"},
        ]
        if self.garbage_kind == "wrong_types":
            limits = [{"id": "L1", "scope": "global", "target": None, "kind": "max_order_quantity", "value": 1.5}]
        return self._send(handler, 200, {"portfolio_id": self.portfolio_id, "as_of": 17, "limits": limits})


def _now() -> str:
    return datetime.now(UTC).isoformat()
