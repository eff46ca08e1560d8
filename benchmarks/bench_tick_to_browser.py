"""Tick-to-browser latency: quote created in the node → received by N WebSocket clients.

Starts its own stack, sharing nothing with a running desk: a private Redis, a
throw-away PostgreSQL database (migrated, with 20 SIM instruments), daphne,
and the real node process (``python -m trading.node.main``) with the offline
venue ticking at 100 and then 1,000 quotes/s in total over 20 instruments.
50 clients subscribe to ``/ws/live/?topics=quotes`` with a Viewer session.
Latency per received quote = receipt wall time - the quote's ``ts`` (the node
clock's creation time, ns). Conflation is on as in production (a quote
superseded before its flush is never sent), so this measures the quotes that
reach the page. Node CPU share: psutil over the measurement window.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NAME = "tick_to_browser"
ROOT = Path(__file__).resolve().parent.parent
CLIENTS = 50
INSTRUMENTS = 20
RATES = (100, 1000)
WINDOW = 10.0
GOAL_MS = 50
# The production default is 25 ms; each flush is one WebSocket message per client.
FLUSH_MS = 25


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


SETUP = """
from decimal import Decimal as D
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from trading.services import reference_data_ensure
from trading.models import Instrument, Sector, Venue
from monitoring.services import user_create_with_role
from monitoring.roles import Role
reference_data_ensure()
sim = Venue.objects.get(code="SIM"); tech = Sector.objects.get(code="technology")
for n in range(Instrument.objects.filter(venue=sim).count(), 20):
    Instrument.objects.get_or_create(instrument_id=f"BENCH{n}.SIM", defaults=dict(symbol=f"BENCH{n}", venue=sim,
        asset_class="equity", sector=tech, quote_currency="USD", tick_size=D("0.01"), lot_size=D("1"),
        reference_price=D("100.00")))
