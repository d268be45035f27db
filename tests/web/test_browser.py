"""The web link and the panel in a real browser (Debian's chromium through Playwright), with axe-core.

Each page visited is checked with axe-core against the WCAG 2.2 AA rules (no
violations allowed), watched for Content-Security-Policy violations, and
photographed (into $CPBRIDGE_SCREENSHOTS, e.g. docs/screenshots/ for the user guide).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import sync_playwright
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from web_helpers import (
    ORG,
    PANEL_ACCOUNT,
    PANEL_SECRET,
    PASSWORD,
    PIN,
    add_user,
    next_code,
    seed_child,
    settings_for,
    shield,
)

from cpbridge.directory.app import create_app
from cpbridge.model import Actor, Identifier
from cpbridge.testing import ServerThread, free_port
from cpbridge.web.embed import mint_context, register_context

pytestmark = pytest.mark.browser

#: Screenshots land in a temporary folder unless CPBRIDGE_SCREENSHOTS names one; refresh the
#: user guide's with `CPBRIDGE_SCREENSHOTS=docs/screenshots .venv/bin/pytest -m browser tests/web`.
SCREENSHOTS = Path(os.environ.get("CPBRIDGE_SCREENSHOTS") or Path(tempfile.gettempdir()) / "cpbridge-screenshots")
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE = Axe()


class Site:
    """The directory, two host systems' pages (one allowed to frame the panel, one not), and seeds."""

    def __init__(self, tmp: Path):
        host_port, other_port = free_port(), free_port()
        self.host_origin = f"http://127.0.0.1:{host_port}"
        settings = settings_for(tmp, frame_origins=[self.host_origin])
        self.app = create_app(settings)
        self.sessions = self.app.state.endpoint.sessions
        self.directory = ServerThread(self.app).start()
        self.url = self.directory.url
        self.panel = next(r for r in self.app.routes if getattr(r, "path", "") == "/embed").app.state.panel
        self.host = ServerThread(self._host_app(), host_port).start()
        self.other = ServerThread(self._host_app(), other_port).start()
        self.other_origin = self.other.url
        self.child = seed_child(self.sessions, given="Amelia", sensitive=True)
        self.shielded = seed_child(self.sessions, given="Grace")
        shield(self.sessions, self.shielded.directory_id)
        add_user(self.sessions, "pat", ["practitioner"], name="Pat Jones")
        add_user(self.sessions, "olly", ["shield_override"], name="Olly Grant")
        add_user(self.sessions, "mags", ["management_team"], name="Mags Ward")

    def _host_app(self) -> Starlette:
        """A local case system's page: it registers a signed context server-side and frames the panel."""
        site = self

        def case_page(request):
            if "launch" in request.query_params:
                launch = site.url + request.query_params["launch"]
            else:
                token = mint_context(
                    PANEL_ACCOUNT,
                    PANEL_SECRET,
                    child=Identifier(scheme="local", system="ics", value=request.path_params["ref"]),
                    practitioner=Actor(user_id="sw-101", name="Kim Brown", organisation=ORG, role="practitioner"),
                    reason="direct_work",
                )
                with httpx.Client() as client:
                    launch = register_context(client, site.url, token)
            return HTMLResponse(
                "<!DOCTYPE html><html lang='en'><head><title>Case record (local system)</title></head><body>"
                "<main><h1>Case record in the local system</h1>"
                f"<iframe id='directory-panel' title=\"Children's contact directory\" src='{launch}' "
                "width='900' height='1600' style='border:1px solid #b1b4b6'></iframe></main></body></html>"
            )

        return Starlette(routes=[Route("/case/{ref}", case_page), Route("/frame", case_page)])

    def stop(self) -> None:
        for server in (self.other, self.host, self.directory):
            server.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = Site(tmp_path_factory.mktemp("browser"))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page_factory(browser):
    contexts = []

    def make(javascript: bool = True):
        context = browser.new_context(viewport={"width": 1100, "height": 900}, java_script_enabled=javascript)
        contexts.append(context)
        page = context.new_page()
        page.csp_violations = []  # type: ignore[attr-defined]
        page.on(
            "console",
            lambda msg: page.csp_violations.append(msg.text) if "Content Security Policy" in msg.text else None,  # type: ignore[attr-defined]
        )
        return page

    yield make
    for context in contexts:
        context.close()


def check(page_or_frame, name: str, page=None) -> None:
    """axe-core (WCAG 2.2 AA) finds nothing, no CSP violation happened, and a screenshot is saved."""
    results = AXE.run(page_or_frame, options={"runOnly": {"type": "tag", "values": WCAG}, "resultTypes": ["violations"]})
    violations = results.response["violations"]
    assert not violations, f"{name}: " + json.dumps(
        [{"id": v["id"], "nodes": [n["html"][:120] for n in v["nodes"]]} for v in violations], indent=1
    )
    top = page or page_or_frame
    assert not top.csp_violations, f"{name}: {top.csp_violations}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    top.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page, site: Site, user_id: str, shots: bool = False) -> None:
    page.goto(f"{site.url}/web/sign-in")
    page.fill("#user_id", user_id)
    page.fill("#password", PASSWORD)
    if shots:
        check(page, "sign-in")
    page.click("button:has-text('Continue')")
    page.wait_for_url("**/web/sign-in/code")
    page.fill("#pin", PIN)
    page.fill("#code", next_code(site.sessions, user_id))
    if shots:
        check(page, "sign-in-code")
    page.click("button:has-text('Sign in')")
    page.wait_for_load_state()


