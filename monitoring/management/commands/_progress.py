"""Progress lines for the data generators: ``[n/N] what`` at about every tenth step.

Plain lines rather than a redrawn bar, so the output reads the same in a
terminal, in ``make run``'s combined log and in a CI transcript.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def progress[T](items: Iterable[T], *, total: int, label: str, write) -> Iterator[T]:
    """Yield ``items``, writing ``[n/total] label`` roughly ten times along the way."""
    if total <= 0:
        write(f"[0/0] {label}: nothing to do")
        return
    step = max(1, total // 10)
    n = 0
    for n, item in enumerate(items, start=1):
        yield item
        if n % step == 0 or n == total:
            write(f"[{n}/{total}] {label}")
    if n != total and n % step != 0:
        write(f"[{n}/{total}] {label}")
