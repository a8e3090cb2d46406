"""The caller's studio key map, kept on the server so it follows them to any browser."""

from __future__ import annotations

from litestar import Controller, Request, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody
from pydantic import BaseModel, Field

from gateway.errors import unprocessable
from gateway.keymap import DEFAULTS, MAX_BINDINGS, check_keymap
from gateway.repository import Catalog
from gateway.schemas import Body
from shared.contracts.envelope import utcnow

VOCABULARY = (
    "Actions: `label:1`…`label:9` (the n-th label of the open recipe in the picker's order), "
    "`label:<full label path>` (e.g. `label:men's clothes.polo shirts`), `status:<status>` "
    "(`status:completed`, `status:discard` or a task's own status), `next`, `previous`, "
    "`done` (set completed and move on), `undo` (the latest decision), `help` (show the keys). "
    "Keys: `KeyboardEvent.key` after optional `Ctrl+`, `Alt+`, `Shift+`, `Meta+`: one character "
    "(letters stored lower case; no `Shift+` before a non-letter: write `?`) or Enter, Escape, "
    "Space, Backspace, Delete, Insert, Home, End, PageUp, PageDown, ArrowUp/Down/Left/Right, "
    "F1-F12. Refused (422 naming `bindings.<action>`): an unknown action, a bad key, a key the "
    "browser keeps (Ctrl+W/T/N…) or Tab, and a key two actions share."
)


class KeymapIn(Body):
    bindings: dict[str, str] = Field(
        max_length=MAX_BINDINGS, description="action → key; the whole map (actions left out "
                                             "have no key). " + VOCABULARY)


class Keymap(BaseModel):
    bindings: dict[str, str] = Field(description="action → key, in the stored spelling")
    defaults: dict[str, str] = Field(description="the map of someone who never saved one")
    custom: bool = Field(description="false while the caller has saved no map (bindings are the defaults)")


class KeymapController(Controller):
    path = "/api/v1/users/me/keymap"
    tags = ["users"]

    @get("/", description="The caller's key map, or the defaults when none is saved. " + VOCABULARY)
    async def get_keymap(self, request: Request, catalog: NamedDependency[Catalog]) -> Keymap:
        saved = await catalog.keymap(request.user.user_id)
        return Keymap(bindings=DEFAULTS if saved is None else saved, defaults=DEFAULTS,
                      custom=saved is not None)

    @put("/", description="Replace the caller's key map (send the defaults to go back to them). "
                          + VOCABULARY)
    async def save_keymap(
        self, data: JSONBody[KeymapIn], request: Request, catalog: NamedDependency[Catalog],
    ) -> Keymap:
        bindings, problems = check_keymap(data.bindings)
        if problems:
            raise unprocessable(problems, "the key map breaks a rule")
        await catalog.save_keymap(request.user.user_id, bindings, utcnow())
        return Keymap(bindings=bindings, defaults=DEFAULTS, custom=True)