def search(page, site: Site, child=None, identifier: str | None = None, reason: str = "direct_work") -> None:
    page.goto(f"{site.url}/web/search")
    page.select_option("#reason", reason)
    if identifier:
        page.fill("#identifier", identifier)
    else:
        page.fill("#family_name", child.family_name)
        page.fill("#dob-day", str(child.date_of_birth.day))
        page.fill("#dob-month", str(child.date_of_birth.month))
        page.fill("#dob-year", str(child.date_of_birth.year))
    page.click("button:has-text('Search')")
    page.wait_for_load_state()


def test_pages_work_without_javascript(site, page_factory):
    page = page_factory(javascript=False)
    page.set_default_timeout(10_000)
    sign_in(page, site, "pat")
    assert page.url.endswith("/web/search")
    search(page, site, site.child)
    page.click(f"a:has-text('Amelia {site.child.family_name}')")
    page.wait_for_load_state()
    assert "Sam Patel" in page.inner_text("main")


def test_practitioner_signs_in_searches_and_reads_a_record(site, page_factory):
    page = page_factory()
    sign_in(page, site, "pat", shots=True)
    assert page.url.endswith("/web/search")
    check(page, "search")
    # The minimum fields: a family name alone is refused with a GOV.UK error summary.
    page.select_option("#reason", "direct_work")
    page.fill("#family_name", site.child.family_name)
    page.click("button:has-text('Search')")
    assert page.locator(".govuk-error-summary").is_visible()
    assert "Enter more details" in page.inner_text(".govuk-error-summary")
    check(page, "search-errors")
    search(page, site, site.child)
    assert "1 record found" in page.inner_text("main")
    check(page, "results")
    page.click(f"a:has-text('Amelia {site.child.family_name}')")
    page.wait_for_load_state()
    main = page.inner_text("main")
    assert "Sam Patel" in main and "0113 222 3333" in main and "CAF completed" in main
    # The sensitive (mental health) involvement: its contact, but no service name.
    assert "Unspecified service" in main and "Ria Kaur" in main and "Mental health" not in main
    assert site.child.directory_id not in page.url
    check(page, "record")


def test_override_with_a_reason_alerts_the_management_team(site, page_factory):
    page = page_factory()
    sign_in(page, site, "olly")
    search(page, site, identifier=site.shielded.directory_id, reason="safeguarding")
    page.click(f"a:has-text('Grace {site.shielded.family_name}')")
    page.wait_for_load_state()
    assert "This record is shielded" in page.inner_text("main") and "Sam Patel" not in page.inner_text("main")
    check(page, "record-shielded")
    page.click("a:has-text('Override the shield')")
    page.wait_for_load_state()
    assert "alerted as soon as you continue" in page.inner_text("main")
    page.click("button:has-text('Override and see the full record')")  # no reason yet
    page.wait_for_load_state()
    assert "Select why you need to see the full record" in page.inner_text(".govuk-error-summary")
    check(page, "override-errors")
    page.check("input[value='child_protection_enquiry']")
    page.check("input[name='understood']")
    check(page, "override")
    page.click("button:has-text('Override and see the full record')")
    page.wait_for_load_state()
    main = page.inner_text("main")
    assert "Shield overridden" in main and "Sam Patel" in main and "12 Park Lane" in main
    check(page, "record-overridden")

    manager = page_factory()
    sign_in(manager, site, "mags")
    assert manager.url.endswith("/web/manage")
    check(manager, "manage")
    manager.click(".govuk-service-navigation a:has-text('Alerts')")
    manager.wait_for_load_state()
    alerts = manager.inner_text("main")
    assert "Olly Grant" in alerts and site.shielded.directory_id in alerts and "Child protection enquiry" in alerts
    check(manager, "manage-alerts")
    for name, path in [
        ("manage-shields", "/web/manage/shields"),
        ("manage-reviews", "/web/manage/reviews"),
        ("manage-audit", "/web/manage/audit"),
        ("manage-subject-access", "/web/manage/subject-access"),
    ]:
        manager.goto(site.url + path)
        assert manager.locator("h1").count() == 1
        check(manager, name)
    manager.goto(site.url + "/web/manage/shields")
    assert site.shielded.directory_id in manager.inner_text("main")
    manager.goto(site.url + "/web/manage/subject-access")
    manager.fill("#directory_id", site.shielded.directory_id)
    manager.click("button:has-text('Produce the report')")
    manager.wait_for_load_state()
    report = manager.inner_text("main")
    assert "Olly Grant" in report and "This record is shielded" in report
    check(manager, "manage-subject-access-report")
    manager.goto(site.url + "/web/manage/audit")
    manager.select_option("#days", "30")
    manager.click("button:has-text('Show findings')")
    manager.wait_for_load_state()
    assert "Olly Grant" in manager.inner_text("main")
    check(manager, "manage-audit-findings")


