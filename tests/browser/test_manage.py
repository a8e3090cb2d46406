"""The owners' and managers' pages in Chromium, as one story told in order (the tests share
one module's platform and `story`): a new owner signs in by link, creates an organisation and
a project, invites two annotators and makes an API token; builds a recipe with a hierarchy
and attributes; uploads ten images and a video by the page (a refused file says why); a
refused task definition shows the API's reason, then an allocation task for the two
annotators with a custom status; an invited annotator signs up and classifies while the owner
watches progress move live; the audit log and the export. Screenshots: artifacts/manage-*.png
(copied to docs/)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any
from urllib.parse import urlparse

import av
import pytest
from PIL import Image

from gateway.admin import create_owner
from tests.browser.conftest import ARTIFACTS, PASSWORD, Live, png, to_docs

pytestmark = pytest.mark.browser

OWNER, ANN1, ANN2 = "founder@example.com", "ada@example.com", "grace@example.com"
TEMP = "temp@example.com"  # invited, then revoked and removed


@pytest.fixture(scope="module")
def story() -> dict[str, Any]:
    return {}


async def owner_page(browser: Any, live: Live, story: dict[str, Any]) -> Any:
    """A tab signed in as the owner (the session kept from the first test)."""
    context = await browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 860},
                                        storage_state=story.get("owner_state"),
                                        accept_downloads=True)
    context.set_default_timeout(15_000)
    tab = await context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda e: tab.errors.append(str(e)))
    return tab


async def keep(page: Any, name: str, full: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full)
    to_docs(ARTIFACTS / f"{name}.png", name)


async def api(page: Any, path: str) -> Any:
    """A read through the page's own session (the owner's project is not the seed token's)."""
    r = await page.request.get(f"/api/v1{path}")
    assert r.ok, await r.text()
    return await r.json()


async def ready(page: Any, selector: str) -> None:
    await page.wait_for_selector(f"{selector}[data-ready=true]")


def video() -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(20):
            frame = av.VideoFrame.from_image(Image.new("RGB", (160, 120), (12 * i, 80, 200 - 8 * i)))
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


async def test_a_new_owner_creates_an_organisation_and_a_project_and_opens_its_overview(browser, live, story):
    link = await create_owner(live.settings, OWNER, "Founder")
    page = await owner_page(browser, live, story)
    await page.goto(urlparse(link).path)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(lambda u: urlparse(u).path == "/")
    story["owner_state"] = await page.context.storage_state()
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    await ready(page, "#projects-page")
    await page.get_by_label("New organisation name").fill("Acme Vision")
    await page.get_by_role("button", name="Create organisation").click()
    await page.wait_for_selector("#orgs li:has-text('Acme Vision')")
    await page.get_by_label("Project name").fill("Clothing catalogue")
    await page.get_by_label("Description").fill("Spring product photos")
    await page.get_by_role("button", name="Create project").click()
    await ready(page, "#project-page")
    story["project"] = page.url.rsplit("/", 1)[1]
    assert "your role: owner" in await page.locator("#project-meta").inner_text()
    await page.goto("/projects")
    await ready(page, "#projects-page")
    await page.get_by_label("Show projects of").select_option(label="Acme Vision")
    await page.wait_for_selector("#project-table tr:has-text('Clothing catalogue')")
    await keep(page, "manage-projects")
    assert not page.errors
    await page.context.close()


