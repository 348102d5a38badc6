"""local.foreach writes Fn::ForEach loops out as CloudFormation does (AWS::LanguageExtensions).

The examples are AWS's own (the Fn::ForEach pages of the CloudFormation template reference,
and the RFC, aws-cloudformation/cfn-language-discussion RFCs/0009), with the templates AWS
says they are equivalent to. Templates are read as local/template.py reads them: the
short tags as `Tag`s, the long forms ({"Ref": ...}, {"Fn::Sub": ...}) as mappings.
"""

from __future__ import annotations

import re
import textwrap

import pytest
import yaml

from local import foreach, template
from local.foreach import ForEachError, expand
from local.template import Tag

HEAD = "Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]\n"


def read(text: str) -> dict:
    return yaml.safe_load(textwrap.dedent(text))


def resources(text: str) -> dict:
    return expand(read(HEAD + textwrap.dedent(text)))["Resources"]


def test_a_resource_per_value_with_its_key_and_sub_substituted():
    # AWS: "Replicate an Amazon SNS resource".
    found = resources("""
        Resources:
          'Fn::ForEach::Topics':
            - TopicName
            - [Success, Failure, Timeout, Unknown]
            - 'SnsTopic${TopicName}':
                Type: AWS::SNS::Topic
                Properties:
                  TopicName: !Sub '${TopicName}.fifo'
                  FifoTopic: true
    """)
    assert found == {
        f"SnsTopic{name}": {
            "Type": "AWS::SNS::Topic",
            "Properties": {"TopicName": f"{name}.fifo", "FifoTopic": True},
        }
        for name in ("Success", "Failure", "Timeout", "Unknown")
    }
    assert list(found) == [
        "SnsTopicSuccess",
        "SnsTopicFailure",
        "SnsTopicTimeout",
        "SnsTopicUnknown",
    ]


def test_ref_to_the_identifier_is_the_value():
    # The RFC's "Replicate a single Resource": TableName: !Ref TableName.
    found = resources("""
        Resources:
          'Fn::ForEach::Tables':
            - TableName
            - [Points, Score]
            - 'DynamoDB${TableName}':
                Type: AWS::DynamoDB::Table
                Properties:
                  TableName: !Ref TableName
                  Tags: [{Key: table, Value: {Ref: TableName}}]
    """)
    assert found["DynamoDBPoints"]["Properties"]["TableName"] == "Points"
    assert found["DynamoDBScore"]["Properties"]["Tags"] == [{"Key": "table", "Value": "Score"}]


def test_a_looped_resource_names_another_with_ref_or_getatt_of_a_sub():
    # The RFC's NAT gateways: !Ref {Fn::Sub: PublicSubnet${Identifier}} is !Ref PublicSubnetA.
    found = resources("""
        Resources:
          'Fn::ForEach::NatGatewayAndEIP':
            - Identifier
            - [A, B]
            - 'NatGateway${Identifier}':
                Type: AWS::EC2::NatGateway
                Properties:
                  AllocationId: !GetAtt [!Sub 'NatGatewayAttachment${Identifier}', AllocationId]
                  SubnetId: !Ref {'Fn::Sub': 'PublicSubnet${Identifier}'}
              'NatGatewayAttachment${Identifier}':
                Type: AWS::EC2::EIP
                Properties:
                  Domain: vpc
                  Tags: [{Key: subnet, Value: {Ref: {'Fn::Sub': 'PublicSubnet${Identifier}'}}}]
    """)
    assert found["NatGatewayB"]["Properties"] == {
        "AllocationId": Tag("GetAtt", ["NatGatewayAttachmentB", "AllocationId"]),
        "SubnetId": Tag("Ref", "PublicSubnetB"),
    }
    assert found["NatGatewayAttachmentA"]["Properties"]["Tags"] == [
        {"Key": "subnet", "Value": {"Ref": "PublicSubnetA"}}
    ]
    assert list(found) == [
        "NatGatewayA",
        "NatGatewayAttachmentA",
        "NatGatewayB",
        "NatGatewayAttachmentB",
    ]


