"""Alarms and the dashboard (issue 12, "Run it in production"): what each alarm watches.

Every alarm tells AlarmTopic; each watches the metric, namespace, dimensions and statistic
it is meant to, against the threshold parameter that says how much is too much. The
functions, tables, indexes, dead-letter queues, email queues and APIs are read from the
template itself: one added without its alarm (or missing from the dashboard) fails here.
The template is read as local/template.py reads it: CloudFormation's tags as `Tag`s.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest

from local import template
from local.template import Tag, resources

# What the functions count (embedded metric format; Globals' POWERTOOLS_* settings).
APP_METRICS = [
    "LoginSucceeded",
    "LoginFailed",
    "LoginThrottled",
    "LoginLocked",
    "AuthorizerDenied",
    "ResetLinkRequested",
    "ResetLinkUsed",
    "PasswordChanged",
    "EmailQueued",
    "EmailSent",
    "EmailFailed",
    "EmailDelivered",
    "EmailBounced",
    "EmailComplained",
    "EmailRetried",
]
# docs/scale.md: a national chain's Monday-evening peak.
PEAK_LOGINS_PER_SECOND = 2_000
FIVE_MINUTES = 300
# The most customers' own mistakes may fail at the peak (typos, forgotten passwords).
HONEST_FAILURE_SHARE = 0.05
# SES reviews an account at these rates (%), and may pause its sending.
SES_REVIEW_PERCENT = {"Reputation.BounceRate": 5, "Reputation.ComplaintRate": 0.1}
# SQS stops counting a message in ApproximateAgeOfOldestMessage after this many receives.
RECEIVES_IN_THE_AGE = 3
# A metric-math alarm reads at most this many metrics (a hard CloudWatch limit).
MAX_ALARM_METRICS = 10


# ---- reading the template ------------------------------------------------------------------


def parameters() -> dict[str, dict]:
    return template.load()["Parameters"]


def default(name: str) -> float:
    return float(parameters()[name]["Default"])


def target(value: object) -> str:
    """What a Ref or GetAtt names: "EmailQueue", "EmailQueue.QueueName"."""
    assert isinstance(value, Tag) and value.name in ("Ref", "GetAtt"), value
    return template.target(value)


def ref(name: str) -> Tag:
    return Tag("Ref", name)


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]  # (name, value), sorted; references as targets
    stat: str
    period: int


def dimensions(listed: list[dict] | None) -> tuple[tuple[str, str], ...]:
    return tuple(
        sorted(
            (d["Name"], target(d["Value"]) if isinstance(d["Value"], Tag) else d["Value"])
            for d in listed or []
        )
    )


def alarms() -> dict[str, dict]:
    return {name: r["Properties"] for name, r in resources("AWS::CloudWatch::Alarm").items()}


def metrics_of(alarm: dict) -> dict[str, Metric]:
    """The metrics an alarm reads, by their id in its expression ("" for a single metric)."""
    if "Metrics" not in alarm:
        return {
            "": Metric(
                alarm["Namespace"],
                alarm["MetricName"],
                dimensions(alarm.get("Dimensions")),
                alarm["Statistic"],
                alarm["Period"],
            )
        }
    found = {}
    for query in alarm["Metrics"]:
        if "MetricStat" in query:
            stat = query["MetricStat"]
            metric = stat["Metric"]
            found[query["Id"]] = Metric(
                metric["Namespace"],
                metric["MetricName"],
                dimensions(metric.get("Dimensions")),
                stat["Stat"],
                stat["Period"],
            )
    return found


def expression_of(alarm: dict) -> str | None:
    """The expression a metric-math alarm compares with its threshold."""
    if "Metrics" not in alarm:
        return None
    [returned] = [query for query in alarm["Metrics"] if query.get("ReturnData", True)]
    return returned["Expression"]


def alarms_on(dimension: str, value: str) -> dict[str, dict]:
    """The alarms reading a metric with that dimension value (references as targets)."""
    return {
        name: alarm
        for name, alarm in alarms().items()
        if any((dimension, value) in m.dimensions for m in metrics_of(alarm).values())
    }


def the_alarm_on(dimensions_: tuple[tuple[str, str], ...]) -> dict:
    """The one alarm whose metrics all carry exactly these dimensions."""
    found = [
        alarm
        for alarm in alarms().values()
        if {m.dimensions for m in metrics_of(alarm).values()} == {dimensions_}
    ]
    assert len(found) == 1, f"{len(found)} alarms on {dimensions_}, not 1"
    return found[0]


def functions() -> list[str]:
    return list(resources("AWS::Serverless::Function"))


def tables_and_indexes() -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    for name, table in resources("AWS::DynamoDB::Table").items():
        found.append((name, None))
        for index in table["Properties"].get("GlobalSecondaryIndexes", []):
            found.append((name, index["IndexName"]))
    return found


def dead_letter_queues() -> set[str]:
    """Every queue something sends its failures to: a queue's redrive target, a function's
    DeadLetterQueue, an event's DeadLetterConfig; and any queue named as one."""
    found = {name for name in resources("AWS::SQS::Queue") if name.endswith("DeadLetterQueue")}
    for queue in resources("AWS::SQS::Queue").values():
        redrive = queue.get("Properties", {}).get("RedrivePolicy")
        if redrive:
            found.add(target(redrive["deadLetterTargetArn"]).removesuffix(".Arn"))
    for function in resources("AWS::Serverless::Function").values():
        props = function["Properties"]
        if "DeadLetterQueue" in props:
            found.add(target(props["DeadLetterQueue"]["TargetArn"]).removesuffix(".Arn"))
        for event in (props.get("Events") or {}).values():
            config = event.get("Properties", {}).get("DeadLetterConfig", {})
            if "Arn" in config:
                found.add(target(config["Arn"]).removesuffix(".Arn"))
    return found


