"""How the dispatcher (portal_accounts.api.app) calls a route function: what each parameter
gets is read from its signature, never from module state.

Path parameters arrive decoded, the operator and the session by annotation (`Actor`,
`Principal`), the body by its schema's type whatever the parameter's name, `Sent[X]` as the
fields the client sent; a signature it cannot serve fails when the function is declared.
"""

from __future__ import annotations

import dataclasses
import importlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

import pytest

from local import openapi
from portal_accounts.api.app import Router, Sent, lambda_handler, parameters_of
from portal_accounts.audit import Actor
from portal_accounts.credentials.sessions import Principal
from portal_accounts.validation import MaxLen
from tests.helpers import FakeContext, call, http_event


@dataclasses.dataclass(kw_only=True)
class Note:
    text: Annotated[str, MaxLen(5)]
    pinned: bool = False


@dataclasses.dataclass(kw_only=True)
class NotePatch:
    text: Annotated[str, MaxLen(5)] | None = None
    pinned: bool | None = None


def served(register) -> Any:
    """The handler of a router with one route, declared by `register(router)`."""
    router = Router()
    register(router)
    return lambda_handler(router)


def session_event(method: str, path: str, **kwargs) -> dict:
    event = http_event(method, path, claims=None, **kwargs)
    context = Principal(
        username="mario.rossi@example.com",
        session_hash="0" * 64,
        customers=[{"customer_id": "c1", "first_name": "Mario", "last_name": "Rossi"}],
        password_change_required=False,
    ).context()
    event["requestContext"]["authorizer"] = {"lambda": context}
    return event


# ---- path parameters ------------------------------------------------------------------------


def test_path_parameters_arrive_decoded_once():
    def register(router):
        @router.get("/notes/<owner>/<note_id>")
        def read(owner: str, note_id: str) -> dict:
            return {"owner": owner, "note_id": note_id}

    handler = served(register)
    response = call(handler, "GET", "/notes/mario.rossi%40example.com/a%2540b")
    assert response["json"] == {"owner": "mario.rossi@example.com", "note_id": "a%40b"}


def test_a_typed_path_parameter_is_checked_with_the_query_and_the_body_in_one_422():
    def register(router):
        @router.post("/notes/<number>")
        def write(number: int, note: Note, limit: int = 1) -> dict:
            return {"number": number}

    handler = served(register)
    assert call(handler, "POST", "/notes/7", body={"text": "hi"})["json"] == {"number": 7}
    response = call(
        handler, "POST", "/notes/seven", query={"limit": "x"}, body={"text": "too long"}
    )
    assert response["statusCode"] == 422
    assert response["json"]["errors"] == [
        {"field": "number", "reason": "must be an integer"},
        {"field": "text", "reason": "must have at most 5 characters"},
        {"field": "limit", "reason": "must be an integer"},
    ]


# ---- the operator and the session, by annotation -------------------------------------------


def test_a_parameter_annotated_actor_gets_the_operator_of_the_request():
    def register(router):
        @router.get("/operator/whoami")
        def whoami(by: Actor) -> dict:
            return dataclasses.asdict(by)

    response = call(served(register), "GET", "/operator/whoami")
    assert response["json"] == {
        "type": "operator",
        "id": "op-123",
        "email": "desk@palestra.example",
    }


def test_a_parameter_annotated_principal_gets_the_session_of_the_request():
    def register(router):
        @router.get("/me/whoami")
        def whoami(who: Principal) -> dict:
            return {"username": who.username, "customers": who.customers}

    handler = served(register)
    response = handler(session_event("GET", "/me/whoami"), FakeContext())
    assert response["statusCode"] == 200, response
    assert '"username":"mario.rossi@example.com"' in response["body"]


def test_without_a_session_a_route_that_takes_one_is_401_before_its_body_is_read():
    def register(router):
        @router.put("/me/note")
        def save(note: Note, who: Principal) -> dict:
            raise AssertionError("not called")

    response = call(served(register), "PUT", "/me/note", claims=None, body={"text": "too long"})
    assert response["statusCode"] == 401, response
    assert response["json"]["detail"] == "A storefront session is required."


# ---- the body, by its type ----------------------------------------------------------------


def test_the_body_is_the_parameter_annotated_with_a_schema_whatever_its_name():
    def register(router):
        @router.post("/notes")
        def write(note: Note) -> dict:
            return dataclasses.asdict(note)

    response = call(served(register), "POST", "/notes", body={"text": "hi"})
    assert response["json"] == {"text": "hi", "pinned": False}


