"""docs/mapping.md documents every key the parser takes, with examples the parser accepts."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from collector.sources.csvspec import parse_mapping
from collector.sources.mappingdoc import KEYS, mapping_reference, model_keys
from tests.conftest import REPO

DOC = REPO / "docs" / "mapping.md"
# What an example leaves out: the two keys every mapping needs.
BASE = {
    "conversation_id": "{ticket}",
    "events": [{"type": "conversation_started", "at": "opened", "channel": "chat"}],
}


def test_the_doc_holds_the_reference_the_parser_generates(cli):
    assert mapping_reference() in DOC.read_text(), "run: touchmetrics mapping reference"
    assert cli("mapping", "reference").stdout == mapping_reference()


def test_every_key_of_the_parser_is_documented_in_its_order_and_no_other():
    assert [doc.key for doc in KEYS] == model_keys()


@pytest.mark.parametrize("doc", KEYS, ids=[doc.key for doc in KEYS])
def test_each_keys_example_parses_and_shows_the_key(doc):
    example = yaml.safe_load(doc.example)
    parse_mapping({**BASE, **example}, "example")
    assert _holds(example, doc.key.split(".")), f"the example of {doc.key} does not show it"


def test_every_yaml_block_of_the_doc_parses():
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == len(KEYS) + 2
    for block in blocks:
        parse_mapping({**BASE, **yaml.safe_load(block)}, "docs/mapping.md")


def _holds(data: Any, path: list[str]) -> bool:
    """Whether ``data`` holds the dotted key (``[]`` any item of a list, ``<name>`` any key)."""
    if not path:
        return True
    head, rest = path[0], path[1:]
    if head.endswith("[]"):
        items = data.get(head[:-2]) if isinstance(data, dict) else None
        return isinstance(items, list) and any(_holds(item, rest) for item in items)
    if head == "<name>":
        return isinstance(data, dict) and any(_holds(v, rest) for v in data.values())
    if not isinstance(data, dict) or head not in data:
        return False
    value = data[head]
    # `at: closed` is shorthand for `at: {first: [closed]}`.
    if rest == ["first"] and isinstance(value, str | list):
        return True
    return _holds(value, rest)
