"""The dashboard in a real browser (Playwright driving Debian's Chromium) against a real
``relay serve`` app and the Calendly sandbox on loopback ports: the operator's story from
sign-in to reconnect. Every walk saves screenshots under its temporary directory, and every
page it sees is checked for console errors, failed requests and inline script."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from relay_browser import Stack, chromium, stack

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

#: How long a page may take to show what the test waits for (a bound, not a speed goal).
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with stack(tmp_path_factory.mktemp("browser-stack")) as started:
        yield started


@pytest.fixture(scope="module")
def browser(live: Stack) -> Iterator[Any]:
    executable = chromium()
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


class Walk:
    """One browser tab's walk: its screenshots, and what went wrong on its pages."""

    def __init__(self, page: Any, live: Stack, shots: Path) -> None:
        self.page = page
        self.live = live
        self.shots = shots
        self.console: list[str] = []
        self.failed: list[str] = []
        self.expected_status: set[int] = set()
        page.on("console", self._console)
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)
        page.set_default_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        # the browser logs each 4xx answer it loads; those the walk provokes are expected
        if any(f"status of {s} " in message.text for s in self.expected_status):
            return
        self.console.append(message.text)

    def _request_failed(self, request: Any) -> None:
        # a page's stream and its live refresh are cut when it navigates away: not a failure
        if "ERR_ABORTED" in (request.failure or ""):
            return
        self.failed.append(f"{request.url}: {request.failure}")

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.status not in self.expected_status:
            self.failed.append(f"{response.url}: {response.status}")

    def goto(self, path: str) -> None:
        self.page.goto(self.live.url + "/dashboard" + path)

    def sign_in(self, scope: str) -> None:
        self.goto("/signin")
        self.page.get_by_label("API token").fill(self.live.tokens[scope])
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.get_by_role("heading", name="Overview")).to_be_visible()

    def shot(self, name: str) -> None:
        """Check the page (no inline script) and save its screenshot as ``name``."""
        inline = self.page.evaluate("document.querySelectorAll('script:not([src])').length")
        assert inline == 0, f"{name}: inline script"
        # (the browser itself may leave an empty style attribute on a form field)
        styled = self.page.evaluate("document.querySelectorAll('[style]:not([style=\"\"])').length")
        assert styled == 0, f"{name}: inline style"
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def done(self) -> None:
        assert self.console == [], self.console
        assert self.failed == [], self.failed
        assert list(self.shots.glob("*.png")), "no screenshot saved"


@pytest.fixture
def walk(browser: Any, live: Stack, tmp_path: Path) -> Iterator[Walk]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    shots = tmp_path / "screenshots"
    shots.mkdir()
    walking = Walk(page, live, shots)
    yield walking
    context.close()
    walking.done()


def latest(live: Stack, **filters: Any) -> Any:
    rows = live.call(live.relay.store.list_executions(limit=1, **filters))
    return rows[0] if rows else None


def test_a_booking_appears_and_completes_live_and_its_output_reads(walk: Walk) -> None:
    page, live = walk.page, walk.live
    walk.sign_in("admin")
    walk.shot("overview")
    walk.goto("/executions?instance=watch")
    expect(page.locator("body[data-live-open=yes]")).to_have_count(1)
    before = page.locator("tr[data-execution]").count()
    booked = live.book()
    # no reload: the page's live region takes the new execution in as it runs and completes
    rows = page.locator("tr[data-execution]")
    expect(rows).to_have_count(before + 1)
    expect(rows.first.locator(".badge")).to_have_text("completed")
    walk.shot("executions-live")
    rows.first.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name=re.compile("Execution"))).to_be_visible()
    step = page.locator('li[data-path="meeting"]')
    step.locator("summary", has_text="output").click()
    output = step.locator("details", has_text="output").locator("pre")
    expect(output).to_be_visible()
    assert booked["event"] in output.inner_text()
    walk.shot("execution-output")
    # the instance page's deliveries panel shows the booking's delivery, accepted
    execution = page.url.rsplit("/", 1)[-1]
    walk.goto("/instances/watch")
    delivery = page.locator("#deliveries tr.delivery", has=page.locator(f'a[href$="{execution}"]'))
    expect(delivery.locator(".badge").first).to_have_text("accepted")


