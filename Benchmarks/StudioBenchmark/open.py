"""Opens a study in the studio in headless Chromium (Debian's chromium and chromedriver, Selenium)
and prints, for each load, the seconds from navigation until the history is drawn and the trial
table has its rows. Run by StudioBenchmark: python open.py URL STUDY LOADS."""

import json
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

url, study, loads = sys.argv[1], sys.argv[2], int(sys.argv[3])
options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1100"]:
    options.add_argument(argument)
driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
try:
    for load in range(loads):
        driver.get("about:blank")
        started = time.monotonic()
        driver.get(f"{url}/#/study/{study}")
        WebDriverWait(driver, 120).until(
            lambda d: d.execute_script(
                "return document.body.dataset.ready === location.hash"
                " && document.querySelector('#history[data-points]') !== null"
                " && document.querySelectorAll('#trials tbody tr').length > 0"))
        seconds = time.monotonic() - started
        print(json.dumps({
            "load": load, "seconds": seconds,
            "history_points": driver.execute_script("return document.querySelector('#history').getAttribute('data-points')"),
            "rows": driver.execute_script("return document.querySelectorAll('#trials tbody tr').length"),
            "shown": driver.find_element(By.ID, "shown").text,
        }), flush=True)
finally:
    driver.quit()
