"""The two durable Redis streams between the desk and the Nautilus node.

``ni:node:<trader_id>:commands`` — desk -> node: submit / cancel / modify / cancel_all.
``ni:node:<trader_id>:events``   — node -> desk: every order event the venue reports.

Both are read through consumer groups and acknowledged only after the reader
has acted (the node: Nautilus has the command; the bridge: the database
committed), so a crash at any point re-delivers instead of losing. Re-delivery
is harmless because both ends are idempotent by ``client_order_id`` (the node
skips an order its Redis-backed cache already holds; the bridge ignores a
status the order already passed and a fill whose trade id it already has).

Each entry has three fields: ``type``, ``body`` (JSON; Decimals as strings) and
``cid`` (the correlation id of the request that caused it).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis

from monitoring.logging import correlation_id
from monitoring.redis_client import redis_client
from trading.node.status import configured_trader_id

COMMAND_TYPES = frozenset(
    {
        "submit",
        "cancel",
        "modify",
        "cancel_all",
        "deploy_strategy",
        "stop_strategy",
        "pause_strategy",
        "resume_strategy",
    }
)
EVENT_TYPES = frozenset(
    {
        "submitted",  # the node handed the order to Nautilus (or a strategy created one)
        "denied",  # Nautilus's RiskEngine or our in-node gate refused it before the venue
        "accepted",
        "rejected",
        "triggered",
        "updated",  # a modification the venue accepted
        "modify_rejected",
        "cancel_rejected",
        "partially_filled",
        "filled",
        "canceled",
        "expired",
    }
)
# Streams are trimmed approximately to this many entries; far more than can be in flight.
STREAM_MAXLEN = 100_000


def commands_stream(trader_id: str | None = None) -> str:
    return f"ni:node:{trader_id or configured_trader_id()}:commands"


def events_stream(trader_id: str | None = None) -> str:
    return f"ni:node:{trader_id or configured_trader_id()}:events"


@dataclass(frozen=True)
class StreamEntry:
    stream_id: str
    type: str
    body: dict[str, Any]
    cid: str


def _append(stream: str, type_: str, body: dict[str, Any], client: redis.Redis | None = None) -> str:
    fields = {"type": type_, "body": json.dumps(body, separators=(",", ":")), "cid": correlation_id.get()}
    entry_id = (client or redis_client()).xadd(stream, fields, maxlen=STREAM_MAXLEN, approximate=True)
    return entry_id.decode() if isinstance(entry_id, bytes) else entry_id


def command_send(type_: str, body: dict[str, Any], *, trader_id: str | None = None) -> str:
    if type_ not in COMMAND_TYPES:
        raise ValueError(f"unknown node command {type_!r}")
    return _append(commands_stream(trader_id), type_, body)


def event_send(
    type_: str, body: dict[str, Any], *, trader_id: str | None = None, client: redis.Redis | None = None
) -> str:
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown node event {type_!r}")
    return _append(events_stream(trader_id), type_, body, client)


def ensure_group(client: redis.Redis, stream: str, group: str) -> None:
    try:
        client.xgroup_create(stream, group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def read_group(
    client: redis.Redis,
    stream: str,
    group: str,
    consumer: str,
    *,
    block_ms: int = 1000,
    count: int = 100,
    pending: bool = True,
) -> Iterator[StreamEntry]:
    """Entries for this consumer: first its own un-acknowledged ones (after a crash), then new ones.

    ``pending=False`` reads only new ones, for a caller that acknowledged everything it read
    before (no group creation either: a vanished group raises, and the caller's retry passes True)."""
    if pending:
        ensure_group(client, stream, group)
    for start in ("0", ">") if pending else (">",):
        response = client.xreadgroup(
            group, consumer, {stream: start}, count=count, block=None if start == "0" else block_ms
        )
        for _stream, entries in response or []:
            for entry_id, fields in entries:
                if not fields:  # an entry trimmed away while pending
                    client.xack(stream, group, entry_id)
                    continue
                yield StreamEntry(
                    stream_id=entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
                    type=fields[b"type"].decode(),
                    body=json.loads(fields[b"body"]),
                    cid=fields.get(b"cid", b"").decode(),
                )
