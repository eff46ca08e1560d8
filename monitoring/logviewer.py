"""Reading the desk's JSON log (``LOG_DIR/nautilus-integration.log``) newest first, filtered.

The file can be tens of megabytes and is appended by every process, so it is
read backwards in fixed blocks from the end: the newest matches come first,
reading stops when enough lines matched, when the lines are older than the
time range, or after ``max_bytes`` — a query costs what it returns, not the
size of the file. Lines that are not JSON (a crash trace, a foreign writer)
are shown as they are, at level ``RAW``.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.utils import timezone

BLOCK = 64 * 1024
MAX_BYTES = 64 * 1024 * 1024
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LEVEL_RANK = {name: i for i, name in enumerate(LEVELS)}
FIELDS = ("ts", "level", "logger", "role", "process", "correlation_id", "message")


def log_path() -> Path:
    return Path(settings.LOG_DIR) / "nautilus-integration.log"


def lines_backwards(path: Path, *, max_bytes: int = MAX_BYTES) -> Iterator[str]:
    """The file's lines, last first, reading at most ``max_bytes`` from the end."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return
    try:
        f.seek(0, os.SEEK_END)
        position = f.tell()
        floor = max(0, position - max_bytes)
        tail = b""
        while position > floor:
            size = min(BLOCK, position - floor)
            position -= size
            f.seek(position)
            chunk = f.read(size) + tail
            parts = chunk.split(b"\n")
            # The first part may be the end of a line that starts in the previous block.
            tail = parts[0]
            for raw in reversed(parts[1:]):
                if raw.strip():
                    yield raw.decode("utf-8", errors="replace")
        if tail.strip() and floor == 0:
            yield tail.decode("utf-8", errors="replace")
    finally:
        f.close()


def _parse_ts(value: str) -> datetime | None:
    # DeskJsonFormatter writes logging's asctime: "2026-11-24 05:12:03,123" in the server's local time (UTC here).
    try:
        parsed = datetime.strptime(value[:23], "%Y-%m-%d %H:%M:%S,%f")
    except (TypeError, ValueError):
        try:
            parsed = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return None
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


@dataclass
class LogLine:
    ts: str
    level: str
    logger: str
    role: str
    process: str
    correlation_id: str
    message: str
    at: datetime | None
    extra: dict

    @classmethod
    def parse(cls, raw: str) -> LogLine:
        try:
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError
        except ValueError:
            return cls("", "RAW", "", "", "", "", raw, None, {})
        known = {k: data.pop(k, "") for k in FIELDS}
        exc = data.pop("exc_info", "")
        message = str(known["message"]) + (f"\n{exc}" if exc else "")
        return cls(
            ts=str(known["ts"]),
            level=str(known["level"]).upper(),
            logger=str(known["logger"]),
            role=str(known["role"]),
            process=str(known["process"]),
            correlation_id=str(known["correlation_id"] or ""),
            message=message,
            at=_parse_ts(str(known["ts"])),
            extra=data,
        )

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in FIELDS} | {"extra": self.extra}


@dataclass
class LogQuery:
    level: str = ""  # minimum level
    text: str = ""
    since: datetime | None = None
    until: datetime | None = None
    correlation_id: str = ""
    limit: int = 200


@dataclass
class LogResult:
    lines: list[LogLine]
    scanned: int
    truncated: bool  # stopped at max_bytes with the range not exhausted
    path: str


def log_search(query: LogQuery, *, path: Path | None = None, max_bytes: int = MAX_BYTES) -> LogResult:
    """Newest first, at most ``query.limit`` lines matching every filter."""
    path = path or log_path()
    minimum = LEVEL_RANK.get(query.level.upper(), 0) if query.level else -1
    needle = query.text.lower()
    found: list[LogLine] = []
    scanned = 0
    reached_start = True
    for raw in lines_backwards(path, max_bytes=max_bytes):
        scanned += 1
        # The cheap test first: most lines fail the text search before being parsed.
        if needle and needle not in raw.lower():
            continue
        if query.correlation_id and query.correlation_id not in raw:
            continue
        line = LogLine.parse(raw)
        if line.at is not None:
            if query.until and line.at > query.until:
                continue
            if query.since and line.at < query.since:
                # Older than the range: every line before this one is older still (bar a few
                # milliseconds of interleaving between processes).
                break
        if minimum >= 0 and LEVEL_RANK.get(line.level, -1) < minimum:  # a raw line has no level to pass a filter
            continue
        found.append(line)
        if len(found) >= query.limit:
            break
    else:
        reached_start = _file_size(path) <= max_bytes
    return LogResult(lines=found, scanned=scanned, truncated=not reached_start, path=str(path))


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def export_csv(lines: list[LogLine]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(FIELDS)
    for line in lines:
        writer.writerow([getattr(line, k) for k in FIELDS])
    return out.getvalue()


def export_json(lines: list[LogLine]) -> str:
    return json.dumps([line.as_dict() for line in lines], indent=1, default=str)
