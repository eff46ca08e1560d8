from django.http import Http404, HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST

from monitoring.metrics import enabled, render


def metrics(request):
    """Prometheus scrape endpoint (no login: scrapers live on the private network)."""
    if not enabled():
        raise Http404("Metrics are disabled (METRICS_ENABLED=false).")
    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)
