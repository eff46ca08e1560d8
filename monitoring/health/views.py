"""Health endpoints for load balancers and operators: no login, no secrets.

These views touch neither the session nor the cache, so a Redis or
PostgreSQL outage is reported as 503 with the reason, never raised as a 500.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from monitoring.health import checks

# URL slug -> check name.
COMPONENTS = {
    "postgres": "postgres",
    "redis": "redis",
    "celery": "celery",
    "channel-layer": "channel_layer",
    "nautilus": "nautilus",
    "risk-gate": "risk_gate",
    "f8-integration": "f8_integration",
    "data-feeds": "data_feeds",
    "neo4j": "neo4j",
}


def _answer(body: dict, status: int) -> JsonResponse:
    response = JsonResponse(body, status=status)
    # A 503 here is the endpoint doing its job, polled every few seconds by load
    # balancers; Django would log each one as an ERROR. The scheduled
    # ``monitoring.health_check`` task logs what is down instead.
    response._has_been_logged = True
    return response


@never_cache
@require_safe
def health(request):
    results = checks.run_checks(checks.REQUIRED)
    status = checks.overall_status(results)
    body = {"status": status, "checks": {name: result.as_dict() for name, result in results.items()}}
    return _answer(body, 200 if status == checks.OK else 503)


@never_cache
@require_safe
def component(request, slug: str):
    name = COMPONENTS.get(slug)
    if name is None:
        return JsonResponse({"error": f"No health check named {slug!r}.", "components": sorted(COMPONENTS)}, status=404)
    result = checks.run_check(name)
    body = {"component": name, **result.as_dict()}
    return _answer(body, 200 if result.up else 503)
