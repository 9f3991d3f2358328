"""A real browser: headless Chromium, driven by Selenium, against the served app.

Debian's `chromium` and `chromium-driver` packages provide the browser and its
driver (.ci/run installs them when missing). Where they cannot be installed the
test skips and says why, rather than passing without a browser. The `browser`
fixture (tests/web/conftest.py) is one Chromium for the session, cleaned per test.
"""

from __future__ import annotations

from typing import Any

from capitolmail.letters.tokens import make_token
from capitolmail.outbox import Store
from tests.web.conftest import STATUS_TOKEN, UNSUBSCRIBE_SECRET, Serve, sent_job


def test_a_person_unsubscribes_with_the_button(store: Store, serve: Serve, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    server = serve()
    token = make_token(UNSUBSCRIBE_SECRET, "jane@example.org", "gitmo-alerts")

    browser.get(f"{server.url}/u/{token}")
    assert "Unsubscribe from" in browser.find_element(By.TAG_NAME, "h1").text
    assert store.list_suppressions() == []  # opening the page changes nothing
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    WebDriverWait(browser, 10).until(
        expected_conditions.text_to_be_present_in_element(
            (By.TAG_NAME, "h1"), "You are unsubscribed"
        )
    )

    assert [(s.email, s.reason) for s in store.list_suppressions()] == [
        ("jane@example.org", "unsubscribe")
    ]


def test_staff_watch_a_job_on_the_status_page(store: Store, serve: Serve, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    job_id, _ = sent_job(store, ["jane@example.org", "omar@example.org"], unsent=1)
    server = serve()
    # What a browser sends after its basic-auth prompt, set through the DevTools protocol.
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd(
        "Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Bearer {STATUS_TOKEN}"}}
    )

    browser.get(f"{server.url}/status")

    row = browser.find_element(By.ID, f"job-{job_id}")
    assert "queued 1, sent 2" in row.text
    assert "2/3 (66%)" in row.text