async def test_the_owner_invites_two_annotators_is_refused_demoting_the_last_owner_and_makes_a_token(
        browser, live, story):
    page = await owner_page(browser, live, story)
    await page.goto(f"/projects/{story['project']}/members")
    await ready(page, "#members-page")
    story["invites"] = {}
    for email in (ANN1, ANN2):
        await page.get_by_label("Email", exact=True).fill(email)
        await page.locator("#invite-role").select_option("annotator")
        await page.get_by_role("button", name="Invite").click()
        await page.wait_for_selector(f"#invite-url[value*='/invitations/']")
        story["invites"][email] = await page.locator("#invite-url").input_value()
        await page.wait_for_selector(f"#pending li[data-invitation='{email}']")
    # the last owner's role: the API's 409, shown as it words it
    await page.get_by_label(f"Role of {OWNER}").select_option("manager")
    await page.wait_for_selector("#members-error:has-text('at least one owner')")
    # re-issue one invitation: a new link, the old one revoked
    await page.get_by_role("button", name=f"Re-issue the invitation of {ANN2}").click()
    await page.wait_for_selector("#reissued-url")
    story["invites"][ANN2] = await page.locator("#reissued-url").input_value()
    assert story["invites"][ANN2]
    # a third invitation: its link copied, then revoked (the link stops working), the member removed
    await page.get_by_label("Email", exact=True).fill(TEMP)
    await page.locator("#invite-role").select_option("manager")
    await page.get_by_role("button", name="Invite").click()
    await page.wait_for_selector(f"#pending li[data-invitation='{TEMP}']")
    temp_link = await page.locator("#invite-url").input_value()
    await page.locator("#invite-link").get_by_role("button", name="Copy").click()
    await page.wait_for_selector("#invite-link button:has-text('Copied')")
    await page.get_by_role("button", name=f"Revoke the invitation of {TEMP}").click()
    await page.wait_for_selector(f"#pending li[data-invitation='{TEMP}']", state="detached")
    await page.wait_for_selector(f"#invite-link [data-revoked='{TEMP}']")  # its link no longer offered
    assert await page.locator("#invite-url").count() == 0
    assert (await live.client.get(f"/api/v1{urlparse(temp_link).path}")).status_code >= 400
    page.on("dialog", lambda dialog: dialog.accept())  # "Remove … from the project?"
    await page.get_by_role("button", name=f"Remove {TEMP}").click()
    await page.wait_for_selector(f"#member-table tr[data-member='{TEMP}']", state="detached")
    # the last owner cannot leave either: the API's 409, shown
    await page.get_by_role("button", name=f"Remove {OWNER}").click()
    await page.wait_for_selector("#members-error:has-text('at least one owner')")
    members = {m["email"] for m in (await api(page, f"/projects/{story['project']}/members"))["items"]}
    assert members == {OWNER, ANN1, ANN2}
    await keep(page, "manage-members")
    await page.goto("/account")
    await ready(page, "#account-page")
    await page.get_by_label("Token name").fill("nightly export")
    await page.get_by_label("read only").check()
    await page.get_by_role("button", name="Create token").click()
    secret = await (await page.wait_for_selector("#token-secret")).input_value()
    assert len(secret) > 20
    r = await live.client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {secret}"})
    assert r.json()["email"] == OWNER
    await keep(page, "manage-account")
    await page.get_by_role("button", name="Revoke nightly export").click()
    await page.wait_for_selector("#token-table tr[data-token='nightly export']:has-text('revoked')")
    r = await live.client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 401
    assert not page.errors
    await page.context.close()


async def test_the_owner_uploads_ten_images_and_a_video_by_the_page_and_a_refused_file_says_why(
        browser, live, story, tmp_path):
    page = await owner_page(browser, live, story)
    await page.goto(f"/projects/{story['project']}")
    await ready(page, "#project-page")
    await page.get_by_label("Dataset name").fill("Spring shoot")
    await page.get_by_role("button", name="Create dataset").click()
    await ready(page, "#dataset-page")
    story["dataset"] = page.url.rsplit("/", 1)[1]
    files = []
    for k in range(10):
        path = tmp_path / f"photo{k:02d}.png"
        path.write_bytes(png(k))
        files.append(str(path))
    (tmp_path / "clip.mp4").write_bytes(video())
    files.append(str(tmp_path / "clip.mp4"))
    await page.get_by_label("Choose files to upload").set_input_files(files)
    await page.wait_for_selector("#dataset-page[data-uploaded='1']")
    # a file dropped on the page (a drop event carrying it, as a drag from the desktop does)
    drop = await page.evaluate_handle("""() => {
        const data = new DataTransfer();
        data.items.add(new File(["not an image"], "notes.txt", {type: "text/plain"}));
        return data; }""")
    await page.dispatch_event("#drop", "drop", {"dataTransfer": drop})
    await page.wait_for_selector("#dataset-page[data-uploaded='2']")
    refused = page.locator(".upload[data-state=refused]")
    assert await refused.count() == 1
    assert "notes.txt" in await refused.get_attribute("data-file")
    assert "refused:" in await refused.locator(".result").inner_text()
    assert await page.locator(".upload[data-state=done]").count() == 11
    assert "video" in await page.locator(".upload[data-file='clip.mp4'] .result").inner_text()
    assert await page.locator("#grid [role=option]").count() == 11
    await page.locator("#uploads").evaluate("list => { list.scrollTop = list.scrollHeight; }")
    await keep(page, "manage-dataset", full=True)
    assert not page.errors
    await page.context.close()


