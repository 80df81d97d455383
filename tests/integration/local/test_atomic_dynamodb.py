"""moto's DynamoDB behaves like the service where our correctness depends on it: a cancelled
transaction leaves nothing behind, and no transaction copies a whole table."""

from __future__ import annotations

import boto3
import pytest


def _get(client, table: str, pk: str):
    return client.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": "1"}}).get("Item")


def test_a_cancelled_transaction_rolls_back_every_write_it_made(aws):
    client = boto3.client("dynamodb", region_name="us-east-1")
    table = aws.table_name
    client.put_item(
        TableName=table,
        Item={
            "pk": {"S": "A"},
            "sk": {"S": "1"},
            "v": {"N": "1"},
            "gsi1pk": {"S": "G"},
            "gsi1sk": {"S": "A"},
        },
    )
    # Given a transaction whose last condition fails after a put and an update were applied
    with pytest.raises(client.exceptions.TransactionCanceledException):
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": {
                            "pk": {"S": "B"},
                            "sk": {"S": "1"},
                            "gsi1pk": {"S": "G"},
                            "gsi1sk": {"S": "B"},
                        },
                    }
                },
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "A"}, "sk": {"S": "1"}},
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"N": "2"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"pk": {"S": "C"}, "sk": {"S": "1"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    # Then the table, and its index, are as before
    assert _get(client, table, "B") is None
    assert _get(client, table, "A")["v"] == {"N": "1"}
    index = client.query(
        TableName=table,
        IndexName="gsi1",
        KeyConditionExpression="gsi1pk = :g",
        ExpressionAttributeValues={":g": {"S": "G"}},
    )["Items"]
    assert [i["pk"]["S"] for i in index] == ["A"]


def test_a_transaction_does_not_copy_the_whole_table(aws, monkeypatch):
    from moto.dynamodb.models.table import Table

    copies: list[str] = []
    monkeypatch.setattr(
        Table, "__deepcopy__", lambda self, memo: copies.append(self.name) or self, raising=False
    )
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.transact_write_items(
        TransactItems=[{"Put": {"TableName": aws.table_name, "Item": {"pk": {"S": "X"}, "sk": {"S": "1"}}}}]
    )
    assert _get(client, aws.table_name, "X") is not None
    assert copies == []
