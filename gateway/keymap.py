"""A person's key map in the studio: which key does which action. The action vocabulary,
the key syntax, the defaults, and the rules a saved map must keep. Pure, no I/O.

Actions:
- `label:1` … `label:9`: pick the n-th label of the open recipe, in the picker's order;
- `label:<full label path>`: pick that label (e.g. `label:men's clothes.polo shirts`), when
  the open recipe has it;
- `status:<status>`: set that task status on the item (`status:completed`,
  `status:discard`, or a task's own status);
- `next`, `previous`: the next open item, the item before; `done`: set `completed` and move
  on; `undo`: take back the latest decision; `help`: show the keys.

Keys are written as the browser's `KeyboardEvent.key` after optional modifiers, in any order
and case: `Ctrl+`, `Alt+`, `Shift+`, `Meta+`, then one character (letters stored lower
case; `Shift+` only with a letter or a named key, since `?` or `!` already say it) or a
named key: Enter, Escape, Space, Backspace, Delete, Insert, Home, End, PageUp, PageDown,
ArrowUp, ArrowDown, ArrowLeft, ArrowRight, F1-F12. Stored in one spelling: modifiers in the
order Ctrl, Alt, Shift, Meta (`Ctrl+Shift+z`), so two spellings of one key clash.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from shared.rules.labels import Problem

FIXED_ACTIONS = ("next", "previous", "done", "undo", "help")
MAX_BINDINGS = 200
_STATUS = re.compile(r"^[A-Za-z0-9][\w .-]{0,49}$")  # a task status's action (gateway.task_schemas)
MODIFIERS = ("Ctrl", "Alt", "Shift", "Meta")
NAMED_KEYS = ("Enter", "Escape", "Space", "Backspace", "Delete", "Insert", "Home", "End",
              "PageUp", "PageDown", "ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight",
              *(f"F{n}" for n in range(1, 13)))
_NAMED = {name.lower(): name for name in NAMED_KEYS}
# Keys a page cannot have: the browser keeps them (new tab or window, close, quit), or they
# move the keyboard focus, which the studio's controls need.
RESERVED = {
    "Ctrl+n": "the browser keeps it (new window)", "Ctrl+t": "the browser keeps it (new tab)",
    "Ctrl+w": "the browser keeps it (close the tab)", "Ctrl+Shift+n": "the browser keeps it",
    "Ctrl+Shift+t": "the browser keeps it", "Ctrl+Shift+w": "the browser keeps it",
    "Meta+n": "the browser keeps it", "Meta+t": "the browser keeps it",
    "Meta+w": "the browser keeps it", "Meta+q": "the browser keeps it (quit)",
    "Tab": "it moves the keyboard focus", "Shift+Tab": "it moves the keyboard focus",
}

DEFAULTS: dict[str, str] = {
    **{f"label:{n}": str(n) for n in range(1, 10)},
    "status:completed": "c",
    "status:discard": "x",
    "next": "ArrowRight",
    "previous": "ArrowLeft",
    "done": "Enter",
    "undo": "Ctrl+z",
    "help": "?",
}

KEY_RULE = ("is not a key: modifiers Ctrl, Alt, Shift, Meta, then one character or a named key "
            "(Enter, Escape, Space, Backspace, Delete, Insert, Home, End, PageUp, PageDown, "
            "ArrowUp, ArrowDown, ArrowLeft, ArrowRight, F1-F12), e.g. '1', 'Shift+a', 'Ctrl+Enter'")
ACTION_RULE = ("is not an action: label:1 to label:9, label:<full label path>, status:<status>, "
               "next, previous, done, undo, help")


def action_problem(action: str) -> str | None:
    """Why `action` is not in the vocabulary; None when it is."""
    if action in FIXED_ACTIONS:
        return None
    kind, _, rest = action.partition(":")
    if kind == "label" and rest.strip() == rest and rest:
        if rest.isdigit() and not 1 <= int(rest) <= 9:
            return "picks a label by its place in the picker: 1 to 9"
        if len(rest) > 500 or any(ord(c) < 32 for c in rest):
            return "names a label path of at most 500 characters, without control characters"
        return None
    if kind == "status" and _STATUS.match(rest):
        return None
    return ACTION_RULE


def canonical_key(text: str) -> str | None:
    """The one spelling of a key (`ctrl+SHIFT+Z` → `Ctrl+Shift+z`); None for no key."""
    held: set[str] = set()
    rest = text
    while True:
        head, plus, tail = rest.partition("+")
        modifier = next((m for m in MODIFIERS if m.lower() == head.lower()), None)
        if not (plus and tail and modifier):
            break
        held.add(modifier)
        rest = tail
    if len(rest) == 1 and rest.isprintable() and not rest.isspace():
        key = rest.lower()
        if "Shift" in held and not key.isalpha():
            return None  # '?' is Shift+/ already, on the layouts that have it
    elif rest.lower() in _NAMED:
        key = _NAMED[rest.lower()]
    elif rest.lower() == "tab":
        key = "Tab"
    else:
        return None
    return "+".join([*(m for m in MODIFIERS if m in held), key])


def check_keymap(bindings: Mapping[str, str]) -> tuple[dict[str, str], list[Problem]]:
    """The map in canonical spelling, and every broken rule: an unknown action, a bad or
    reserved key, a key two actions share (`field` is `bindings.<action>`)."""
    problems: list[Problem] = []
    if len(bindings) > MAX_BINDINGS:
        return {}, [Problem("bindings", f"has at most {MAX_BINDINGS} actions")]
    saved: dict[str, str] = {}
    owner_of: dict[str, str] = {}
    for action, text in bindings.items():
        field = f"bindings.{action}"
        if (why := action_problem(action)) is not None:
            problems.append(Problem(field, why))
            continue
        key = canonical_key(text) if len(text) <= 40 else None
        if key is None:
            problems.append(Problem(field, KEY_RULE))
        elif key in RESERVED:
            problems.append(Problem(field, f"cannot be '{key}': {RESERVED[key]}"))
        elif key in owner_of:
            problems.append(Problem(field, f"uses the key '{key}', which {owner_of[key]} uses "
                                           "too: one key does one action"))
        else:
            owner_of[key] = action
            saved[action] = key
    return saved, problems
