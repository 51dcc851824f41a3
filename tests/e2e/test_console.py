"""The web console in a real browser: Debian's Chromium driven by Playwright, against a real server.

One browser (a fresh, empty profile) and the session's server for the whole module. Every request
the browser makes to anything but loopback is blocked and counted, every console error collected;
both must stay empty. Screenshots of every page go to test-artifacts/console/ (CI keeps them).
"""

from __future__ import annotations

import base64
import hashlib
import io
import ipaddress
import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import av
import numpy as np
import pytest
import requests
from botocore.exceptions import ClientError
from conftest import REPO_ROOT, NimbusServer, error_code, nimbus_cli
from emr_support import wait_for_state, wait_for_step
from job_support import XGBOOST_IMAGE, start_xgboost_training
from PIL import Image, ImageDraw, ImageFont
from playwright.sync_api import BrowserContext, Page, Route, expect, sync_playwright
from roles import execution_role
from skimage import data as sample_images
from sklearn.datasets import load_breast_cancer

CHROMIUM = "/usr/bin/chromium"
# a closed network: nothing in the background, no updates, no QUIC probes
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "console"
CONSOLE = "/_nimbus/console"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
LOCALE = "en_US"
ROUNDS = 12
TRAINING_LOGS = "/aws/sagemaker/TrainingJobs"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


# the elements that stick out of the screen on the right, for the message of a failed width check
WIDEST = """Array.from(document.querySelectorAll("main *"))
    .filter((element) => element.getBoundingClientRect().right > window.innerWidth)
    .slice(-3).map((element) => element.outerHTML.slice(0, 160))"""


@dataclass
class Watch:
    """What the browser did that it must not: requests beyond loopback, console errors."""

    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def clear(self) -> tuple[list[str], list[str]]:
        seen = (list(self.blocked), list(self.errors))
        self.blocked.clear()
        self.errors.clear()
        return seen


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Browser:
    context: BrowserContext
    page: Page
    watch: Watch
    base: str

    def open(self, path: str) -> Page:
        self.page.goto(self.base + CONSOLE + path)
        return self.page

    def shot(self, name: str) -> None:
        self.page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

    def clean(self) -> None:
        """Nothing left loopback and nothing failed in the page since the last check."""
        blocked, errors = self.watch.clear()
        assert blocked == [], f"requests beyond loopback: {blocked}"
        assert errors == [], f"console errors: {errors}"


@pytest.fixture(scope="module")
def browser(nimbus: NimbusServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    watch = Watch()

    def guard(route: Route) -> None:
        if route.request.url.startswith(("http:", "https:", "ws:", "wss:")) and not _loopback(
            route.request.url
        ):
            watch.blocked.append(route.request.url)
            route.abort("blockedbyclient")
        else:
            route.continue_()

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport=DESKTOP,
        )
        try:
            context.route("**/*", guard)
            page = context.pages[0] if context.pages else context.new_page()
            page.on("console", lambda message: message.type == "error" and watch.errors.append(message.text))
            page.on("pageerror", lambda error: watch.errors.append(str(error)))
            page.on("dialog", lambda dialog: dialog.accept())  # the "Delete ...?" confirmations
            browser = Browser(context, page, watch, nimbus.endpoint_url)
            sign_in(browser, nimbus.access_key, nimbus.secret_key)
            yield browser
        finally:
            context.close()