def email_queues() -> set[str]:
    """The queues the email sender drains."""
    events = resources("AWS::Serverless::Function")["EmailSenderFunction"]["Properties"]["Events"]
    return {
        target(event["Properties"]["Queue"]).removesuffix(".Arn")
        for event in events.values()
        if event["Type"] == "SQS"
    }


# ---- every alarm -----------------------------------------------------------------------------


def test_there_are_alarms():
    assert len(alarms()) > 50


@pytest.mark.parametrize("name", sorted(alarms()))
def test_every_alarm_tells_the_topic_when_it_goes_off_and_when_it_clears(name):
    alarm = alarms()[name]
    assert alarm["AlarmActions"] == [ref("AlarmTopic")]
    assert alarm["OKActions"] == [ref("AlarmTopic")]
    assert alarm["EvaluationPeriods"] == 1
    assert alarm["TreatMissingData"] in ("notBreaching", "ignore")
    assert alarm["AlarmDescription"]


@pytest.mark.parametrize("name", sorted(alarms()))
def test_every_threshold_is_a_number_parameter_with_a_default(name):
    threshold = alarms()[name]["Threshold"]
    if threshold == 1:  # a dead-letter queue: not empty
        assert name in {f"{queue}Alarm" for queue in dead_letter_queues()}
        return
    parameter = parameters()[target(threshold)]
    assert parameter["Type"] == "Number"
    assert "Default" in parameter
    assert parameter["Description"]


@pytest.mark.parametrize("name", sorted(n for n, a in alarms().items() if "Metrics" in a))
def test_a_math_alarm_returns_one_expression_of_its_own_metrics(name):
    alarm = alarms()[name]
    queries = alarm["Metrics"]
    assert all(q.get("ReturnData") is False for q in queries if "MetricStat" in q)
    expression = expression_of(alarm)
    ids = set(metrics_of(alarm))
    assert set(re.findall(r"\b[a-z][A-Za-z0-9_]*\b", expression)) - {"FILL", "IF"} <= ids
    assert len(ids) <= MAX_ALARM_METRICS
    # A math alarm has no metric of its own.
    assert not {"Namespace", "MetricName", "Statistic", "Period"} & set(alarm)


# ---- coverage: every function, table, index, dead-letter queue, email queue and API -----------


@pytest.mark.parametrize("function", functions())
def test_every_function_alarms_on_its_errors_and_throttles(function):
    alarm = the_alarm_on((("FunctionName", function),))
    assert metrics_of(alarm) == {
        "errors": Metric("AWS/Lambda", "Errors", (("FunctionName", function),), "Sum", 300),
        "throttles": Metric("AWS/Lambda", "Throttles", (("FunctionName", function),), "Sum", 300),
    }
    # FILL: a function throttled outright has no Errors data, and a sum with a missing
    # side is missing (no alarm).
    assert expression_of(alarm) == "FILL(errors, 0) + FILL(throttles, 0)"
    assert alarm["Threshold"] == ref("FunctionErrorAlarmThreshold")
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"


def test_any_function_error_sets_off_its_alarm_by_default():
    assert default("FunctionErrorAlarmThreshold") == 1


