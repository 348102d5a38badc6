"""Conventions of template.yaml that stand in for a block once repeated per function or table.

The checkov skips every function shared live in .checkov.yaml, for all resources: what each
skip takes for granted is checked here instead, so a function added later that breaks it
fails a test rather than passing a scanner that no longer looks. The template is read as
local/template.py reads it: CloudFormation's tags as `Tag`s.
"""

from __future__ import annotations

import re

import pytest
import yaml

from local import foreach, template
from local.template import Tag

FUNCTIONS = template.resources("AWS::Serverless::Function")
APIS = template.resources("AWS::Serverless::HttpApi")
QUEUES = template.resources("AWS::SQS::Queue")

# How each kind of trigger invokes a function (a new kind must be placed in one of them).
# API Gateway waits for the answer; Lambda's SQS poller waits too, and a failed message
# goes back to its queue (and on to the queue's dead-letter queue).
SYNCHRONOUS_EVENTS = {"HttpApi", "Api"}
POLLED_EVENTS = {"SQS"}
# Lambda queues these invocations and retries them; what still fails is lost without a DLQ.
ASYNCHRONOUS_EVENTS = {
    "EventBridgeRule",
    "CloudWatchEvent",
    "Schedule",
    "ScheduleV2",
    "SNS",
    "S3",
    "CloudWatchLogs",
    "IoTRule",
}


def target(value: object) -> str:
    """The logical id a Ref or GetAtt names: "EmailQueue" for !GetAtt EmailQueue.Arn."""
    assert isinstance(value, Tag) and value.name in ("Ref", "GetAtt"), value
    return template.target(value).split(".")[0]


def events(function: str) -> dict[str, dict]:
    return FUNCTIONS[function]["Properties"].get("Events") or {}


def event_types(function: str) -> set[str]:
    return {event["Type"] for event in events(function).values()}


def authorizers() -> dict[str, str]:
    """Function -> the HttpApi whose Lambda authorizer it is."""
    found = {}
    for api_name, api in APIS.items():
        for spec in api["Properties"].get("Auth", {}).get("Authorizers", {}).values():
            if "FunctionArn" in spec:
                found[target(spec["FunctionArn"])] = api_name
    return found


def asynchronous_functions() -> list[str]:
    return sorted(name for name in FUNCTIONS if event_types(name) & ASYNCHRONOUS_EVENTS)


def queue_consumers() -> list[str]:
    return sorted(name for name in FUNCTIONS if event_types(name) & POLLED_EVENTS)


def api_functions() -> list[str]:
    return sorted(name for name in FUNCTIONS if event_types(name) & SYNCHRONOUS_EVENTS)


def number(value: object) -> int:
    """A number as deployed with the parameters' defaults (!Ref, !FindInMap or literal)."""
    return int(str(template.resolve(value, {})))


def checkov_config() -> dict:
    return yaml.safe_load((template.ROOT / ".checkov.yaml").read_text())


# ---- what Globals carries, and what each function must still say itself ---------------------

HANDLER = re.compile(r"^(def handler\(|handler\s*=)", re.MULTILINE)


def test_globals_name_the_handler_of_every_function():
    assert template.load()["Globals"]["Function"]["Handler"] == "app.handler"


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_function_is_the_handler_of_its_folders_app(function):
    props = FUNCTIONS[function]["Properties"]
    assert "Handler" not in props, f"{function}: the handler is Globals' (app.handler)"
    folder = re.fullmatch(r"functions/([a-z0-9_]+)/", props["CodeUri"])
    assert folder, props["CodeUri"]
    app = template.ROOT / "functions" / folder.group(1) / "app.py"
    assert HANDLER.search(app.read_text()), f"{app} defines no handler"


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_function_is_built_by_the_functions_makefile(function):
    # Globals cannot carry Metadata: without these lines `sam build` would use its own
    # Python workflow (no bytecode, the layer's dependencies installed again).
    metadata = FUNCTIONS[function].get("Metadata", {})
    assert metadata.get("BuildMethod") == "makefile", function
    assert metadata.get("ContextPath") == "functions", function


# ---- the functions' logs: one log group, through Globals -------------------------------------


def log_groups() -> dict[str, dict]:
    return template.resources("AWS::Logs::LogGroup")


def test_globals_send_every_functions_logs_to_the_shared_group_as_text():
    # Text: the lines are Powertools' own JSON; Lambda's JSON format would wrap them.
    config = template.load()["Globals"]["Function"]["LoggingConfig"]
    assert config == {"LogGroup": Tag("Ref", "FunctionLogs"), "LogFormat": "Text"}


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_no_function_logs_anywhere_else(function):
    # A function of its own LoggingConfig (or a group named /aws/lambda/<function>) would
    # be a second convention; one without the shared group gets Lambda's own group, with
    # no retention and no key.
    assert "LoggingConfig" not in FUNCTIONS[function]["Properties"], function


def test_the_shared_group_is_the_only_one_besides_the_apis_access_logs():
    access_logs = {
        target(api["Properties"]["AccessLogSettings"]["DestinationArn"]) for api in APIS.values()
    }
    assert set(log_groups()) == {"FunctionLogs"} | access_logs