async def add_label(page: Any, tag: str, child: bool = False, color: str | None = None,
                    hotkey: str | None = None) -> None:
    await page.get_by_role("button", name="Add child" if child else "Add label").click()
    await page.get_by_label("Tag (a name without dots)").fill(tag)
    await page.get_by_label("Tag (a name without dots)").press("Tab")
    if color:
        await page.get_by_label("Colour").fill(color)
    if hotkey:
        await page.get_by_label("Hotkey").fill(hotkey)
        await page.get_by_label("Hotkey").press("Tab")


async def attribute(page: Any, key: str, kind: str, required: bool = False, **more: str) -> None:
    await page.get_by_role("button", name="Add attribute").click()
    row = page.locator(".attr-row").last
    await row.get_by_label("Key").fill(key)
    await row.get_by_label("Type").select_option(kind)
    for name, value in more.items():
        await row.get_by_label(name, exact=False).fill(value)
    if required:
        await row.get_by_label("required").check()


async def test_the_owner_builds_a_recipe_with_a_hierarchy_colours_hotkeys_and_attributes(browser, live, story):
    page = await owner_page(browser, live, story)
    await page.goto(f"/datasets/{story['dataset']}")
    await ready(page, "#dataset-page")
    await page.get_by_role("link", name="Edit the recipe").click()
    await ready(page, "#recipe-page")
    story["recipe"] = page.url.rsplit("/", 1)[1]
    await add_label(page, "tops", color="#e15759", hotkey="t")
    await add_label(page, "shirts", child=True, color="#f28e2b")
    await page.locator("#ltree [data-path=tops]").click()
    await add_label(page, "jumpers", child=True)
    await add_label(page, "shoes", color="#4e79a7", hotkey="s")
    await add_label(page, "hats")
    await page.get_by_role("button", name="Delete").first.click()  # hats, selected: gone
    await page.locator("#ltree [data-path='tops.jumpers']").click()
    await page.locator("#ltree").press("Alt+ArrowUp")  # jumpers before shirts
    await attribute(page, "colour", "options", required=True, **{"Values (comma-separated)": "red, blue, green"})
    await attribute(page, "sleeve", "range", **{"Minimum": "0", "Maximum": "100"})
    await attribute(page, "branded", "boolean")
    await attribute(page, "notes", "freeText")
    await page.get_by_role("button", name="Save the recipe").click()
    await page.wait_for_selector("#recipe-page[data-saved='1']")
    recipe = (await api(page, f"/recipes/{story['recipe']}"))["ontology"]
    tops = recipe["roots"][0]
    assert [n["value"]["tag"] for n in recipe["roots"]] == ["tops", "shoes"]
    assert [c["value"]["tag"] for c in tops["children"]] == ["jumpers", "shirts"]
    assert tops["value"]["color"] == "#e15759" and tops["value"]["displayData"]["hotkey"] == "t"
    attrs = {a["key"]: a for a in recipe["metadata"]["attributes"]}
    assert attrs["colour"]["values"] == ["red", "blue", "green"] and attrs["colour"]["optional"] is False
    assert attrs["sleeve"]["range"]["max"] == 100 and attrs["branded"]["type"] == "boolean"
    await page.locator("#ltree [data-path='tops.shirts']").click()
    await keep(page, "manage-recipe", full=True)
    assert not page.errors
    await page.context.close()


