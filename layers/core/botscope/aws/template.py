"""Reads template.yaml so that local and test resources are built from the deployed definitions
themselves (they cannot drift apart)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[4]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that keeps CloudFormation short-form tags (!Ref, !Sub, !GetAtt, …) as data."""


def _cfn_tag(loader: yaml.Loader, tag_suffix: str, node: yaml.Node) -> Any:
    name = "Fn::GetAtt" if tag_suffix == "GetAtt" else ("Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}")
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _cfn_tag)


@lru_cache(maxsize=4)
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    document: dict[str, Any] = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return document


def resource(logical_id: str, path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    found: dict[str, Any] = load_template(path)["Resources"][logical_id]
    return found


def table_create_kwargs(
    table_name: str, logical_id: str = "Table", path: Path = TEMPLATE_PATH
) -> dict[str, Any]:
    """``dynamodb.create_table`` arguments from the template's table definition."""
    props = resource(logical_id, path)["Properties"]
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    return kwargs


def table_ttl_attribute(logical_id: str = "Table", path: Path = TEMPLATE_PATH) -> str | None:
    spec = resource(logical_id, path)["Properties"].get("TimeToLiveSpecification") or {}
    return spec.get("AttributeName") if spec.get("Enabled") else None