def sign_in(browser: Browser, access_key: str, secret_key: str) -> None:
    page = browser.open("/")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    page.get_by_label("Access key id").fill(access_key)
    page.get_by_label("Secret access key").fill(secret_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def jpeg(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("photos")
    astronaut = folder / "astronaut.jpg"
    astronaut.write_bytes(jpeg(sample_images.astronaut()))
    head = folder / "head.jpg"  # the same face, cropped and scaled differently
    head.write_bytes(
        jpeg(np.asarray(Image.fromarray(sample_images.astronaut()[0:300, 100:400]).resize((240, 240))))
    )
    return {"astronaut": astronaut, "head": head}


@dataclass
class Background:
    """What takes seconds to be ready, started when the module starts and awaited where needed."""

    bot_id: str
    training_job: str
    cluster_id: str
    bucket: str


@pytest.fixture(scope="module")
def background(nimbus: NimbusServer) -> Iterator[Background]:
    s3, sagemaker, emr = nimbus.client("s3"), nimbus.client("sagemaker"), nimbus.client("emr")
    bucket = f"console-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    job = f"console-{uuid.uuid4().hex[:10]}"
    start_xgboost_training(s3, sagemaker, bucket, job, execution_role(sagemaker), ROUNDS)
    cluster_id = emr.run_job_flow(
        Name="console-tiny",
        ReleaseLabel="emr-7.2.0",
        LogUri=f"s3://{bucket}/emr-logs/",
        Instances={
            "MasterInstanceType": "m5.xlarge",
            "InstanceCount": 1,
            "KeepJobFlowAliveWhenNoSteps": True,
        },
    )["JobFlowId"]
    try:
        yield Background(flowers_bot(nimbus.client("lexv2-models")), job, cluster_id, bucket)
    finally:
        emr.terminate_job_flows(JobFlowIds=[cluster_id])


def flowers_bot(models: Any) -> str:
    bot_id: str = models.create_bot(
        botName=f"Flowers{uuid.uuid4().hex[:6]}",
        roleArn="arn:aws:iam::123456789012:role/lex",
        dataPrivacy={"childDirected": False},
        idleSessionTTLInSeconds=300,
    )["botId"]
    where = {"botId": bot_id, "botVersion": "DRAFT", "localeId": LOCALE}
    models.create_bot_locale(**where, nluIntentConfidenceThreshold=0.4)
    flowers = models.create_slot_type(
        **where,
        slotTypeName="FlowerTypes",
        slotTypeValues=[{"sampleValue": {"value": v}} for v in ("roses", "lilies", "tulips")],
        valueSelectionSetting={"resolutionStrategy": "TopResolution"},
    )["slotTypeId"]
    utterances = [{"utterance": u} for u in ("I would like to order some flowers", "order {FlowerType}")]
    intent = models.create_intent(**where, intentName="OrderFlowers", sampleUtterances=utterances)["intentId"]
    prompt = {"messageGroups": [{"message": {"plainTextMessage": {"value": "What type of flowers?"}}}]}
    slot = models.create_slot(
        **where,
        intentId=intent,
        slotName="FlowerType",
        slotTypeId=flowers,
        valueElicitationSetting={
            "slotConstraint": "Required",
            "promptSpecification": {**prompt, "maxRetries": 1},
        },
    )["slotId"]
    closing = {
        "messageGroups": [{"message": {"plainTextMessage": {"value": "Your {FlowerType} are ordered."}}}]
    }
    models.update_intent(
        **where,
        intentId=intent,
        intentName="OrderFlowers",
        sampleUtterances=utterances,
        slotPriorities=[{"priority": 1, "slotId": slot}],
        intentClosingSetting={"closingResponse": closing},
    )
    models.build_bot_locale(**where)
    for _ in range(600):
        status = models.describe_bot_locale(**where)["botLocaleStatus"]
        if status == "Built":
            return bot_id
        assert status not in ("Failed", "NotBuilt"), status
        time.sleep(0.2)
    raise AssertionError("the bot did not build")


def wait_for_job(nimbus: NimbusServer, name: str) -> str:
    sagemaker = nimbus.client("sagemaker")
    for _ in range(600):
        status = str(sagemaker.describe_training_job(TrainingJobName=name)["TrainingJobStatus"])
        if status != "InProgress":
            return status
        time.sleep(0.2)
    raise AssertionError(f"{name} is still training")


def drop_files(page: Page, files: list[tuple[str, str, int]]) -> None:
    """Drops files (name, type, size; text files hold their name) on the page's upload zone."""
    transfer = page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer();
            for (const [name, type, size] of files) {
                const body = size ? new Uint8Array(size).fill(7) : `x,y\\n1,2\\n3,${name}\\n`;
                transfer.items.add(new File([body], name, { type }));
            }
            return transfer;
        }""",
        files,
    )
    page.dispatch_event("[data-upload]", "drop", {"dataTransfer": transfer})


# ---- flows ----------------------------------------------------------------------------------------


def test_bucket_drag_and_drop_upload_preview_share_and_delete(browser: Browser, nimbus: NimbusServer) -> None:
    s3 = nimbus.client("s3")
    bucket = f"dropped-{uuid.uuid4().hex[:10]}"
    page = browser.open("/s3")
    page.get_by_label("New bucket name").fill(bucket)
    page.get_by_role("button", name="Create bucket").click()
    expect(page.get_by_role("heading", name=bucket)).to_be_visible()
    table, big = "ünï table.csv", "big.bin"  # a key with a space and non-ASCII letters
    big_size = 17 * 1024 * 1024 + 5  # above the single-PUT limit: three parts of a multipart upload
    drop_files(page, [(table, "text/csv", 0), (big, "application/octet-stream", big_size)])
    expect(page.get_by_role("link", name=big)).to_be_visible(timeout=60_000)  # reloaded when done
    assert s3.head_object(Bucket=bucket, Key=big)["ContentLength"] == big_size
    assert s3.head_object(Bucket=bucket, Key=big)["ETag"].endswith('-3"')  # a multipart upload's ETag
    page.get_by_role("link", name=table).click()
    expect(page.locator(".preview table")).to_contain_text(table)  # the CSV's third row
    assert page.locator(".preview th").all_inner_texts() == ["x", "y"]

    page.get_by_label("Valid for").select_option("900")
    page.get_by_role("button", name="Create link").click()
    link = page.locator("[data-share-link]").input_value()
    shared = requests.get(link, timeout=30)
    assert shared.status_code == 200
    assert shared.content == b"x,y\n1,2\n3,\xc3\xbcn\xc3\xaf table.csv\n"
    assert requests.get(link.replace("Signature=", "Signature=0"), timeout=30).status_code == 403
    browser.shot("flow-s3-csv-preview-and-share-link")

    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.locator(".flash.note")).to_contain_text(f"Deleted {table}")
    page.get_by_label("Select all").check()
    page.get_by_role("button", name="Delete selected").click()
    expect(page.locator(".flash.note")).to_contain_text("Deleted 1 object(s)")
    page.get_by_role("button", name="Delete bucket").click()
    expect(page.locator(".flash.note")).to_contain_text(f"Bucket {bucket} deleted")
    with pytest.raises(ClientError) as missing:
        s3.head_bucket(Bucket=bucket)
    assert error_code(missing) == "404"
    browser.clean()


def test_s3_versions_view_lists_and_deletes_a_version(browser: Browser, nimbus: NimbusServer) -> None:
    s3, bucket = nimbus.client("s3"), f"versions-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="notes/a b.txt", Body=b"first")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="notes/a b.txt", Body=b"second")["VersionId"]
    page = browser.open(f"/s3/{bucket}?prefix=notes/")
    page.get_by_role("link", name="Versions", exact=True).click()
    expect(page.locator("[data-version]")).to_have_count(2)
    expect(page.locator(f'[data-version="{second}"]')).to_contain_text("yes")  # the latest
    download = (
        page.locator(f'[data-version="{first}"]').get_by_role("link", name="Download").get_attribute("href")
    )
    assert browser.context.request.get(urljoin(nimbus.endpoint_url, download or "")).body() == b"first"
    browser.shot("flow-s3-versions")
    page.locator(f'[data-version="{first}"]').get_by_role("button", name="Delete version").click()
    expect(page.locator("[data-version]")).to_have_count(1)
    listed = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [version["VersionId"] for version in listed] == [second]
    browser.clean()


def test_detect_labels_draws_boxes_on_the_image(browser: Browser, photos: dict[str, Any]) -> None:
    page = browser.open("/rekognition")
    page.get_by_label("Analysis").select_option("labels")
    analyze = page.locator("form", has=page.get_by_role("button", name="Analyze"))
    analyze.get_by_label("Image file (JPEG or PNG)").set_input_files(photos["astronaut"])
    page.get_by_role("button", name="Analyze").click()
    boxes = page.locator("figure.boxed .shape.label rect")
    expect(boxes.first).to_be_attached()
    drawn, image = boxes.first.bounding_box(), page.locator("figure.boxed img").bounding_box()
    assert drawn is not None and image is not None and drawn["width"] > 20 and drawn["height"] > 20
    assert image["x"] <= drawn["x"] and drawn["x"] + drawn["width"] <= image["x"] + image["width"] + 1
    assert image["y"] <= drawn["y"] and drawn["y"] + drawn["height"] <= image["y"] + image["height"] + 1
    assert "Person" in page.locator("figure.boxed figcaption").inner_text()
    browser.shot("flow-rekognition-labels")
    page.get_by_label("Show above").fill("100")  # the slider hides what is below it
    expect(page.locator("figure.boxed .shape.label").first).to_be_hidden()
    browser.clean()


def test_index_a_face_then_search_by_another_photo_shows_the_match(
    browser: Browser, photos: dict[str, Any]
) -> None:
    collection = f"people-{uuid.uuid4().hex[:8]}"
    page = browser.open("/rekognition/collections")
    page.get_by_label("New collection id").fill(collection)
    page.get_by_role("button", name="Create collection").click()
    index = page.locator("form", has=page.get_by_role("heading", name="Index faces"))
    index.get_by_label("Image file (JPEG or PNG)").set_input_files(photos["astronaut"])
    index.get_by_label("External image id").fill("eileen")
    index.get_by_role("button", name="Index").click()
    expect(page.locator(".flash.note")).to_contain_text("Indexed 1 face(s)")
    search = page.locator("form", has=page.get_by_role("heading", name="Search by image"))
    search.get_by_label("Image file (JPEG or PNG)").set_input_files(photos["head"])
    search.get_by_role("button", name="Search").click()
    match = page.locator("[data-match]").first
    expect(match).to_contain_text("eileen")
    assert float(match.locator("td").first.inner_text()) >= 80
    assert page.locator("[data-search-result] .shape.match rect").count() == 1
    browser.shot("flow-rekognition-face-search")
    browser.clean()


def test_indexed_faces_have_thumbnails_until_deleted(
    browser: Browser, nimbus: NimbusServer, photos: dict[str, Any]
) -> None:
    collection = f"thumbs-{uuid.uuid4().hex[:8]}"
    rekognition = nimbus.client("rekognition")
    rekognition.create_collection(CollectionId=collection)
    astronaut = {"Bytes": photos["astronaut"].read_bytes()}
    old, new = (
        rekognition.index_faces(CollectionId=collection, Image=astronaut, ExternalImageId=name)[
            "FaceRecords"
        ][0]
        for name in ("before", "after")
    )
    arn = rekognition.describe_collection(CollectionId=collection)["CollectionARN"]
    kept = nimbus.data_dir / "face-thumbnails" / hashlib.sha256(arn.encode()).hexdigest()
    (kept / f"{old['Face']['FaceId']}.jpg").unlink()  # as for a face indexed before crops were kept
    page = browser.open(f"/rekognition/collections/{collection}")
    thumb = page.locator(f'[data-face="{new["Face"]["FaceId"]}"] img.face-thumb')
    expect(thumb).to_be_visible()
    assert 0 < thumb.evaluate("image => image.naturalWidth") <= 96  # a face-sized crop, decoded
    expect(page.locator(f'[data-face="{old["Face"]["FaceId"]}"] .placeholder')).to_have_text("no picture")
    browser.shot("flow-rekognition-face-thumbnails")
    source = urljoin(page.url, thumb.get_attribute("src") or "")
    answer = browser.context.request.get(source)
    assert answer.status == 200 and answer.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(answer.body())).size[0] <= 96
    refused = requests.get(source, timeout=30, allow_redirects=False)  # no session, no face
    assert refused.status_code == 303 and "/sign-in" in refused.headers["location"]
    page.get_by_label(f"Select {new['Face']['FaceId']}").check()
    page.get_by_role("button", name="Delete selected").click()
    expect(page.locator(".flash.note")).to_contain_text("Deleted 1 face(s)")
    assert browser.context.request.get(source).status == 404
    assert not (kept / f"{new['Face']['FaceId']}.jpg").exists()
    rekognition.index_faces(CollectionId=collection, Image=astronaut)
    assert any(kept.iterdir())
    page.get_by_role("button", name="Delete collection").click()
    expect(page.get_by_role("heading", name="Face collections")).to_be_visible()
    assert not kept.exists()
    browser.clean()


def test_compare_faces_draws_the_match_and_crops_the_faces(browser: Browser, photos: dict[str, Any]) -> None:
    page = browser.open("/rekognition")
    page.locator('[data-image="source"]').get_by_label("Image file (JPEG or PNG)").set_input_files(
        photos["head"]
    )
    page.locator('[data-image="target"]').get_by_label("Image file (JPEG or PNG)").set_input_files(
        photos["astronaut"]
    )
    page.get_by_role("button", name="Compare").click()
    result = page.locator("[data-comparison]")
    expect(result.locator("[data-face-match]")).to_have_count(1)
    assert float(result.locator("[data-face-match] td.num").first.inner_text()) >= 80
    assert result.locator("figure.boxed .shape.match rect").count() == 1  # on the target
    assert result.locator("figure.boxed .shape.face rect").count() >= 1  # the source's face
    crop = result.locator("[data-face-match] svg.thumb")
    box = crop.bounding_box()
    assert box is not None and box["width"] > 20 and box["height"] > 20
    view = [float(number) for number in (crop.get_attribute("viewBox") or "").split()]
    assert len(view) == 4 and 0 <= view[0] < 512 and view[2] > 20  # a face-sized part of the 512 px photo
    browser.shot("flow-rekognition-compare")
    browser.clean()


def scene_video(scenes: list[np.ndarray], seconds: int, fps: int = 5) -> bytes:
    """An H.264 MP4 showing each picture (fitted to 320x240) for ``seconds``."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for pixels in scenes:
            frame = np.asarray(Image.fromarray(pixels).convert("RGB").resize((320, 240)))
            for _ in range(seconds * fps):
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return buffer.getvalue()


def test_a_video_job_started_here_has_a_timeline(browser: Browser, nimbus: NimbusServer) -> None:
    s3, bucket = nimbus.client("s3"), f"videos-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    video = scene_video([sample_images.astronaut(), sample_images.chelsea()], seconds=3)
    s3.put_object(Bucket=bucket, Key="clips/astronaut then cat.mp4", Body=video)
    page = browser.open("/rekognition/video")
    page.get_by_label("Analysis").select_option("labels")
    page.get_by_label("Video bucket").fill(bucket)
    page.get_by_label("Video key (MP4 or MOV)").fill("clips/astronaut then cat.mp4")
    page.get_by_role("button", name="Start job").click()
    expect(page.locator(".status")).to_have_text("SUCCEEDED", timeout=120_000)  # the page reloads itself
    person, cat = (
        page.locator('[data-timeline-row="Person"] rect'),
        page.locator('[data-timeline-row="Cat"] rect'),
    )
    assert person.count() >= 2 and cat.count() >= 2
    first_person, last_cat = person.first.bounding_box(), cat.last.bounding_box()
    assert first_person is not None and last_cat is not None and first_person["x"] < last_cat["x"]
    job_id = page.url.rsplit("/", 1)[-1]
    browser.shot("flow-rekognition-video-timeline")
    page = browser.open("/rekognition/video")  # the session remembers the job it started
    expect(page.locator("[data-video-job]").first).to_contain_text(job_id)
    browser.clean()


def text_picture(text: str) -> np.ndarray:
    canvas = Image.new("RGB", (640, 480), "white")
    ImageDraw.Draw(canvas).text((40, 190), text, fill="black", font=ImageFont.truetype(FONT, 110))
    return np.asarray(canvas)


def test_text_moderation_segment_and_face_search_jobs_from_the_console(
    browser: Browser, nimbus: NimbusServer, photos: dict[str, Any]
) -> None:
    s3, rekognition = nimbus.client("s3"), nimbus.client("rekognition")
    bucket, collection = f"videos-{uuid.uuid4().hex[:8]}", f"cast-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    video = scene_video([sample_images.astronaut(), text_picture("NIMBUS")], seconds=2)
    s3.put_object(Bucket=bucket, Key="astronaut then text.mp4", Body=video)
    rekognition.create_collection(CollectionId=collection)
    rekognition.index_faces(
        CollectionId=collection, Image={"Bytes": photos["astronaut"].read_bytes()}, ExternalImageId="eileen"
    )
    jobs = {}
    for kind in ("segments", "face-search", "text", "moderation"):
        page = browser.open("/rekognition/video")
        page.get_by_label("Analysis").select_option(kind)
        page.get_by_label("Video bucket").fill(bucket)
        page.get_by_label("Video key (MP4 or MOV)").fill("astronaut then text.mp4")
        page.get_by_label("Collection (face search)").select_option(collection)
        page.get_by_role("button", name="Start job").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("job")
        jobs[kind] = page.url
    page = browser.page
    page.goto(jobs["segments"])
    expect(page.locator(".status")).to_have_text("SUCCEEDED", timeout=120_000)
    shots = page.locator('[data-timeline-row="Shot"] rect')
    expect(shots).to_have_count(2)  # the cut from the astronaut to the text, as two spans
    first, second = shots.first.bounding_box(), shots.last.bounding_box()
    assert first is not None and second is not None
    assert first["width"] > 100 and second["x"] >= first["x"] + first["width"] - 2
    twin = browser.context.request.get(page.url, headers={"Accept": "application/json"}).json()
    assert [segment["Type"] for segment in twin["response"]["Segments"]] == ["SHOT", "SHOT"]
    assert twin["request"]["JobId"] == page.url.rsplit("/", 1)[-1]
    browser.shot("flow-rekognition-video-segments")
    page.goto(jobs["face-search"])
    expect(page.locator(".status")).to_have_text("SUCCEEDED", timeout=120_000)
    assert page.locator('[data-timeline-row="eileen"] rect').count() >= 1
    assert page.locator("[data-timeline-row]").count() == 1  # only the indexed face, never the text
    page.goto(jobs["text"])
    expect(page.locator(".status")).to_have_text("SUCCEEDED", timeout=120_000)
    expect(page.locator('[data-timeline-row*="NIMBUS"] rect').first).to_be_attached()
    page.goto(jobs["moderation"])
    expect(page.locator(".status")).to_have_text("SUCCEEDED", timeout=120_000)
    expect(page.get_by_text("Nothing found.")).to_be_visible()  # no nudity in either scene
    browser.clean()


def face_search_processor(nimbus: NimbusServer, name: str) -> None:
    """A face search stream processor reading a new video stream into a new data stream, both ``name``."""
    rekognition = nimbus.client("rekognition")
    video = nimbus.client("kinesisvideo").create_stream(StreamName=name, DataRetentionInHours=1)["StreamARN"]
    nimbus.client("kinesis").create_stream(StreamName=name, ShardCount=1)
    output = nimbus.client("kinesis").describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    rekognition.create_collection(CollectionId=name)
    rekognition.create_stream_processor(
        Name=name,
        Input={"KinesisVideoStream": {"Arn": video}},
        Output={"KinesisDataStream": {"Arn": output["StreamARN"]}},
        RoleArn=f"arn:aws:iam::{nimbus.account_id}:role/rekognition-streams",
        Settings={"FaceSearch": {"CollectionId": name, "FaceMatchThreshold": 85}},
    )


def test_a_stream_processor_started_and_stopped_from_the_console(
    browser: Browser, nimbus: NimbusServer
) -> None:
    name = f"doorbell-{uuid.uuid4().hex[:8]}"
    face_search_processor(nimbus, name)
    page = browser.open("/rekognition/streams")
    page.locator(f'[data-processor="{name}"]').get_by_role("link", name=name).click()
    expect(page.locator(".fields .status")).to_have_text("STOPPED")
    page.get_by_role("button", name="Start").click()
    expect(page.locator(".flash.note")).to_contain_text("Started session")
    expect(page.locator(".fields .status")).to_have_text(re.compile("STARTING|RUNNING"))
    assert nimbus.client("rekognition").describe_stream_processor(Name=name)["Status"] in (
        "STARTING",
        "RUNNING",
    )
    page.get_by_role("button", name="Stop").click()
    expect(page.locator(".fields .status")).to_have_text("STOPPED", timeout=60_000)  # the page reloads itself
    page.get_by_role("button", name="Delete stream processor").click()
    expect(page.locator(".flash.note")).to_contain_text(f"Stream processor {name} deleted")
    listed = nimbus.client("rekognition").list_stream_processors()["StreamProcessors"]
    assert name not in [processor["Name"] for processor in listed]
    browser.clean()


def test_a_two_turn_lex_chat_shows_the_slot_in_the_inspector(
    browser: Browser, background: Background
) -> None:
    page = browser.open(f"/lex/{background.bot_id}/chat?alias=TSTALIASID&locale={LOCALE}")
    say = page.get_by_label("Say")
    say.fill("I would like to order some flowers")
    say.press("Enter")
    expect(page.locator(".transcript .bot").last).to_have_text("What type of flowers?")
    expect(page.locator("#inspector")).to_contain_text("ElicitSlot")
    say.fill("roses")
    say.press("Enter")
    expect(page.locator(".transcript .bot").last).to_have_text("Your roses are ordered.")
    slot = page.locator('#inspector [data-slot="FlowerType"]')
    expect(slot).to_contain_text("roses")
    assert page.locator(".transcript li").count() == 4
    browser.shot("flow-lex-chat")
    browser.clean()


def test_a_training_job_has_a_metric_chart_and_its_log(
    browser: Browser, nimbus: NimbusServer, background: Background
) -> None:
    assert wait_for_job(nimbus, background.training_job) == "Completed"
    page = browser.open(f"/sagemaker/training/{background.training_job}")
    chart = page.locator("[data-chart]")
    expect(chart).to_have_attribute("data-points", str(ROUNDS))  # one train:error per boosting round
    expect(chart.locator("canvas")).to_be_visible()
    assert "train-error" in page.locator("[data-log]").inner_text()
    assert page.locator(".timeline li").count() >= 3
    browser.shot("flow-sagemaker-training-job")
    browser.clean()


def test_an_endpoint_answers_the_invoke_form(
    browser: Browser, nimbus: NimbusServer, background: Background
) -> None:
    sagemaker = nimbus.client("sagemaker")
    assert wait_for_job(nimbus, background.training_job) == "Completed"
    artifacts = sagemaker.describe_training_job(TrainingJobName=background.training_job)["ModelArtifacts"]
    name = f"console-{uuid.uuid4().hex[:8]}"
    sagemaker.create_model(
        ModelName=name,
        PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": artifacts["S3ModelArtifacts"]},
        ExecutionRoleArn=execution_role(sagemaker),
    )
    variant = {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1}
    sagemaker.create_endpoint_config(
        EndpointConfigName=name, ProductionVariants=[{**variant, "InstanceType": "ml.m5.large"}]
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    try:
        sagemaker.get_waiter("endpoint_in_service").wait(
            EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
        row = ",".join(repr(float(value)) for value in load_breast_cancer().data[0])
        expected = (
            nimbus.client("sagemaker-runtime")
            .invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=row.encode())["Body"]
            .read()
            .decode()
        )
        page = browser.open(f"/sagemaker/endpoints/{name}")
        page.get_by_label("Body").fill(row)
        page.get_by_role("button", name="Invoke").click()
        expect(page.locator("[data-invoked]")).to_have_text(expected.strip())
        assert 0.0 <= float(expected) <= 1.0  # a probability from the breast cancer classifier
        browser.shot("flow-sagemaker-invoke-endpoint")
        browser.clean()
    finally:
        sagemaker.delete_endpoint(EndpointName=name)


def test_describe_log_groups_behind_the_logs_page(nimbus: NimbusServer, background: Background) -> None:
    logs = nimbus.client("logs")
    wait_for_job(nimbus, background.training_job)
    group = TRAINING_LOGS
    listed = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert [g["logGroupName"] for g in listed] == [group]
    assert listed[0]["arn"] == listed[0]["logGroupArn"] + ":*" and listed[0]["storedBytes"] > 0
    by_arn = logs.describe_log_groups(logGroupIdentifiers=[listed[0]["logGroupArn"]])["logGroups"]
    assert [g["logGroupName"] for g in by_arn] == [group]
    assert logs.describe_log_groups(logGroupNamePattern="NOSUCHGROUP")["logGroups"] == []
    with pytest.raises(ClientError) as bad:
        logs.describe_log_groups(nextToken="not-a-token")
    assert error_code(bad) == "InvalidParameterException"


def test_an_emr_step_shows_its_stdout(browser: Browser, nimbus: NimbusServer, background: Background) -> None:
    emr = nimbus.client("emr")
    assert wait_for_state(emr, background.cluster_id, {"WAITING"}) == "WAITING"
    page = browser.open(f"/emr/{background.cluster_id}")
    page.get_by_label("command-runner.jar arguments").fill("echo 'hello from the console'")
    page.get_by_role("button", name="Add step").click()
    note = page.locator(".flash.note")
    expect(note).to_contain_text("added")
    step_id = re.search(r"s-[A-Z0-9]+", note.inner_text()).group(0)  # type: ignore[union-attr]
    assert wait_for_step(emr, background.cluster_id, step_id)["Status"]["State"] == "COMPLETED"
    page.reload()
    page.locator("tr", has_text=step_id).get_by_role("link", name="stdout").click()
    expect(page.locator("[data-step-log]")).to_contain_text("hello from the console")
    browser.shot("flow-emr-step-stdout")
    browser.clean()


def test_the_spark_master_ui_is_linked_and_answers_on_loopback(
    browser: Browser, nimbus: NimbusServer, background: Background
) -> None:
    emr = nimbus.client("emr")
    assert wait_for_state(emr, background.cluster_id, {"WAITING"}) == "WAITING"
    answer = emr.get_on_cluster_app_ui_presigned_url(ClusterId=background.cluster_id)
    assert answer["PresignedURLReady"] is True
    assert urlsplit(answer["PresignedURL"]).hostname == "127.0.0.1"
    page = browser.open(f"/emr/{background.cluster_id}")
    link = page.get_by_role("link", name="Spark master UI")
    assert link.get_attribute("href") == answer["PresignedURL"]
    master_ui = requests.get(answer["PresignedURL"], timeout=10)
    assert master_ui.status_code == 200 and "Spark Master at spark://127.0.0.1" in master_ui.text
    dry = emr.get_on_cluster_app_ui_presigned_url(ClusterId=background.cluster_id, DryRun=True)
    assert dry["PresignedURLReady"] is True and "PresignedURL" not in dry
    for wrong in (
        {"ClusterId": background.cluster_id, "OnClusterAppUIType": "SparkHistoryServer"},
        {"ClusterId": "j-NOSUCHCLUSTER"},
    ):
        with pytest.raises(ClientError) as refused:
            emr.get_on_cluster_app_ui_presigned_url(**wrong)
        assert error_code(refused) == "InvalidRequestException"
    browser.clean()


def test_the_console_address_is_printed_at_start_and_by_status(nimbus: NimbusServer) -> None:
    address = f"{nimbus.endpoint_url}{CONSOLE}/"
    assert f"console: {address}" in nimbus.log_text()
    assert address in nimbus_cli("status", "--port", str(nimbus.port)).stdout


def test_iam_user_key_policy_and_group_from_the_console(browser: Browser, nimbus: NimbusServer) -> None:
    """A user made in the console, with a key whose secret is shown once and works with boto3
    until it is deactivated; a policy written as JSON, attached and detached; a group joined."""
    iam, suffix = nimbus.client("iam"), uuid.uuid4().hex[:6]
    user, group, policy = f"console-user-{suffix}", f"console-group-{suffix}", f"console-policy-{suffix}"
    page = browser.open("/iam/groups")
    page.get_by_label("New group name").fill(group)
    page.get_by_role("button", name="Create group").click()
    expect(page.get_by_role("heading", name=group)).to_be_visible()
    page = browser.open("/iam/policies")
    page.get_by_label("Policy name").fill(policy)
    page.get_by_label("Policy document (JSON)").fill('{"Version": "2012-10-17", "Statement": [')
    page.get_by_role("button", name="Create policy").click()  # not JSON: refused, nothing made
    expect(page.locator(".flash.error")).to_contain_text("MalformedPolicyDocument")
    assert policy not in {p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]}
    page.get_by_label("Policy name").fill(policy)
    page.get_by_role("button", name="Create policy").click()
    expect(page.locator("[data-policy-document]")).to_contain_text("s3:ListAllMyBuckets")
    policy_arn = f"arn:aws:iam::{nimbus.account_id}:policy/{policy}"
    page = browser.open("/iam/users")
    page.get_by_label("New user name").fill(user)
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("heading", name=user)).to_be_visible()
    page.get_by_label("Policy ARN").fill(policy_arn)
    page.get_by_role("button", name="Attach policy").click()
    expect(page.locator("[data-attached]")).to_contain_text(policy)
    assert [p["PolicyArn"] for p in iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]] == [
        policy_arn
    ]
    page.get_by_label("Group").select_option(group)
    page.get_by_role("button", name="Add to group").click()
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName=user)["Groups"]] == [group]
    page.get_by_role("button", name="Create access key").click()
    shown = page.locator("[data-new-key] dd")
    key_id, secret = shown.nth(0).inner_text(), shown.nth(1).inner_text()
    browser.shot("flow-iam-new-key")
    sts = nimbus.client("sts", aws_access_key_id=key_id, aws_secret_access_key=secret)
    assert sts.get_caller_identity()["Arn"] == key_arn(nimbus, user)
    page = browser.open(f"/iam/users/{user}")  # the secret is never shown again
    assert secret not in page.content()
    page.locator(f'[data-key="{key_id}"]').get_by_role("button", name="Deactivate").click()
    expect(page.locator(f'[data-key="{key_id}"]')).to_contain_text("Inactive")
    with pytest.raises(ClientError) as inactive:
        sts.get_caller_identity()
    assert error_code(inactive) == "InvalidClientTokenId"
    page.locator(f'[data-key="{key_id}"]').get_by_role("button", name="Delete").click()
    expect(page.locator(f'[data-key="{key_id}"]')).to_have_count(0)
    page.locator("[data-attached]").get_by_role("button", name="Detach").click()
    expect(page.locator("[data-attached]")).to_have_count(0)
    assert iam.list_attached_user_policies(UserName=user)["AttachedPolicies"] == []
    page = browser.open("/iam/roles")
    page.get_by_label("New role name").fill(f"console-role-{suffix}")
    page.get_by_role("button", name="Create role").click()
    page.get_by_text("Trust policy").click()
    expect(page.locator("details.json pre")).to_contain_text("sagemaker.amazonaws.com")
    browser.shot("flow-iam-role")
    browser.clean()