def test_a_failure_is_replayed_from_its_failed_step(walk: Walk) -> None:
    page, live = walk.page, walk.live
    walk.sign_in("operate")
    walk.goto("/executions?instance=watch&status=failed")
    expect(page.locator("body[data-live-open=yes]")).to_have_count(1)
    live.break_calendar(True)
    try:
        live.book()
        row = page.locator("tr[data-execution]").first
        expect(row.locator(".badge")).to_have_text("failed")
    finally:
        live.break_calendar(False)
    walk.shot("failed-listed")
    row.get_by_role("link").first.click()
    expect(page.get_by_role("alert").first).to_contain_text("424")
    expect(page.get_by_label("From step")).to_have_value("busy")
    walk.shot("failed-execution")
    page.get_by_role("button", name="Replay").click()
    expect(page.get_by_text("Replay recorded")).to_be_visible()
    expect(page.locator("h1 .badge")).to_have_text("completed")
    expect(page.locator('li[data-path="meeting"] .badge').first).to_have_text("reused")
    walk.shot("replayed")


def test_a_set_of_executions_is_bulk_replayed_with_its_count_first(walk: Walk) -> None:
    page, live = walk.page, walk.live
    for _ in range(2):
        live.call(_booked(live))
    walk.sign_in("operate")
    walk.goto("/executions?instance=watch&status=completed")
    boxes = page.get_by_role("checkbox")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.get_by_role("button", name="Replay selected…").click()
    expect(page.locator("#replay-count")).to_contain_text("2 executions will be replayed")
    walk.shot("bulk-confirm")
    page.get_by_role("button", name="Replay 2").click()
    expect(page.locator("#replays li")).to_have_count(2)
    walk.shot("bulk-done")
    live.call(_settled(live))


async def _booked(live: Stack) -> Any:
    """Book, and the new execution of ``watch`` once it has finished."""
    from relay_waiting import until

    before = {r.id for r in await live.relay.store.list_executions(instance="watch", limit=1000)}
    live.sandbox.book()

    async def finished() -> Any:
        rows = await live.relay.store.list_executions(instance="watch", limit=1000)
        new = [r for r in rows if r.id not in before]
        return new[0] if new and new[0].status in ("completed", "failed") else None

    return await until(finished, "the booking's execution to finish")


async def _settled(live: Stack) -> None:
    from relay_waiting import until

    async def finished() -> bool:
        rows = await live.relay.store.list_executions(instance="watch", limit=100)
        return all(r.status in ("completed", "failed", "canceled") for r in rows)

    await until(finished, "the executions of watch to finish")


def test_a_paused_instance_holds_a_booking_until_it_resumes(walk: Walk) -> None:
    page, live = walk.page, walk.live
    walk.sign_in("operate")
    walk.goto("/instances/watch")
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("status").first).to_contain_text("Paused")
    expect(page.locator("h1 .badge")).to_have_text("paused")
    live.book()
    held = page.locator("#live-region tr[data-execution]").first
    expect(held.locator(".badge")).to_have_text("held")
    # the deliveries panel is live too: the booking's delivery, accepted, names that execution
    execution = held.get_attribute("data-execution")
    delivered = page.locator("#deliveries tr.delivery").first
    expect(delivered.locator(f'a[href$="/executions/{execution}"]')).to_have_count(1)
    expect(delivered.locator(".badge").first).to_have_text("accepted")
    walk.shot("held")
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("h1 .badge")).to_have_text("running")
    expect(page.locator("#live-region tr[data-execution]").first.locator(".badge")).to_have_text(
        "completed"
    )
    expect(page.locator("#deliveries tr.delivery").first.locator(".badge").last).to_have_text(
        "completed"
    )
    walk.shot("resumed")


def test_a_redeploy_is_checked_then_its_version_runs(walk: Walk) -> None:
    page, live = walk.page, walk.live
    walk.sign_in("admin")
    walk.goto("/instances/watch")
    box = page.get_by_label("Flow (YAML)")
    text = box.input_value()
    box.fill(text + "  - id: broken\n    action: relay.nothing\n")
    walk.expected_status.add(422)
    page.get_by_role("button", name="Validate and redeploy").click()
    expect(page.locator("#redeploy-summary")).to_contain_text("nothing changed")
    expect(page.locator("tr.has-problem")).to_have_count(1)
    walk.shot("redeploy-problems")
    box = page.get_by_label("Flow (YAML)")
    box.fill(text + "  - id: added\n    action: relay.value\n    inputs: {value: two}\n")
    page.get_by_role("button", name="Validate and redeploy").click()
    expect(page.get_by_text("Redeployed")).to_be_visible()
    expect(page.get_by_role("heading", name="Flow (version 2)")).to_be_visible()
    row = live.call(_booked(live))
    walk.goto(f"/executions/{row.id}")
    expect(page.locator("#flow-version")).to_have_text("2")
    expect(page.locator('li[data-path="added"]')).to_have_count(1)
    walk.shot("version-2")


