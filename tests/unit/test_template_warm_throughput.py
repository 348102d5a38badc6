"""Warm throughput (issue 10, finding 5): the tables a login peak hits start warm.

A new on-demand table serves 12,000 read and 4,000 write units a second at once, and
doubles within about 30 minutes; a Monday-evening peak on a fresh stack would throttle
before that. The tables the peak hits are created warm (`WarmThroughput`) with defaults
worked out from what each login and each authorized request costs (docs/scale.md, "Warm
throughput"); a parameter of 0 leaves that side to DynamoDB. The template is read as
CloudFormation would resolve it: its conditions evaluated for the parameters given.
"""

from __future__ import annotations

import pytest

from local import template
from local.template import Tag

# DynamoDB's cold start for a new on-demand table (the warm-throughput developer guide).
COLD_READS, COLD_WRITES = 12_000, 4_000

# The load of docs/scale.md with the 25% the API's limits keep above it: the login route
# lets 2,500 logins a second through (StorefrontRouteRateLimit), the authorizer serves
# 20,000 requests a second at the peak.
LOGINS = 2_500
AUTHORIZED = 25_000

# Units per call on 2026-12-02 (docs/scale.md; `make bench` measures them: write_units).
LOGIN = {  # (reads, writes) per table; every login counted as the day's first (the most)
    "AccountsTable": (1, 1),  # the BatchGetItem, strongly consistent; the day's update
    "SessionsTable": (0, 1),  # the new session, in the BatchWriteItem
    "ThrottleTable": (1, 2),  # the BatchGetItem; the reservation (1), its delete (1)
    "AuditTable": (0, 1),  # login.succeeded, in the BatchWriteItem
}
AUTHORIZER = {  # one strongly consistent BatchGetItem; a session touched at most once a minute
    "AccountsTable": (1, 0),
    "SessionsTable": (1, 1),
}

PARAMETERS = {
    ("AccountsTable", "ReadUnitsPerSecond"): "AccountsWarmReadUnits",
    ("AccountsTable", "WriteUnitsPerSecond"): "AccountsWarmWriteUnits",
    ("SessionsTable", "ReadUnitsPerSecond"): "SessionsWarmReadUnits",
    ("SessionsTable", "WriteUnitsPerSecond"): "SessionsWarmWriteUnits",
    ("ThrottleTable", "WriteUnitsPerSecond"): "ThrottleWarmWriteUnits",
    ("AuditTable", "WriteUnitsPerSecond"): "AuditWarmWriteUnits",
}


def cold(side: str) -> int:
    return COLD_READS if side == "ReadUnitsPerSecond" else COLD_WRITES


def default_of(table: str, side: str) -> int:
    """What the parameter asks by default: the peak when it is above the cold start, else
    nothing (0): warming is billed, and a table's warm throughput can never come down."""
    units = peak_units(table)[side]
    return units if units > cold(side) else 0


NO_VALUE = object()


def peak_units(table: str) -> dict[str, int]:
    """What the peak asks of a table, in units a second, per side."""
    login_reads, login_writes = LOGIN.get(table, (0, 0))
    authorizer_reads, authorizer_writes = AUTHORIZER.get(table, (0, 0))
    return {
        "ReadUnitsPerSecond": LOGINS * login_reads + AUTHORIZED * authorizer_reads,
        "WriteUnitsPerSecond": LOGINS * login_writes + AUTHORIZED * authorizer_writes,
    }


