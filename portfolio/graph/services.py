"""Writes that start from the graph: adopting a correlation cluster as a risk limit group."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

from risk.limits import risk_limit_create
from risk.models import RiskLimit
from trading.models import Instrument

MAX_GROUP = 500


def graph_cluster_adopt(
    *,
    instruments: list[str],
    threshold: Any,
    value: Any,
    user,
    name: str = "",
    currency: str = "",
    via: str | None = None,
) -> RiskLimit:
    """Create a global ``correlation_exposure`` limit over exactly these instruments.

    The limit carries ``params = {"instruments": [...], "threshold": rho}``: the
    gate's correlation check reads that list from its in-memory snapshot and
    never asks Neo4j. Written through ``risk.limits`` (validation, version,
    audit, live refresh); field errors come back as ``ValidationError``.
    """
    errors: dict[str, list[str]] = {}
    if not isinstance(instruments, list) or not all(isinstance(i, str) and i for i in instruments):
        errors["instruments"] = ['Send a list of instrument ids, e.g. ["EUR/USD.SIM", "GBP/USD.SIM"].']
    else:
        instruments = sorted(set(instruments))
        if len(instruments) < 2:
            errors["instruments"] = ["A cluster has at least two instruments."]
        elif len(instruments) > MAX_GROUP:
            errors["instruments"] = [f"A limit group has at most {MAX_GROUP} instruments."]
        else:
            known = set(
                Instrument.objects.filter(instrument_id__in=instruments).values_list("instrument_id", flat=True)
            )
            unknown = [i for i in instruments if i not in known]
            if unknown:
                errors["instruments"] = [f"Unknown instruments: {', '.join(unknown[:10])}."]
    rho = None
    try:
        if isinstance(threshold, bool):
            raise ValueError
        rho = float(Decimal(str(threshold)))
        if not 0 < rho <= 1:
            raise ValueError
    except (ValueError, ArithmeticError):
        errors["threshold"] = ["threshold must be a correlation above 0 and at most 1, e.g. 0.7."]
    if errors:
        raise ValidationError(errors)
    label = (
        name.strip()
        if isinstance(name, str) and name.strip()
        else (f"Correlated group rho>={rho:g}: {', '.join(instruments[:3])}{'…' if len(instruments) > 3 else ''}")
    )
    return risk_limit_create(
        user=user,
        via=via,
        name=label[:128],
        kind=RiskLimit.Kind.CORRELATION_EXPOSURE,
        scope="global",
        value=value,
        currency=currency,
        params={"instruments": instruments, "threshold": rho},
        enabled=True,
    )