def test_nested_loops_in_outputs():
    # AWS: "Reference replicated AWS::S3::Bucket resources" (Outputs).
    outputs = expand(
        read(
            HEAD
            + """
Outputs:
  'Fn::ForEach::BucketOutputs':
    - Identifier
    - [A, B]
    - 'Fn::ForEach::GetAttLoop':
        - Property
        - [Arn, DomainName]
        - 'S3Bucket${Identifier}${Property}':
            Value: !GetAtt [!Sub 'S3Bucket${Identifier}', !Ref Property]
"""
        )
    )["Outputs"]
    assert outputs == {
        f"S3Bucket{bucket}{attribute}": {"Value": Tag("GetAtt", [f"S3Bucket{bucket}", attribute])}
        for bucket in ("A", "B")
        for attribute in ("Arn", "DomainName")
    }


def test_ampersand_drops_what_a_logical_id_cannot_hold():
    # AWS: "Pass non-alphanumeric characters within Collection".
    found = resources("""
        Resources:
          'Fn::ForEach::Subnets':
            - Cidr
            - [10.0.0.0/24, 10.0.1.0/24]
            - 'Subnet&{Cidr}':
                Type: AWS::EC2::Subnet
                Properties:
                  CidrBlock: !Ref Cidr
                  Tags: [{Key: cidr, Value: !Sub 'cidr ${Cidr}'}]
    """)
    assert found["Subnet1000024"]["Properties"] == {
        "CidrBlock": "10.0.0.0/24",
        "Tags": [{"Key": "cidr", "Value": "cidr 10.0.0.0/24"}],
    }
    assert set(found) == {"Subnet1000024", "Subnet1001024"}


def test_a_sub_with_variables_left_stays_a_sub_and_the_rest_is_untouched():
    found = resources("""
        Parameters:
          Stage: {Type: String}
        Resources:
          Queue:
            Type: AWS::SQS::Queue
            Properties:
              QueueName: !Sub 'plain'
          'Fn::ForEach::Alarms':
            - Name
            - [One]
            - '${Name}Alarm':
                Type: AWS::CloudWatch::Alarm
                Properties:
                  AlarmName: !Sub '${Name}-${Stage}-${AWS::Region}'
                  AlarmDescription: !Sub ['${Name} in ${Where}', {Where: !Ref Stage}]
                  Namespace: !Sub '${!Literal}'
                  Threshold: !Ref Stage
                  AlarmActions: [!Ref Queue, !GetAtt Queue.Arn]
    """)
    properties = found["OneAlarm"]["Properties"]
    assert properties["AlarmName"] == Tag("Sub", "One-${Stage}-${AWS::Region}")
    assert properties["AlarmDescription"] == Tag(
        "Sub", ["One in ${Where}", {"Where": Tag("Ref", "Stage")}]
    )
    assert properties["Namespace"] == Tag("Sub", "${!Literal}")
    assert properties["Threshold"] == Tag("Ref", "Stage")
    assert properties["AlarmActions"] == [Tag("Ref", "Queue"), Tag("GetAtt", "Queue.Arn")]
    # Outside a loop nothing is resolved, even a Sub without variables.
    assert found["Queue"]["Properties"]["QueueName"] == Tag("Sub", "plain")


def test_a_loop_in_resource_properties_and_in_conditions():
    document = expand(
        read(
            HEAD
            + """
Parameters:
  Env: {Type: String}
Conditions:
  'Fn::ForEach::Envs':
    - Name
    - [Prod, Test]
    - 'Is${Name}': !Equals [!Ref Env, !Ref Name]
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      'Fn::ForEach::Settings':
        - Setting
        - [Tags]
        - '${Setting}': [{Key: k, Value: v}]
"""
        )
    )
    assert document["Conditions"] == {
        "IsProd": Tag("Equals", [Tag("Ref", "Env"), "Prod"]),
        "IsTest": Tag("Equals", [Tag("Ref", "Env"), "Test"]),
    }
    assert document["Resources"]["Bucket"]["Properties"] == {"Tags": [{"Key": "k", "Value": "v"}]}


