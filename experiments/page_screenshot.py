"""The README's screenshot of segment highlights: the page, served on a bundle, given a held-out composite.

The composite is built as ``segment_auc.py`` builds its composites: two human texts of the bundle's test
groups with an AI text of those groups pasted between them as a paragraph. The three are drawn by seed among
held-out texts of 60 to 160 words (so the page fits a screen), not picked for how the highlights look.
Needs the bundle's training data (its held-out groups), Debian's chromium and chromium-driver.

Usage: python -m experiments.page_screenshot [--bundle DIR] [--seed 0] [--out docs/images/segments.png]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from benchmarks.server_process import start_server
from humanorai.bundle import read_manifest
from humanorai.errors import HumanoraiError
from humanorai.evaluation.held_out import held_out_corpus
from humanorai.labels import AI, HUMAN
from humanorai.settings import DEMO_BUNDLE

WORDS = (60, 160)


def composite(bundle: Path, seed: int) -> str:
    """Human, pasted AI, human: three held-out texts of a readable length, drawn by ``seed``."""
    corpus = held_out_corpus(read_manifest(bundle), Path.cwd())
    lengths = np.array([len(text.split()) for text in corpus.texts])
    fits = (lengths >= WORDS[0]) & (lengths <= WORDS[1])
    rng = np.random.default_rng(seed)
    first, second = rng.choice(np.flatnonzero(fits & (corpus.labels == HUMAN)), size=2, replace=False)
    pasted = rng.choice(np.flatnonzero(fits & (corpus.labels == AI)))
    return "\n\n".join(corpus.texts[index].strip() for index in (first, pasted, second))


def screenshot(bundle: Path, text: str, out: Path) -> str:
    """Serve ``bundle``, analyse ``text`` on the page with segments, save the results; return the mixed note."""
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        raise HumanoraiError("chromium and chromium-driver are needed (Debian: apt-get install chromium "
                             "chromium-driver)")
    workdir = Path(tempfile.mkdtemp(prefix="humanorai-screenshot-"))
    server = start_server(["--bundle", str(bundle)], workdir / "server.log")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                 f"--user-data-dir={workdir / 'profile'}", "--window-size=1100,2400"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        browser.get(server.url + "/")
        wait = WebDriverWait(browser, 120)
        wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "status"), "Ready"))
        area = browser.find_element(By.ID, "text")
        browser.execute_script("arguments[0].value = arguments[1];"
                               "arguments[0].dispatchEvent(new Event('input'));", area, text)
        browser.find_element(By.ID, "segments").click()
        browser.find_element(By.ID, "analyze").click()
        wait.until(expected_conditions.visibility_of_element_located((By.ID, "segments-view")))
        out.parent.mkdir(parents=True, exist_ok=True)
        browser.find_element(By.ID, "results").screenshot(str(out))
        return str(browser.find_element(By.ID, "mixed-note").text)
    finally:
        browser.quit()
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=DEMO_BUNDLE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("docs/images/segments.png"))
    args = parser.parse_args()
    try:
        note = screenshot(args.bundle, composite(args.bundle, args.seed), args.out)
    except HumanoraiError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    print(f"{args.out}: {note}")


if __name__ == "__main__":
    main()