@pytest.mark.parametrize(("table", "index"), tables_and_indexes())
def test_every_table_and_index_alarms_on_its_throttling(table, index):
    dims = (("TableName", table),)
    if index:
        dims = tuple(sorted((*dims, ("GlobalSecondaryIndexName", index))))
    alarm = the_alarm_on(dims)
    assert metrics_of(alarm) == {
        "reads": Metric("AWS/DynamoDB", "ReadThrottleEvents", dims, "Sum", 300),
        "writes": Metric("AWS/DynamoDB", "WriteThrottleEvents", dims, "Sum", 300),
    }
    # DynamoDB publishes throttle events only when there are some: FILL, or a table
    # throttling only its writes would never add up.
    assert expression_of(alarm) == "FILL(reads, 0) + FILL(writes, 0)"
    assert alarm["Threshold"] == ref("DynamoDbThrottleAlarmEvents")
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_the_index_list_is_read_from_the_tables():
    assert ("AccountsTable", "by-status-shard") in tables_and_indexes()


def test_the_dead_letter_queues_are_found():
    assert {
        "EmailDeadLetterQueue",
        "IndexRepairDeadLetterQueue",
        "ImportDeadLetterQueue",
    } <= dead_letter_queues()
    assert dead_letter_queues() <= set(resources("AWS::SQS::Queue"))


@pytest.mark.parametrize("queue", sorted(dead_letter_queues()))
def test_every_dead_letter_queue_alarms_once_it_holds_a_message(queue):
    [alarm] = alarms_on("QueueName", f"{queue}.QueueName").values()
    assert metrics_of(alarm) == {
        "": Metric(
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            (("QueueName", f"{queue}.QueueName"),),
            "Maximum",
            300,
        )
    }
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


DELAY_PARAMETERS = {
    "EmailQueue": "EmailDelayAlarmSeconds",
    "BulkEmailQueue": "BulkEmailDelayAlarmSeconds",
}


def test_both_email_queues_have_a_delay_parameter():
    assert email_queues() == set(DELAY_PARAMETERS)


@pytest.mark.parametrize("queue", sorted(DELAY_PARAMETERS))
def test_every_email_queue_alarms_on_its_oldest_email(queue):
    [alarm] = alarms_on("QueueName", f"{queue}.QueueName").values()
    assert metrics_of(alarm) == {
        "": Metric(
            "AWS/SQS",
            "ApproximateAgeOfOldestMessage",
            (("QueueName", f"{queue}.QueueName"),),
            "Maximum",
            300,
        )
    }
    assert alarm["Threshold"] == ref(DELAY_PARAMETERS[queue])
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"


def test_a_reset_link_alarms_well_within_its_hour_but_not_for_one_failing_email():
    queue = resources("AWS::SQS::Queue")["EmailQueue"]["Properties"]
    one_failing_email = RECEIVES_IN_THE_AGE * queue["VisibilityTimeout"]
    delay = default("EmailDelayAlarmSeconds")
    assert one_failing_email < delay <= default("ResetLinkTtlSeconds") / 4


def test_an_onboarding_waits_in_the_bulk_queue_without_an_alarm_until_it_is_stuck():
    # 100,000 credentials emails at the bulk senders' share of SES's least rate.
    rates = template.load()["Mappings"]["SendRates"]["14"]
    bulk_per_second = 14 * rates["BulkSenders"] / rates["Senders"]
    onboarding = 100_000 / bulk_per_second
    retention = 345_600  # the email queues keep SQS's default, 4 days
    for name in ("EmailQueue", "BulkEmailQueue"):
        props = resources("AWS::SQS::Queue")[name]["Properties"]
        assert props.get("MessageRetentionPeriod", retention) == retention
    parameter = parameters()["BulkEmailDelayAlarmSeconds"]
    assert 2 * onboarding < default("BulkEmailDelayAlarmSeconds") < retention / 4
    assert parameter["MaxValue"] < retention


@pytest.mark.parametrize("api", sorted(resources("AWS::Serverless::HttpApi")))
def test_every_api_alarms_on_its_5xx_rate(api):
    alarm = the_alarm_on((("ApiId", api),))
    assert metrics_of(alarm) == {
        "errors": Metric("AWS/ApiGateway", "5xx", (("ApiId", api),), "Sum", 300),
        "requests": Metric("AWS/ApiGateway", "Count", (("ApiId", api),), "Sum", 300),
    }
    assert expression_of(alarm) == "IF(requests >= 100, 100 * FILL(errors, 0) / requests, 0)"
    assert alarm["Threshold"] == ref("Api5xxRateAlarmPercent")
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert 0 < default("Api5xxRateAlarmPercent") <= 5