async def test_a_refused_task_definition_shows_the_reason_then_an_allocation_task_with_a_custom_status(
        browser, live, story):
    page = await owner_page(browser, live, story)
    await page.goto(f"/datasets/{story['dataset']}")
    await ready(page, "#dataset-page")
    await page.get_by_role("link", name="New task from this dataset").click()
    await ready(page, "#wizard-page")
    await page.get_by_label("Task name").fill("Spring shoot, first pass")
    await page.get_by_label("pulling: annotators pull batches from a queue").check()
    await page.get_by_label("Batch size (3–100)").fill("2")
    await page.get_by_role("button", name="Create the task").click()
    await page.wait_for_selector("#wizard-error:has-text('batchSize must be between 3 and 100')")
    await page.get_by_label("allocation: items split by percentages").check()
    await page.get_by_label(f"Percentage of {ANN1}").fill("60")
    await page.get_by_label(f"Percentage of {ANN2}").fill("30")
    await page.get_by_role("button", name="Add a status").click()
    row = page.locator(".status-row").last
    await row.get_by_label("Status key").fill("needs-review")
    await row.get_by_label("Shown as").fill("Needs review")
    await row.get_by_label("Colour").fill("#9467bd")
    await page.get_by_label("allow moving to the next item only once the item is done").check()
    await page.get_by_label("Due date (optional)").fill("2031-05-01")
    await page.get_by_role("button", name="Create the task").click()
    error = page.locator("#wizard-error")
    await page.wait_for_selector("#wizard-error:has-text('loads must sum to 100')")
    assert "workload" in await error.inner_text()
    await keep(page, "manage-task-refused", full=True)
    await page.get_by_label(f"Percentage of {ANN2}").fill("40")
    await page.get_by_role("button", name="Create the task").click()
    await ready(page, "#manage-page")
    story["task"] = page.url.split("/")[-2]
    task = await api(page, f"/tasks/{story['task']}")
    assert task["totalItems"] == 11 and task["singleClass"] and task["allowNextOnlyOnDone"]
    assert [s["action"] for s in task["availableActions"]] == ["completed", "discard", "needs-review"]
    loads = {a["annotator"]: a["totalItems"] for a in await api(page, f"/tasks/{story['task']}/assignments")}
    assert loads == {ANN1: 7, ANN2: 4} or sum(loads.values()) == 11, loads
    await page.wait_for_selector("#feed li[data-event=snapshot]")
    assert not page.errors
    await page.context.close()


async def test_an_invited_annotator_signs_up_and_classifies_while_the_owner_sees_progress_move_live(
        browser, live, story):
    owner = await owner_page(browser, live, story)
    context = await browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 800})
    ada = await context.new_page()
    try:
        await classify_and_watch(owner, ada, live, story)
    except BaseException:
        await owner.screenshot(path=str(ARTIFACTS / "FAILED-manage-owner.png"), full_page=True)
        await ada.screenshot(path=str(ARTIFACTS / "FAILED-manage-ada.png"))
        raise
    finally:  # an open page keeps its live feed open, and the server waits for it
        await context.close()
        await owner.context.close()


async def classify_and_watch(owner: Any, ada: Any, live: Live, story: dict[str, Any]) -> None:
    await owner.goto(f"/tasks/{story['task']}/manage")
    await ready(owner, "#manage-page")
    await owner.wait_for_selector("#feed li[data-event=snapshot]")
    assert await owner.locator("#by-status").get_attribute("data-done") == "0"
    ada.context.set_default_timeout(15_000)
    ada.errors = []
    ada.on("pageerror", lambda e: ada.errors.append(str(e)))
    await ada.goto(urlparse(story["invites"][ANN1]).path)
    await ada.get_by_label("Display name").fill("Ada")
    await ada.get_by_label("New password").fill(PASSWORD)
    await ada.get_by_role("button", name="Accept and sign in").click()
    await ada.wait_for_url(lambda u: urlparse(u).path == "/")
    await ada.get_by_role("link", name="Studio: Spring shoot, first pass").click()
    await ada.wait_for_selector("#studio[data-ready=true]")
    for done in (1, 2):
        await ada.wait_for_selector("#stage[data-painted]")
        await ada.locator("#stage").focus()
        await ada.keyboard.press("1" if done == 1 else "t")  # tops, by its place or its recipe hotkey;
        # its colour is required: asked for first
        await ada.get_by_label("colour (required)").select_option("blue")
        await ada.keyboard.press("Enter")
        await ada.wait_for_selector("#chips .chip[data-label=tops]")
        await ada.locator("#stage").focus()
        await ada.keyboard.press("c")  # completed
        # the owner's page follows without a reload: the task's activity moves the count
        await owner.wait_for_selector(f"#by-status[data-done='{done}']")
        assert int(await owner.locator("#by-status").get_attribute("data-applied")) >= done
        await owner.wait_for_selector(f"#feed li[data-event=ItemStatusChanged]:has-text('{ANN1} set completed')")
        if done == 1:
            await ada.keyboard.press("ArrowRight")
            await ada.wait_for_function("document.querySelector('#chips .chip') === null")
    row = owner.locator(f"#by-assignee tr[data-assignee='{ANN1}']")
    await owner.wait_for_function(
        f"document.querySelector(\"#by-assignee tr[data-assignee='{ANN1}'] td[data-rate]\").textContent === '2'")
    assert await row.locator("td[data-status=completed]").inner_text() == "2"
    assert int(await owner.locator("#chart path").get_attribute("data-points")) == 2
    await keep(owner, "manage-progress", full=True)
    await keep(ada, "manage-annotator-studio")
    assert not ada.errors and not owner.errors
    await ada.context.close()
    # a recipe change that would orphan Ada's annotations is shown first and needs confirming
    await owner.goto(f"/recipes/{story['recipe']}")
    await ready(owner, "#recipe-page")
    await owner.locator("#ltree [data-path=tops]").click()
    await owner.get_by_label("Tag (a name without dots)").fill("upper body")
    await owner.get_by_label("Tag (a name without dots)").press("Tab")
    await owner.get_by_role("button", name="Save the recipe").click()
    await owner.wait_for_selector("#orphans:not([hidden]) li[data-path=tops]:has-text('2 annotations')")
    await keep(owner, "manage-recipe-orphans", full=True)
    await owner.get_by_role("button", name="Cancel").click()
    assert (await api(owner, f"/recipes/{story['recipe']}"))["ontology"]["roots"][0]["value"]["tag"] == "tops"
    assert not owner.errors


