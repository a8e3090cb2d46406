"""Who may call what: project roles, and one declarative rule per route handler.

Roles, from least to most:
- **annotator** reads the project's datasets, recipes, items and annotations. Changing
  annotations outside a task is manager work: inside a task, the task service's rules
  limit an annotator to their own assignments (`Access.require(user, project, "annotate")`
  returns the caller's role so task code can allow annotators there).
- **manager** also changes datasets, recipes, items, tasks and assignments, classifies any
  item, runs bulk operations, exports, and reads the project's audit log.
- **owner** also manages the project's members.

`RULES` maps each route handler (its `opt["permission"]`, else its function name) to the
minimum project role and whether it writes. `gateway.guards.authorize` enforces it on
every request and `gateway.guards.check_rules` refuses to start an app with a handler the
table does not name. Pure data and functions, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["annotator", "manager", "owner"]
ROLES: tuple[Role, ...] = ("annotator", "manager", "owner")
_RANK = {role: rank for rank, role in enumerate(ROLES)}

# What a caller wants to do in a project, and the least role that may try it.
ACTIONS: dict[str, Role] = {
    "read": "annotator",
    "annotate": "annotator",  # the task service further limits annotators to their assignments
    "manage": "manager",
    "administer": "owner",
}


def at_least(role: str | None, needed: str) -> bool:
    return role in _RANK and _RANK[role] >= _RANK[needed]


def highest(roles: list[str]) -> str | None:
    known = [r for r in roles if r in _RANK]
    return max(known, key=_RANK.__getitem__) if known else None


@dataclass(frozen=True)
class Rule:
    """`role`: the least project role, the project found from the path (see guards); None
    means any signed-in user, the handler then shows only the caller's own things.
    `writes`: refused to read-only tokens, and recorded in the audit log."""

    role: Role | None = None
    writes: bool = False
    public: bool = False


PUBLIC = Rule(public=True)
SIGNED_IN = Rule()
SIGNED_IN_WRITES = Rule(writes=True)


def read(role: Role) -> Rule:
    return Rule(role)


def write(role: Role) -> Rule:
    return Rule(role, writes=True)


RULES: dict[str, Rule] = {
    # the caller, their tokens and their operations
    "me": SIGNED_IN,
    "create_token": SIGNED_IN_WRITES,
    "list_tokens": SIGNED_IN,
    "revoke_token": SIGNED_IN_WRITES,
    "get_operation": SIGNED_IN,  # only the operation's own actor sees it
    "get_keymap": SIGNED_IN,  # the caller's own studio key map
    "save_keymap": SIGNED_IN_WRITES,
    "get_preferences": SIGNED_IN,  # the caller's own task-browser preferences
    "save_preferences": SIGNED_IN_WRITES,
    # accounts: signing in (public: throttled, or guarded by a one-time secret) and out
    "sign_in": PUBLIC,
    "sign_out": SIGNED_IN_WRITES,
    "sign_out_everywhere": SIGNED_IN_WRITES,
    "change_password": SIGNED_IN_WRITES,
    "invitation": PUBLIC,
    "accept_invitation": PUBLIC,
    "reset_password": PUBLIC,
    "use_sign_in_link": PUBLIC,
    "sign_in_page": PUBLIC,
    "invitation_page": PUBLIC,
    "password_reset_page": PUBLIC,
    "sign_in_link_page": PUBLIC,
    # the studio's pages check the session themselves: without one they redirect to /sign-in
    "home_page": PUBLIC,
    "studio_page": PUBLIC,
    "studio_static": PUBLIC,  # the studio's modules and style sheet (gateway/studio/static)
    # organisations (visible to their members and to members of their projects)
    "create_organization": SIGNED_IN_WRITES,
    "list_organizations": SIGNED_IN,
    "get_organization": SIGNED_IN,
    "list_organization_projects": SIGNED_IN,
    # projects and members
    "create_project": SIGNED_IN_WRITES,
    "list_projects": SIGNED_IN,
    "get_project": read("annotator"),
    "list_members": read("annotator"),
    "add_member": write("owner"),
    "change_member_role": write("owner"),
    "remove_member": write("owner"),
    "list_invitations": read("owner"),
    "reissue_invitation": write("owner"),
    "revoke_invitation": write("owner"),
    "issue_password_reset": write("owner"),
    "project_audit": read("manager"),
    # recipes
    "create_recipe": write("manager"),
    "list_recipes": read("annotator"),
    "get_recipe": read("annotator"),
    "recipe_label_usage": read("manager"),  # what a label change would orphan (the recipe editor)
    "replace_ontology": write("manager"),
    # datasets
    "create_dataset": write("manager"),
    "list_datasets": read("annotator"),
    "get_dataset": read("annotator"),
    "update_dataset": write("manager"),
    "export_dataset": read("manager"),  # a bulk read of every annotation
    "import_dataset": write("manager"),  # Dataloop JSON, CSV, class folders (a job)
    "get_import": read("manager"),
    "import_feed": read("manager"),  # the import's progress, live (SSE)
    # exports as jobs (a read: no change to the project's data; the file is the caller's)
    "create_dataset_export": read("manager"),
    "create_task_export": read("manager"),
    "get_export": read("manager"),
    "export_feed": read("manager"),
    "export_file": read("manager"),
    "export_task": read("manager"),  # a task's items, streamed like a dataset's export
    # items
    "register_item": write("manager"),
    "upload_item": write("manager"),
    "list_items": read("annotator"),
    "get_item": read("annotator"),
    "item_content": read("annotator"),
    "item_thumbnail": read("annotator"),
    "item_annotations": read("annotator"),
    # annotations outside tasks
    "classify": write("annotator"),  # outside a task the handler asks for manager
    "get_annotation": read("annotator"),
    "update_annotation": write("annotator"),  # outside a task the handler asks for manager
    "delete_annotation": write("annotator"),
    # video scenes (annotations over frame ranges): like classify, manager work outside a
    # task (the handler asks for it); with taskId the task service limits annotators
    "start_scene": write("annotator"),
    "paint_scenes": write("annotator"),
    "change_scene": write("annotator"),
    "hide_frames": write("annotator"),
    "unhide_frames": write("annotator"),
    "delete_scene": write("annotator"),
    "frame_state": read("annotator"),
    "next_item": read("annotator"),
    "workflow_settings": read("annotator"),
    "queue_state": read("annotator"),
    "workflow_feed": read("annotator"),
    "move_on": write("annotator"),
    "previous_item": write("annotator"),
    "change_workflow_settings": write("annotator"),
    "heartbeat": write("annotator"),
    "leave_task": write("annotator"),
    # tasks and assignments; the task service limits annotators to their own assignments
    "create_task": write("manager"),
    "list_tasks": read("annotator"),
    "get_task": read("annotator"),
    "task_activity": read("manager"),  # every annotator's work in the task, live (SSE)
    "edit_task": write("manager"),
    "add_items": write("manager"),
    "remove_items": write("manager"),
    "list_assignments": read("annotator"),
    "pull": write("annotator"),
    "set_status": write("annotator"),
    "clear_status": write("annotator"),
    "get_assignment": read("annotator"),
    "assignment_items": read("annotator"),
    "task_items": read("annotator"),  # the task browser: every member sees the task's items
    "task_item_ids": read("annotator"),
    "redistribute": write("manager"),
    "reassign": write("manager"),
    # bulk classification in a task; the task service limits annotators to their own items
    # and lets only a bulk's author or a manager undo it
    "bulk_classify": write("annotator"),
    "preview_bulk_classify": write("annotator"),  # changes nothing, but publishes a command
    "get_bulk": read("annotator"),
    "undo_bulk": write("annotator"),
    # Dataloop's SDK (gateway.controllers.dtlpy): as their native counterparts
    "dtlpy_me": SIGNED_IN,
    "dtlpy_project_by_name": SIGNED_IN,  # the caller's own projects of that name
    "dtlpy_project": read("annotator"),
    "dtlpy_datasets": SIGNED_IN,  # datasets of the caller's own projects
    "dtlpy_dataset": read("annotator"),
    "dtlpy_query": read("annotator"),
    "dtlpy_item": read("annotator"),
    "dtlpy_upload": write("annotator"),  # the handler asks for manager (no task here)
    "dtlpy_tasks": SIGNED_IN,  # tasks of the caller's own projects
    "dtlpy_task": read("annotator"),
    "dtlpy_task_status": write("annotator"),  # the task service limits annotators
    "dtlpy_assignment_status": write("annotator"),
    # no data behind these
    "live": PUBLIC,
    "ready": PUBLIC,
    "asyncapi": PUBLIC,
    "metrics": PUBLIC,  # Prometheus (gateway.observability): counts and timings, no data
    "vendor_file": PUBLIC,  # /static/vendor: the vendored front-end files (gateway.assets)
    "oidc_login": PUBLIC,  # single sign-on: how a browser without a session gets one
    "oidc_callback": PUBLIC,
    "options_handler": PUBLIC,  # CORS preflight answers, generated by Litestar
}
