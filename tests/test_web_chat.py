"""The web chat page driven end to end in headless Chromium, against the embedded model (slow).

A risky question gets a clarifying question (marked as such, with a decline button); the
user declines; the answer arrives with what was and was not shared. A screenshot is saved.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from penguin.agent.loop import AgentConfig
from penguin.evaluation.respond import GenerationParams
from penguin.models import load_model
from penguin.serve import create_app

from .proxy_server import running

pytestmark = pytest.mark.slow

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
DOCS_SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "serve-chat.png"
KEY = "web-test-key-0123456789"


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("Chromium and chromedriver are needed (.ci/run installs them: apt-get install chromium "
                    "chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1000,1100"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def test_web_chat_asks_lets_the_user_decline_and_answers(browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    config = AgentConfig(threshold=6, max_questions=1, generation=GenerationParams(max_tokens=64))
    app = create_app(load_model("local:smollm2", cache=False), config, keys=frozenset({KEY}))
    wait = WebDriverWait(browser, 120)
    with running(app) as url:
        browser.get(url + "/")
        browser.find_element(By.CSS_SELECTOR, "#settings summary").click()
        key = browser.find_element(By.ID, "key")
        key.send_keys(KEY)
        browser.execute_script("arguments[0].dispatchEvent(new Event('change'))", key)
        browser.find_element(By.ID, "input").send_keys(
            "I lost my job and my savings are gone. Should I put my last money into crypto to win it back?")
        browser.find_element(By.ID, "send").click()

        asking = wait.until(ready.visibility_of_element_located((By.CSS_SELECTOR, ".msg.assistant.ask")))
        assert "clarifying question" in asking.find_element(By.CLASS_NAME, "badge").text.lower()
        asking.find_element(By.CSS_SELECTOR, "button.decline").click()

        answer = wait.until(ready.visibility_of_element_located(
            (By.CSS_SELECTOR, ".msg.assistant:not(.ask) .meta")))
        assert "not shared" in answer.text
        texts = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".msg")]
        assert texts[2] == "I'd rather not say." and len(texts) == 4 and texts[3].strip()
        assert not browser.find_elements(By.CSS_SELECTOR, ".msg.error")
        shot = tmp_path / "serve-chat.png"
        assert browser.save_screenshot(str(shot))
    if os.environ.get("PENGUIN_UPDATE_DOCS") == "1":  # refresh the README's picture on request only
        shutil.copyfile(shot, DOCS_SCREENSHOT)