def push_image(nimbus: NimbusServer, repository: str, tag: str) -> str:
    """An OCI image of one layer, pushed as ``docker push`` does (the registry's HTTP API, with
    the ECR token's Basic credentials); its manifest's digest."""
    token = nimbus.client("ecr").get_authorization_token()["authorizationData"][0]["authorizationToken"]
    user, password = base64.b64decode(token).decode().split(":", 1)
    registry = f"http://127.0.0.1:{nimbus.registry_port}/v2/{repository}"
    session = requests.Session()
    session.auth = (user, password)
    layer, config = b"console layer\n", json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    described = []
    for blob, media_type in ((config, "application/vnd.oci.image.config.v1+json"), (layer, OCI_LAYER)):
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        started = session.post(f"{registry}/blobs/uploads/", timeout=30)
        assert started.status_code == 202, started.text
        location = urljoin(registry, started.headers["Location"])
        finished = session.put(location, params={"digest": digest}, data=blob, timeout=30)
        assert finished.status_code == 201, finished.text
        described.append({"mediaType": media_type, "digest": digest, "size": len(blob)})
    manifest = json.dumps(
        {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": described[0], "layers": described[1:]}
    ).encode()
    pushed = session.put(
        f"{registry}/manifests/{tag}", data=manifest, headers={"Content-Type": OCI_MANIFEST}, timeout=30
    )
    assert pushed.status_code == 201, pushed.text
    return "sha256:" + hashlib.sha256(manifest).hexdigest()


def test_sns_to_sqs_kinesis_and_ecr_pages(browser: Browser, nimbus: NimbusServer) -> None:
    """A topic published to from the console reaches a queue subscribed from the console, whose
    page receives it; a record put in a data stream is read back; an image pushed to a repository
    is listed and deleted; each thing made here is deleted here."""
    suffix = uuid.uuid4().hex[:6]
    queue, topic, stream, repository = (
        f"console-{kind}-{suffix}" for kind in ("queue", "topic", "stream", "repo")
    )
    page = browser.open("/sqs")
    page.get_by_label("New queue name").fill(queue)
    page.get_by_role("button", name="Create queue").click()
    expect(page.get_by_role("heading", name=queue)).to_be_visible()
    sqs = nimbus.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    queue_arn, topic_arn = (
        f"arn:aws:{service}:{nimbus.region}:{nimbus.account_id}:{name}"
        for service, name in (("sqs", queue), ("sns", topic))
    )
    allow_topic = {  # as in AWS, the queue's policy must let the topic send to it
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(allow_topic)})
    page = browser.open("/sns")
    page.get_by_label("New topic name").fill(topic)
    page.get_by_role("button", name="Create topic").click()
    page.get_by_label("Protocol").select_option("sqs")
    page.get_by_label("Endpoint").fill(queue_arn)
    page.get_by_role("button", name="Subscribe").click()
    expect(page.locator("[data-subscription]")).to_contain_text(queue)
    page.get_by_label("Message", exact=True).fill("hello from the console")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator(".flash.note")).to_contain_text("Published message")
    browser.shot("flow-sns-topic")
    page = browser.open(f"/sqs/queue?url={quote(queue_url, safe='')}")
    page.get_by_role("button", name="Receive").click()
    expect(page.locator("[data-message]")).to_contain_text("hello from the console")
    page.locator("[data-message]").get_by_role("button", name="Delete").click()
    expect(page.locator(".flash.note")).to_contain_text("Message deleted")
    assert sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=0).get("Messages") is None
    page.get_by_label("Message body").fill("sent from the queue page")
    page.get_by_role("button", name="Send").click()
    page.get_by_role("button", name="Receive").click()
    expect(page.locator("[data-message]")).to_contain_text("sent from the queue page")
    browser.shot("flow-sqs-queue")
    page = browser.open("/kinesis")
    page.get_by_label("New stream name").fill(stream)
    page.get_by_role("button", name="Create stream").click()
    page.get_by_label("Data (text)").fill("record one")
    page.get_by_role("button", name="Put record").click()
    expect(page.locator("[data-record]")).to_contain_text("record one")
    page.get_by_role("button", name="Delete stream").click()
    expect(page.locator(".flash.note")).to_contain_text(f"Stream {stream} deleted")
    page = browser.open("/kinesis/video")
    page.get_by_label("New video stream name").fill(stream)
    page.get_by_role("button", name="Create video stream").click()
    expect(page.get_by_text("No fragments yet.")).to_be_visible()
    page.get_by_role("button", name="Delete video stream").click()
    assert stream not in [
        s["StreamName"] for s in nimbus.client("kinesisvideo").list_streams()["StreamInfoList"]
    ]
    page = browser.open("/ecr")
    page.get_by_label("New repository name").fill(repository)
    page.get_by_role("button", name="Create repository").click()
    digest = push_image(nimbus, repository, "v1")
    page.reload()
    row = page.locator("[data-image-row]")
    expect(row).to_contain_text("v1")
    expect(row).to_contain_text(digest)
    browser.shot("flow-ecr-repository")
    row.get_by_role("button", name="Delete").click()
    expect(page.locator("[data-image-row]")).to_have_count(0)
    assert nimbus.client("ecr").list_images(repositoryName=repository)["imageIds"] == []
    for path, button in (
        (
            f"/sns/topic?arn={quote(f'arn:aws:sns:{nimbus.region}:{nimbus.account_id}:{topic}')}",
            "Delete topic",
        ),
        (f"/sqs/queue?url={quote(queue_url, safe='')}", "Delete queue"),
        (f"/ecr/repository?name={repository}", "Delete repository"),
    ):
        browser.open(path).get_by_role("button", name=button).click()
        expect(page.locator(".flash.note")).to_contain_text("deleted")
    browser.clean()


