"""A person's studio key map through HTTP: defaults, saving, and the refusals naming the rule."""

from __future__ import annotations

import pytest

from gateway.keymap import DEFAULTS

pytestmark = pytest.mark.e2e

PATH = "/api/v1/users/me/keymap"


async def _put(platform, body, token: str | None = None):
    return await platform.request("PUT", PATH, token, json=body)


async def test_someone_who_never_saved_a_map_gets_the_defaults(platform):
    r = await platform.get(PATH)
    assert r.status_code == 200
    assert r.json() == {"bindings": DEFAULTS, "defaults": DEFAULTS, "custom": False}
    assert r.json()["bindings"]["label:1"] == "1" and r.json()["bindings"]["next"] == "ArrowRight"


async def test_a_saved_map_is_stored_in_one_spelling_per_person(platform):
    mine = {"label:1": "a", "label:men's clothes.polo shirts": "shift+P", "undo": "ctrl+shift+Z",
            "status:completed": "Enter", "next": "space"}
    r = await _put(platform, {"bindings": mine})
    assert r.status_code == 200, r.text
    stored = {"label:1": "a", "label:men's clothes.polo shirts": "Shift+p", "undo": "Ctrl+Shift+z",
              "status:completed": "Enter", "next": "Space"}
    assert r.json() == {"bindings": stored, "defaults": DEFAULTS, "custom": True}
    assert (await platform.get(PATH)).json()["bindings"] == stored
    other = await platform.new_user("keys-of-another@example.com")
    assert (await platform.get(PATH, token=other)).json()["custom"] is False
    assert (await _put(platform, {"bindings": DEFAULTS})).json()["bindings"] == DEFAULTS


async def test_a_clash_an_unknown_action_or_a_bad_key_answers_422_naming_it_and_keeps_the_map(platform):
    assert (await _put(platform, {"bindings": {"next": "n"}})).status_code == 200
    cases = [
        ({"next": "n", "previous": "N"}, "bindings.previous", "which next uses too"),
        ({"jump": "j"}, "bindings.jump", "is not an action"),
        ({"label:12": "j"}, "bindings.label:12", "1 to 9"),
        ({"next": "Hyper+n"}, "bindings.next", "is not a key"),
        ({"next": "Ctrl+w"}, "bindings.next", "the browser keeps it"),
    ]
    for bindings, field, rule in cases:
        r = await _put(platform, {"bindings": bindings})
        assert r.status_code == 422, bindings
        errors = r.json()["errors"]
        assert [e["field"] for e in errors] == [field] and rule in errors[0]["rule"], errors
    for body in ({"bindings": {"next": 5}}, {"keys": {}}, {}):
        assert (await _put(platform, body)).status_code == 422, body
    assert (await platform.get(PATH)).json()["bindings"] == {"next": "n"}


async def test_a_read_only_token_reads_the_map_and_cannot_save_it(platform):
    reader = await platform.new_user("reader-of-keys@example.com", scopes=("read",))
    assert (await platform.get(PATH, token=reader)).status_code == 200
    assert (await _put(platform, {"bindings": {"next": "n"}}, token=reader)).status_code == 403
