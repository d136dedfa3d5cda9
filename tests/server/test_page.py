"""The web page in a real headless Chromium (Debian chromium + chromium-driver), driven by Selenium."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.documents.samples import docx_bytes, write
from tests.server.conftest import ARTIFACTS, LiveServer, start_server, stop_server
from tests.synthetic import make_rows

pytestmark = pytest.mark.slow
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
ARTICLE = " ".join(row["text"] for row in make_rows(2, seed=41)[:1])
SHORT = "Far too short to judge."
#: Paragraphs with an emoji beyond U+FFFF, which JavaScript counts as two units and the API's offsets as one.
PARAGRAPHS = "\n\n".join(row["text"] for row in make_rows(8, seed=12)[:4]).replace(" ", " 😀 ", 1)
#: The underline of each band of p_human, lowest first: hue is never the only cue.
BAND_UNDERLINES = ["wavy", "dashed", "dotted", None, None]


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver are missing: `make setup` installs them")
        pytest.skip("chromium and chromium-driver are not installed (make setup installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="humanorai-chromium-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", f"--user-data-dir={profile}", "--window-size=1280,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # kept for a failed test's artifacts
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def open_page(browser: WebDriver, server: LiveServer) -> WebDriverWait:
    browser.set_window_size(1280, 900)
    browser.get(server.url + "/")
    wait = WebDriverWait(browser, 30)
    wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "status"), "Ready"))
    return wait


def type_text(browser: WebDriver, text: str) -> None:
    area = browser.find_element(By.ID, "text")
    area.clear()
    browser.execute_script("arguments[0].value = arguments[1];", area, text[:-1])
    area.send_keys(text[-1])  # a real keystroke fires the input event


def test_page_loads_with_counts_and_ready_status(browser: WebDriver, live_server: LiveServer) -> None:
    open_page(browser, live_server)
    assert browser.title.startswith("humanorai")
    assert "5 models loaded" in browser.find_element(By.ID, "status").text
    browser.find_element(By.ID, "text").send_keys("Two words")
    assert browser.find_element(By.ID, "word-count").text == "2 words"
    assert browser.find_element(By.ID, "char-count").text == "9 characters"


def test_empty_and_too_short_text_show_errors(browser: WebDriver, live_server: LiveServer) -> None:
    open_page(browser, live_server)
    browser.find_element(By.ID, "analyze").click()
    error = browser.find_element(By.ID, "error")
    assert error.is_displayed() and "paste a text" in error.text
    type_text(browser, SHORT)
    browser.find_element(By.ID, "analyze").click()
    assert "at least 50 words" in error.text and "has 5" in error.text
    assert not browser.find_element(By.ID, "results").is_displayed()


def test_analyze_shows_the_verdict_and_cards_equal_to_the_api(browser: WebDriver, live_server: LiveServer) -> None:
    wait = open_page(browser, live_server)
    type_text(browser, ARTICLE)
    browser.find_element(By.ID, "text").send_keys(Keys.CONTROL, Keys.ENTER)
    wait.until(expected_conditions.visibility_of_element_located((By.ID, "results")))
    api = httpx.post(f"{live_server.url}/predict", json={"text": ARTICLE}, timeout=60).json()
    ensemble = api["ensemble"]
    assert browser.find_element(By.ID, "verdict-label").text == ensemble["label"]
    assert browser.find_element(By.ID, "verdict-confidence").text == f"{ensemble['confidence']:.2f} %"
    assert browser.find_element(By.ID, "verdict-votes").text == (
        f"{ensemble['vote_count']} of {ensemble['total_models']} models say HUMAN (majority vote)")
    cards = browser.find_elements(By.CSS_SELECTOR, "#cards .card")
    assert [card.get_attribute("data-model") for card in cards] == list(api["individual_results"])
    for card in cards:
        member = api["individual_results"][card.get_attribute("data-model")]
        assert card.find_element(By.CLASS_NAME, "card-label").text == member["label"]
        assert card.find_element(By.CLASS_NAME, "card-confidence").text == f"{member['confidence']:.2f} %"
        assert float(card.find_element(By.CLASS_NAME, "bar").get_attribute("aria-valuenow")) == member["confidence"]
    assert not browser.find_element(By.ID, "loading").is_displayed()
    ARTIFACTS.mkdir(exist_ok=True)
    browser.execute_script("document.getElementById('verdict').scrollIntoView()")
    assert browser.save_screenshot(str(ARTIFACTS / "results.png"))


@pytest.mark.parametrize(("menu_id", "offered", "chosen", "field", "shown"), [
    ("method", ["majority", "soft", "stacked"], "stacked", "ensemble", "(stacked model)"),
    ("point", ["balanced", "fpr5", "fpr1"], "fpr1", "operating_point", "≤ 1 % of humans flagged"),
], ids=["ensemble method", "operating point"])
def test_a_menu_offers_the_bundles_choices_and_sends_the_chosen_one(
        browser: WebDriver, live_server: LiveServer, menu_id: str, offered: list[str], chosen: str, field: str,
        shown: str) -> None:
    wait = open_page(browser, live_server)
    menu = Select(browser.find_element(By.ID, menu_id))
    assert [option.get_attribute("value") for option in menu.options] == offered
    assert menu.first_selected_option.get_attribute("value") == offered[0]
    menu.select_by_value(chosen)
    type_text(browser, ARTICLE)
    browser.find_element(By.ID, "analyze").click()
    wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "verdict-votes"), shown))
    api = httpx.post(f"{live_server.url}/predict", json={"text": ARTICLE, field: chosen}, timeout=60).json()
    assert browser.find_element(By.ID, "verdict-label").text == api["ensemble"]["label"]
    assert browser.find_element(By.ID, "verdict-confidence").text == f"{api['ensemble']['confidence']:.2f} %"


def test_statistics_open_and_close_by_button_and_escape(browser: WebDriver, live_server: LiveServer) -> None:
    wait = open_page(browser, live_server)
    type_text(browser, ARTICLE)
    browser.find_element(By.ID, "analyze").click()
    wait.until(expected_conditions.element_to_be_clickable((By.ID, "stats-open"))).click()
    stats = browser.find_element(By.ID, "stats")
    assert stats.is_displayed()
    assert len(browser.find_elements(By.CSS_SELECTOR, "#chart rect")) == 5
    assert len(browser.find_elements(By.CSS_SELECTOR, "#ranking li")) == 5
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "statistics.png"))
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait.until(expected_conditions.invisibility_of_element_located((By.ID, "stats")))
    browser.find_element(By.ID, "stats-open").click()
    assert stats.is_displayed()
    browser.find_element(By.ID, "stats-close").click()
    assert not stats.is_displayed()


def test_ctrl_k_clears_text_and_results(browser: WebDriver, live_server: LiveServer) -> None:
    wait = open_page(browser, live_server)
    type_text(browser, ARTICLE)
    browser.find_element(By.ID, "analyze").click()
    wait.until(expected_conditions.visibility_of_element_located((By.ID, "results")))
    browser.find_element(By.ID, "text").send_keys(Keys.CONTROL, "k")
    assert browser.find_element(By.ID, "text").get_attribute("value") == ""
    assert not browser.find_element(By.ID, "results").is_displayed()
    assert browser.find_element(By.ID, "word-count").text == "0 words"


@pytest.mark.parametrize(("width", "height"), [(375, 667), (768, 1024), (1920, 1080)])
def test_layout_fits_phone_tablet_and_desktop(browser: WebDriver, live_server: LiveServer, width: int,
                                              height: int) -> None:
    open_page(browser, live_server)
    browser.set_window_size(width, height)
    inner_width = browser.execute_script("return window.innerWidth")
    for element_id in ("text", "analyze", "clear", "stats-open"):
        element = browser.find_element(By.ID, element_id)
        assert element.is_displayed()
        rect = element.rect
        assert rect["x"] >= 0 and rect["x"] + rect["width"] <= inner_width, element_id
    assert browser.execute_script("return document.documentElement.scrollWidth") <= inner_width


def test_a_server_with_an_api_key_asks_for_it_and_then_answers(browser: WebDriver, tiny_bundle: Path,
                                                               tmp_path: Path) -> None:
    server = start_server(tiny_bundle, tmp_path / "server.log", {"HUMANORAI_API_KEY": "s3cret"})
    try:
        wait = open_page(browser, server)
        assert not browser.find_element(By.ID, "key-row").is_displayed()
        type_text(browser, ARTICLE)
        browser.find_element(By.ID, "analyze").click()
        wait.until(expected_conditions.visibility_of_element_located((By.ID, "key-row")))
        assert "API key" in browser.find_element(By.ID, "error").text
        assert not browser.find_element(By.ID, "results").is_displayed()
        browser.find_element(By.ID, "api-key").send_keys("s3cret")
        browser.find_element(By.ID, "analyze").click()
        wait.until(expected_conditions.visibility_of_element_located((By.ID, "results")))
        assert not browser.find_element(By.ID, "error").is_displayed()
    finally:
        stop_server(server)


def test_a_server_that_stops_answering_gets_a_clear_message_and_the_page_recovers(
        browser: WebDriver, tiny_bundle: Path, tmp_path: Path) -> None:
    """A stopped server (SIGSTOP: the kernel still takes the request, nothing answers) must not leave the page
    at "Analysing…" for good: past the deadline /ready stated plus the page's margin, it says so, and works
    again once the server does."""
    server = start_server(tiny_bundle, tmp_path / "server.log", {"HUMANORAI_REQUEST_TIMEOUT_S": "2"})
    process = server.server.process
    try:
        wait = open_page(browser, server)
        type_text(browser, ARTICLE)
        process.send_signal(signal.SIGSTOP)
        try:
            started = time.monotonic()
            browser.find_element(By.ID, "analyze").click()
            assert browser.find_element(By.ID, "loading").is_displayed()
            WebDriverWait(browser, 40).until(expected_conditions.visibility_of_element_located((By.ID, "error")))
            waited = time.monotonic() - started
        finally:
            process.send_signal(signal.SIGCONT)
        assert "did not answer within 12 s" in browser.find_element(By.ID, "error").text  # 2 s + 10 s margin
        assert 11 < waited < 30
        assert not browser.find_element(By.ID, "loading").is_displayed()
        assert browser.find_element(By.ID, "analyze").is_enabled()
        browser.find_element(By.ID, "analyze").click()
        wait.until(expected_conditions.visibility_of_element_located((By.ID, "results")))
        assert not browser.find_element(By.ID, "error").is_displayed()
    finally:
        stop_server(server)


def test_segments_are_highlighted_with_a_legend_and_show_their_p_human(browser: WebDriver,
                                                                       live_server: LiveServer) -> None:
    wait = open_page(browser, live_server)
    type_text(browser, PARAGRAPHS)
    browser.find_element(By.ID, "segments").click()
    browser.find_element(By.ID, "analyze").click()
    wait.until(expected_conditions.visibility_of_element_located((By.ID, "segments-view")))
    legend = [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#legend li")]
    assert [entry.split(" (")[0] for entry in legend] == [
        "text very AI-like", "text AI-like", "text uncertain", "text human-like", "text very human-like"]
    assert "wavy underline" in legend[0] and "p_human 0.8 or more" in legend[4]
    api = httpx.post(f"{live_server.url}/predict", json={"text": PARAGRAPHS, "segments": True}, timeout=60).json()
    spans = browser.find_elements(By.CSS_SELECTOR, "#highlighted .segment")
    assert len(spans) == len(api["segments"]) > 1
    characters = list(PARAGRAPHS)
    for span, segment in zip(spans, api["segments"], strict=True):
        assert span.get_attribute("textContent") == "".join(characters[segment["start"]:segment["end"]])
        band = sum(segment["p_human"] >= bound for bound in (0.2, 0.4, 0.6, 0.8))
        assert f"band-{band}" in span.get_attribute("class").split()
        line, style = (span.value_of_css_property(f"text-decoration-{part}") for part in ("line", "style"))
        assert (line, style) == (("underline", BAND_UNDERLINES[band]) if BAND_UNDERLINES[band] else ("none", "solid"))
    assert browser.find_element(By.ID, "mixed-note").text.startswith("Mixed" if api["mixed"] else "Not mixed")
    detail = browser.find_element(By.ID, "segment-detail")
    ActionChains(browser).move_to_element(spans[1]).perform()
    assert f"Segment 2 of {len(spans)}: p_human {api['segments'][1]['p_human']:.3f}" in detail.text
    browser.execute_script("arguments[0].focus()", spans[0])
    assert f"Segment 1 of {len(spans)}: p_human {api['segments'][0]['p_human']:.3f}" in detail.text
    assert spans[0].get_attribute("title").startswith(f"p_human {api['segments'][0]['p_human']:.3f}")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.execute_script("document.getElementById('segments-view').scrollIntoView()")
    assert browser.save_screenshot(str(ARTIFACTS / "segments.png"))
    browser.find_element(By.ID, "segments").click()  # unchecked: the next answer has no segments
    browser.find_element(By.ID, "analyze").click()
    wait.until(expected_conditions.invisibility_of_element_located((By.ID, "segments-view")))


def test_a_picked_document_is_shown_then_analysed_with_its_segments(browser: WebDriver, live_server: LiveServer,
                                                                     tmp_path: Path) -> None:
    wait = open_page(browser, live_server)
    paragraphs = [row["text"] for row in make_rows(6, seed=43)[:3]]
    document = write(tmp_path / "essay.docx", docx_bytes(*paragraphs))
    if not browser.find_element(By.ID, "segments").is_selected():
        browser.find_element(By.ID, "segments").click()
    browser.find_element(By.ID, "file").send_keys(str(document))
    wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "file-note"), "from essay.docx (DOCX)"))
    wait.until(expected_conditions.visibility_of_element_located((By.ID, "segments-view")))
    text = "\n".join(paragraphs)
    assert browser.find_element(By.ID, "text").get_attribute("value") == text
    api = httpx.post(f"{live_server.url}/predict/file", files={"file": ("essay.docx", document.read_bytes())},
                     data={"segments": "true"}, timeout=60).json()
    assert browser.find_element(By.ID, "verdict-label").text == api["ensemble"]["label"]
    spans = browser.find_elements(By.CSS_SELECTOR, "#highlighted .segment")
    assert [span.get_attribute("textContent") for span in spans] == [
        text[segment["start"]:segment["end"]] for segment in api["segments"]]


def test_a_dropped_file_is_read_and_a_wrong_type_is_explained(browser: WebDriver, live_server: LiveServer) -> None:
    wait = open_page(browser, live_server)
    drop = """const [name, type, content] = arguments;
        const data = new DataTransfer();
        data.items.add(new File([content], name, { type }));
        document.getElementById("text").dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true,
                                                                              cancelable: true }));"""
    browser.execute_script(drop, "notes.txt", "text/plain", ARTICLE)
    wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "file-note"), "from notes.txt (TXT)"))
    wait.until(expected_conditions.visibility_of_element_located((By.ID, "results")))
    assert browser.find_element(By.ID, "text").get_attribute("value") == ARTICLE
    browser.execute_script(drop, "photo.png", "image/png", "not a document")
    wait.until(expected_conditions.visibility_of_element_located((By.ID, "error")))
    assert "unsupported file 'photo.png'" in browser.find_element(By.ID, "error").text
    assert browser.find_element(By.ID, "results").is_displayed() is False