def test_panel_opens_inside_the_case_system_and_refuses_an_expired_context(site, page_factory):
    page = page_factory()
    page.goto(f"{site.host_origin}/case/{site.child.local_reference}")
    frame = page.frame_locator("#directory-panel")
    frame.locator("h1").wait_for()
    text = frame.locator("main").inner_text()
    assert "Sam Patel" in text and "Lead professional" in text and "Unspecified service" in text and "Park Surgery" in text
    assert site.child.local_reference not in page.locator("#directory-panel").get_attribute("src")
    panel_frame = page.locator("#directory-panel").element_handle().content_frame()
    panel_frame.csp_violations = page.csp_violations  # type: ignore[attr-defined]
    check(panel_frame, "panel", page=page)

    # Registered in time, opened after the context expired.
    token = mint_context(
        PANEL_ACCOUNT, PANEL_SECRET, child=site.child.directory_id, ttl=60,
        practitioner=Actor(user_id="sw-101", name="Kim Brown", organisation=ORG), reason="direct_work",
    )  # fmt: skip
    with httpx.Client() as client:
        launch = register_context(client, site.url, token)
    real = site.panel.clock
    site.panel.clock = lambda: real() + 120
    try:
        expired = page_factory()
        expired.goto(f"{site.host_origin}/frame?launch={launch[len(site.url):]}")
        frame = expired.frame_locator("#directory-panel")
        frame.locator("h1").wait_for()
        assert "has expired" in frame.locator("h1").inner_text()
        assert "Sam Patel" not in frame.locator("main").inner_text()
        check(expired.locator("#directory-panel").element_handle().content_frame(), "panel-expired", page=expired)
    finally:
        site.panel.clock = real


def test_panel_cannot_be_framed_by_another_origin(site, page_factory):
    page = page_factory()
    page.goto(f"{site.other_origin}/case/{site.child.local_reference}")
    page.wait_for_timeout(500)
    frame = page.locator("#directory-panel").element_handle().content_frame()
    assert "Sam Patel" not in frame.content()
    assert any("frame-ancestors" in v for v in page.csp_violations), page.csp_violations


def test_idle_sign_out_page(site, page_factory):
    page = page_factory()
    page.goto(f"{site.url}/web/signed-out?reason=idle")
    assert "did nothing for 15 minutes" in page.inner_text("main")
    check(page, "signed-out")


def test_management_team_resolves_a_match_review(site, page_factory):
    """A real held case (two records of one child, too close to call): the team merges them from the
    case page, and the held youth offending involvement lands on the record kept."""
    from review_seeds import duplicate_pair, involvements_of, uncertain

    case = duplicate_pair(site.sessions, family="Okafor")
    uncertain(site.sessions, family="Turner")
    add_user(site.sessions, "rita", ["management_team"], name="Rita Shah")
    page = page_factory()
    sign_in(page, site, "rita")
    page.goto(f"{site.url}/web/manage/reviews")
    listing = page.inner_text("main")
    assert "Amelia Precious Okafor" in listing and "Too close to call" in listing and "Sophie Turner" in listing
    check(page, "manage-review-list")

    page.click("a:has-text('Amelia Precious Okafor')")
    page.wait_for_load_state()
    main = page.inner_text("main")
    assert "Part of the name" in main and "Missing on one side" in main and "Involvement opened" in main
    check(page, "manage-review-case")
    kept, gone = page.eval_on_selector_all(
        "input[name='keep']", "els => els.map(e => e.value)"
    )  # fmt: skip
    with site.sessions() as db:
        from cpbridge.directory import review

        amelia = next(c.directory_id for c in review.case(db, case.case_id).candidates if c.given_names == "Amelia")
    kept, gone = (kept, gone) if kept == amelia else (gone, kept)
    page.check(f"input[name='keep'][value='{kept}']")
    page.check(f"input[name='merge'][value='{gone}']")
    page.click("button:has-text('Continue to merge')")
    page.wait_for_load_state()
    assert "Merge these two records?" in page.inner_text("h1")
    check(page, "manage-review-merge")
    page.click("button:has-text('Yes, merge them')")
    page.wait_for_load_state()
    banner = page.inner_text(".govuk-notification-banner--success")
    assert f"the two records are merged into {kept}" in banner
    assert "Amelia Precious Okafor" not in page.inner_text("main")
    assert page.locator(f"button[aria-label='Undo the merge of {gone} into {kept}']").count() == 1
    check(page, "manage-review-merged")
    # The point of the page: the held update is now on the record kept, with the duplicate's.
    on_kept = involvements_of(site.sessions, kept)
    assert ("Dana Reid", "Leeds Youth Justice Service") in on_kept and ("Jo Lee", "Harehills Children's Centre") in on_kept
