"""The label-and-attributes contract: `check_classification` against a recipe's ontology,
and the ontology model it reads (dataloop.md section 5)."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from shared.contracts.dataloop import LabelValue, Ontology
from shared.rules.labels import MAX_FREE_TEXT, Problem, check_classification

pytestmark = pytest.mark.unit


def node(tag: str, *children: dict) -> dict:
    return {"value": {"tag": tag, "displayLabel": tag.title(), "color": "#a7b3b1",
                      "attributes": [], "displayData": {}},
            "children": list(children)}


def attribute(key: str, type_: str, **more) -> dict:
    return {"key": key, "title": key.title(), "type": type_, "scope": ["*"]} | more


ONTOLOGY = Ontology.model_validate({
    "id": "ont1",
    "title": "Shop",
    "roots": [
        node("men's clothes", node("polo shirts"), node("jeans")),
        node("women's clothes", node("dresses", node("evening")), node("skirts")),
        node("accessories"),
    ],
    "metadata": {"attributes": [
        attribute("colour", "options", values=["red", "blue", "green"]),
        attribute("features", "options", multi=True, values=["pockets", "buttons", "hood"]),
        attribute("on_sale", "boolean"),
        attribute("notes", "freeText"),
        attribute("fit", "range", range={"min": 0, "max": 10, "step": 0.5},
                  scope=["men's clothes"]),
        attribute("weight", "range", range={"min": 0, "max": 1, "step": 0.1}),
        attribute("stars", "range", range={"min": 1, "max": 5}),
        attribute("length", "options", values=["mini", "midi", "maxi"], scope=["dresses"]),
        attribute("occasion", "options", values=["party", "gala"],
                  scope=["women's clothes.dresses.evening"]),
        attribute("condition", "options", values=["new", "used"], optional=False,
                  scope=["women's clothes"]),
    ]},
})


def check(label: str, **attributes) -> list[Problem]:
    return check_classification(ONTOLOGY, label, attributes)


def fields(problems: list[Problem]) -> list[str]:
    return [p.field for p in problems]


# --- labels ----------------------------------------------------------------------------------


def test_a_root_label_fits():
    assert check("accessories") == []


def test_a_child_label_is_named_by_its_dotted_path():
    assert check("men's clothes.polo shirts") == []


def test_a_parent_label_can_itself_be_chosen():
    assert check("men's clothes") == []


def test_a_grandchild_label_is_named_by_its_full_path():
    assert check("women's clothes.dresses.evening", condition="new") == []


def test_an_unknown_label_is_refused_on_the_label_field():
    problems = check("hats")
    assert fields(problems) == ["label"]
    assert "'hats' is not a label" in problems[0].rule


def test_a_child_tag_without_its_parent_path_is_not_a_label():
    assert fields(check("polo shirts")) == ["label"]


def test_a_child_under_the_wrong_parent_is_not_a_label():
    assert fields(check("women's clothes.polo shirts")) == ["label"]


def test_labels_are_case_sensitive():
    assert fields(check("Accessories")) == ["label"]


def test_an_unknown_label_is_the_only_problem_reported():
    assert fields(check("hats", nonsense=1, colour="purple")) == ["label"]


# --- options -----------------------------------------------------------------------------------


def test_a_single_option_must_be_one_of_the_values():
    assert check("accessories", colour="blue") == []
    assert fields(check("accessories", colour="purple")) == ["attributes.colour"]


def test_a_single_option_is_not_a_list():
    assert fields(check("accessories", colour=["blue"])) == ["attributes.colour"]


def test_a_multi_option_is_a_list_of_the_values():
    assert check("accessories", features=["pockets", "hood"]) == []
    assert check("accessories", features=[]) == []


def test_a_multi_option_is_not_a_bare_string():
    problems = check("accessories", features="pockets")
    assert fields(problems) == ["attributes.features"]
    assert "list" in problems[0].rule


def test_a_multi_option_names_the_values_it_does_not_know():
    problems = check("accessories", features=["pockets", "zip"])
    assert fields(problems) == ["attributes.features"]
    assert "['zip']" in problems[0].rule


def test_a_multi_option_refuses_non_string_members():
    assert fields(check("accessories", features=["pockets", 3])) == ["attributes.features"]


# --- range -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 0.5, 5, 9.5, 10, 10.0])
def test_a_range_accepts_values_on_its_steps_from_min_to_max(value):
    assert check("men's clothes.jeans", fit=value) == []


@pytest.mark.parametrize("value", [-0.5, 10.5, 100])
def test_a_range_refuses_values_outside_min_and_max(value):
    problems = check("men's clothes.jeans", fit=value)
    assert fields(problems) == ["attributes.fit"]
    assert "between 0 and 10" in problems[0].rule


def test_a_range_refuses_values_between_its_steps():
    problems = check("men's clothes.jeans", fit=0.25)
    assert fields(problems) == ["attributes.fit"]
    assert "multiple of 0.5" in problems[0].rule


def test_a_decimal_step_tolerates_floating_point_rounding():
    assert check("accessories", weight=0.3) == []
    assert check("accessories", weight=0.7) == []
    assert fields(check("accessories", weight=0.35)) == ["attributes.weight"]


def test_a_range_without_a_step_accepts_any_number_within_it():
    assert check("accessories", stars=3.14159) == []
    assert fields(check("accessories", stars=0.99)) == ["attributes.stars"]


@pytest.mark.parametrize("value", ["5", True, None, math.nan, math.inf, [5]])
def test_a_range_value_must_be_a_finite_number(value):
    problems = check("men's clothes.jeans", fit=value)
    assert fields(problems) == ["attributes.fit"]
    assert problems[0].rule == "must be a number"


# --- boolean and free text ---------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_is_true_or_false(value):
    assert check("accessories", on_sale=value) == []


@pytest.mark.parametrize("value", ["true", 1, 0, None])
def test_a_boolean_refuses_look_alikes(value):
    assert fields(check("accessories", on_sale=value)) == ["attributes.on_sale"]


def test_free_text_is_any_string_up_to_the_limit():
    assert check("accessories", notes="") == []
    assert check("accessories", notes="x" * MAX_FREE_TEXT) == []


def test_free_text_longer_than_the_limit_is_refused():
    problems = check("accessories", notes="x" * (MAX_FREE_TEXT + 1))
    assert fields(problems) == ["attributes.notes"]
    assert str(MAX_FREE_TEXT) in problems[0].rule


def test_free_text_must_be_a_string():
    assert fields(check("accessories", notes=42)) == ["attributes.notes"]


# --- scope -------------------------------------------------------------------------------------


def test_an_attribute_scoped_to_a_parent_applies_to_the_parent():
    assert check("men's clothes", fit=2) == []


def test_an_attribute_scoped_to_a_parent_applies_to_its_children():
    assert check("men's clothes.polo shirts", fit=2) == []
    assert fields(check("men's clothes.polo shirts", fit=11)) == ["attributes.fit"]


def test_an_attribute_scoped_to_a_parent_does_not_apply_elsewhere():
    problems = check("accessories", fit=2)
    assert fields(problems) == ["attributes.fit"]
    assert "is not an attribute of label 'accessories'" in problems[0].rule


def test_an_attribute_scoped_by_a_child_tag_applies_to_that_child():
    assert check("women's clothes.dresses", condition="new", length="midi") == []
    assert fields(check("women's clothes.skirts", condition="new", length="midi")) == [
        "attributes.length"
    ]


def test_an_attribute_scoped_by_a_child_tag_applies_to_the_childs_children():
    assert check("women's clothes.dresses.evening", condition="new", length="maxi") == []


def test_an_attribute_scoped_by_a_full_path_applies_only_below_that_path():
    assert check("women's clothes.dresses.evening", condition="new", occasion="gala") == []
    assert fields(check("women's clothes.dresses", condition="new", occasion="gala")) == [
        "attributes.occasion"
    ]


def test_an_unknown_attribute_key_is_refused_by_its_own_field():
    problems = check("accessories", colour="red", size="XL")
    assert fields(problems) == ["attributes.size"]


def test_every_problem_is_reported_not_just_the_first():
    problems = check("accessories", colour="purple", on_sale="yes", size="XL")
    assert sorted(fields(problems)) == [
        "attributes.colour", "attributes.on_sale", "attributes.size"
    ]


# --- required ----------------------------------------------------------------------------------


def test_a_required_attribute_must_be_given_for_labels_in_its_scope():
    problems = check("women's clothes.skirts")
    assert problems == [Problem("attributes.condition", "is required for this label")]


def test_a_required_attribute_given_with_a_good_value_fits():
    assert check("women's clothes.skirts", condition="used") == []


def test_a_required_attribute_given_with_a_bad_value_is_refused_for_its_value():
    problems = check("women's clothes", condition="broken")
    assert fields(problems) == ["attributes.condition"]
    assert "must be one of" in problems[0].rule


def test_a_required_attribute_is_not_demanded_outside_its_scope():
    assert check("men's clothes.jeans") == []


def test_optional_attributes_may_be_left_out():
    assert check("accessories") == []


# --- the ontology model --------------------------------------------------------------------


def test_labels_are_listed_by_full_path_in_picker_order():
    assert list(ONTOLOGY.labels()) == [
        "men's clothes",
        "men's clothes.polo shirts",
        "men's clothes.jeans",
        "women's clothes",
        "women's clothes.dresses",
        "women's clothes.dresses.evening",
        "women's clothes.skirts",
        "accessories",
    ]


def test_each_label_path_maps_to_its_own_value():
    labels = ONTOLOGY.labels()
    assert labels["women's clothes.dresses.evening"].tag == "evening"
    assert labels["men's clothes.polo shirts"].display_label == "Polo Shirts"


def test_an_empty_ontology_has_no_labels_and_refuses_every_label():
    empty = Ontology()
    assert empty.labels() == {}
    assert fields(check_classification(empty, "anything", {})) == ["label"]


def test_an_ontology_reads_dataloop_json_and_keeps_unknown_keys():
    ontology = Ontology.model_validate({
        "title": "t", "creator": "x@example.com",
        "roots": [{"value": {"tag": "Fruit", "color": "#A7B3B1", "extra": 1}, "children": []}],
    })
    dumped = ontology.dump()
    assert dumped["creator"] == "x@example.com"
    assert dumped["roots"][0]["value"]["extra"] == 1
    assert dumped["roots"][0]["value"]["color"] == "#A7B3B1"


def test_a_label_tag_containing_a_dot_is_refused():
    with pytest.raises(ValidationError, match="may not contain '.'"):
        LabelValue(tag="polo.shirts")


def test_a_dotted_tag_anywhere_in_an_ontology_is_refused():
    with pytest.raises(ValidationError):
        Ontology.model_validate({"roots": [node("clothes", node("t.shirts"))]})


def test_a_label_tag_may_not_be_empty():
    with pytest.raises(ValidationError):
        LabelValue(tag="")


@pytest.mark.parametrize("color", ["#a7b3b1", "#A7B3B1", "#000000"])
def test_a_label_colour_is_hash_rrggbb(color):
    assert LabelValue(tag="Fruit", color=color).color == color


@pytest.mark.parametrize("color", ["a7b3b1", "#fff", "#a7b3b1ff", "red", "rgb(1,2,3)", "#gggggg"])
def test_a_label_colour_in_another_form_is_refused(color):
    with pytest.raises(ValidationError):
        LabelValue(tag="Fruit", color=color)


def test_a_label_without_a_colour_gets_grey():
    assert LabelValue(tag="Fruit").color == "#999999"


def test_an_attribute_type_outside_the_four_kinds_is_refused():
    with pytest.raises(ValidationError):
        Ontology.model_validate({"metadata": {"attributes": [attribute("x", "slider")]}})
