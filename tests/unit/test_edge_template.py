"""The optional edge stack (issue 10, finding 4): per-IP limits in front of the storefront.

AWS WAF cannot guard an HTTP API, so edge/template.yaml puts CloudFront in front of the
storefront API with a web ACL of CLOUDFRONT scope (us-east-1): each client address may
make AuthRateLimit requests to /auth/ and AllPathsRateLimit to any path in 5 minutes, and
beyond that gets the API's 429 problem document. CloudFront passes everything else through
as the API would see it: no cache, HTTPS only, the request's headers and body.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from local import template
from local.template import Tag
from portal_accounts.errors import Throttled

EDGE = Path(__file__).resolve().parents[2] / "edge" / "template.yaml"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


@pytest.fixture(scope="module")
def edge() -> dict:
    return yaml.safe_load(EDGE.read_text())  # local.template taught SafeLoader the !tags


def resource(edge: dict, kind: str) -> dict:
    [found] = [r["Properties"] for r in edge["Resources"].values() if r["Type"] == kind]
    return found


def rule(edge: dict, name: str) -> dict:
    [found] = [r for r in resource(edge, "AWS::WAFv2::WebACL")["Rules"] if r["Name"] == name]
    return found


def default(edge: dict, parameter: str) -> int:
    return int(edge["Parameters"][parameter]["Default"])


def host_of(url: str, edge: dict) -> str:
    """What the distribution's origin resolves to for StorefrontApiUrl = `url`."""
    [origin] = resource(edge, "AWS::CloudFront::Distribution")["DistributionConfig"]["Origins"]
    select = origin["DomainName"]
    assert select.name == "Select"
    index, split = select.value
    assert split == Tag("Split", ["/", Tag("Ref", "StorefrontApiUrl")])
    return url.split("/")[index]


# ---- where it is deployed ------------------------------------------------------------------


def test_the_web_acl_is_cloudfronts_and_guards_the_distribution(edge):
    assert resource(edge, "AWS::WAFv2::WebACL")["Scope"] == "CLOUDFRONT"
    config = resource(edge, "AWS::CloudFront::Distribution")["DistributionConfig"]
    assert config["WebACLId"] == Tag("GetAtt", "WebAcl.Arn")


def test_the_stack_refuses_any_region_but_us_east_1(edge):
    # A CLOUDFRONT web ACL exists only there: a clear refusal before anything is created.
    assertions = [a["Assert"] for rule in edge["Rules"].values() for a in rule["Assertions"]]
    assert Tag("Equals", [Tag("Ref", "AWS::Region"), "us-east-1"]) in assertions


# ---- the limits ----------------------------------------------------------------------------


def test_each_address_is_limited_on_the_credential_routes(edge):
    statement = rule(edge, "auth-per-ip")["Statement"]["RateBasedStatement"]
    assert statement["AggregateKeyType"] == "IP"
    assert statement["Limit"] == Tag("Ref", "AuthRateLimit")
    assert statement["EvaluationWindowSec"] == 300
    matches = [
        part["ByteMatchStatement"]
        for part in statement["ScopeDownStatement"]["OrStatement"]["Statements"]
    ]
    assert [(m["PositionalConstraint"], m["SearchString"]) for m in matches] == [
        ("STARTS_WITH", "/auth/"),
        ("STARTS_WITH", "/reset-password"),
        ("STARTS_WITH", "/forgot-password"),
    ]
    for match in matches:
        assert match["FieldToMatch"] == {"UriPath": {}}
        # Counted however the path is spelled.
        kinds = {t["Type"] for t in match["TextTransformations"]}
        assert kinds >= {"URL_DECODE", "NORMALIZE_PATH", "LOWERCASE"}
    assert default(edge, "AuthRateLimit") == 300


def test_every_storefront_route_without_a_session_is_under_the_tighter_limit(edge):
    scope = rule(edge, "auth-per-ip")["Statement"]["RateBasedStatement"]["ScopeDownStatement"]
    prefixes = tuple(
        part["ByteMatchStatement"]["SearchString"] for part in scope["OrStatement"]["Statements"]
    )
    open_routes = {
        route.path
        for route in template.routes()
        if route.api == "StorefrontApi" and route.authorizer is None
    }
    assert {"/auth/login", "/auth/password/forgot", "/reset-password"} <= open_routes
    # The pages' stylesheet and script take nothing: the wider limit is theirs.
    assert {path for path in open_routes if not path.startswith(prefixes)} == {"/pages/{asset}"}