async def test_the_task_refusals_the_audit_log_with_filters_and_the_exports(browser, live, story):
    page = await owner_page(browser, live, story)
    try:
        await page.goto(f"/tasks/{story['task']}/manage")
        await ready(page, "#manage-page")
        # a redistribution the API refuses: its words shown
        row = page.locator(f"#assignment-table tr[data-assignment='{ANN2}']")
        await row.get_by_role("textbox").fill(f"{ANN1}=70")
        await row.get_by_role("button", name="Redistribute").click()
        await page.wait_for_selector("#assign-error:has-text('loads must sum to 100')")
        await page.get_by_label("Name starts with").fill("photo0")
        await page.get_by_role("button", name="Remove matching items").click()
        await page.wait_for_selector("#items-form .ok:has-text('kept because they hold a status')")
        await page.get_by_role("button", name="Add matching items").click()
        await page.wait_for_selector("#items-form .ok:has-text('items added')")
        async with page.expect_download() as task_download:
            await page.get_by_role("button", name="Download the task's items (JSON)").click()
        exported = json.loads((await (await task_download.value).path()).read_text())
        assert len(exported) == (await api(page, f"/tasks/{story['task']}"))["totalItems"]
        assert sum(len(e["annotations"]) for e in exported) == 2
        async with page.expect_download() as task_zip:  # or one file per item, zipped
            await page.locator("#export-task-zip").click()
        with zipfile.ZipFile(await (await task_zip.value).path()) as archive:
            assert len(archive.namelist()) == len(exported)
        await page.get_by_label(f"Reassign {ANN2}'s assignment to").select_option(ANN1)
        await page.locator(f"#assignment-table tr[data-assignment='{ANN2}']").get_by_role(
            "button", name="Reassign").click()
        await page.wait_for_selector(f"#assign-ok:has-text('given to {ANN1}')")
        await page.wait_for_selector(f"#assignment-table tr[data-assignment='{ANN2}']", state="detached")
        await page.wait_for_selector(f"#by-assignee tr[data-assignee='{ANN2}']:has-text('(removed)')")
        await page.get_by_label("Task name").fill("Spring shoot, first pass (Ada)")
        await page.get_by_role("button", name="Rename").click()
        await page.wait_for_selector("#task-title:has-text('(Ada)')")
        # a custom status added (its count shown at once), then removed
        await page.get_by_label("New status key").fill("recheck")
        await page.get_by_label("Shown as").fill("Recheck")
        await page.get_by_role("button", name="Add status").click()
        await page.wait_for_selector("#add-status .ok:has-text('Status added.')")
        await page.wait_for_selector("#by-status .count[data-status=recheck]")
        await page.get_by_label("Status to remove").select_option("recheck")
        await page.get_by_role("button", name="Remove status").click()
        await page.wait_for_selector("#remove-status .ok:has-text('Status removed')")
        await page.wait_for_selector("#by-status .count[data-status=recheck]", state="detached")
        actions = [a["action"] for a in (await api(page, f"/tasks/{story['task']}"))["availableActions"]]
        assert actions == ["completed", "discard", "needs-review"]
        await keep(page, "manage-task", full=True)
    finally:
        await page.context.close()  # its live feed too
    page = await owner_page(browser, live, story)
    await page.goto(f"/projects/{story['project']}/audit")
    await ready(page, "#audit-page")
    await page.get_by_label("Actor (email)").fill(ANN1)
    await page.get_by_label("Action").fill("set_status")
    await page.get_by_role("button", name="Filter").click()
    await page.wait_for_function("document.querySelectorAll('#audit-table tbody tr').length === 2")
    assert "2 entries" in await page.locator("#audit-total").inner_text()
    await keep(page, "manage-audit")
    await page.goto(f"/datasets/{story['dataset']}")
    await ready(page, "#dataset-page")
    # one more, registered by URL in a folder of its own; the folder filters the grid
    await page.get_by_label("Item name").fill("remote.jpg")
    await page.get_by_label("URL", exact=True).fill("https://example.com/remote.jpg")
    await page.locator("#url-dir").fill("/remote")
    await page.get_by_role("button", name="Register").click()
    await page.wait_for_selector("#by-url .ok:has-text('remote.jpg registered in /remote')")
    await page.locator("#folders button[data-dir='/remote']").click()
    await page.wait_for_function("document.querySelectorAll('#grid [role=option]').length === 1")
    await page.locator("#grid [role=option]").first.click()
    await page.get_by_role("button", name="New task from the selection").click()
    await ready(page, "#wizard-page")
    assert "the 1 items selected" in await page.locator("#selection-text").inner_text()
    # a pulling task instead, of the dataset's photos by a filter, multi-class
    await page.get_by_label("Task name").fill("Spring shoot, second pass")
    await page.get_by_label("the items matching a filter").check()
    await page.get_by_label("Name starts with").fill("photo")
    await page.get_by_label("Type").select_option("image/")
    await page.get_by_label("pulling: annotators pull batches from a queue").check()
    await page.get_by_label("Batch size (3–100)").fill("3")
    await page.get_by_label("Max workload (batch+2 … 2×batch)").fill("6")
    await page.get_by_label("multi-class: several labels per item").check()
    await page.get_by_role("button", name="Create the task").click()
    await ready(page, "#manage-page")
    pulling = await api(page, f"/tasks/{page.url.split('/')[-2]}")
    assert pulling["allocation"] == "pulling" and pulling["totalItems"] == 10 and not pulling["singleClass"]
    assert pulling["metadata"]["system"]["batchSize"] == 3 and pulling["metadata"]["system"]["maxBatchWorkload"] == 6
    await page.wait_for_selector("#assignments:has-text('A pulling task hands out batches')")
    await page.goto(f"/datasets/{story['dataset']}")
    await ready(page, "#dataset-page")
    async with page.expect_download() as download:
        await page.get_by_role("button", name="Download JSON").click()
    await page.wait_for_selector("#export-progress[data-done=true]")
    items = json.loads((await (await download.value).path()).read_text())
    assert len(items) == 12 and sum(i["annotationsCount"] for i in items) == 2
    assert "12 items" in await page.locator("#export-text").inner_text()
    async with page.expect_download() as download:
        await page.get_by_role("button", name="Download zip (one file per item)").click()
    assert (await download.value).suggested_filename == "Spring shoot-export.zip"
    await page.goto(f"/projects/{story['project']}")
    await ready(page, "#project-page")
    await page.wait_for_selector("#activity li code")
    await keep(page, "manage-project", full=True)
    assert not page.errors
    # signing out everywhere ends this session too
    await page.goto("/account")
    await ready(page, "#account-page")
    page.on("dialog", lambda dialog: dialog.accept())
    await page.get_by_role("button", name="Sign out everywhere").click()
    await page.wait_for_url(lambda u: urlparse(u).path == "/sign-in")
    assert (await page.request.get("/api/v1/users/me")).status == 401
    await page.context.close()
