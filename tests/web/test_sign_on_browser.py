"""Sign-on in a real browser: headless Chromium fills the form, confirms from the email,
staff approve on the command line, and the organisation is in the letter's preview.

With DOCS_SCREENSHOTS=DIR set, the form and the staff page are saved there as the
README's screenshots (docs/images/); otherwise into the test's own folder.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

from PIL import Image

from tests.web.conftest import STATUS_TOKEN
from tests.web.sign_on_support import SLUG, Served, link_path, served

__all__ = ["served"]


def _screenshot(browser: Any, folder: Path, name: str) -> Path:
    """A small PNG of the page: the browser's capture, reduced to 64 colors."""
    folder.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script(
        "return document.querySelector('main').getBoundingClientRect().bottom"
    )
    browser.set_window_size(900, min(int(height) + 160, 2600))
    image = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
    path = folder / f"{name}.png"
    image.quantize(colors=64).save(path, optimize=True)
    return path


def test_an_organisation_signs_confirms_and_is_approved_into_the_letter(
    served: Served, browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    shots = Path(os.environ.get("DOCS_SCREENSHOTS") or tmp_path / "shots")
    logo = tmp_path / "logo.png"
    Image.new("RGB", (120, 60), "darkgreen").save(logo)
    base = served.server.url
    wait = WebDriverWait(browser, 15)

    browser.set_window_size(900, 1400)
    browser.get(f"{base}/sign/{SLUG}")
    assert "humanitarian aid workers" in browser.find_element(By.ID, "letter-text").text
    for field, value in {
        "organization": "Río Grande Aid Collective",
        "signatory": "Marisol Peña",
        "title": "Director",
        "state": "TX",
        "email": "marisol@riogrande-aid.example.net",
    }.items():
        browser.find_element(By.ID, field).send_keys(value)
    browser.find_element(By.ID, "logo").send_keys(str(logo))
    browser.find_element(By.ID, "consent").click()
    _screenshot(browser, shots, "sign-on-form")
    browser.find_element(By.CSS_SELECTOR, "#sign-form button[type=submit]").click()
    wait.until(
        expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Check your email")
    )

    messages = served.deliver()
    assert [m["To"] for m in messages] == ["Marisol Peña <marisol@riogrande-aid.example.net>"]
    browser.get(base + link_path(messages[0], "confirm"))
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait.until(
        expected_conditions.text_to_be_present_in_element(
            (By.TAG_NAME, "h1"), "Signature confirmed"
        )
    )

    listed = json.loads(served.cli("signers", "pending", SLUG, "--json").stdout)["signatures"]
    assert [(s["organisation"], s["status"], s["logo"]) for s in listed] == [
        ("Río Grande Aid Collective", "confirmed", "image/png")
    ]
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd(
        "Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Bearer {STATUS_TOKEN}"}}
    )
    browser.get(f"{base}/sign/{SLUG}/staff")
    row = browser.find_element(By.ID, f"signature-{listed[0]['id']}")
    assert "confirmed" in row.text and "Río Grande Aid Collective" in row.text
    _screenshot(browser, shots, "sign-on-staff")

    assert served.cli("signers", "approve", SLUG, str(listed[0]["id"])).exit_code == 0
    preview = served.cli("letters", "preview", SLUG)
    assert preview.exit_code == 0
    assert "Río Grande Aid Collective" in preview.stdout
