"""The unit arithmetic of bench/write_units.py, on requests whose cost AWS's rules fix.

Each case makes real DynamoDB requests against moto with the meter observing them, on
items built to an exact size (item size = attribute names + values, AWS's rules), and
checks the units the meter billed.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from bench.counting import observing
from bench.write_units import Index, Meter, Table, item_size, read_units, tables_of_template

KB = 1024
# "T": one hash key, and an index on "g" that projects "p" (not "pad").
BY_G = Index("by-g", ("g",), "INCLUDE", ("p",))
TABLES = {
    "T": Table("T", ("pk",), (BY_G,)),
    "Q": Table("Q", ("pk", "sk"), ()),
}


def sized(size: int, **attributes: str) -> dict:
    """An item of exactly `size` bytes: its string attributes, padded with "pad"."""
    item = {name: {"S": value} for name, value in attributes.items()}
    padding = size - item_size(item) - len("pad")
    assert padding >= 0
    item["pad"] = {"S": "x" * padding}
    assert item_size(item) == size
    return item


@pytest.fixture
def ddb():
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(
            TableName="T",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "g", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-g",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["p"]},
                }
            ],
        )
        client.create_table(
            TableName="Q",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
        )
        yield client


def metered(action) -> Meter:
    meter = Meter(TABLES)
    with observing(meter):
        action()
    return meter


# ---- item sizes ------------------------------------------------------------------------------


def test_item_size_follows_the_aws_rules():
    # names count; strings are their UTF-8 bytes
    assert item_size({"ab": {"S": "cdè"}}) == 2 + 4
    # numbers: 1 byte per 2 significant digits (zeros at either end trimmed) + 1
    assert item_size({"n": {"N": "00123.4500"}}) == 1 + 3 + 1
    assert item_size({"n": {"N": "1767258000"}}) == 1 + 4 + 1
    # binary: raw bytes; boolean and null: 1 byte
    assert item_size({"b": {"B": b"\x00\x01\x02"}, "t": {"BOOL": False}, "z": {"NULL": True}}) == (
        1 + 3 + 1 + 1 + 1 + 1
    )
    # list and map: 3 bytes + 1 per element; a map's element counts its name
    assert item_size({"l": {"L": [{"S": "ab"}, {"BOOL": True}]}}) == 1 + 3 + (1 + 2) + (1 + 1)
    assert item_size({"m": {"M": {"key": {"S": "xy"}}}}) == 1 + 3 + (1 + 3 + 2)
    assert item_size({"m": {"M": {}}}) == 1 + 3
    # sets: the sum of their elements
    assert item_size({"s": {"SS": ["ab", "c"]}, "ns": {"NS": ["10", "7"]}}) == 1 + 3 + 2 + 2 + 2


# ---- writes -------------------------------------------------------------------------------


def test_a_put_of_half_a_kilobyte_is_one_write_unit(ddb):
    meter = metered(lambda: ddb.put_item(TableName="T", Item=sized(KB // 2, pk="a")))
    assert meter.units.writes == {"T": 1}


def test_a_put_of_one_and_a_half_kilobytes_is_two(ddb):
    meter = metered(lambda: ddb.put_item(TableName="T", Item=sized(KB + KB // 2, pk="a")))
    assert meter.units.writes == {"T": 2}


def test_exactly_one_kilobyte_is_one_unit_and_one_byte_more_is_two(ddb):
    assert metered(lambda: ddb.put_item(TableName="T", Item=sized(KB, pk="a"))).units.writes == {
        "T": 1
    }
    meter = metered(lambda: ddb.put_item(TableName="T", Item=sized(KB + 1, pk="b")))
    assert meter.units.writes == {"T": 2}


def test_the_same_put_in_a_transaction_costs_twice(ddb):
    put = {"Put": {"TableName": "T", "Item": sized(KB + KB // 2, pk="a")}}
    meter = metered(lambda: ddb.transact_write_items(TransactItems=[put]))
    assert meter.units.writes == {"T": 4}


def test_a_condition_check_in_a_transaction_costs_the_item_twice(ddb):
    ddb.put_item(TableName="T", Item=sized(KB + KB // 2, pk="a"))
    check = {
        "ConditionCheck": {
            "TableName": "T",
            "Key": {"pk": {"S": "a"}},
            "ConditionExpression": "attribute_exists(pk)",
        }
    }
    small = {"Put": {"TableName": "T", "Item": sized(100, pk="b")}}
    meter = metered(lambda: ddb.transact_write_items(TransactItems=[check, small]))
    assert meter.units.writes == {"T": 4 + 2}


def test_an_update_is_billed_on_the_larger_of_before_and_after(ddb):
    ddb.put_item(TableName="T", Item=sized(900, pk="a"))
    grown = {":pad": sized(1100, pk="a")["pad"]}

    def grow():
        ddb.update_item(
            TableName="T",
            Key={"pk": {"S": "a"}},
            UpdateExpression="SET #pad = :pad",
            ExpressionAttributeNames={"#pad": "pad"},
            ExpressionAttributeValues=grown,
        )

    assert metered(grow).units.writes == {"T": 2}
    shrunk = {":pad": sized(900, pk="a")["pad"]}

    def shrink():
        ddb.update_item(
            TableName="T",
            Key={"pk": {"S": "a"}},
            UpdateExpression="SET #pad = :pad",
            ExpressionAttributeNames={"#pad": "pad"},
            ExpressionAttributeValues=shrunk,
        )

    assert metered(shrink).units.writes == {"T": 2}


def test_a_batch_write_counts_each_item(ddb):
    requests = [
        {"PutRequest": {"Item": sized(KB // 2, pk="a")}},
        {"PutRequest": {"Item": sized(2 * KB + 1, pk="b")}},
        {"DeleteRequest": {"Key": {"pk": {"S": "missing"}}}},
    ]
    meter = metered(lambda: ddb.batch_write_item(RequestItems={"T": requests}))
    assert meter.units.writes == {"T": 1 + 3 + 1}


def test_a_failed_condition_still_costs_the_item(ddb):
    ddb.put_item(TableName="T", Item=sized(KB + 1, pk="a"))

    def refused():
        with pytest.raises(ClientError):
            ddb.put_item(
                TableName="T",
                Item=sized(100, pk="a"),
                ConditionExpression="attribute_not_exists(pk)",
            )

    assert metered(refused).units.writes == {"T": 2}


def _update(ddb, expression: str, **values: str):
    return lambda: ddb.update_item(
        TableName="T",
        Key={"pk": {"S": "a"}},
        UpdateExpression=expression,
        ExpressionAttributeValues={f":{k}": {"S": v} for k, v in values.items()},
    )


def test_an_index_key_change_is_a_delete_and_a_put(ddb):
    ddb.put_item(TableName="T", Item={"pk": {"S": "a"}, "g": {"S": "one"}})
    meter = metered(_update(ddb, "SET g = :g", g="two"))
    assert meter.units.writes == {"T": 1, "T/by-g": 1 + 1}


def test_an_index_entry_costs_only_when_its_projection_changes(ddb):
    ddb.put_item(TableName="T", Item={"pk": {"S": "a"}})
    # not in the index (no "g"): nothing to write there
    assert metered(_update(ddb, "SET p = :p", p="x")).units.writes == {"T": 1}
    # enters the index: one put
    assert metered(_update(ddb, "SET g = :g", g="one")).units.writes == {"T": 1, "T/by-g": 1}
    # an attribute the index does not project: the entry is unchanged
    assert metered(_update(ddb, "SET extra = :o", o="y")).units.writes == {"T": 1}
    # a projected attribute changes: one write of the entry, which is 2 KB now
    big = "x" * (2 * KB)
    assert metered(_update(ddb, "SET p = :p", p=big)).units.writes == {"T": 3, "T/by-g": 3}
    # leaves the index: one delete
    meter = metered(lambda: ddb.delete_item(TableName="T", Key={"pk": {"S": "a"}}))
    assert meter.units.writes == {"T": 3, "T/by-g": 3}


# ---- reads --------------------------------------------------------------------------------


def test_a_get_of_a_missing_item_costs_the_minimum(ddb):
    def get(consistent: bool):
        return lambda: ddb.get_item(
            TableName="T", Key={"pk": {"S": "missing"}}, ConsistentRead=consistent
        )

    assert metered(get(True)).units.reads == {"T": 1}
    assert metered(get(False)).units.reads == {"T": 0.5}


def test_a_get_is_billed_on_the_whole_item_whatever_it_projects(ddb):
    ddb.put_item(TableName="T", Item=sized(4 * KB + 1, pk="a"))
    meter = metered(
        lambda: ddb.get_item(
            TableName="T", Key={"pk": {"S": "a"}}, ProjectionExpression="pk", ConsistentRead=True
        )
    )
    assert meter.units.reads == {"T": 2}


def _ten_kilobytes(ddb) -> None:
    for n in range(10):
        ddb.put_item(TableName="Q", Item=sized(KB, pk="q", sk=f"{n:02d}"))


def test_a_query_rounds_its_total_up_to_4_kb_then_halves_it_when_eventually_consistent(ddb):
    _ten_kilobytes(ddb)
    query = {
        "TableName": "Q",
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": "q"}},
    }
    # 10 KB -> 12 KB: 3 units strongly consistent, 1.5 eventually
    assert metered(lambda: ddb.query(**query)).units.reads == {"Q": 1.5}
    assert metered(lambda: ddb.query(**query, ConsistentRead=True)).units.reads == {"Q": 3}
    assert read_units(10 * KB, consistent=False) == 1.5


def test_a_query_pays_for_what_it_read_not_what_its_filter_kept(ddb):
    _ten_kilobytes(ddb)
    meter = metered(
        lambda: ddb.query(
            TableName="Q",
            KeyConditionExpression="pk = :pk",
            FilterExpression="#pad = :nothing",
            ExpressionAttributeNames={"#pad": "pad"},
            ExpressionAttributeValues={":pk": {"S": "q"}, ":nothing": {"S": "none"}},
            Limit=5,
        )
    )
    # 5 items of 1 KB read (Limit applies before the filter), 0 kept: 8 KB, halved
    assert meter.units.reads == {"Q": 1}


def test_a_query_on_an_index_reads_the_projected_entries(ddb):
    for n in range(3):
        item = sized(3 * KB, pk=f"k{n}", g="same")
        ddb.put_item(TableName="T", Item=item)  # "pad" is not projected: small entries
    meter = metered(
        lambda: ddb.query(
            TableName="T",
            IndexName="by-g",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": {"S": "same"}},
        )
    )
    assert meter.units.reads == {"T/by-g": 0.5}


def test_a_batch_get_rounds_each_item_and_a_transaction_doubles(ddb):
    for key in ("a", "b"):
        ddb.put_item(TableName="T", Item=sized(KB, pk=key))
    keys = [{"pk": {"S": k}} for k in ("a", "b", "missing")]
    meter = metered(lambda: ddb.batch_get_item(RequestItems={"T": {"Keys": keys}}))
    assert meter.units.reads == {"T": 0.5 * 3}
    gets = [{"Get": {"TableName": "T", "Key": key}} for key in keys[:2]]
    assert metered(lambda: ddb.transact_get_items(TransactItems=gets)).units.reads == {"T": 4}


# ---- the template -------------------------------------------------------------------------


def test_the_tables_are_read_from_the_template_as_deployed(aws):
    """The meter's keys and indexes are those of the tables made from template.yaml."""
    client = boto3.client("dynamodb")
    for name, table in tables_of_template().items():
        described = client.describe_table(TableName=name)["Table"]
        assert table.keys == tuple(k["AttributeName"] for k in described["KeySchema"])
        indexes = {
            index["IndexName"]: (
                tuple(k["AttributeName"] for k in index["KeySchema"]),
                index["Projection"]["ProjectionType"],
                tuple(index["Projection"].get("NonKeyAttributes", ())),
            )
            for index in described.get("GlobalSecondaryIndexes", ())
        }
        assert {i.name: (i.keys, i.projection, i.attributes) for i in table.indexes} == indexes
