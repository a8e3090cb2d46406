"""A studio key map: the action vocabulary, key spellings, and the rules a saved map keeps."""

from __future__ import annotations

import pytest

from gateway.keymap import DEFAULTS, KEY_RULE, MAX_BINDINGS, canonical_key, check_keymap

pytestmark = pytest.mark.unit


def problems(bindings: dict[str, str]) -> dict[str, str]:
    return {p.field: p.rule for p in check_keymap(bindings)[1]}


def test_the_defaults_keep_every_rule():
    saved, found = check_keymap(DEFAULTS)
    assert found == [] and saved == DEFAULTS
    assert [f"label:{n}" for n in range(1, 10)] == [a for a in DEFAULTS if a.startswith("label:")]


@pytest.mark.parametrize(("text", "key"), [
    ("1", "1"), ("A", "a"), ("?", "?"), ("+", "+"), ("Ctrl++", "Ctrl++"),
    ("ctrl+SHIFT+Z", "Ctrl+Shift+z"), ("Shift+Ctrl+z", "Ctrl+Shift+z"), ("meta+alt+k", "Alt+Meta+k"),
    ("enter", "Enter"), ("ARROWRIGHT", "ArrowRight"), ("Shift+ArrowLeft", "Shift+ArrowLeft"),
    ("f12", "F12"), ("space", "Space"),
])
def test_a_key_has_one_spelling(text, key):
    assert canonical_key(text) == key


@pytest.mark.parametrize("text", ["", " ", "Ctrl+", "ab", "Hyper+a", "F13", "Shift+?", "Shift+1",
                                  "Ctrl+Spacebar", "\x01"])
def test_what_is_not_a_key(text):
    assert canonical_key(text) is None


def test_two_spellings_of_one_key_clash_and_the_later_action_is_named():
    found = problems({"next": "n", "label:1": "N"})
    assert list(found) == ["bindings.label:1"]
    assert "uses the key 'n', which next uses too" in found["bindings.label:1"]
    assert problems({"undo": "ctrl+z", "done": "Ctrl+Z"}).keys() == {"bindings.done"}


@pytest.mark.parametrize("action", ["jump", "label:0", "label:10", "label:", "status:", "status:-x",
                                    "Next", "label: padded"])
def test_an_action_outside_the_vocabulary_is_refused(action):
    assert list(problems({action: "q"})) == [f"bindings.{action}"]


@pytest.mark.parametrize("action", ["label:men's clothes.polo shirts", "label:7", "status:completed",
                                    "status:discard", "status:needs review", "help", "previous"])
def test_actions_of_the_vocabulary(action):
    assert problems({action: "q"}) == {}


def test_a_bad_key_is_refused_naming_the_syntax():
    assert problems({"next": "Hyper+n"}) == {"bindings.next": KEY_RULE}
    assert problems({"next": "n" * 41}) == {"bindings.next": KEY_RULE}


def test_keys_the_browser_keeps_and_tab_are_refused():
    found = problems({"next": "Ctrl+W", "previous": "Tab", "done": "Meta+q"})
    assert "browser keeps it" in found["bindings.next"]
    assert "moves the keyboard focus" in found["bindings.previous"]
    assert "browser keeps it" in found["bindings.done"]


def test_every_problem_is_reported_at_once_and_a_map_may_leave_actions_unbound():
    found = problems({"jump": "j", "next": "Hyper+n", "undo": "u", "help": "u"})
    assert set(found) == {"bindings.jump", "bindings.next", "bindings.help"}
    assert check_keymap({"next": "n"}) == ({"next": "n"}, [])


def test_a_map_has_a_bounded_size():
    many = {f"label:l{n}": f"F{n % 12 + 1}" for n in range(MAX_BINDINGS + 1)}
    assert problems(many) == {"bindings": f"has at most {MAX_BINDINGS} actions"}