# ---- failed logins ---------------------------------------------------------------------------


def test_the_credential_stuffing_alarm_counts_failed_logins():
    [alarm] = [
        a for a in alarms().values() if any(m.name == "LoginFailed" for m in metrics_of(a).values())
    ]
    variables = template.load()["Globals"]["Function"]["Environment"]["Variables"]
    service = variables["POWERTOOLS_SERVICE_NAME"]
    assert metrics_of(alarm) == {
        "": Metric(
            variables["POWERTOOLS_METRICS_NAMESPACE"],
            "LoginFailed",
            (("service", service),),
            "Sum",
            FIVE_MINUTES,
        )
    }
    assert alarm["Threshold"] == ref("LoginFailureAlarmThreshold")
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"


def test_the_busiest_evening_stays_under_the_login_failure_alarm_and_an_attack_does_not():
    honest_at_the_peak = PEAK_LOGINS_PER_SECOND * FIVE_MINUTES * HONEST_FAILURE_SHARE
    threshold = default("LoginFailureAlarmThreshold")
    assert threshold == 2 * honest_at_the_peak
    # A stuffing run (nearly every try fails) of more than 100 tries a second crosses it
    # even at the peak, of more than 200 at a quiet hour...
    assert honest_at_the_peak + 101 * FIVE_MINUTES > threshold
    assert 201 * FIVE_MINUTES > threshold >= 200 * FIVE_MINUTES
    # ...and one at the storefront route's limit is far over it.
    at_the_route_limit = default("StorefrontRouteRateLimit") * FIVE_MINUTES
    assert at_the_route_limit > 10 * threshold


# ---- SES reputation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "parameter"),
    [
        ("Reputation.BounceRate", "SesBounceRateAlarmPercent"),
        ("Reputation.ComplaintRate", "SesComplaintRateAlarmPercent"),
    ],
)
def test_ses_reputation_alarms_before_ses_reviews_the_account(metric, parameter):
    [alarm] = [
        a for a in alarms().values() if any(m.name == metric for m in metrics_of(a).values())
    ]
    [(metric_id, read)] = metrics_of(alarm).items()
    assert read == Metric("AWS/SES", metric, (), "Maximum", 3600)  # account-wide
    assert expression_of(alarm) == f"100 * {metric_id}"  # a fraction, as a percentage
    assert alarm["Threshold"] == ref(parameter)
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    # Published now and then: a period without data keeps the state it had.
    assert alarm["TreatMissingData"] == "ignore"
    review = SES_REVIEW_PERCENT[metric]
    assert 0.75 * review <= default(parameter) < review


# ---- the topic -------------------------------------------------------------------------------


def test_the_topic_is_encrypted_with_the_stacks_key_and_cloudwatch_may_use_it():
    [topic] = resources("AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"] == ref("DataKey")
    statements = resources("AWS::KMS::Key")["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
    [cloudwatch] = [
        s for s in statements if s["Principal"].get("Service") == "cloudwatch.amazonaws.com"
    ]
    assert cloudwatch["Effect"] == "Allow"
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert cloudwatch["Condition"]["StringEquals"] == {"aws:SourceAccount": ref("AWS::AccountId")}
    assert ":alarm:" in cloudwatch["Condition"]["ArnLike"]["aws:SourceArn"].value


def test_an_address_is_subscribed_only_when_given():
    [subscription] = resources("AWS::SNS::Subscription").values()
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"] == {
        "TopicArn": ref("AlarmTopic"),
        "Protocol": "email",
        "Endpoint": ref("AlarmEmail"),
    }
    condition = template.load()["Conditions"]["HasAlarmEmail"]
    assert condition == Tag("Not", [Tag("Equals", [ref("AlarmEmail"), ""])])
    parameter = parameters()["AlarmEmail"]
    assert parameter["Default"] == ""
    pattern = parameter["AllowedPattern"]
    assert re.fullmatch(pattern, "")
    assert re.fullmatch(pattern, "ops@example.com")
    assert not re.fullmatch(pattern, "ops at example.com")