# ---- refusals -------------------------------------------------------------------------------------


def test_requests_without_a_session_or_csrf_token_are_refused(browser: Browser, nimbus: NimbusServer) -> None:
    base = nimbus.endpoint_url + CONSOLE
    anonymous = requests.get(f"{base}/s3", allow_redirects=False, timeout=30)
    assert anonymous.status_code == 303 and "/sign-in" in anonymous.headers["location"]
    assert requests.get(f"{base}/s3?format=json", timeout=30).status_code == 401
    assert requests.get(f"{nimbus.endpoint_url}/_nimbus/recent-calls", timeout=30).status_code == 403
    bucket = f"forged-{uuid.uuid4().hex[:8]}"
    assert requests.post(f"{base}/s3/create-bucket", data={"bucket": bucket}, timeout=30).status_code == 401
    # the browser's own session, without the form's CSRF token, or from another site's page
    without_token = browser.context.request.post(f"{base}/s3/create-bucket", form={"bucket": bucket})
    assert without_token.status == 403
    token = browser.page.locator('meta[name="csrf-token"]').get_attribute("content") or ""
    cross_site = browser.context.request.post(
        f"{base}/s3/create-bucket",
        form={"bucket": bucket, "csrf": token},
        headers={"Origin": "http://attacker.example"},
    )
    assert cross_site.status == 403
    with pytest.raises(ClientError):
        nimbus.client("s3").head_bucket(Bucket=bucket)
    missing = browser.context.request.get(f"{base}/s3/{bucket}")  # AWS's error, shown as AWS said it
    assert missing.status == 404 and "NoSuchBucket" in missing.text()
    cookie = next(c for c in browser.context.cookies() if c["name"] == "nimbus_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == CONSOLE


def test_an_iam_user_acts_with_their_own_permissions(nimbus: NimbusServer, photos: dict[str, Any]) -> None:
    """The console goes through the same authorization step as the API: a user allowed only to
    list buckets sees the list, and is refused a bucket, with IAM's own answer, and a face's
    thumbnail."""
    iam = nimbus.client("iam")
    user = f"viewer-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="list-only",
        PolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Action": "s3:ListAllMyBuckets", "Resource": "*"}]}',
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    session = requests.Session()
    base = nimbus.endpoint_url + CONSOLE
    wrong = console_sign_in(session, base, key["AccessKeyId"], "x" * 40)
    assert wrong.status_code == 401 and "SignatureDoesNotMatch" in wrong.text
    signed_in = console_sign_in(session, base, key["AccessKeyId"], key["SecretAccessKey"])
    assert signed_in.status_code == 200 and f"user/{user}" in signed_in.text
    token = re.search(r'name="csrf-token" content="([^"]+)"', signed_in.text).group(1)  # type: ignore[union-attr]
    assert session.get(f"{base}/s3?format=json", timeout=30).status_code == 200
    bucket = f"denied-{uuid.uuid4().hex[:8]}"
    refused = session.post(
        f"{base}/s3/create-bucket",
        data={"bucket": bucket, "csrf": token},
        headers={"Accept": "application/json"},
        timeout=30,
    )
    assert refused.status_code == 403 and refused.json()["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError):
        nimbus.client("s3").head_bucket(Bucket=bucket)
    denied = session.get(f"{base}/lex?format=json", timeout=30)
    assert denied.status_code == 403 and denied.json()["Error"]["Code"] == "AccessDeniedException"
    rekognition, collection = nimbus.client("rekognition"), f"private-{uuid.uuid4().hex[:8]}"
    rekognition.create_collection(CollectionId=collection)
    indexed = rekognition.index_faces(CollectionId=collection, Image={"Bytes": photos["head"].read_bytes()})
    face = indexed["FaceRecords"][0]["Face"]["FaceId"]
    thumbnail = f"{base}/rekognition/collections/{collection}/faces/{face}/thumbnail"
    hidden = session.get(thumbnail, headers={"Accept": "application/json"}, timeout=30)
    assert hidden.json()["Error"]["Code"] == "AccessDeniedException"
    videos = session.get(f"{base}/rekognition/video?format=json", timeout=30)
    assert videos.status_code == 200 and videos.json()["collections"] is None  # typed in, not picked
    overview = session.get(f"{base}/?format=json&console=1", timeout=30).json()
    assert {call["arn"] for call in overview["calls"] + overview["errors"]} == {key_arn(nimbus, user)}
    assert any(call["operation"] == "CreateBucket" for call in overview["errors"])


def key_arn(nimbus: NimbusServer, user: str) -> str:
    return f"arn:aws:iam::{nimbus.account_id}:user/{user}"


def console_sign_in(
    session: requests.Session, base: str, access_key: str, secret_key: str
) -> requests.Response:
    """The sign-in form's answer to a key pair, for a script's session (no browser)."""
    form = session.get(f"{base}/sign-in", timeout=30).text
    token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    data = {"csrf": token, "access_key_id": access_key, "secret_access_key": secret_key}
    return session.post(f"{base}/sign-in", data=data, timeout=30)


def test_a_slack_channel_created_listed_and_deleted_from_the_console(
    browser: Browser, nimbus: NimbusServer, background: Background
) -> None:
    """Through Nimbus's signed channel extension, authorized as lex:*BotChannel: the callback URL is
    shown, the channel answers its platform's webhook, and a user allowed only to list is refused."""
    path = f"/lex/{background.bot_id}/channels?alias=TSTALIASID&locale={LOCALE}"
    page = browser.open(path)
    form = page.get_by_role("form", name="New Slack channel")
    name = f"slack-{uuid.uuid4().hex[:6]}"
    form.get_by_label("Name").fill(name)
    form.get_by_label("Signing secret").fill("console-signing-secret")
    form.get_by_label("Bot user OAuth token").fill("xoxb-console")
    form.get_by_role("button", name="Create Slack channel").click()
    expect(page.locator(".flash.note")).to_contain_text("created")
    callback = page.get_by_label(f"Callback URL of {name}").input_value()
    assert callback.startswith(f"{nimbus.endpoint_url}/_nimbus/lex-channels/slack/webhook/")
    challenge = requests.post(callback, json={"type": "url_verification", "challenge": "c"}, timeout=30)
    assert challenge.status_code == 401  # unsigned by Slack's secret: the channel is live and checks it
    browser.shot("flow-lex-channels")
    channel_id = callback.rsplit("/", 1)[1]

    iam, user = nimbus.client("iam"), f"channels-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=user)
    listing = ["lex:ListBotAliases", "lex:ListBotLocales", "lex:ListBotChannels"]
    statement = {"Effect": "Allow", "Action": listing, "Resource": "*"}
    iam.put_user_policy(
        UserName=user,
        PolicyName="list-channels",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    )
    key = iam.create_access_key(UserName=user)["AccessKey"]
    session, base = requests.Session(), nimbus.endpoint_url + CONSOLE
    signed_in = console_sign_in(session, base, key["AccessKeyId"], key["SecretAccessKey"])
    token = re.search(r'name="csrf-token" content="([^"]+)"', signed_in.text).group(1)  # type: ignore[union-attr]
    listed = session.get(f"{base}{path}&format=json", timeout=30).json()["channels"]
    assert [channel["name"] for channel in listed] == [name] and "secrets" not in listed[0]
    refused = session.post(
        f"{base}/lex/{background.bot_id}/channels/{channel_id}/delete",
        data={"csrf": token, "alias": "TSTALIASID", "locale": LOCALE},
        headers={"Accept": "application/json"},
        timeout=30,
    )
    assert refused.status_code == 403 and refused.json()["Error"]["Code"] == "AccessDeniedException"
    assert "lex:DeleteBotChannel" in refused.json()["Error"]["Message"]

    page = browser.open(path)
    page.locator("tr", has_text=name).get_by_role("button", name="Delete").click()
    expect(page.locator(".flash.note")).to_contain_text("deleted")
    expect(page.locator("tr", has_text=name)).to_have_count(0)
    again = browser.context.request.post(
        f"{nimbus.endpoint_url}{CONSOLE}/lex/{background.bot_id}/channels/{channel_id}/delete",
        form={
            "csrf": page.locator('meta[name="csrf-token"]').get_attribute("content") or "",
            "alias": "TSTALIASID",
            "locale": LOCALE,
        },
        headers={"Accept": "application/json"},
    )
    assert again.status == 404 and again.json()["Error"]["Code"] == "ResourceNotFoundException"
    browser.clean()


# ---- every page -----------------------------------------------------------------------------------


def segment_job(nimbus: NimbusServer, bucket: str, key: str) -> str:
    """The id of a segment detection job on the video, once it has succeeded."""
    rekognition = nimbus.client("rekognition")
    job = rekognition.start_segment_detection(
        Video={"S3Object": {"Bucket": bucket, "Name": key}}, SegmentTypes=["SHOT", "TECHNICAL_CUE"]
    )["JobId"]
    for _ in range(600):
        status = rekognition.get_segment_detection(JobId=job)["JobStatus"]
        if status != "IN_PROGRESS":
            assert status == "SUCCEEDED", status
            return str(job)
        time.sleep(0.2)
    raise AssertionError(f"segment detection {job} is still running")


def test_every_page_opens_cleanly_at_desktop_and_phone_width(
    browser: Browser, nimbus: NimbusServer, background: Background, photos: dict[str, Any]
) -> None:
    s3 = nimbus.client("s3")
    s3.put_object(Bucket=background.bucket, Key="photos/astronaut.jpg", Body=photos["astronaut"].read_bytes())
    models = nimbus.client("sagemaker")
    emr_steps = nimbus.client("emr").list_steps(ClusterId=background.cluster_id)["Steps"]
    step_path = f"/emr/{background.cluster_id}/steps/{emr_steps[0]['Id']}/log" if emr_steps else "/emr"
    log_stream = nimbus.client("logs").describe_log_streams(
        logGroupName=TRAINING_LOGS, logStreamNamePrefix=f"{background.training_job}/"
    )["logStreams"][0]["logStreamName"]
    names = f"every-page-{uuid.uuid4().hex[:6]}"
    nimbus.client("iam").create_user(UserName=names)
    policy = nimbus.client("iam").create_policy(
        PolicyName=names,
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sns:*", "Resource": "*"}]}
        ),
    )["Policy"]["Arn"]
    aws_policy = nimbus.client("iam").list_policies(Scope="AWS", MaxItems=1)["Policies"][0]["Arn"]
    topic = nimbus.client("sns").create_topic(Name=names)["TopicArn"]
    queue = nimbus.client("sqs").create_queue(QueueName=names)["QueueUrl"]
    nimbus.client("kinesis").create_stream(StreamName=names, ShardCount=1)
    nimbus.client("kinesisvideo").create_stream(StreamName=names)
    nimbus.client("ecr").create_repository(repositoryName=names)
    processor = collection = f"{names}-faces"
    face_search_processor(nimbus, processor)  # and a collection of its name, with a face (a thumbnail)
    nimbus.client("rekognition").index_faces(
        CollectionId=collection, Image={"Bytes": photos["astronaut"].read_bytes()}
    )
    s3.put_object(
        Bucket=background.bucket,
        Key="videos/two shots.mp4",
        Body=scene_video([sample_images.astronaut(), sample_images.chelsea()], seconds=1),
    )
    segments = segment_job(nimbus, background.bucket, "videos/two shots.mp4")
    pages = {
        "overview": "/",
        "s3-buckets": "/s3",
        "s3-objects": f"/s3/{background.bucket}?prefix=photos/",
        "s3-object": f"/s3/{background.bucket}/object?key={quote('photos/astronaut.jpg')}",
        "s3-settings": f"/s3/{background.bucket}/settings",
        "rekognition-lab": "/rekognition",
        "rekognition-collections": "/rekognition/collections",
        "rekognition-collection": f"/rekognition/collections/{collection}",
        "rekognition-custom-labels": "/rekognition/custom-labels",
        "lex-bots": "/lex",
        "lex-bot": f"/lex/{background.bot_id}",
        "lex-locale": f"/lex/{background.bot_id}/locales/{LOCALE}",
        "lex-missed": f"/lex/{background.bot_id}/locales/{LOCALE}/missed",
        "lex-chat": f"/lex/{background.bot_id}/chat",
        "lex-channels": f"/lex/{background.bot_id}/channels?alias=TSTALIASID&locale={LOCALE}",
        "sagemaker-training-jobs": "/sagemaker",
        "sagemaker-training-job": f"/sagemaker/training/{background.training_job}",
        "sagemaker-models": "/sagemaker/models",
        "sagemaker-endpoints": "/sagemaker/endpoints",
        "sagemaker-transform": "/sagemaker/transform",
        "sagemaker-tuning": "/sagemaker/tuning",
        "sagemaker-processing": "/sagemaker/processing",
        "emr-clusters": "/emr",
        "emr-cluster": f"/emr/{background.cluster_id}",
        "emr-step-log": step_path,
        "logs-groups": "/logs",
        "logs-group": f"/logs/group?name={quote(TRAINING_LOGS)}&pattern=error",
        "logs-stream": f"/logs/stream?group={quote(TRAINING_LOGS)}&stream={quote(log_stream)}",
        "s3-versions": f"/s3/{background.bucket}/versions?prefix=photos/",
        "rekognition-video": "/rekognition/video",
        "rekognition-video-segments": f"/rekognition/video/segments/{segments}",
        "rekognition-streams": "/rekognition/streams",
        "rekognition-stream": f"/rekognition/streams/processor?name={processor}",
        "iam-users": "/iam/users",
        "iam-user": f"/iam/users/{names}",
        "iam-roles": "/iam/roles",
        "iam-policies": "/iam/policies",
        "iam-policy": f"/iam/policy?arn={quote(policy)}",
        "iam-policy-aws": f"/iam/policy?arn={quote(aws_policy)}",
        "sns-topics": "/sns",
        "sns-topic": f"/sns/topic?arn={quote(topic)}",
        "sqs-queues": "/sqs",
        "sqs-queue": f"/sqs/queue?url={quote(queue, safe='')}",
        "kinesis-streams": "/kinesis",
        "kinesis-stream": f"/kinesis/streams/{names}?read=1",
        "kinesis-video-streams": "/kinesis/video",
        "kinesis-video-stream": f"/kinesis/video/{names}",
        "ecr-repositories": "/ecr",
        "ecr-repository": f"/ecr/repository?name={names}",
    }
    assert models.list_training_jobs()["TrainingJobSummaries"]
    page = browser.page
    for name, path in pages.items():
        for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(viewport)
            assert browser.open(path).url.startswith(nimbus.endpoint_url + CONSOLE), name
            expect(page.locator("main h1")).to_be_visible()
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (
                f"{name} is {overflow} px wider than a {width} screen: {page.evaluate(WIDEST)}"
            )
            page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)
        twin = browser.context.request.get(
            nimbus.endpoint_url + CONSOLE + path, headers={"Accept": "application/json"}
        )
        assert twin.status == 200 and isinstance(twin.json(), dict), name
        browser.clean()
    page.set_viewport_size(DESKTOP)
    page.emulate_media(color_scheme="dark")
    browser.open("/")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(15, 18, 22)"
    page.screenshot(path=SCREENSHOTS / "overview-dark.png", full_page=True)
    page.emulate_media(color_scheme="light")
    page.keyboard.press("Tab")  # the first stop is the link that skips to the content
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    browser.clean()
