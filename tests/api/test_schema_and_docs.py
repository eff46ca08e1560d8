"""OpenAPI schema and the interactive docs, which must work without internet."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from monitoring.roles import Role

pytestmark = pytest.mark.django_db


def test_schema_lists_the_endpoints(api):
    response = api(Role.VIEWER).get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/v1/orders/",
        "/api/v1/orders/{id}/",
        "/api/v1/risk/limits/",
        "/api/v1/risk/limits/{id}/",
        "/api/v1/strategies/",
        "/api/v1/strategies/{id}/versions/",
        "/api/v1/alerts/{id}/acknowledge/",
        "/api/v1/audit-log/",
        "/api/v1/auth/token/",
        "/api/v1/positions/",
        "/api/v1/accounts/",
    ]:
        assert path in paths, path
    create_limit = paths["/api/v1/risk/limits/"]["post"]
    assert create_limit["requestBody"]["content"]["application/json"]["examples"]
    schemes = response.json()["components"]["securitySchemes"]
    assert {"tokenAuth", "cookieAuth"} <= set(schemes)


def test_schema_generates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert (tmp_path / "schema.yml").read_text().startswith("openapi:")


def test_docs_render_from_local_assets_only(api, client):
    response = api(Role.VIEWER).get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html.lower()
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html) + re.findall(
        r"""["'](https?://[^"']+)["']""", html
    )
    external = [u for u in urls if u.startswith(("http://", "https://", "//")) and "testserver" not in u]
    assert not external, external
    assets = [u for u in urls if u.startswith("/static/")]
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets), assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