@pytest.mark.parametrize("group", sorted(log_groups()))
def test_every_log_group_is_encrypted_kept_for_the_retention_and_retained(group):
    resource = log_groups()[group]
    assert resource["Properties"]["KmsKeyId"] == Tag("GetAtt", "DataKey.Arn")
    assert resource["Properties"]["RetentionInDays"] == Tag("Ref", "LogRetentionDays")
    assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
    # CloudFormation names it: no clash with a retained group of an earlier stack.
    assert "LogGroupName" not in resource["Properties"]


def test_the_key_lets_cloudwatch_logs_use_it_for_the_stacks_groups():
    statements = template.resources("AWS::KMS::Key")["DataKey"]["Properties"]["KeyPolicy"]
    [logs] = [
        s
        for s in statements["Statement"]
        if s["Principal"].get("Service") == Tag("Sub", "logs.${AWS::Region}.amazonaws.com")
    ]
    assert {"kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*"} <= set(logs["Action"])


# ---- what every table and queue repeats (no Globals for them) -------------------------------
# CloudFormation has no Globals for tables or queues, and a YAML anchor for the shared lines
# is refused: CloudFormation rejects aliases in a template, cfn-lint warns (W1100, failing
# make lint) that only a packaged template deploys (docs/decisions.md, 2026-12-07).

TABLES = template.resources("AWS::DynamoDB::Table")


def test_the_tables_and_queues_are_read_from_the_template():
    assert len(TABLES) >= 11 and "AccountsTable" in TABLES
    assert len(QUEUES) >= 8 and "EmailDeadLetterQueue" in QUEUES


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_table_is_on_demand_recoverable_encrypted_with_the_key_and_retained(table):
    resource = TABLES[table]
    props = resource["Properties"]
    assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": Tag("Ref", "DataKey"),
    }


@pytest.mark.parametrize("queue", sorted(QUEUES))
def test_every_queue_is_encrypted_with_the_key_and_retained(queue):
    resource = QUEUES[queue]
    assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
    assert resource["Properties"]["KmsMasterKeyId"] == Tag("Ref", "DataKey")
    # One data key for 5 minutes: fewer KMS calls (and their cost) per message.
    assert resource["Properties"]["KmsDataKeyReusePeriodSeconds"] == 300


# ---- checkov's skips for every function, and what each takes for granted -------------------


def test_the_skips_for_every_function_are_in_the_config_file_only():
    shared = set(checkov_config()["skip-check"])
    assert shared == {"CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173"}
    for name, resource in template.load()["Resources"].items():
        skips = resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
        assert not shared & {skip["id"] for skip in skips}, name
        for skip in skips:  # a resource's own skip says why
            assert skip.get("comment"), (name, skip["id"])


def makefile() -> str:
    return (template.ROOT / "Makefile").read_text()


def lint_recipe() -> str:
    """The Makefile's `lint:` target, up to its first blank line."""
    return makefile().split("\nlint:")[1].split("\n\n")[0]


def test_the_makefile_scans_with_the_config_file():
    assert "checkov --config-file .checkov.yaml" in lint_recipe()


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_function_is_invoked_by_a_known_kind_of_trigger(function):
    known = SYNCHRONOUS_EVENTS | POLLED_EVENTS | ASYNCHRONOUS_EVENTS
    assert event_types(function) <= known, f"classify {event_types(function) - known} here"
    # A function without events is the Lambda authorizer of an API (invoked synchronously).
    assert events(function) or function in authorizers(), function


def test_the_kinds_of_trigger_are_read_from_the_template():
    assert "EmailEventsFunction" in asynchronous_functions()
    assert {"EmailSenderFunction", "SearchRepairFunction"} <= set(queue_consumers())
    assert "AuthLoginFunction" in api_functions()
    assert authorizers() == {"SessionAuthorizerFunction": "StorefrontApi"}


# CKV_AWS_116: a DLQ belongs to asynchronous invocations, and to the queues of polled ones.
@pytest.mark.parametrize("function", asynchronous_functions())
def test_every_asynchronously_invoked_function_has_a_dead_letter_queue(function):
    props = FUNCTIONS[function]["Properties"]
    on_failure = props.get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure")
    dead_letters = props.get("DeadLetterQueue")
    assert dead_letters or on_failure, function
    if dead_letters:
        assert dead_letters["Type"] == "SQS"
        assert target(dead_letters["TargetArn"]) in QUEUES


@pytest.mark.parametrize("function", queue_consumers())
def test_every_queue_a_function_drains_redrives_to_a_dead_letter_queue(function):
    for event in events(function).values():
        if event["Type"] != "SQS":
            continue
        queue = QUEUES[target(event["Properties"]["Queue"])]["Properties"]
        redrive = queue.get("RedrivePolicy")
        assert redrive, f"{function}'s queue has no RedrivePolicy"
        assert target(redrive["deadLetterTargetArn"]) in QUEUES
        assert number(redrive["maxReceiveCount"]) >= 1
        # A batch item failed is retried alone, not its whole batch.
        assert "ReportBatchItemFailures" in event["Properties"]["FunctionResponseTypes"]


