import json

import pytest
from django.contrib.staticfiles import finders
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db


def _schema(client) -> dict:
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def test_the_schema_is_valid_openapi_3(client):
    schema = _schema(client)
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/milestones/{id}/" in schema["paths"]
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_every_4xx_is_documented_with_the_error_body(client):
    schema = _schema(client)
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for code in ("400", "401", "403", "404", "429"):
                content = operation["responses"][code]["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Error"}, (path, method)
    assert set(schema["components"]["schemas"]["Error"]["required"]) == {
        "code",
        "message",
        "fields",
    }


def test_writes_document_if_match_and_412(client):
    schema = _schema(client)
    patch = schema["paths"]["/api/v1/filings/{id}/"]["patch"]
    assert any(p["name"] == "If-Match" and p["in"] == "header" for p in patch["parameters"])
    assert "ETag" in patch["responses"]["200"]["headers"]
    assert "412" in patch["responses"]


def test_the_docs_are_served_without_a_cdn(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "cdn" not in html.lower()
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    redoc = client.get("/api/v1/redoc/").content.decode()
    assert "cdn" not in redoc.lower() and "redoc.standalone.js" in redoc


@pytest.mark.parametrize(
    "url",
    ["/api/v1/", "/api/v1/milestones/", "/api/v1/webhook-endpoints/", "/api/v1/events/"],
)
def test_the_browsable_api_works_with_a_session(client, editor, url):
    from tests.factories import FilingFactory

    FilingFactory()
    client.force_login(editor)
    response = client.get(url, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")


def test_the_api_root_lists_the_resources(client, settings):
    body = client.get("/api/v1/").json()
    assert body["milestones"].endswith("/api/v1/milestones/")
    assert body["webhook-endpoints"].endswith("/api/v1/webhook-endpoints/")
    settings.TRACKER_PUBLIC_READ = False
    assert client.get("/api/v1/").status_code == 401


def test_the_schema_states_the_constraints_the_api_enforces(client):
    schema = _schema(client)
    (path_id,) = schema["paths"]["/api/v1/ag-reviews/{id}/"]["get"]["parameters"]
    assert path_id["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}
    listing = {
        p["name"]: p["schema"] for p in schema["paths"]["/api/v1/milestones/"]["get"]["parameters"]
    }
    assert listing["process"] == {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
    assert "-target_date" in listing["ordering"]["items"]["enum"]
    assert listing["search"]["pattern"] == "^[^\\x00]*$"
    endpoints = [
        p["name"] for p in schema["paths"]["/api/v1/webhook-endpoints/"]["get"]["parameters"]
    ]
    assert "search" not in endpoints  # refused there as an unknown parameter
    filing = schema["components"]["schemas"]["FilingRequest"]
    assert filing["additionalProperties"] is False
    assert filing["properties"]["target_date"]["pattern"].startswith("^(19[0-9]{2}|2[01]")
    assert filing["properties"]["title"]["pattern"] == "^[^\\x00]*[^\\s\\x00][^\\x00]*$"
    assert filing["properties"]["position"]["maximum"] == 2**31 - 1
    organization = schema["components"]["schemas"]["OrganizationRequest"]["properties"]
    assert organization["ticker"]["pattern"] == "^([A-Z][A-Z0-9.\\-]{0,9})?$"
    assert organization["website"]["oneOf"][0]["pattern"].startswith("^[Hh][Tt][Tt][Pp][Ss]?://")
