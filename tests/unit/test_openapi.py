"""The committed OpenAPI document is exactly what the handlers generate."""

from local import openapi


def test_committed_document_matches_the_code():
    committed = openapi.DOCUMENT.read_text()
    assert committed == openapi.render(openapi.generate()), (
        "docs/openapi.json is out of date: run `make openapi` and commit it"
    )


def test_every_template_route_is_documented_with_its_security():
    document = openapi.generate()
    for route in openapi.api_routes():
        operation = document["paths"][route.path][route.method.lower()]
        if route.authorizer == "OperatorJwt":
            admin = route.path.startswith("/operator/templates/") and route.method in (
                "PUT",
                "DELETE",
            )
            admin |= route.path.endswith("/unlock")
            scope = "portal-accounts/admin" if admin else "portal-accounts/operator"
            assert operation["security"] == [{"operatorJwt": [scope]}]
            assert "application/problem+json" in operation["responses"]["403"]["content"]
        assert any(str(code).startswith("2") for code in operation["responses"])


def test_problem_answers_are_documented_as_problem_json():
    document = openapi.generate()
    create = document["paths"]["/operator/customers/{customer_id}/account"]["post"]
    for status in ("404", "409", "422"):
        assert "application/problem+json" in create["responses"][status]["content"]