def test_a_parameter_named_body_is_not_special():
    def register(router):
        @router.get("/notes")
        def search(body: str = "none") -> dict:
            return {"body": body}

    handler = served(register)
    assert call(handler, "GET", "/notes", query={"body": "x"})["json"] == {"body": "x"}
    assert call(handler, "GET", "/notes")["json"] == {"body": "none"}


def test_sent_gets_only_the_fields_the_client_sent_with_null_as_none():
    def register(router):
        @router.patch("/notes/<note_id>")
        def change(note_id: str, changes: Sent[NotePatch]) -> dict:
            assert isinstance(changes, dict)
            return dict(changes)

    handler = served(register)
    response = call(handler, "PATCH", "/notes/1", body={"text": None})
    assert response["json"] == {"text": None}
    assert call(handler, "PATCH", "/notes/1", body={})["json"] == {}
    refused = call(handler, "PATCH", "/notes/1", body={"colour": "red", "pinned": "yes"})
    assert refused["statusCode"] == 422
    assert refused["json"]["errors"] == [
        {"field": "pinned", "reason": "must be true or false"},
        {"field": "colour", "reason": "is not an accepted field"},
    ]


def test_an_optional_body_is_none_when_absent_or_null():
    def register(router):
        @router.post("/notes/preview")
        def preview(draft: Sent[NotePatch] | None = None) -> dict:
            return {"draft": draft}

    handler = served(register)
    assert call(handler, "POST", "/notes/preview")["json"] == {"draft": None}
    assert call(handler, "POST", "/notes/preview", body="null")["json"] == {"draft": None}
    response = call(handler, "POST", "/notes/preview", body={"pinned": True})
    assert response["json"] == {"draft": {"pinned": True}}


# ---- signatures it cannot serve fail when declared ------------------------------------------


def declared(path: str, function) -> None:
    router = Router()
    router.post(path)(function)
    lambda_handler(router)


def test_a_signature_the_dispatcher_cannot_serve_fails_at_import():
    def no_path(text: str) -> None: ...

    def two_bodies(first: Note, second: NotePatch) -> None: ...

    def unchecked(tags: set[str]) -> None: ...

    def unannotated(note_id) -> None: ...

    with pytest.raises(TypeError, match="must take each of"):
        declared("/notes/<note_id>", no_path)
    with pytest.raises(TypeError, match="more than one body"):
        declared("/notes", two_bodies)
    with pytest.raises(TypeError, match="no check"):
        declared("/notes", unchecked)
    with pytest.raises(TypeError, match="needs an annotation"):
        declared("/notes/<note_id>", unannotated)


# ---- no module state ----------------------------------------------------------------------


def test_concurrent_requests_to_one_handler_each_get_their_own_arguments():
    """The local stack calls one module from many threads, as it now imports it once."""
    both_inside = threading.Barrier(2, timeout=10)

    def register(router):
        @router.post("/operator/notes/<note_id>")
        def write(note_id: str, note: Note, by: Actor) -> dict:
            both_inside.wait()  # the two calls overlap here
            return {"note_id": note_id, "text": note.text, "by": by.id}

    handler = served(register)

    def send(number: int) -> dict:
        claims = {"sub": f"op-{number}", "scope": "portal-accounts/operator"}
        body = {"text": f"n{number}"}
        return call(handler, "POST", f"/operator/notes/{number}", claims=claims, body=body)

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(send, (1, 2))
    assert first["json"] == {"note_id": "1", "text": "n1", "by": "op-1"}
    assert second["json"] == {"note_id": "2", "text": "n2", "by": "op-2"}


def test_a_router_holds_its_routes_only():
    router = Router()
    assert list(vars(router)) == ["routes"]


# ---- the OpenAPI document reads the same signatures -----------------------------------------


def test_every_route_documents_what_it_takes_from_the_request():
    """No operator or session parameter in the document; path, query and body as served."""
    document = openapi.generate()
    for route in openapi.api_routes():
        router = importlib.import_module(route.module).router
        (served_route,) = [r for r in router.routes if r.method == route.method]
        operation = document["paths"][route.path][route.method.lower()]
        taken = {p.kind: p for p in parameters_of(served_route)}
        documented = {(p["in"], p["name"]) for p in operation.get("parameters", [])}
        expected = {
            ("path" if p.kind == "path" else "query", p.name)
            for p in parameters_of(served_route)
            if p.kind in ("path", "query")
        }
        assert documented == expected, route
        assert ("requestBody" in operation) == bool({"body", "sent"} & set(taken)), route