def test_the_outputs_name_the_topic_and_the_dashboard():
    outputs = template.load()["Outputs"]
    assert outputs["AlarmTopicArn"]["Value"] == ref("AlarmTopic")
    assert outputs["DashboardName"]["Value"] == ref("Dashboard")
    assert "${Dashboard}" in outputs["DashboardUrl"]["Value"].value


# ---- the log level ---------------------------------------------------------------------------


def test_the_log_level_is_a_parameter_of_every_function():
    parameter = parameters()["LogLevel"]
    assert parameter["Default"] == "INFO"
    assert parameter["AllowedValues"] == ["DEBUG", "INFO", "WARNING", "ERROR"]
    variables = template.load()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_LOG_LEVEL"] == ref("LogLevel")
    for name, function in resources("AWS::Serverless::Function").items():
        own = function["Properties"].get("Environment", {}).get("Variables", {})
        assert "POWERTOOLS_LOG_LEVEL" not in own, name


# ---- the dashboard ---------------------------------------------------------------------------

JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
SUB = re.compile(r"\$\{([^}!]+)\}")


def dashboard_text() -> str:
    [dashboard] = resources("AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    assert isinstance(body, Tag) and body.name == "Sub"
    return str(body.value)


def dashboard() -> dict:
    """The body as JSON: a ${...} outside a string must be a Number parameter (its default
    stands in); inside strings they stay as written."""
    text, pieces, position = dashboard_text(), [], 0

    def number(match: re.Match) -> str:
        assert parameters()[match.group(1)]["Type"] == "Number", match.group(1)
        return str(parameters()[match.group(1)]["Default"])

    for string in JSON_STRING.finditer(text):
        pieces += [SUB.sub(number, text[position : string.start()]), string.group(0)]
        position = string.end()
    pieces.append(SUB.sub(number, text[position:]))
    return json.loads("".join(pieces))


def graphed() -> set[tuple]:
    """(namespace, metric, dimensions...) of every metric on the dashboard's graphs."""
    found = set()
    for widget in dashboard()["widgets"]:
        for line in widget["properties"].get("metrics", []):
            found.add(tuple(item for item in line if not isinstance(item, dict)))
    return found


def test_the_dashboard_body_is_json_whose_references_all_resolve():
    document = dashboard()  # parses: JSON once its ${...} are filled in
    known = set(template.load()["Resources"]) | set(parameters())
    for name in SUB.findall(dashboard_text()):
        if not name.startswith("AWS::"):
            assert name.split(".")[0] in known, name
    for widget in document["widgets"]:
        if widget["type"] == "metric":
            assert widget["properties"]["region"] == "${AWS::Region}"


def test_the_dashboard_shows_every_alarm():
    [widget] = [w for w in dashboard()["widgets"] if w["type"] == "alarm"]
    listed = widget["properties"]["alarms"]
    assert sorted(listed) == sorted(f"${{{name}.Arn}}" for name in alarms())


def test_the_dashboard_graphs_the_functions_own_metrics():
    for name in APP_METRICS:
        assert ("PortalAccounts", name, "service", "portal-accounts") in graphed(), name


def test_the_dashboard_graphs_the_alarms_signals():
    lines = graphed()
    for function in functions():
        for metric in ("Errors", "Throttles"):
            assert ("AWS/Lambda", metric, "FunctionName", f"${{{function}}}") in lines
    for table, index in tables_and_indexes():
        for metric in ("ReadThrottleEvents", "WriteThrottleEvents"):
            line = ("AWS/DynamoDB", metric, "TableName", f"${{{table}}}")
            if index:
                line += ("GlobalSecondaryIndexName", index)
            assert line in lines
    for queue in dead_letter_queues():
        line = ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName")
        assert (*line, f"${{{queue}.QueueName}}") in lines
    for queue in email_queues():
        line = ("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName")
        assert (*line, f"${{{queue}.QueueName}}") in lines
    for api in resources("AWS::Serverless::HttpApi"):
        for metric in ("Count", "5xx"):
            assert ("AWS/ApiGateway", metric, "ApiId", f"${{{api}}}") in lines
    for metric in SES_REVIEW_PERCENT:
        assert ("AWS/SES", metric) in lines


def test_the_graphs_draw_the_alarms_thresholds():
    drawn = set(SUB.findall(dashboard_text()))
    thresholds = {
        target(alarm["Threshold"])
        for alarm in alarms().values()
        if isinstance(alarm["Threshold"], Tag)
    }
    # One line per function would be one line at 1: the errors graph shows any as a peak.
    assert thresholds - drawn == {"FunctionErrorAlarmThreshold"}
