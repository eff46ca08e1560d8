"""A throwaway PostgreSQL database for benchmarks that need millions of rows.

``bench_database()`` creates ``nautilus_bench`` (dropping a leftover one), runs
``migrate`` against it with ``DATABASE_URL`` overridden, yields its URL and
drops it at the end. ``run_child()`` runs a benchmark's measuring half in a
fresh interpreter pointed at that database (the parent already set Django up
against the desk's own database).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = os.environ.get("BENCH_DATABASE_NAME", "nautilus_bench")


def _admin_params() -> dict:
    from django.conf import settings

    db = settings.DATABASES["default"]
    return {
        "host": db["HOST"] or "localhost",
        "port": db["PORT"] or 5432,
        "user": db["USER"],
        "password": db["PASSWORD"],
        "dbname": "postgres",
    }


def _url(params: dict, name: str) -> str:
    return f"postgresql://{params['user']}:{params['password']}@{params['host']}:{params['port']}/{name}"


def _drop_and_create(params: dict, *, create: bool) -> None:
    import psycopg

    with psycopg.connect(**params, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


@contextlib.contextmanager
def bench_database() -> Iterator[str]:
    params = _admin_params()
    _drop_and_create(params, create=True)
    url = _url(params, BENCH_DB)
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": url},
            check=True,
            timeout=600,
        )
        yield url
    finally:
        _drop_and_create(params, create=False)


def run_child(module: str, url: str, *, timeout: float = 1800) -> dict:
    """Run ``python -m <module> --child`` against the bench database; its last stdout line is JSON."""
    out = subprocess.run(
        [sys.executable, "-m", module, "--child"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings"},
        timeout=timeout,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{module} failed:\n{out.stderr[-4000:]}")
    sys.stderr.write(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def child_setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