def test_a_connection_is_reconnected_through_the_oauth_pages(walk: Walk) -> None:
    page, live = walk.page, walk.live
    before = live.call(live.relay.store.tokens.load("connection:cal"))
    walk.sign_in("admin")
    walk.goto("/connections")
    walk.shot("connections")
    page.get_by_role("button", name="Test").click()
    expect(page.locator("#test-result")).to_have_text("The test call succeeded.")
    walk.goto("/connections")
    page.get_by_role("button", name="Reconnect").click()
    walk.shot("reconnect")
    page.get_by_role("link", name="Continue to the authorization page").click()
    # the sandbox's authorization page consents at once and sends the browser back
    expect(page.locator("#connected")).to_contain_text("cal is connected again")
    assert page.url.startswith(live.url + "/dashboard/oauth/callback")
    walk.shot("reconnected")
    after = live.call(live.relay.store.tokens.load("connection:cal"))
    assert after is not None and before is not None
    assert after.access_token != before.access_token


def test_a_read_token_sees_no_buttons_and_a_forced_post_is_refused(walk: Walk) -> None:
    page, live = walk.page, walk.live
    row = latest(live, instance="watch") or live.call(_booked(live))
    walk.sign_in("read")
    for path in ("/", "/instances/watch", f"/executions/{row.id}", "/connections", "/executions"):
        walk.goto(path)
        names = page.locator("main button:visible").all_inner_texts()
        # what a reader may press only reads: the search, and copying the webhook URL
        assert set(names) <= {"Search", "Copy"}, (path, names)
    walk.shot("read-only")
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    walk.expected_status.add(403)
    answer = page.request.post(
        live.url + "/dashboard/instances/watch/pause", form={"csrf": csrf or ""}
    )
    assert answer.status == 403 and "scope operate" in answer.text()
    instance = live.call(live.relay.store.get_instance("watch"))
    assert instance is not None and instance.status == "running"


def test_hostile_data_in_a_payload_is_shown_as_text(walk: Walk) -> None:
    page, live = walk.page, walk.live
    planted = {
        "body": {
            "html": "<script>window.pwned = 1</script><img src=x onerror='window.pwned=2'>",
            "closing": "</code></pre></details><h1 id=planted>planted</h1>",
            "long": "L" * 200_000,
            "deep": json.loads("[" * 150 + "]" * 150),
        }
    }
    execution = live.call(live.relay.start_manual("watch", planted))
    walk.sign_in("read")
    walk.goto(f"/executions/{execution}")
    page.locator("summary", has_text="payload").click()
    shown = page.locator("details", has_text="payload").locator("pre")
    expect(shown).to_contain_text("<script>window.pwned = 1</script>")
    expect(shown).to_contain_text("more characters not shown")
    assert page.evaluate("window.pwned") is None
    assert page.locator("#planted").count() == 0
    assert page.locator("main img").count() == 0
    scripts = page.evaluate("[...document.scripts].map(s => s.src)")
    assert scripts == [live.url + "/dashboard/static/dashboard.js"]
    walk.shot("hostile")
    live.call(live.relay.cancel(execution))


def test_the_pages_fit_a_phone_and_the_dark_scheme(walk: Walk) -> None:
    page = walk.page
    page.set_viewport_size({"width": 390, "height": 844})
    page.emulate_media(color_scheme="dark")
    walk.sign_in("admin")
    for name, path in (("phone-overview", "/"), ("phone-instance", "/instances/watch")):
        walk.goto(path)
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= 390 + 1, (path, wide)
        walk.shot(name)
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(20, 22, 26)"
    # every control can be reached with the keyboard: Tab moves to the skip link first
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"


SLOW = """\
name: slow
steps:
  - id: first
    action: relay.sleep
    inputs: {seconds: 3}
  - id: second
    action: relay.sleep
    inputs: {seconds: 3}
"""


def test_a_running_execution_updates_live_as_its_steps_complete(walk: Walk) -> None:
    page, live = walk.page, walk.live
    flow = live.home / "slow.yaml"
    flow.write_text(SLOW)
    live.call(live.relay.deploy(flow, {}, "slow"))
    walk.sign_in("read")
    execution = live.call(live.start("slow", {}))
    walk.goto(f"/executions/{execution}")
    # read while its first step sleeps: then, without a reload, each step as it completes
    expect(page.locator("body[data-unfinished=yes]")).to_have_count(1)
    expect(page.locator('li[data-path="second"]')).to_have_count(0)
    walk.shot("running")
    expect(page.locator('li[data-path="first"] .badge')).to_have_text("completed")
    expect(page.locator('li[data-path="second"] .badge')).to_have_text("completed")
    expect(page.locator("h1 .badge")).to_have_text("completed")
    walk.shot("completed-live")
