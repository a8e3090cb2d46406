"""The access rules as data: roles, the per-handler table and its start-up check, the
membership rules, and the audit buffer; no servers."""

from __future__ import annotations

import pytest
from litestar import Litestar, get, post
from litestar.exceptions import ImproperlyConfiguredException
from litestar.params import FromPath

from gateway import membership
from gateway.app import create_app
from gateway.audit import AuditLog
from gateway.guards import check_rules
from gateway.membership import MembershipRefused
from gateway.roles import ACTIONS, ROLES, RULES, at_least, highest
from shared.platform.settings import Settings

pytestmark = pytest.mark.unit

OWNER = {"userId": "u1", "email": "o@x.org", "role": "owner"}
ANN = {"userId": "u2", "email": "a@x.org", "role": "annotator"}


def test_roles_are_ordered_annotator_manager_owner():
    assert at_least("owner", "manager") and at_least("manager", "manager")
    assert not at_least("annotator", "manager") and not at_least(None, "annotator")
    assert highest(["annotator", "owner", "manager"]) == "owner" and highest([]) is None
    assert set(ACTIONS.values()) <= set(ROLES)


def test_every_rule_names_a_known_role_and_every_route_of_the_app_has_one():
    assert all(rule.role in (None, *ROLES) for rule in RULES.values())
    create_app(Settings())  # connects nothing; check_rules runs inside and would raise


@get("/api/v1/reports")
async def reports() -> dict:
    return {}


@get("/api/v1/get_project")
async def get_project() -> dict:  # a known name, but no project in the path
    return {}


@post("/api/v1/projects/{project_id:str}/me", opt={"permission": "me"})
async def me_again(project_id: FromPath[str]) -> dict:  # `me` is taken by another handler
    return {}


@pytest.mark.parametrize(("handler", "complaint"), [
    (reports, "no rule 'reports'"),
    (get_project, "needs a project, but the path names none"),
    (me_again, "used by two handlers"),
])
def test_an_app_with_a_route_the_rules_do_not_cover_refuses_to_start(handler, complaint):
    from gateway.controllers.system import UserController

    with pytest.raises(ImproperlyConfiguredException, match=complaint):
        check_rules(Litestar([handler, UserController]))


def test_members_keep_at_least_one_owner():
    with pytest.raises(MembershipRefused) as refused:
        membership.change_role([OWNER, ANN], "u1", "manager")
    assert refused.value.status == 409
    with pytest.raises(MembershipRefused):
        membership.remove([OWNER, ANN], "u1")
    two = membership.add([OWNER, ANN], {"id": "u3", "email": "b@x.org"}, "owner")
    assert membership.remove(two, "u1") == [ANN, {"userId": "u3", "email": "b@x.org", "role": "owner"}]


def test_a_member_is_added_once_and_only_members_are_changed():
    with pytest.raises(MembershipRefused) as twice:
        membership.add([OWNER, ANN], {"id": "u2", "email": "a@x.org"}, "manager")
    assert twice.value.status == 409
    with pytest.raises(MembershipRefused) as missing:
        membership.change_role([OWNER], "nobody", "manager")
    assert missing.value.status == 404
    assert membership.change_role([OWNER, ANN], "u2", "manager")[1]["role"] == "manager"


class FakeCatalog:
    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[dict]] = []
        self.fail = fail

    async def insert_audit(self, entries: list[dict]) -> None:
        if self.fail:
            raise ConnectionError("down")
        self.batches.append(entries)


async def test_recording_an_audit_entry_touches_no_database_until_the_flush():
    catalog = FakeCatalog()
    log = AuditLog(catalog)  # type: ignore[arg-type]
    for n in range(3):
        log.record({"action": "classify", "n": n})
    assert catalog.batches == []
    await log.flush()
    assert [len(b) for b in catalog.batches] == [3] and log.buffer == []


async def test_audit_entries_survive_a_failed_insert_for_the_next_flush():
    catalog = FakeCatalog(fail=True)
    log = AuditLog(catalog)  # type: ignore[arg-type]
    log.record({"action": "classify"})
    await log.flush()
    assert log.buffer == [{"action": "classify"}]
    catalog.fail = False
    await log.stop()  # stopping flushes what is left
    assert catalog.batches == [[{"action": "classify"}]]