def test_the_transform_is_left_as_cloudformation_hands_it_to_sam():
    document = read(HEAD + "Resources: {}\n")
    assert expand(document)["Transform"] == "AWS::Serverless-2016-10-31"
    assert document["Transform"] == ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"]
    assert "Transform" not in expand({"Transform": "AWS::LanguageExtensions", "Resources": {}})
    plain = {"Transform": "AWS::Serverless-2016-10-31", "Resources": {"A": {"Type": "X"}}}
    assert expand(plain) == plain


# A loop making resource Ra from X in [a], and what may go wrong around it.
def loop(body: str = "{Type: T}", values: str = "[a]", key: str = "R${X}") -> str:
    return "'Fn::ForEach::L': [X, " + values + ", {'" + key + "': " + body + "}]"


def with_resources(*entries: str, head: str = HEAD) -> str:
    return head + "Resources: {" + ", ".join(entries) + "}\n"


IN_PLAIN_STRING = '{Type: T, Properties: {P: "q${X}"}}'
IN_INNER_KEY = '{Type: T, Properties: {"${X}": 1}}'
IN_GETATT_STRING = '!GetAtt "${X}.Arn"'
PARAMETER = "Parameters: {X: {Type: String}, P: {Type: CommaDelimitedList}}\n"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        # CloudFormation refuses a loop without the transform...
        (with_resources(loop(), head="Transform: AWS::Serverless-2016-10-31\n"), "needs Transform"),
        # ...and SAM would read the loop first if its transform came first.
        (
            with_resources(
                loop(), head="Transform: [AWS::Serverless-2016-10-31, AWS::LanguageExtensions]\n"
            ),
            "must come before",
        ),
        (with_resources(loop(values="[a, b]", key="R")), "names no"),
        (with_resources(loop(), "Ra: {Type: T}"), "twice"),
        (with_resources(loop(values="[a, a]")), "repeats"),
        (with_resources(loop(), "X: {Type: T}"), "name"),
        (with_resources(loop(), head=HEAD + PARAMETER), "name"),
        (with_resources(loop().replace("[X,", "[Y,").replace("${X}", "${Y}")), None),
        (
            with_resources(loop(values="!Ref P"), head=HEAD + PARAMETER.replace("X:", "Q:")),
            "literal",
        ),
        (with_resources("'Fn::ForEach::L': [X, [a], {'R${X}': {}}, extra]"), "Identifier"),
        # Where AWS's page and cfn-lint disagree: written !Sub, or refused.
        (with_resources(loop(IN_PLAIN_STRING)), "plain string"),
        (with_resources(loop(IN_INNER_KEY)), "below an OutputKey"),
        (with_resources(loop(IN_GETATT_STRING)), "plain string"),
    ],
)
def test_what_cloudformation_refuses_or_reads_otherwise_is_refused(text, why):
    if why is None:  # the same loop, well formed: the cases above differ by their one fault
        assert list(expand(read(text))["Resources"]) == ["Ra"]
        return
    with pytest.raises(ForEachError, match=why):
        expand(read(text))


def test_the_written_template_reads_back_the_same(tmp_path):
    source = tmp_path / "template.yaml"
    source.write_text(template.TEMPLATE.read_text())
    written = tmp_path / "out" / "template.yaml"
    assert foreach.main([str(source), str(written)]) == 0
    assert yaml.safe_load(written.read_text()) == template.load()
    text = written.read_text()
    assert "Fn::ForEach" not in text
    assert "!Ref 'AlarmTopic'" in text  # the short tags, as checkov reads template.yaml's
    assert not re.search(r"[&*]id\d", text)  # no YAML aliases (CloudFormation refuses them)


