"""The OpenAPI document and its documentation page, served without any CDN."""

from __future__ import annotations

import re

import yaml
from django.contrib.auth.models import User
from django.test import Client

from tests.helpers import client_for


def test_the_schema_is_an_openapi_3_document_of_the_api(db: None) -> None:
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")

    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert re.fullmatch(r"3\.0\.\d+", schema["openapi"])
    assert schema["info"]["title"] == "Colloquy API"
    assert schema["info"]["version"] == "0.1.0"
    assert "/api/v1/codings/" in schema["paths"]
    assert "/api/v1/codings/{id}/" in schema["paths"]
    token = schema["paths"]["/api/v1/auth/token/"]["post"]
    assert "201" in token["responses"]
    token_auth = schema["components"]["securitySchemes"]["tokenAuth"]
    assert (token_auth["type"], token_auth["in"], token_auth["name"]) == (
        "apiKey",
        "header",
        "Authorization",
    )


def test_the_schema_comes_as_json_too(db: None) -> None:
    response = Client().get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.0.")


def test_the_docs_page_loads_nothing_from_other_sites(people: dict[str, User]) -> None:
    response = client_for(people["bob"]).get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    external = re.findall(r"""(?:src|href)\s*=\s*["'](?:https?:)?//[^"']+""", html)
    assert external == []
    assert "cdn.jsdelivr" not in html and "unpkg" not in html
    # No inline script (the Content Security Policy forbids it): the page's start-up script is
    # a file of its own, which points Swagger UI at the schema.
    assert "<script>" not in html
    script = client_for(people["bob"]).get("/api/docs/", {"script": ""})
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()
