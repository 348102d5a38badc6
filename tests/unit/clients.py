"""The unit tests' clients of the API, and the data they need: no fixture here (those are in
tests/unit/conftest.py, which builds them from these).

Every client calls the real handlers (functions.<op>.app.handler) the way API Gateway and
Lambda would; none bypasses the API.

- `Desk`: the operator dashboard's customer and account routes.
- `Operator`: the operator routes of the email issue (templates, F4, F11, F15).
- `Shop`: the storefront as a client sees it — login, the session authorizer in front of
  the session routes (401 when it fails with "Unauthorized", 403 when it answers
  isAuthorized false), forgot/verify/reset.
- `Postman`: the email queue drained by the real sender the way Lambda's SQS event source
  does it (records built from received messages, successes deleted, the partial batch
  response honoured), and the emails emulated SES has sent.

`seed_account` is the one shortcut: it writes an account straight through the models (with
a precomputed hash) so that pagination tests need not pay argon2 for dozens of accounts.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from contextlib import contextmanager
from functools import lru_cache
from urllib.parse import quote

import boto3
from botocore.exceptions import ClientError
from moto.ses import models as ses_models

from functions.auth_forgot_password.app import handler as forgot_handler
from functions.auth_login.app import handler as login_handler
from functions.auth_logout.app import handler as logout_handler
from functions.auth_reset_password.app import handler as reset_handler
from functions.auth_verify_reset_link.app import handler as verify_handler
from functions.email_sender.app import handler as sender_handler
from functions.me_change_password.app import handler as change_password_handler
from functions.me_get.app import handler as me_handler
from functions.operator_associate_account.app import handler as associate_handler
from functions.operator_create_account.app import handler as create_account_handler
from functions.operator_create_customer.app import handler as create_customer_handler
from functions.operator_delete_template.app import handler as delete_template_handler
from functions.operator_disable_account.app import handler as disable_handler
from functions.operator_dissociate_account.app import handler as dissociate_handler
from functions.operator_enable_account.app import handler as enable_handler
from functions.operator_get_account.app import handler as get_account_handler
from functions.operator_get_customer.app import handler as get_customer_handler
from functions.operator_get_template.app import handler as get_template_handler
from functions.operator_list_accounts.app import handler as list_accounts_handler
from functions.operator_list_emails.app import handler as list_emails_handler
from functions.operator_list_events.app import handler as list_events_handler
from functions.operator_list_templates.app import handler as list_templates_handler
from functions.operator_preview_template.app import handler as preview_template_handler
from functions.operator_put_template.app import handler as put_template_handler
from functions.operator_reset_password.app import handler as operator_reset_handler
from functions.operator_send_credentials.app import handler as send_credentials_handler
from functions.operator_set_password.app import handler as set_password_handler
from functions.operator_update_customer.app import handler as update_customer_handler
from functions.session_authorizer.app import handler as authorizer_handler
from local import mailbox
from portal_accounts import clock
from portal_accounts.clients import dynamodb
from portal_accounts.credentials.passwords import hash_password
from portal_accounts.models import AccountModel, CustomerModel
from portal_accounts.search import index as search
from tests.helpers import FakeContext, call, http_event

ACCOUNT_ID = "123456789012"
REGION = "eu-south-1"
LINK = re.compile(r"(https?://[^\s\"<>]+/reset-password\?token=([A-Za-z0-9_\-]+))")
# generate_password(): 5 groups of 5 letters/digits joined by dashes.
GENERATED_PASSWORD = re.compile(r"\b[A-Za-z0-9]{5}(?:-[A-Za-z0-9]{5}){4}\b")


# A passphrase that passes the policy for every customer used in these tests.
GOOD_PASSWORD = "lanterna verde sul molo antico"
OTHER_GOOD_PASSWORD = "tramonto viola dietro le colline"
THIRD_GOOD_PASSWORD = "girasole stanco sul balcone azzurro"
FOURTH_GOOD_PASSWORD = "cammello curioso nel deserto rosa"


def enc(value: str) -> str:
    """A path parameter as API Gateway delivers it: URL-encoded (@ as %40)."""
    return quote(value, safe="")


def with_json(response: dict) -> dict:
    if response.get("body"):
        try:
            response["json"] = json.loads(response["body"])
        except ValueError:
            response["json"] = None
    else:
        response.setdefault("json", None)
    return response


# ---- the operator's customers and accounts -----------------------------------------------


class Desk:
    """The operator dashboard: one method per operator route, each a real handler call."""

    def __init__(self, claims: dict | None = None) -> None:
        self.kwargs = {} if claims is None else {"claims": claims}

    def create_customer(self, first_name="Mario", last_name="Rossi", email=None, **extra):
        body = {"first_name": first_name, "last_name": last_name, **extra}
        if email is not None:
            body["email"] = email
        return call(
            create_customer_handler, "POST", "/operator/customers", body=body, **self.kwargs
        )

    def customer(self, first_name="Mario", last_name="Rossi", email=None, **extra) -> str:
        """Create a customer and return its id (the creation must succeed)."""
        response = self.create_customer(first_name, last_name, email, **extra)
        assert response["statusCode"] == 201, response
        return response["json"]["customer_id"]

    def get_customer(self, customer_id):
        return call(
            get_customer_handler, "GET", f"/operator/customers/{customer_id}", **self.kwargs
        )

    def update_customer(self, customer_id, body):
        return call(
            update_customer_handler,
            "PATCH",
            f"/operator/customers/{customer_id}",
            body=body,
            **self.kwargs,
        )

    def create_account(self, customer_id, password=GOOD_PASSWORD, **extra):
        return call(
            create_account_handler,
            "POST",
            f"/operator/customers/{customer_id}/account",
            body={"password": password, **extra},
            **self.kwargs,
        )

    def account_for(self, first_name, last_name, email, **extra) -> tuple[str, str]:
        """A customer with a new account; returns (customer_id, username)."""
        customer_id = self.customer(first_name, last_name, email)
        response = self.create_account(customer_id, **extra)
        assert response["statusCode"] == 201, response
        return customer_id, response["json"]["username"]

    def associate(self, customer_id, username):
        return call(
            associate_handler,
            "PUT",
            f"/operator/customers/{customer_id}/account",
            body={"username": username},
            **self.kwargs,
        )

    def dissociate(self, customer_id):
        return call(
            dissociate_handler,
            "DELETE",
            f"/operator/customers/{customer_id}/account",
            **self.kwargs,
        )

    def get_account(self, username):
        return call(
            get_account_handler, "GET", f"/operator/accounts/{enc(username)}", **self.kwargs
        )

    def set_password(self, username, password, confirmation=None, **extra):
        body = {
            "password": password,
            "password_confirmation": password if confirmation is None else confirmation,
            **extra,
        }
        return call(
            set_password_handler,
            "PUT",
            f"/operator/accounts/{enc(username)}/password",
            body=body,
            **self.kwargs,
        )

    def disable(self, username):
        return call(
            disable_handler, "POST", f"/operator/accounts/{enc(username)}/disable", **self.kwargs
        )

    def enable(self, username):
        return call(
            enable_handler, "POST", f"/operator/accounts/{enc(username)}/enable", **self.kwargs
        )

    def list_accounts(self, **query):
        query = {k: str(v) for k, v in query.items() if v is not None}
        return call(list_accounts_handler, "GET", "/operator/accounts", query=query, **self.kwargs)

    def usernames(self, **query) -> list[str]:
        response = self.list_accounts(**query)
        assert response["statusCode"] == 200, response
        return [item["username"] for item in response["json"]["items"]]

    def all_pages(self, **query) -> list[str]:
        """Follow next_cursor to the end; returns every username in page order."""
        seen: list[str] = []
        cursor = None
        for _ in range(200):
            response = self.list_accounts(**query, cursor=cursor)
            assert response["statusCode"] == 200, response
            assert len(response["json"]["items"]) <= int(query.get("limit", 25))
            seen += [item["username"] for item in response["json"]["items"]]
            cursor = response["json"]["next_cursor"]
            if cursor is None:
                return seen
        raise AssertionError("pagination never ended")

    def events(self, username, **query):
        query = {k: str(v) for k, v in query.items() if v is not None}
        return call(
            list_events_handler,
            "GET",
            f"/operator/accounts/{enc(username)}/events",
            query=query,
            **self.kwargs,
        )


@lru_cache(maxsize=1)
def precomputed_hash() -> str:
    return hash_password(GOOD_PASSWORD)


def seed_account(
    username: str,
    customers: list[tuple[str, str]],
    *,
    status: str = "active",
) -> AccountModel:
    """An account with linked customers written through the models, then indexed."""
    now = clock.now()
    entries = {}
    for first_name, last_name in customers:
        customer_id = str(uuid.uuid4())
        CustomerModel(
            customer_id=customer_id,
            first_name=first_name,
            last_name=last_name,
            email=username,
            locale="it",
            account_username=username,
            created_at=now,
            updated_at=now,
        ).save()
        entries[customer_id] = {
            "first_name": first_name,
            "last_name": last_name,
            "linked_at": clock.iso(now),
        }
    account = AccountModel(
        username=username,
        status=status,
        password_hash=precomputed_hash(),
        password_temporary=False,
        password_changed_at=now,
        credential_version=1,
        created_at=now,
        customers=entries,
    )
    account.save()
    search.sync(account)
    return account


# ---- the storefront ----------------------------------------------------------------------


def authorizer_event(route_key: str, authorization: str | None) -> dict:
    method, _, path = route_key.partition(" ")
    headers = {"host": "api.example.com", "user-agent": "pytest"}
    if authorization is not None:
        headers["authorization"] = authorization
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:api/$default/{method}{path}",
        "identitySource": [authorization] if authorization is not None else [],
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "api",
            "domainName": "api.example.com",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "pytest",
            },
            "requestId": "auth-1",
            "routeKey": route_key,
            "stage": "$default",
        },
        "pathParameters": {},
        "stageVariables": {},
    }


UNAUTHORIZED = "Unauthorized"


def authorize(token: str | None, route_key: str = "GET /me", *, header: str | None = None):
    """What the session authorizer answers: its simple response, or UNAUTHORIZED when it
    fails with Exception("Unauthorized") (API Gateway's 401)."""
    authorization = header if header is not None else (f"Bearer {token}" if token else None)
    try:
        return authorizer_handler(authorizer_event(route_key, authorization), FakeContext())
    except Exception as error:
        if str(error) == UNAUTHORIZED:
            return UNAUTHORIZED
        raise


def is_valid(token: str, route_key: str = "GET /me") -> bool:
    answer = authorize(token, route_key)
    return answer != UNAUTHORIZED and answer.get("isAuthorized") is True


def behind_authorizer(handler, method: str, path: str, token: str | None, **kwargs) -> dict:
    """A session route as API Gateway serves it: the authorizer first, then the handler."""
    answer = authorize(token, f"{method} {path}")
    if answer == UNAUTHORIZED:
        return {"statusCode": 401, "json": None, "headers": {}}
    if not answer.get("isAuthorized"):
        return {"statusCode": 403, "json": None, "headers": {}}
    event = http_event(method, path, claims=None, **kwargs)
    event["requestContext"]["authorizer"] = {"lambda": answer["context"]}
    return with_json(handler(event, FakeContext()))


class Shop:
    """The storefront's calls, each a real handler call."""

    def login(self, username: str, password: str, **kwargs) -> dict:
        return call(
            login_handler,
            "POST",
            "/auth/login",
            body={"username": username, "password": password},
            claims=None,
            **kwargs,
        )

    def token(self, username: str, password: str) -> str:
        response = self.login(username, password)
        assert response["statusCode"] == 200, response
        return response["json"]["token"]

    def me(self, token: str | None) -> dict:
        return behind_authorizer(me_handler, "GET", "/me", token)

    def logout(self, token: str | None) -> dict:
        return behind_authorizer(logout_handler, "POST", "/auth/logout", token)

    def change_password(self, token, current, new, confirmation=None) -> dict:
        body = {
            "current_password": current,
            "new_password": new,
            "new_password_confirmation": new if confirmation is None else confirmation,
        }
        return behind_authorizer(change_password_handler, "PUT", "/me/password", token, body=body)

    def forgot(self, email: str, **kwargs) -> dict:
        return call(
            forgot_handler,
            "POST",
            "/auth/password/forgot",
            body={"email": email},
            claims=None,
            **kwargs,
        )

    def verify(self, token: str) -> dict:
        return call(
            verify_handler,
            "POST",
            "/auth/password/reset/verify",
            body={"token": token},
            claims=None,
        )

    def reset(self, token: str, password: str, confirmation: str | None = None) -> dict:
        body = {
            "token": token,
            "password": password,
            "password_confirmation": password if confirmation is None else confirmation,
        }
        return call(reset_handler, "POST", "/auth/password/reset", body=body, claims=None)


# ---- the operator's email routes ---------------------------------------------------------


class Operator:
    def templates(self) -> dict:
        return call(list_templates_handler, "GET", "/operator/templates")

    def template(self, template_id: str, locale: str) -> dict:
        return call(
            get_template_handler, "GET", f"/operator/templates/{enc(template_id)}/{enc(locale)}"
        )

    def put_template(self, template_id: str, locale: str, body: dict) -> dict:
        return call(
            put_template_handler,
            "PUT",
            f"/operator/templates/{enc(template_id)}/{enc(locale)}",
            body=body,
        )

    def delete_template(self, template_id: str, locale: str) -> dict:
        return call(
            delete_template_handler,
            "DELETE",
            f"/operator/templates/{enc(template_id)}/{enc(locale)}",
        )

    def preview(self, template_id: str, locale: str, body: dict | None = None) -> dict:
        return call(
            preview_template_handler,
            "POST",
            f"/operator/templates/{enc(template_id)}/{enc(locale)}/preview",
            body={} if body is None else body,
        )

    def send_credentials(self, customer_id: str) -> dict:
        return call(
            send_credentials_handler,
            "POST",
            f"/operator/customers/{enc(customer_id)}/account/credentials-email",
        )

    def reset_password(self, customer_id: str, body: dict | None = None) -> dict:
        return call(
            operator_reset_handler,
            "POST",
            f"/operator/customers/{enc(customer_id)}/account/password-reset",
            body=body,
        )

    def emails(self, username: str, **query) -> dict:
        query = {k: str(v) for k, v in query.items() if v is not None}
        return call(
            list_emails_handler,
            "GET",
            f"/operator/accounts/{enc(username)}/emails",
            query=query,
        )


# ---- the queue and the sender ------------------------------------------------------------


def _arn_of(queue_url: str) -> str:
    return boto3.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]