def test_each_address_is_limited_on_every_path(edge):
    statement = rule(edge, "all-paths-per-ip")["Statement"]["RateBasedStatement"]
    assert statement["AggregateKeyType"] == "IP"
    assert statement["Limit"] == Tag("Ref", "AllPathsRateLimit")
    assert statement["EvaluationWindowSec"] == 300
    assert "ScopeDownStatement" not in statement
    assert default(edge, "AllPathsRateLimit") == 3000 > default(edge, "AuthRateLimit")


@pytest.mark.parametrize("name", ["auth-per-ip", "all-paths-per-ip"])
def test_a_refused_request_gets_the_apis_429_problem_document(edge, name):
    response = rule(edge, name)["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 429
    bodies = resource(edge, "AWS::WAFv2::WebACL")["CustomResponseBodies"]
    body = bodies[response["CustomResponseBodyKey"]]
    assert body["ContentType"] == "APPLICATION_JSON"
    problem = json.loads(body["Content"])
    assert problem == {
        "type": Throttled.type,
        "title": Throttled.title,
        "status": 429,
        "detail": problem["detail"],
        "errors": [],
    }
    headers = {h["Name"]: h["Value"] for h in response["ResponseHeaders"]}
    assert int(headers["Retry-After"]) > 0
    assert headers["Cache-Control"] == "no-store"
    # Readable by the storefront's script, as the API's own answers are.
    assert headers["Access-Control-Allow-Origin"] == Tag("Ref", "StorefrontOrigin")


# ---- the distribution passes the API through -----------------------------------------------


def test_the_origin_is_the_host_of_the_storefront_api_url(edge):
    url = "https://abc123.execute-api.eu-south-1.amazonaws.com"
    assert host_of(url, edge) == "abc123.execute-api.eu-south-1.amazonaws.com"
    assert host_of(url + "/", edge) == "abc123.execute-api.eu-south-1.amazonaws.com"


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://abc123.execute-api.eu-south-1.amazonaws.com", True),
        ("https://api.shop.example.com/", True),
        ("http://abc123.execute-api.eu-south-1.amazonaws.com", False),
        ("https://api.shop.example.com/v1", False),  # a path would be dropped from the origin
        ("abc123.execute-api.eu-south-1.amazonaws.com", False),
    ],
)
def test_the_storefront_api_url_must_be_an_https_host(edge, url, accepted):
    pattern = edge["Parameters"]["StorefrontApiUrl"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, url)) is accepted


def test_nothing_is_cached_and_every_method_and_header_reaches_the_api(edge):
    behaviour = resource(edge, "AWS::CloudFront::Distribution")["DistributionConfig"][
        "DefaultCacheBehavior"
    ]
    assert behaviour["CachePolicyId"] == CACHING_DISABLED
    # Authorization, Origin and the preflight's headers, but the API's own Host.
    assert behaviour["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    methods = {route.method for route in template.routes() if route.api == "StorefrontApi"}
    assert methods | {"OPTIONS"} <= set(behaviour["AllowedMethods"])


def test_https_only_on_both_sides(edge):
    config = resource(edge, "AWS::CloudFront::Distribution")["DistributionConfig"]
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "https-only"
    [origin] = config["Origins"]
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert origin["CustomOriginConfig"]["OriginSSLProtocols"] == ["TLSv1.2"]


# ---- the log of refused requests -----------------------------------------------------------


def test_the_log_keeps_only_refused_requests_and_never_a_session_token(edge):
    logging = resource(edge, "AWS::WAFv2::LoggingConfiguration")
    assert logging["ResourceArn"] == Tag("GetAtt", "WebAcl.Arn")
    assert {"SingleHeader": {"Name": "authorization"}} in logging["RedactedFields"]
    log_filter = logging["LoggingFilter"]
    assert log_filter["DefaultBehavior"] == "DROP"
    assert log_filter["Filters"] == [
        {
            "Behavior": "KEEP",
            "Requirement": "MEETS_ANY",
            "Conditions": [{"ActionCondition": {"Action": "BLOCK"}}],
        }
    ]
    group = resource(edge, "AWS::Logs::LogGroup")
    assert group["LogGroupName"].value.startswith("aws-waf-logs-")  # WAF writes nowhere else
    assert group["KmsKeyId"] == Tag("GetAtt", "EdgeLogKey.Arn")