user = user_create_with_role(username="bench-viewer", password="bench-viewer-pass-1", role=Role.VIEWER)
s = SessionStore(); s["_auth_user_id"] = str(user.pk)
s["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
s["_auth_user_hash"] = user.get_session_auth_hash()
s.save(); print("SESSION", s.session_key)
"""


def run() -> dict:
    from django.conf import settings

    sys.path.insert(0, str(ROOT))
    from tests.node.wsclient import WebSocket

    tmp = Path(tempfile.mkdtemp(prefix="ni-bench-tick-"))
    procs: list[subprocess.Popen] = []
    db = settings.DATABASES["default"]
    db_name = f"ni_bench_tick_{os.getpid()}"
    admin_url = f"postgresql://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}"
    import psutil
    import psycopg

    redis_port = _free_port()
    procs.append(
        subprocess.Popen(
            [
                shutil.which("redis-server") or "/usr/bin/redis-server",
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    _wait_port(redis_port)
    env = {
        **os.environ,
        "DATABASE_URL": f"{admin_url}/{db_name}",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": "WARNING",
        "NAUTILUS_DATA_PATH": str(tmp / "catalog"),
        "LOG_DIR": str(tmp),
    }
    with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}"')
        conn.execute(f'CREATE DATABASE "{db_name}"')
    detail: dict = {"clients": CLIENTS, "instruments": INSTRUMENTS}
    try:
        py = sys.executable
        subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        out = subprocess.run(
            [py, "manage.py", "shell", "-c", SETUP], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        ).stdout
        session = next(line.split()[1] for line in out.splitlines() if line.startswith("SESSION"))
        web_port = _free_port()
        procs.append(
            subprocess.Popen(
                [py, "-m", "daphne", "-b", "127.0.0.1", "-p", str(web_port), "config.asgi:application"],
                cwd=ROOT,
                env=env,
                stdout=open(tmp / "daphne.log", "ab"),
                stderr=subprocess.STDOUT,
            )
        )
        _wait_port(web_port)
        for rate in RATES:
            detail[f"{rate}/s"] = _measure(rate, tmp, env, web_port, session, WebSocket, psutil, procs[-1].pid)
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)
    top = detail[f"{RATES[-1]}/s"]
    return {"value": top["p99_ms"], "unit": "ms", "goal": GOAL_MS, "detail": detail}


def _measure(rate: int, tmp: Path, env: dict, web_port: int, session: str, WebSocket, psutil, web_pid: int) -> dict:
    config = {
        "trader_id": "BENCH-001",
        "log_level": "ERROR",
        "cache_database": {"type": "redis"},
        "simulation": {"tick_rate": rate / INSTRUMENTS, "seed": 5, "replay": False},
        "market_data": {"flush_interval_ms": FLUSH_MS, "broadcast_max_per_second": 20},
    }
    path = tmp / f"node-{rate}.json"
    path.write_text(json.dumps(config))
    node = subprocess.Popen(
        [sys.executable, "-m", "trading.node.main", "--config", str(path)],
        cwd=ROOT,
        env={**env, "NAUTILUS_CONFIG_PATH": str(path)},
        stdout=open(tmp / f"node-{rate}.log", "ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        import redis

        client = redis.Redis.from_url(env["REDIS_URL"])
        deadline = time.monotonic() + 60
        while client.hget("ni:node:BENCH-001", "state") != b"running":
            if time.monotonic() > deadline or node.poll() is not None:
                raise RuntimeError(f"node did not start (see {tmp}/node-{rate}.log)")
            time.sleep(0.1)
        procs = {"node": psutil.Process(node.pid), "web": psutil.Process(web_pid), "clients": psutil.Process()}
        samples, cpu, counts = asyncio.run(_collect(web_port, session, WebSocket, procs))
        lat = [total for total, _ in samples]
        in_node = [node_part for _, node_part in samples]
        return {
            "p50_ms": round(_percentile(lat, 50), 2),
            "p99_ms": round(_percentile(lat, 99), 2),
            "max_ms": round(max(lat), 2) if lat else None,
            # The same quotes, creation to the node's publish (the frame's "sent"): the rest is
            # Redis, the web process, the sockets and the clients.
            "in_node_p50_ms": round(_percentile(in_node, 50), 2),
            "in_node_p99_ms": round(_percentile(in_node, 99), 2),
            "received_per_client_per_s": round(counts / CLIENTS / WINDOW, 1),
            "node_cpu_percent_of_one_core": round(cpu["node"], 1),
            "node_cpu_share_of_machine": round(cpu["node"] / psutil.cpu_count() / 100, 3),
            # Where the rest of the time goes: daphne serving the 50 sockets, and this
            # process being the 50 "browsers" (on the same machine, so it competes with both).
            "web_cpu_percent_of_one_core": round(cpu["web"], 1),
            "clients_cpu_percent_of_one_core": round(cpu["clients"], 1),
            "machine_load_1m": round(os.getloadavg()[0], 2),
        }
    finally:
        node.send_signal(signal.SIGTERM)
        try:
            node.wait(timeout=20)
        except subprocess.TimeoutExpired:
            node.kill()


async def _collect(web_port: int, session: str, WebSocket, procs: dict):
    url = f"ws://127.0.0.1:{web_port}/ws/live/?topics=quotes"
    sockets = [await WebSocket.connect(url, cookie=f"sessionid={session}") for _ in range(CLIENTS)]
    latencies: list[tuple[float, float]] = []
    # Every socket is read from the start; only the window after the warm-up is recorded
    # (otherwise what queued while the 50 sockets were opening would count as latency).
    record_from = time.monotonic() + 2.0
    stop_at = record_from + WINDOW

    async def reader(ws):
        while True:
            msg = await ws.recv_json()
            now = time.time_ns()
            if time.monotonic() >= record_from and msg.get("topic") == "quotes" and msg.get("event") == "tick":
                sent = msg["data"]["sent"]
                latencies.extend(((now - q["ts"]) / 1e6, (sent - q["ts"]) / 1e6) for q in msg["data"]["quotes"])

    readers = [asyncio.create_task(reader(ws)) for ws in sockets]
    await asyncio.sleep(record_from - time.monotonic())
    for proc in procs.values():
        proc.cpu_percent(None)
    await asyncio.sleep(stop_at - time.monotonic())
    cpu = {name: proc.cpu_percent(None) for name, proc in procs.items()}
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    for ws in sockets:
        await ws.close()
    return latencies, cpu, len(latencies)
