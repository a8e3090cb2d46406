"""The published AsyncAPI document is the one the code generates."""

from __future__ import annotations

import pytest
import yaml

from deploy.asyncapi import TARGETS, document

pytestmark = pytest.mark.contract


def test_the_committed_asyncapi_document_is_current():
    generated = document()
    for target in TARGETS:
        assert target.read_text() == generated, f"{target} is stale: run `make docs`"


def test_the_asyncapi_document_names_every_command_and_event_stream():
    channels = {c["address"] for c in yaml.safe_load(document())["channels"].values()}
    for stream in ("clf.classify", "clf.status", "clf.bulk-classify", "clf.events.annotation",
                   "clf.events.task"):
        assert stream in channels