def test_the_project_template_reads_as_written_out():
    raw, loaded = template.raw(), template.load()
    assert not foreach.has_loops(loaded)
    assert loaded == expand(raw)


# A copy of template.yaml's two alarm loops (per function, per table), expanded here on
# their own: they write out exactly the alarms the template holds, so a change to the
# loops or to the expander shows here (docs/decisions.md, issue 13).
ALARM_LOOPS = """
Resources:
  "Fn::ForEach::TableThrottleAlarms":
    - Table
    - [TABLES]
    - "${Table}ThrottleAlarm":
        Type: AWS::CloudWatch::Alarm
        Properties:
          AlarmDescription: !Sub "${Table} throttled reads or writes (events in 5 minutes)"
          Metrics:
            - {Id: reads, ReturnData: false, MetricStat: {Period: 300, Stat: Sum, Metric: {Namespace: AWS/DynamoDB, MetricName: ReadThrottleEvents, Dimensions: [{Name: TableName, Value: !Ref {"Fn::Sub": "${Table}"}}]}}}
            - {Id: writes, ReturnData: false, MetricStat: {Period: 300, Stat: Sum, Metric: {Namespace: AWS/DynamoDB, MetricName: WriteThrottleEvents, Dimensions: [{Name: TableName, Value: !Ref {"Fn::Sub": "${Table}"}}]}}}
            - {Id: throttled, Expression: "FILL(reads, 0) + FILL(writes, 0)", Label: Throttle events}
          EvaluationPeriods: 1
          Threshold: !Ref DynamoDbThrottleAlarmEvents
          ComparisonOperator: GreaterThanOrEqualToThreshold
          TreatMissingData: notBreaching
          AlarmActions: [!Ref AlarmTopic]
          OKActions: [!Ref AlarmTopic]
  "Fn::ForEach::FunctionErrorAlarms":
    - Function
    - [FUNCTIONS]
    - "${Function}ErrorsAlarm":
        Type: AWS::CloudWatch::Alarm
        Properties:
          AlarmDescription: !Sub "${Function} failed or was throttled (invocations in 5 minutes)"
          Metrics:
            - {Id: errors, ReturnData: false, MetricStat: {Period: 300, Stat: Sum, Metric: {Namespace: AWS/Lambda, MetricName: Errors, Dimensions: [{Name: FunctionName, Value: !Ref {"Fn::Sub": "${Function}"}}]}}}
            - {Id: throttles, ReturnData: false, MetricStat: {Period: 300, Stat: Sum, Metric: {Namespace: AWS/Lambda, MetricName: Throttles, Dimensions: [{Name: FunctionName, Value: !Ref {"Fn::Sub": "${Function}"}}]}}}
            - {Id: failed, Expression: "FILL(errors, 0) + FILL(throttles, 0)", Label: Errors + throttles}
          EvaluationPeriods: 1
          Threshold: !Ref FunctionErrorAlarmThreshold
          ComparisonOperator: GreaterThanOrEqualToThreshold
          TreatMissingData: notBreaching
          AlarmActions: [!Ref AlarmTopic]
          OKActions: [!Ref AlarmTopic]
"""  # noqa: E501


def test_two_loops_write_out_the_alarms_the_template_writes_by_hand():
    tables = list(template.resources("AWS::DynamoDB::Table"))
    functions = list(template.resources("AWS::Serverless::Function"))
    loops = ALARM_LOOPS.replace("TABLES", ", ".join(tables))
    loops = loops.replace("FUNCTIONS", ", ".join(functions))
    written = resources(loops)
    by_hand = template.load()["Resources"]
    assert len(written) == len(tables) + len(functions) == 49
    assert written == {name: by_hand[name] for name in written}