# CKV_AWS_115: concurrency is bounded by the API's throttling, or reserved for a queue.
@pytest.mark.parametrize("function", api_functions() + sorted(authorizers()))
def test_every_api_function_is_behind_an_api_that_throttles_its_routes(function):
    apis = {
        target(e["Properties"]["ApiId"])
        for e in events(function).values()
        if "ApiId" in e.get("Properties", {})
    }
    if function in authorizers():
        apis.add(authorizers()[function])
    assert apis, function
    for api in apis:
        settings = APIS[api]["Properties"]["DefaultRouteSettings"]
        assert number(settings["ThrottlingRateLimit"]) >= 1, api
        assert number(settings["ThrottlingBurstLimit"]) >= 1, api


@pytest.mark.parametrize("function", queue_consumers())
def test_every_queue_consumer_reserves_the_concurrency_its_mappings_may_use(function):
    # Exactly what its mappings may run: fewer would throttle batches (each costing a
    # receive of its messages), more would hold concurrency no mapping uses.
    mappings = [e["Properties"] for e in events(function).values() if e["Type"] == "SQS"]
    most = sum(number(m["ScalingConfig"]["MaximumConcurrency"]) for m in mappings)
    reserved = FUNCTIONS[function]["Properties"]["ReservedConcurrentExecutions"]
    assert number(reserved) == most


# CKV_AWS_173: nothing secret in a function's environment.
SECRET_NAME = re.compile(r"(SECRET|TOKEN|PASSWORD|PASSWD|API_KEY|PRIVATE_KEY|_KEY|CREDENTIALS?)$")


def environments() -> dict[str, dict]:
    """Globals' variables and each function's own, by where they are set."""
    found = {"Globals": template.load()["Globals"]["Function"]["Environment"]["Variables"]}
    for name, function in FUNCTIONS.items():
        found[name] = function["Properties"].get("Environment", {}).get("Variables", {})
    return found


def test_no_parameter_is_secret():
    # A NoEcho parameter is a secret, and Globals hands parameters to every function.
    for name, parameter in template.load()["Parameters"].items():
        assert not parameter.get("NoEcho"), name


@pytest.mark.parametrize("where", sorted(environments()))
def test_no_environment_variable_holds_a_secret(where):
    for variable, value in environments()[where].items():
        assert not SECRET_NAME.search(variable), (where, variable)
        # A dynamic reference would put Secrets Manager's or SSM's value in plain sight.
        assert "{{resolve:" not in repr(value), (where, variable)


# CKV_AWS_117: no VPC, since there is nothing private to reach.
VPC_RESOURCES = re.compile(
    r"^AWS::(EC2|RDS|ElastiCache|MemoryDB|OpenSearchService|Elasticsearch|EFS|Redshift|DocDB"
    r"|Neptune|MSK|AmazonMQ|DAX)::"
)


def test_there_is_no_resource_a_function_would_need_a_vpc_to_reach():
    for name, resource in template.load()["Resources"].items():
        assert not VPC_RESOURCES.match(resource["Type"]), f"{name}: revisit .checkov.yaml"


# ---- the loops (Fn::ForEach): read before SAM, and scanned written out -------------------------


def test_the_loops_are_written_out_before_sam_reads_the_template():
    raw = template.raw()
    # AWS::LanguageExtensions first: SAM's transform cannot read a loop.
    assert raw["Transform"] == [foreach.LANGUAGE_EXTENSIONS, foreach.SERVERLESS]
    assert template.load()["Transform"] == foreach.SERVERLESS
    loops = {key: spec for key, spec in raw["Resources"].items() if foreach.is_loop(key)}
    assert loops, "no loop left: the transform can go"
    for key, (_, _, fragment) in loops.items():
        # Only CloudFormation's own resources in a loop: a SAM resource (a function, an API)
        # would need sam build and package to write the loop out themselves.
        for output_key, resource in fragment.items():
            assert not resource["Type"].startswith("AWS::Serverless::"), (key, output_key)
    for section in ("Conditions", "Outputs", "Globals", "Parameters", "Mappings"):
        assert not foreach.has_loops({"Resources": raw.get(section, {})}), section


def test_checkov_scans_the_template_with_its_loops_written_out():
    # With a loop among the resources checkov cannot parse template.yaml (it scans nothing of
    # it and still passes) or, reading it, skips SAM's Globals (docs/decisions.md, issue 13).
    lint = lint_recipe()
    expanded = re.search(r"^EXPANDED_TEMPLATE := (\S+)$", makefile(), re.MULTILINE)
    assert expanded and expanded.group(1).startswith(".aws-sam/")  # ignored by git
    [write] = [line for line in lint.splitlines() if "local.foreach" in line]
    [scan] = [line for line in lint.splitlines() if "checkov" in line]
    assert write.split()[-2:] == ["template.yaml", "$(EXPANDED_TEMPLATE)"]
    assert "-f $(EXPANDED_TEMPLATE)" in scan
    assert "-f template.yaml" not in scan
    assert lint.index(write) < lint.index(scan)