def sqs_record(message: dict, queue_arn: str) -> dict:
    """One record of the event Lambda's SQS event source sends, from a received message."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody")
        or hashlib.md5(message["Body"].encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


def sqs_event(records: list[dict]) -> dict:
    return {"Records": records}


class Postman:
    """The email queues, the sender that drains them (the transactional queue first, as
    the local stack does), and what SES has sent."""

    def __init__(self, names: dict[str, str]) -> None:
        self.queue_url = names["EmailQueue"]  # transactional
        self.bulk_queue_url = names["BulkEmailQueue"]
        self.dlq_url = names["EmailDeadLetterQueue"]
        self._arns = {
            names[queue]: names.get(f"{queue}.Arn") or _arn_of(names[queue])
            for queue in ("EmailQueue", "BulkEmailQueue")
        }
        self._queue_of: dict[str, str] = {}  # receipt handle -> the queue it came from
        self.sqs = boto3.client("sqs")

    # -- the queues
    def receive(self, *, max_messages: int = 10, visibility_timeout: int | None = None):
        """One batch, from the first queue with messages (each batch from one queue)."""
        kwargs = {}
        if visibility_timeout is not None:
            kwargs["VisibilityTimeout"] = visibility_timeout
        for queue_url in self._arns:
            messages = self.sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=max_messages,
                AttributeNames=["All"],
                **kwargs,
            ).get("Messages", [])
            if messages:
                self._queue_of.update((m["ReceiptHandle"], queue_url) for m in messages)
                return messages
        return []

    def queue_of(self, message: dict) -> str:
        """The URL of the queue a received message came from."""
        return self._queue_of[message["ReceiptHandle"]]

    def receive_all(self, expected: int | None = None) -> list[dict]:
        """Every message now in the queue (made invisible until handled)."""
        messages: list[dict] = []
        for _ in range(50):
            batch = self.receive()
            if not batch:
                break
            messages += batch
            if expected is not None and len(messages) >= expected:
                break
        return messages

    def queued_requests(self) -> list[dict]:
        """The bodies of the messages in the queue, left in it (visible again)."""
        messages = self.receive_all()
        for message in messages:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_of(message),
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=0,
            )
        return [json.loads(m["Body"]) for m in messages]

    def delete(self, messages: list[dict]) -> None:
        for message in messages:
            self.sqs.delete_message(
                QueueUrl=self.queue_of(message), ReceiptHandle=message["ReceiptHandle"]
            )

    def record(self, message: dict) -> dict:
        return sqs_record(message, self._arns[self.queue_of(message)])

    def run_sender(self, records: list[dict]) -> dict:
        """Invoke the sender with these records; returns its partial batch response."""
        return sender_handler(sqs_event(records), FakeContext())

    def deliver(self, messages: list[dict]) -> set[str]:
        """One batch through the sender, then what the event source does: delete the
        successes. Returns the ids the sender reported as failed."""
        response = self.run_sender([self.record(m) for m in messages])
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        self.delete([m for m in messages if m["MessageId"] not in failed])
        return failed

    def drain(self, rounds: int = 10) -> None:
        """Send everything in the queues, including what the sender queues itself (a
        forgot-password request becomes a reset-link email). Failed messages stay."""
        for _ in range(rounds):
            messages = self.receive()
            if not messages:
                return
            self.deliver(messages)
        raise AssertionError("the queue never emptied")

    # -- what SES sent
    @staticmethod
    def backend():
        return ses_models.ses_backends[ACCOUNT_ID][REGION]

    def sent(self) -> list[dict]:
        """Every email SES accepted: {to, subject, text, html, source, destinations}."""
        found = []
        for message in list(self.backend().sent_messages):
            simple = mailbox._simple(message)
            simple["source"] = message.source
            simple["destinations"] = message.destinations
            found.append(simple)
        return found

    def sent_to(self, address: str) -> list[dict]:
        return [e for e in self.sent() if (e["to"] or "").lower() == address.lower()]


def open_mailbox() -> None:
    """SES ready to send from SENDER_EMAIL_ADDRESS, with no email sent yet."""
    mailbox.install()
    mailbox.verify_sender("no-reply@example.com")
    Postman.backend().sent_messages.clear()


def link_in(email: dict) -> tuple[str, str]:
    """(the link, its token) of a link email; the text and the HTML carry the same one."""
    [(link, token)] = set(LINK.findall(email["text"]))
    assert link in email["html"]
    return link, token


# ---- DynamoDB rules moto leaves out ------------------------------------------------------


@contextmanager
def dynamodb_refuses_empty_keys():
    """DynamoDB refuses an empty string as a key value in every read (ValidationException,
    "The AttributeValue for a key attribute cannot contain an empty string value"). moto
    checks it for GetItem but not for BatchGetItem: add the rule for the duration."""
    client = dynamodb().client

    def check(params, **kwargs):
        for request in (params.get("RequestItems") or {}).values():
            for key in request.get("Keys", []):
                for name, value in key.items():
                    if value in ({"S": ""}, {"B": b""}):
                        raise ClientError(
                            {
                                "Error": {
                                    "Code": "ValidationException",
                                    "Message": "One or more parameter values are not valid. "
                                    "The AttributeValue for a key attribute cannot contain "
                                    f"an empty string value. Key: {name}",
                                }
                            },
                            "BatchGetItem",
                        )

    event = "provide-client-params.dynamodb.BatchGetItem"
    client.meta.events.register(event, check)
    try:
        yield
    finally:
        client.meta.events.unregister(event, check)
