"""Real-browser fixtures: Debian's chromium driven by its chromedriver (never selenium-manager).

Missing browser or driver: skipped locally, a failure under CI=true.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SHOTS = Path("/tmp/jiedao-shots")


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


class Browser:
    """A thin wrapper over the WebDriver with the few helpers the tests need."""

    def __init__(self, driver, base_url: str, width: int, height: int, label: str) -> None:
        self.driver = driver
        self.base_url = base_url
        self.width = width
        self.height = height
        self.label = label

    def click_when_settled(self, locator) -> None:
        """Click an element once htmx has no request in flight (the picker re-renders on input)."""
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.support import expected_conditions as ec

        for _ in range(5):
            self.wait_for(lambda d: not d.find_elements("css selector", ".htmx-request"))
            try:
                self.wait_for(ec.element_to_be_clickable(locator)).click()
                return
            except StaleElementReferenceException:
                continue
        raise AssertionError(f"could not click {locator}")

    def get(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def text(self) -> str:
        return self.driver.find_element("tag name", "body").text

    def wait_for(self, condition, timeout: float = 30):
        from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        # htmx swaps fragments and pages navigate while we look: a stale element, or chromedriver's
        # "Node with given id does not belong to the document" mid-navigation, means "look again".
        return WebDriverWait(
            self.driver, timeout, ignored_exceptions=(StaleElementReferenceException, WebDriverException)
        ).until(condition)

    def wait_text(self, needle: str, timeout: float = 30) -> None:
        self.wait_for(lambda d: needle in d.find_element("tag name", "body").text, timeout)

    def no_horizontal_overflow(self) -> bool:
        return self.driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1;"
        )

    def section_shot(self, element, name: str) -> Path:
        """A PNG of one element at its own size (to look at a part of a long page closely)."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.driver.execute_script("arguments[0].scrollIntoView();", element)
        path = SHOTS / f"{self.label}-{name}.png"
        path.write_bytes(element.screenshot_as_png)
        return path

    def shot(self, name: str) -> Path:
        """A full-page PNG at the emulated width (CDP, so below-the-fold content is included)."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        height = self.driver.execute_script(
            "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight);"
        )
        data = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": self.width, "height": max(height, self.height), "scale": 1},
            },
        )["data"]
        path = SHOTS / f"{self.label}-{name}.png"
        path.write_bytes(base64.b64decode(data))
        return path


@pytest.fixture
def open_browser(live_server):
    """open_browser(width, height, label, mobile=False) -> Browser; all are closed after the test."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        _unavailable(f"{CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:  # pragma: no cover - selenium is a dev dependency
        _unavailable("selenium is not installed")

    opened: list[tuple[object, str]] = []

    def factory(width: int, height: int, label: str, *, mobile: bool = False) -> Browser:
        profile = tempfile.mkdtemp(prefix="jiedao-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for arg in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--lang=zh-CN",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
        ):
            options.add_argument(arg)
        options.add_experimental_option("prefs", {"intl.accept_languages": "zh-CN,zh"})
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # CSP refusals, checked after the test
        driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
        opened.append((driver, profile))
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )
        driver.implicitly_wait(0)
        return Browser(driver, live_server.url, width, height, label)

    yield factory
    refused = []
    for driver, profile in opened:
        try:
            refused += [entry["message"] for entry in driver.get_log("browser")
                        if "Content Security Policy" in entry.get("message", "")]
        finally:
            driver.quit()
            shutil.rmtree(profile, ignore_errors=True)
    # Every page the test opened ran under the platform's Content-Security-Policy: nothing refused.
    assert not refused, "the Content-Security-Policy refused:\n" + "\n".join(refused[:10])
