"""The video studio in headless Chromium against a live gateway, with videos made here with
PyAV (WebM VP9 and MP4 H.264; Debian's chromium-headless-shell plays both): an annotator in
their own task opens a video from the task's studio, starts a scene at frame 10 with a
hotkey (the bar runs to the end), sets its end at frame 40, hides 20-25 (a gap) and unhides
it, changes its label, drags its end, moves its start and zooms the timeline; play-to-paint at 1x and 2x stores the stretches the
keys painted, to within a frame of the frame on screen at each key; on another annotator's
video they are refused with the reason. What the API stores reads frame by frame the same in
dtlpy. Every wait is for a condition, never a fixed time."""

from __future__ import annotations

import io

import av
import pytest
from PIL import Image, ImageDraw, ImageFont

from shared.rules import scenes
from shared.rules.scenes import Scene, Video
from tests.browser.conftest import ARTIFACTS, shot, sign_in, to_docs

FPS, FRAMES = 25, 100  # 4 seconds
MENS, POLO, JEANS, DRESSES = "men's clothes", "men's clothes.polo shirts", "men's clothes.jeans", \
    "women's clothes.dresses"
CODECS = {"webm": ("webm", "libvpx-vp9", "video/webm"), "mp4": ("mp4", "libx264", "video/mp4")}


