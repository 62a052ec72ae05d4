"""A console page can be clicked only once htmx has wired it up. A link or form that htmx has not processed
yet is a plain one: the browser follows it without the X-Console-Token header (the session), or sends a form
without the button it was sent with. Two windows allowed that: the settle delay after every swap (htmx
processes new content when it settles) and the first load, before htmx has run."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_wizard_browser import live, open_in_launcher  # noqa: F401 - fixture
from tests.console import conftest as console_support
from tests.console.conftest import make_clean_tenant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
demo_org = console_support.demo_org  # fixture

# Clicks a link of the content just swapped in, as early as anything outside htmx can: in the microtask
# right after the swap's own code has run.
CLICK_AT_ONCE_AFTER_THE_SWAP = """() => {
  document.addEventListener("htmx:afterSwap", () => {
    queueMicrotask(() => document.querySelector("[data-step=provider] a").click());
  }, { once: true });
}"""


def test_a_link_clicked_the_instant_its_page_is_swapped_in_keeps_the_session(demo_org, live, page):  # noqa: F811
    make_clean_tenant(demo_org.sandbox)
    frame = open_in_launcher(page, demo_org.base_url, f"{live.url}/console/canvas/wizard/")
    expect(frame.locator("#tenant-name")).to_contain_text("Acme")
    page.frame(name="canvas-frame").evaluate(CLICK_AT_ONCE_AFTER_THE_SWAP)
    frame.locator("[data-step=channel] a").first.click()
    # The provider link was clicked on the channel page the moment it arrived: htmx sent it, with the
    # session, and the provider step opened (a plain link would have opened it without a session: refused).
    expect(frame.locator("#step-title")).to_contain_text("Provider")
    expect(frame.locator("#tenant-name")).to_contain_text("Acme")


def test_the_page_is_inert_until_htmx_has_wired_it_up(demo_org, live, page):  # noqa: F811
    make_clean_tenant(demo_org.sandbox)
    page.route("**/vendor/htmx/htmx.min.js", lambda route: route.abort())
    frame = open_in_launcher(page, demo_org.base_url, f"{live.url}/console/canvas/wizard/")
    expect(frame.locator("#tenant-name")).to_contain_text("Acme")
    expect(frame.locator("body")).to_have_attribute("inert", "")
    page.unroute("**/vendor/htmx/htmx.min.js")

    frame = open_in_launcher(page, demo_org.base_url, f"{live.url}/console/canvas/wizard/")
    expect(frame.locator("#tenant-name")).to_contain_text("Acme")
    expect(frame.locator("body")).not_to_have_attribute("inert", "")
    frame.locator("[data-step=channel] a").first.click()
    expect(frame.locator("#step-title")).to_contain_text("Channel")