def evaluate(value: object, parameters: dict[str, str]) -> object:
    """`value` as CloudFormation resolves it: parameters' Refs, the condition functions and
    Fn::If, with AWS::NoValue dropping the key or item that holds it. References to
    resources and their attributes stay as they are."""
    if isinstance(value, dict):
        resolved = {key: evaluate(item, parameters) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}
    if isinstance(value, list):
        return [item for item in (evaluate(v, parameters) for v in value) if item is not NO_VALUE]
    if not isinstance(value, Tag):
        return value
    if value.name == "Ref":
        if value.value == "AWS::NoValue":
            return NO_VALUE
        declared = template.load()["Parameters"].get(value.value)
        if declared is None:
            return value  # a resource: stays a reference
        given = parameters[str(value.value)]
        return int(given) if declared["Type"] == "Number" else given
    if value.name == "Condition":
        return evaluate(template.load()["Conditions"][value.value], parameters)
    arguments = value.value
    if value.name == "If":
        name, if_true, if_false = arguments
        condition = evaluate(template.load()["Conditions"][name], parameters)
        return evaluate(if_true if condition else if_false, parameters)
    if value.name == "Equals":
        left, right = (str(evaluate(argument, parameters)) for argument in arguments)
        return left == right
    if value.name == "Not":
        return not evaluate(arguments[0], parameters)
    if value.name == "Or":
        return any(evaluate(argument, parameters) for argument in arguments)
    return value  # GetAtt, Sub...: resolved at deploy, nothing to do with conditions


def deployed(**overrides: str) -> dict[str, dict]:
    """Each table's properties as deployed with the template's defaults and `overrides`."""
    parameters = {**template.parameter_defaults(), **overrides}
    return {
        name: evaluate(table["Properties"], parameters)  # type: ignore[misc]
        for name, table in template.resources("AWS::DynamoDB::Table").items()
    }


def test_the_defaults_carry_the_peak_above_the_cold_start():
    tables = deployed()
    for table in {table for table, _ in PARAMETERS}:
        expected = {side: units for side, units in peak_units(table).items() if units > cold(side)}
        assert tables[table].get("WarmThroughput", {}) == expected, table


def test_the_peak_needs_warm_tables():
    # The reads of the authorizer and the session touches are far above the cold start:
    # a fresh stack without warm throughput would throttle on a Monday evening.
    assert deployed()["AccountsTable"]["WarmThroughput"] == {"ReadUnitsPerSecond": 27_500}
    assert deployed()["SessionsTable"]["WarmThroughput"] == {
        "ReadUnitsPerSecond": 25_000,
        "WriteUnitsPerSecond": 27_500,
    }


def test_the_login_rate_is_the_login_routes_limit():
    # Raise the storefront's route limit and the tables must be warmed for it too.
    assert int(template.parameter_defaults()["StorefrontRouteRateLimit"]) == LOGINS


@pytest.mark.parametrize(("table", "side"), sorted(PARAMETERS))
def test_each_side_has_its_parameter(table, side):
    parameter = template.load()["Parameters"][PARAMETERS[(table, side)]]
    assert parameter["Type"] == "Number"
    assert parameter["MinValue"] == 0
    assert int(parameter["Default"]) == default_of(table, side)
    assert "docs/scale.md" in parameter["Description"]


def test_zero_leaves_every_table_to_dynamodb():
    tables = deployed(**{name: "0" for name in PARAMETERS.values()})
    assert {name for name, props in tables.items() if "WarmThroughput" in props} == set()


def test_zero_on_one_side_keeps_the_other():
    tables = deployed(AccountsWarmWriteUnits="6000", AccountsWarmReadUnits="0")
    assert tables["AccountsTable"]["WarmThroughput"] == {"WriteUnitsPerSecond": 6_000}
    tables = deployed(SessionsWarmWriteUnits="0")
    assert tables["SessionsTable"]["WarmThroughput"] == {
        "ReadUnitsPerSecond": peak_units("SessionsTable")["ReadUnitsPerSecond"]
    }


def test_a_value_given_at_deploy_is_the_one_deployed():
    tables = deployed(ThrottleWarmWriteUnits="20000")
    assert tables["ThrottleTable"]["WarmThroughput"] == {"WriteUnitsPerSecond": 20_000}


def test_no_other_table_or_index_is_warmed():
    # Pre-warming is billed; the other tables and the by-status-shard index stay far under
    # the cold start at the peak (docs/scale.md, "Warm throughput").
    warmed = {table for table, side in PARAMETERS if default_of(table, side)}
    for name, props in deployed().items():
        if name not in warmed:
            assert "WarmThroughput" not in props, name
        for index in props.get("GlobalSecondaryIndexes", []):
            assert "WarmThroughput" not in index, (name, index["IndexName"])
