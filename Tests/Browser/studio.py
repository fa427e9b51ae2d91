"""Drives `strata studio` in headless Chromium (Debian's chromium and chromedriver) through Selenium.

Run by StudioBrowserTests: python studio.py URL SCREENSHOTS. Prints one JSON line per view with
what the page shows (numbers as rendered), `ready` once the study view is open and live, then the
view after the next live update, and saves a screenshot of each view. The Swift test checks the
numbers against the store; this script only reads the page.
"""

import json
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

url, shots = sys.argv[1], sys.argv[2]
options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1100"]:
    options.add_argument(argument)
driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
wait = WebDriverWait(driver, 60)


def say(view, **what):
    print(json.dumps({"view": view, **what}), flush=True)


def open_view(hash_):
    started = time.monotonic()
    driver.get(url + "/" + hash_)
    wait.until(lambda d: d.execute_script("return document.body.dataset.ready") in (hash_, "error"))
    if driver.execute_script("return document.body.dataset.ready") == "error":
        raise SystemExit("the page failed: " + driver.find_element(By.ID, "view").text)
    return time.monotonic() - started


def texts(selector):
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, selector)]


def rows(table_id):
    return [[c.text for c in row.find_elements(By.TAG_NAME, "td")] for row in driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")]


try:
    seconds = open_view("#/")
    say("home", seconds=seconds, studies=rows("studies"), runs=rows("runs"), stores=driver.find_element(By.ID, "stores").text)
    driver.save_screenshot(f"{shots}/home.png")

    # A study: its charts and table.
    driver.find_element(By.CSS_SELECTOR, "#studies tbody tr").click()
    wait.until(lambda d: d.execute_script("return document.body.dataset.ready || ''").startswith("#/study/"))
    study_hash = driver.execute_script("return location.hash")
    wait.until(lambda d: "live" in d.find_element(By.ID, "live").text)
    say(
        "study",
        summary=driver.find_element(By.ID, "summary").text,
        shown=driver.find_element(By.ID, "shown").text,
        history_points=len(driver.find_elements(By.CSS_SELECTOR, "#history circle")),
        history_best=[float(c.get_attribute("data-y")) for c in driver.find_elements(By.CSS_SELECTOR, "#history circle.best")],
        history_x_ticks=texts("#history .x-tick"),
        history_y_ticks=texts("#history .y-tick"),
        pareto_points=len(driver.find_elements(By.CSS_SELECTOR, "#pareto circle")),
        pareto_front=[[float(c.get_attribute("data-x")), float(c.get_attribute("data-y"))] for c in driver.find_elements(By.CSS_SELECTOR, "#pareto circle.front")],
        pareto_x_ticks=texts("#pareto .x-tick"),
        parallel_lines=len(driver.find_elements(By.CSS_SELECTOR, "#parallel polyline")),
        importance=[[r.get_attribute("data-axis"), r.find_element(By.CSS_SELECTOR, ".share").text] for r in driver.find_elements(By.CSS_SELECTOR, "#importance tr")],
        headers=texts("#trials thead th"),
        rows=rows("trials"),
    )
    driver.save_screenshot(f"{shots}/study.png")

    # Sorted by score, highest first (two clicks), then filtered.
    header = driver.find_element(By.CSS_SELECTOR, '#trials th[data-key="score"]')
    header.click()
    driver.find_element(By.CSS_SELECTOR, '#trials th[data-key="score"]').click()
    by_score = rows("trials")
    box = driver.find_element(By.ID, "filter")
    box.send_keys("samples=1")
    filtered = rows("trials")
    box.clear()
    box.send_keys(" ")
    say("sorted", rows=by_score, filtered=filtered, shown=driver.find_element(By.ID, "shown").text)

    # A trial: its configuration as YAML and its items.
    driver.find_element(By.CSS_SELECTOR, "#trials tbody tr").click()
    wait.until(lambda d: d.find_elements(By.ID, "trial-yaml"))
    say("trial", yaml=driver.find_element(By.ID, "trial-yaml").text, items=rows("trial-items"))
    driver.save_screenshot(f"{shots}/trial.png")

    # Live: the test writes more trials once it reads `ready`.
    before = driver.find_element(By.ID, "shown").text
    say("ready", shown=before)
    WebDriverWait(driver, 300).until(lambda d: d.find_element(By.ID, "shown").text != before)
    time.sleep(1)
    say(
        "live",
        shown=driver.find_element(By.ID, "shown").text,
        live=driver.find_element(By.ID, "live").text,
        summary=driver.find_element(By.ID, "summary").text,
        history_points=len(driver.find_elements(By.CSS_SELECTOR, "#history circle")),
        hash=driver.execute_script("return location.hash") == study_hash,
    )
    driver.save_screenshot(f"{shots}/live.png")

    # A run, an item and its calls in time.
    open_view("#/")
    run_rows = driver.find_elements(By.CSS_SELECTOR, "#runs tbody tr")
    if run_rows:
        run_rows[0].find_elements(By.TAG_NAME, "td")[1].click()
        wait.until(lambda d: d.execute_script("return document.body.dataset.ready || ''").startswith("#/run/"))
        say("run", summary=driver.find_element(By.ID, "run-summary").text, items=rows("items"))
        driver.save_screenshot(f"{shots}/run.png")
        driver.find_element(By.CSS_SELECTOR, "#items tbody tr").click()
        wait.until(lambda d: "/item/" in (d.execute_script("return document.body.dataset.ready || ''")))
        say(
            "item",
            summary=driver.find_element(By.ID, "item-summary").text,
            spans=len(driver.find_elements(By.CSS_SELECTOR, "#timeline rect.span")),
            cache_hits=len(driver.find_elements(By.CSS_SELECTOR, "#timeline rect.cache-hit")),
            layers=texts("#graph div"),
            x_ticks=texts("#timeline .x-tick"),
        )
        driver.save_screenshot(f"{shots}/item.png")

    # An evaluation's run: accuracy against calls, and the coverage of its samples.
    open_view("#/")
    evaluated = next(r for r in driver.find_elements(By.CSS_SELECTOR, "#runs tbody tr") if "sampled.yaml" in r.text)
    evaluated.find_elements(By.TAG_NAME, "td")[1].click()
    wait.until(lambda d: d.execute_script("return document.body.dataset.ready || ''").startswith("#/run/"))
    wait.until(lambda d: d.find_elements(By.ID, "coverage"))
    say(
        "coverage",
        calls_points=len(driver.find_elements(By.CSS_SELECTOR, "#calls-accuracy circle")),
        series=[e.get_attribute("data-series") for e in driver.find_elements(By.CSS_SELECTOR, "#coverage polyline")],
        pass_at_k=[float(e.get_attribute("data-y")) for e in driver.find_elements(By.CSS_SELECTOR, '#coverage circle[data-series="passAtK"]')],
        note=driver.find_element(By.ID, "coverage-note").text,
    )
    driver.save_screenshot(f"{shots}/coverage.png")
finally:
    driver.quit()
