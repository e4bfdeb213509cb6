from __future__ import annotations

import re

import pytest

from ordersync import schema
from ordersync.errors import UsageError
from ordersync.reports import labels


@pytest.mark.parametrize("lang", labels.LANGS)
def test_every_rule_has_a_valid_sheet_name(lang: labels.Lang) -> None:
    names = [labels.rule_name(rule, lang) for rule in schema.RULES]
    assert len(set(names)) == len(names)
    for name in names:
        assert name not in schema.RULES, "a label, not the rule id"
        # room for " (2)" continuation suffixes, and nothing Excel forbids
        assert len(name) <= 25
        assert not re.search(r"[\[\]:*?/\\]", name)


def test_every_code_has_both_languages() -> None:
    for table in (labels.RULE_NAMES, labels.ACTIONS, labels.HEADERS, labels.TEXT):
        for key, (zh, en) in table.items():
            assert zh and en, key
    assert set(labels.RULE_NAMES) == set(schema.RULES)
    assert set(labels.RULE_DEFAULT_ACTION) == set(schema.RULES)
    assert set(labels.RULE_DEFAULT_ACTION.values()) <= set(labels.ACTIONS)
    assert set(labels.STATUS_NAMES) == set(schema.STATUSES) | set(schema.TRACKING_STATUSES)


def test_action_falls_back_to_the_rule_default() -> None:
    assert labels.action_code("refund_not_stopped", "wms", None) == "intercept_shipment"
    assert labels.action_code("status_mismatch", "oms_unpaid:oms", None) == "resync_payment"
    assert labels.action_code("status_mismatch", "x", "upload_tracking") == "upload_tracking"
    assert labels.action_text("new_rule", None, "Call Bob", "en") == "Call Bob"
    assert labels.rule_name("new_rule", "zh") == "new_rule"


def test_unknown_language_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        labels.check_lang("fr")
