"""The task browser's filter rules: what each query parameter may say."""

from __future__ import annotations

import pytest

from gateway.browse_rules import BrowseFilter, check_filter, in_dir, label_matches

pytestmark = pytest.mark.unit

STATUSES = {"completed", "discard", "needs-review"}
LABELS = {"men's clothes", "men's clothes.polo shirts", "men's clothes.jeans"}


def check(**raw):
    return check_filter(raw, STATUSES, LABELS)


def fields(problems):
    return [p.field for p in problems]


def test_no_parameter_is_no_filter_sorted_by_name():
    f, problems = check()
    assert problems == [] and f == BrowseFilter() and not f.narrows and f.sort == "name"


def test_each_parameter_is_kept_normalised():
    f, problems = check(status="needs-review", label="men's clothes", assignee="a@x.io",
                        annotated="false", name="Polo", dir="/shirts/", sort="-createdAt")
    assert problems == []
    assert f == BrowseFilter(status="needs-review", label="men's clothes", assignee="a@x.io",
                             annotated=False, name="polo", dir="/shirts", sort="-createdAt")


def test_none_is_the_status_of_items_without_one():
    assert check(status="none")[0].status == "none"


@pytest.mark.parametrize("raw, field", [
    ({"status": "approved"}, "status"),
    ({"label": "hats"}, "label"),
    ({"assignee": "nobody"}, "assignee"),
    ({"annotated": "maybe"}, "annotated"),
    ({"annotated": "1"}, "annotated"),
    ({"sort": "size"}, "sort"),
    ({"dir": "shirts"}, "dir"),
    ({"name": ""}, "name"),
    ({"name": "a\x00b"}, "name"),
    ({"name": "x" * 201}, "name"),
])
def test_a_bad_parameter_is_named_with_its_rule(raw, field):
    f, problems = check(**raw)
    assert fields(problems) == [field] and problems[0].rule


def test_an_unknown_status_lists_the_tasks_statuses():
    _, problems = check(status="approved")
    assert "completed, discard, needs-review" in problems[0].rule and "none" in problems[0].rule


def test_every_broken_rule_is_reported_at_once():
    _, problems = check(status="approved", sort="size", annotated="yes")
    assert sorted(fields(problems)) == ["annotated", "sort", "status"]


def test_a_label_matches_itself_and_its_children_only():
    assert label_matches("men's clothes.polo shirts", "men's clothes")
    assert label_matches("men's clothes", "men's clothes")
    assert not label_matches("men's clothes", "men's clothes.polo shirts")
    assert not label_matches("men's clothesline", "men's clothes")


def test_a_folder_holds_its_subfolders_but_not_its_namesakes():
    assert in_dir("/a", "/a") and in_dir("/a/b", "/a") and in_dir("/z", "/")
    assert not in_dir("/ab", "/a")