def make_video(kind: str, frames: int = FRAMES, size: tuple[int, int] = (320, 180)) -> bytes:
    """Frames in changing colours, each with its number written large."""
    fmt, codec, _ = CODECS[kind]
    font = ImageFont.load_default(size=64)
    out = io.BytesIO()
    with av.open(out, mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        for i in range(frames):
            image = Image.new("RGB", size, (40 + i * 2, 90, 200 - i))
            ImageDraw.Draw(image).text((size[0] // 2, size[1] // 2), str(i), fill="white", font=font, anchor="mm")
            for packet in stream.encode(av.VideoFrame.from_image(image)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


async def upload(live, kind: str, name: str) -> str:
    files = {"file": (f"{name}.{kind}", make_video(kind), CODECS[kind][2])}
    r = await live.client.post(f"/api/v1/datasets/{live.ids['dataset']}/items/upload", files=files,
                               headers=live.auth())
    assert r.status_code == 201, r.text
    assert r.json()["metadata"]["system"]["nb_frames"] == FRAMES
    return r.json()["id"]


@pytest.fixture(scope="module")
async def world(live):
    """Two annotators, each with a task of their own videos."""
    await live.member("vid@example.com", "annotator")
    await live.member("other@example.com", "annotator")
    mine = {k: await upload(live, k, f"clip-{k}") for k in ("webm", "mp4")}
    mine |= {f"paint-{k}": await upload(live, k, f"paint-{k}") for k in ("webm", "mp4")}
    mine["to-the-end"] = await upload(live, "webm", "to-the-end")
    theirs = await upload(live, "webm", "theirs")
    task = await live.task(list(mine.values()), ["vid@example.com"], singleClass=False, name="Runs")
    other = await live.task([theirs], ["other@example.com"], name="Their runs")
    return {"items": mine, "task": task["id"], "theirs": theirs, "other_task": other["id"]}


async def ready(page) -> None:
    await page.wait_for_selector("#studio[data-ready=true]")


async def at_frame(page, frame: int) -> None:
    await page.wait_for_selector(f"#stage[data-frame='{frame}']")
    # the picture is that frame too: the video's clock is inside it
    shown = await page.evaluate("() => { const v = document.getElementById('video'); return Math.floor(v.currentTime * 25); }")
    assert shown == frame


async def jump(page, frame: int) -> None:
    await page.locator("#jump").fill(str(frame))
    await page.locator("#jump").press("Enter")
    await at_frame(page, frame)


async def stored(live, item: str) -> list[dict]:
    return sorted(await live.annotations(item), key=lambda a: a["metadata"]["system"]["frame"])


def ranges(annotations: list[dict]) -> list[tuple[str, int, int]]:
    return [(a["label"], a["metadata"]["system"]["frame"], a["metadata"]["system"]["endFrame"]) for a in annotations]


def assert_dtlpy_reads_every_frame(annotations: list[dict]) -> None:
    """The per-frame test of tests/contract/test_dtlpy_scenes.py on what the API exports."""
    import dtlpy as dl

    from tests.contract.test_dtlpy_scenes import video_item

    video = Video(fps=FPS, frame_count=FRAMES, duration=FRAMES / FPS)
    collection = dl.AnnotationCollection.from_json(_json=annotations, item=video_item(FPS))
    parsed = {a.id: a for a in collection.annotations}
    assert sorted(parsed) == sorted(a["id"] for a in annotations)
    for a in annotations:
        ours = scenes.from_annotation(a, video)
        assert isinstance(ours, Scene), ours
        theirs = parsed[a["id"]]
        assert (theirs.start_frame, theirs.end_frame) == (ours.start, ours.end)
        for f in range(ours.start, ours.end + 1):
            state = ours.state_at(f)
            assert (theirs.frames[f].label, not theirs.frames[f].object_visible) == (state.label, state.hidden), f


@pytest.mark.parametrize("kind", ["webm", "mp4"])
async def test_an_annotator_edits_a_scene_by_keys_and_by_dragging_its_end(page, live, world, kind):
    item, task = world["items"][kind], world["task"]
    await sign_in(page, "vid@example.com")
    await page.goto(f"/tasks/{task}/studio?item={item}")  # the task's studio opens its video's
    await page.wait_for_url(f"**/items/{item}/studio?taskId={task}")
    await ready(page)
    await page.keyboard.press("Shift+ArrowRight")
    await at_frame(page, 10)
    await page.keyboard.press("1")  # men's clothes, from frame 10 to the end
    bar = page.locator(".tl-scene[data-start='10']")
    await page.wait_for_selector(".tl-scene[data-start='10'][data-end='99'][data-open=true]")
    assert ranges(await stored(live, item)) == [(MENS, 10, 99)]
    assert await page.locator("#chips .chip").inner_text() == "men's clothes"

    for _ in range(3):
        await page.keyboard.press("Shift+ArrowRight")
    await at_frame(page, 40)
    await page.keyboard.press("e")
    await page.wait_for_selector(".tl-scene[data-start='10'][data-end='40'][data-open=false]")

    await jump(page, 20)
    await page.locator("#hide-to").fill("25")
    await page.locator("#stage").focus()
    await page.keyboard.press("h")
    await page.wait_for_selector(".tl-scene[data-start='10'] .tl-gap[data-first='20'][data-last='25']")
    assert await page.locator("#chips .chip").count() == 0  # hidden here
    assert "hidden 20–25" in await page.locator("#annotations").inner_text()
    if kind == "webm":  # a second scene, and the picture for the README
        await jump(page, 50)
        await page.locator("#stage").focus()
        await page.keyboard.press("5")  # dresses
        await page.wait_for_selector(".tl-scene[data-start='50'][data-open=true]")
        await bar.click()
        await jump(page, 30)
        ARTIFACTS.mkdir(exist_ok=True)
        to_docs(await shot(page, "video-studio"), "video-studio")
        await page.locator(".tl-scene[data-start='50']").click()
        await page.locator("#stage").focus()
        await page.keyboard.press("Delete")
        await page.wait_for_selector(".tl-scene[data-start='50']", state="detached")
        await bar.click()
    await jump(page, 22)
    await page.locator("#stage").focus()
    await page.keyboard.press("u")
    await page.wait_for_selector(".tl-gap", state="detached")

    await page.keyboard.press("l")
    await page.keyboard.press("3")  # jeans
    await page.wait_for_selector(f".tl-scene[data-start='10'] .tl-seg[data-label=\"{JEANS}\"]")

    # drag the end from 40 to 60, the frame shown while dragging
    handle = await bar.locator(".tl-end").bounding_box()
    inner = await page.locator(".tl-inner").bounding_box()
    x60 = inner["x"] + 60.5 * inner["width"] / FRAMES
    await page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    await page.mouse.down()
    await page.mouse.move(x60, handle["y"] + 4, steps=5)
    assert await page.locator(".tl-tip").inner_text() == "End: frame 60"
    await page.mouse.up()
    await page.wait_for_selector(".tl-scene[data-start='10'][data-end='60']")
    await jump(page, 12)  # move the start here by key
    await page.locator("#stage").focus()
    await page.keyboard.press("s")
    await page.wait_for_selector(".tl-scene[data-start='12'][data-end='60']")
    bar = page.locator(".tl-scene[data-start='12']")
    # zoom: the timeline twice as wide, the bar too, the playhead kept in view
    width = (await bar.bounding_box())["width"]
    await page.locator("#stage").focus()
    await page.keyboard.press("+")
    await page.wait_for_selector("#timeline[data-zoom='2']")
    assert abs((await bar.bounding_box())["width"] - 2 * width) < 2
    final = await stored(live, item)
    assert ranges(final) == [(JEANS, 12, 60)]
    assert final[0]["metadata"]["system"]["taskId"] == task
    assert_dtlpy_reads_every_frame(final)
    if kind == "mp4":  # done with this video: completed, and on to the next item of the task
        await page.locator("#done").click()
        await page.wait_for_url(lambda url: "/studio?taskId=" in url and item not in url)
        await ready(page)
        assert (await live.statuses(task))[item] == "completed"
    assert not page.errors


async def paint_by_keys(page, speed: str) -> list[tuple[str, int]]:
    """Play from the start at `speed`, pressing label keys at frames 10, 35 and 70 and the
    none key at 55, and pause at 85; the keys with the frame on screen at each press (the
    frame presented, as requestVideoFrameCallback reports it: under load the clock's
    currentTime runs a few frames ahead of what the annotator sees at 2x)."""
    await page.evaluate("""() => {
      const stage = document.getElementById('stage');
      window.pressed = [];
      addEventListener('keydown', (e) => pressed.push([e.key, Number(stage.dataset.frame)]), true);
    }""")
    await page.locator("#speed").select_option(speed)
    await page.locator("#stage").focus()
    await page.keyboard.press("Space")
    for frame, key in ((10, "2"), (35, "3"), (55, "0"), (70, "2"), (85, " ")):
        await page.wait_for_function(f"Number(document.getElementById('stage').dataset.frame) >= {frame}")
        await page.keyboard.press("Space" if key == " " else key)
        if key == "3":  # the stretches painted so far show on the timeline as it plays
            await page.wait_for_selector(f".tl-preview .tl-painting[data-label=\"{JEANS}\"]")
    await page.wait_for_selector("#studio[data-playing=false]")
    return [(k, f) for k, f in await page.evaluate("pressed")][1:]  # after the Space that played


@pytest.mark.parametrize("kind, speed, within", [("webm", "1", 1), ("mp4", "2", 2)])
async def test_play_to_paint_stores_the_stretches_the_keys_painted(page, live, world, kind, speed, within):
    item, task = world["items"][f"paint-{kind}"], world["task"]
    await sign_in(page, "vid@example.com", then=f"/items/{item}/studio?taskId={task}")
    await ready(page)
    pressed = await paint_by_keys(page, speed)
    (_, polo), (_, jeans), (_, none), (_, again), (_, stop) = pressed
    await page.wait_for_selector("#studio[data-scenes='3']")
    got = ranges(await stored(live, item))
    assert [label for label, _, _ in got] == [POLO, JEANS, POLO]
    (_, a0, a1), (_, b0, b1), (_, c0, c1) = got
    assert abs(a0 - polo) <= within and a1 == b0 - 1  # polo until jeans starts
    assert abs(b0 - jeans) <= within and abs(b1 + 1 - none) <= within  # jeans until none
    assert abs(c0 - again) <= within and abs(c1 - stop) <= within + 1  # polo again until paused
    frame = int(await page.locator("#stage").get_attribute("data-frame"))
    assert c1 == frame  # the frame the page stopped on is the frame stored
    await shot(page, f"video-studio-painted-{kind}")
    assert_dtlpy_reads_every_frame(await stored(live, item))
    assert not page.errors


async def test_painting_at_8x_until_the_video_ends_leaves_the_last_scene_open(page, live, world):
    item, task = world["items"]["to-the-end"], world["task"]
    await sign_in(page, "vid@example.com", then=f"/items/{item}/studio?taskId={task}")
    await ready(page)
    await page.locator("#speed").select_option("8")
    await page.locator("#stage").focus()
    await page.keyboard.press("Space")
    await page.wait_for_function("Number(document.getElementById('stage').dataset.frame) >= 5")
    await page.keyboard.press("4")  # women's clothes, to the end
    await page.wait_for_selector("#studio[data-scenes='1']")
    (label, first, last), = ranges(await stored(live, item))
    assert label == "women's clothes" and 5 <= first < 99 and last == 99
    await page.wait_for_selector(f".tl-scene[data-start='{first}'][data-open=true]")
    assert not page.errors


async def test_an_annotator_is_refused_on_another_annotators_video_with_the_reason(page, live, world):
    theirs, other = world["theirs"], world["other_task"]
    await sign_in(page, "vid@example.com", then=f"/items/{theirs}/studio?taskId={other}")
    await ready(page)
    await page.keyboard.press("1")
    await page.wait_for_selector("#toast:has-text('not in one of your assignments')")
    await page.goto(f"/items/{theirs}/studio")  # outside a task: manager work
    await ready(page)
    await page.keyboard.press("1")
    await page.wait_for_selector("#toast:has-text('needs the manager role')")
    assert await live.annotations(theirs) == []


async def test_a_single_class_queue_of_images_and_a_video(page, live, world):
    """A single-class task mixing images and a video: the image studio never fetches the video
    as an image and opens it in the video studio; there a new label inserts a scene that gives
    way to the next one (the video's scenes never share a frame); Done goes on to the next
    image; an address naming no item of the task says so and lets the annotator go on."""
    first, last = await live.images(2, prefix="mixed")
    video = await upload(live, "webm", "mixed-clip")
    task = (await live.task([first, video, last], ["vid@example.com"], name="Mixed"))["id"]
    as_image: list[str] = []
    page.on("request", lambda r: as_image.append(r.url) if r.resource_type == "image" else None)
    await sign_in(page, "vid@example.com", then=f"/tasks/{task}/studio")
    await page.wait_for_selector(f"#stage[data-painted='{first}']")
    await page.wait_for_function(f"[...document.querySelectorAll('#strip li')].length >= 3")
    await page.locator("#auto-next").check()
    await page.wait_for_function("document.querySelector('#auto-next').checked")
    await page.locator("#stage").focus()
    await page.keyboard.press("2")  # polo: auto next reaches the video, in its own studio
    await page.wait_for_url(f"**/items/{video}/studio?taskId={task}", wait_until="commit")
    await ready(page)

    await page.keyboard.press("2")  # polo from frame 0, to the end
    await page.wait_for_selector(".tl-scene[data-start='0'][data-end='99'][data-open=true]")
    await jump(page, 60)
    await page.locator("#stage").focus()
    await page.keyboard.press("3")  # jeans from 60: polo now ends at 59
    await page.wait_for_selector(".tl-scene[data-start='0'][data-end='59']")
    await jump(page, 30)
    await page.locator("#stage").focus()
    await page.keyboard.press("5")  # dresses from 30, up to the jeans at 60 (not over them)
    await page.wait_for_selector(".tl-scene[data-start='30'][data-end='59'][data-open=false]")
    await page.wait_for_selector(".tl-scene[data-start='0'][data-end='29']")
    assert ranges(await stored(live, video)) == [(POLO, 0, 29), (DRESSES, 30, 59), (JEANS, 60, 99)]
    await shot(page, "video-studio-single-class")
    await page.locator("#done").click()  # completed, and on to the image after it
    await page.wait_for_url(f"**/tasks/{task}/studio?item={last}")
    await page.wait_for_selector(f"#stage[data-painted='{last}']")
    assert (await live.statuses(task))[video] == "completed"
    # never preloaded as an image (its strip thumbnail is an image, the video itself is not)
    assert not [u for u in as_image if f"/items/{video}/stream" in u]

    await page.goto(f"/tasks/{task}/studio?item=unknown")
    await page.wait_for_selector("#empty:has-text('This item does not exist or is not in this task')")
    assert await page.locator("#stage img").count() == 0
    await shot(page, "studio-unknown-item")
    await page.locator("#next").click()  # and on with the work
    await page.wait_for_selector(f"#stage[data-painted='{last}']")
    assert await page.locator("#empty").is_hidden()
    assert not page.errors
