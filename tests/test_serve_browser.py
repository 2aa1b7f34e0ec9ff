"""The web page in a real headless Chromium (Debian's chromium and chromium-driver, through selenium): upload a photo,
add a hint point in a chosen color, wait for the result, check its hue near the point, download it at full size and
save the hints as the JSON `colorize --hints` reads.

The hint model is trained in the fixture long enough to follow hints: measured on 12 sample photos, 3 points each, a
blue hint (b -91) of patch side 5 moves the mean b near the point by -36 to -45 against no hint (side 3: -13 to -16,
side 9: -96 to -105). The check asks for far less, in the hint's direction, on a photo the model never saw. SERVE_SCREENSHOT=assets/serve_page.png also writes the README's screenshot there."""
import glob
import json
import os
import shutil
import zipfile

import cv2
import numpy as np
import pytest

from colorization.config import load_cfg
from colorization.data import color
from colorization.data.dataset import split_of
from colorization.data.hint_files import hints_from_json
from colorization.serve.app import create_app
from colorization.serve.client import Client
from colorization.serve.models import load_models
from colorization.serve.server import BackgroundServer
from conftest import REPO, SAMPLE_ZIP, run_tool

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
HINT_COLOR = "#2050ff"
PATCH = 5
PHOTO_SIZE = (400, 300)  # width, height of the uploaded photo


@pytest.fixture(scope="module")
def hint_model(tmp_path_factory, photo_dir):
    """A tiny basic hint model (width 8, 64x64) trained for 3 epochs (75 steps of 8) on the sample set's training split
    with dense simulated hints at uniform positions."""
    root = tmp_path_factory.mktemp("browser_model")
    result = run_tool("train.py", "--config-file", os.path.join(REPO, "configs", "quick", "basic_hints_quick.yaml"),
                      "OUTPUT_DIR", root / "run", "PREDICTIONS_DIR", root / "predictions",
                      "DATASETS.TRAIN", "('landscape_train',)", "DATASETS.TEST", f"('{photo_dir}',)",
                      "SOLVER.MAX_EPOCHS", "3", "SOLVER.BASE_LR", "0.01", "SOLVER.CHECKPOINT_PERIOD", "3",
                      "INPUT.HINTS.STOP_PROB", "0.03", "INPUT.HINTS.GAUSSIAN_PROB", "0.0",
                      "TEST.EVAL_PERIOD", "3", "TEST.NUM_TRIPLETS", "0", "TEST.HINT_COUNTS", "(0,)")
    assert result.returncode == 0, result.stderr[-3000:]
    path = root / "landscape_hints_tiny.pth"
    shutil.copy(root / "run" / "model_final.pth", path)
    return str(path)


@pytest.fixture(scope="module")
def held_out_photo(tmp_path_factory):
    """A 400x300 PNG of a validation photo of the sample set (never seen in training)."""
    with zipfile.ZipFile(SAMPLE_ZIP) as zf:
        fraction = load_cfg(None, []).DATASETS.VAL_FRACTION
        name = next(n for n in sorted(zf.namelist()) if n.endswith(".jpg") and split_of(n, fraction) == "val")
        bgr = cv2.imdecode(np.frombuffer(zf.read(name), np.uint8), cv2.IMREAD_COLOR)
    path = tmp_path_factory.mktemp("browser_photo") / "held_out.png"
    cv2.imwrite(str(path), cv2.resize(bgr, PHOTO_SIZE, interpolation=cv2.INTER_CUBIC))
    return str(path)


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium with its own profile, downloads into tmp_path/downloads, nothing reaching out."""
    if not (CHROMIUM and CHROMEDRIVER):
        message = "the browser test needs Debian's chromium and chromium-driver: apt-get install chromium "\
                  "chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(message)  # .ci/run installs them: in CI a missing browser is a failure, never a skip
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,900"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    try:
        yield driver, downloads
    finally:
        driver.quit()


def _wait(driver, condition, what, timeout=120):
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition(d), message=what)


def _renders(driver):
    return int(driver.execute_script("return document.body.dataset.renders"))


def _wait_for_render(driver, after):
    _wait(driver, lambda d: _renders(d) > after and d.execute_script("return document.body.dataset.busy") == "false",
          f"a colorized result after render {after}")
    status = driver.find_element("id", "status")
    assert "error" not in (status.get_attribute("class") or ""), status.text


def _downloaded(downloads, pattern):
    found = []

    def done(_):
        found[:] = [p for p in glob.glob(str(downloads / pattern)) if not p.endswith(".crdownload")]
        return bool(found)
    return done, found


def _ab_near(rgb, x, y, radius=4):
    lab = color.rgb_to_lab(color.to_unit(rgb[y - radius:y + radius + 1, x - radius:x + radius + 1]))
    return lab[..., 1:].reshape(-1, 2).mean(axis=0)


def test_the_page_colorizes_with_a_hint_and_downloads_the_result(browser, hint_model, held_out_photo):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    driver, downloads = browser
    with BackgroundServer(create_app(load_models([hint_model], "cpu"))) as url:
        driver.get(url + "/")
        _wait(driver, lambda d: d.execute_script("return document.getElementById('model').options.length") == 1,
              "the model list")
        assert driver.find_element("id", "model").get_attribute("value") == "landscape_hints_tiny"

        driver.find_element("id", "file").send_keys(held_out_photo)  # what choosing a file in the dialog does
        _wait_for_render(driver, 0)
        assert driver.execute_script("return document.getElementById('result').naturalWidth") > 0

        # The color comes from the picker (its native dialog is not part of the page: set its value as it would);
        # the patch size from its slider, by keyboard.
        driver.execute_script("const c = document.getElementById('color'); c.value = arguments[0];"
                              "c.dispatchEvent(new Event('input'))", HINT_COLOR)
        patch = driver.find_element("id", "patch")
        patch.send_keys(Keys.RIGHT, Keys.RIGHT)
        assert patch.get_attribute("value") == str(PATCH)
        before = _renders(driver)
        gray = driver.find_element("id", "gray")
        width, height = gray.size["width"], gray.size["height"]
        # Click at 62% across, 40% down the gray photo (Selenium's offsets are from the element's centre).
        ActionChains(driver).move_to_element_with_offset(gray, int(0.12 * width), int(-0.10 * height)).click().perform()
        _wait_for_render(driver, before)

        markers = driver.find_elements("css selector", "#side .stage[data-stage='gray'] .marker")
        assert len(markers) == 1
        x, y = (int(v) for v in markers[0].get_attribute("title").split(")")[0].strip("(").split(","))
        assert abs(x - 0.62 * PHOTO_SIZE[0]) <= 3 and abs(y - 0.40 * PHOTO_SIZE[1]) <= 3, (x, y)

        driver.find_element("id", "download").click()
        done, found = _downloaded(downloads, "held_out_colorized.png")
        _wait(driver, done, "the downloaded PNG")
        driver.find_element("id", "save-hints").click()
        done, saved = _downloaded(downloads, "held_out_hints.json")
        _wait(driver, done, "the saved hints")
        if os.environ.get("SERVE_SCREENSHOT"):
            driver.save_screenshot(os.environ["SERVE_SCREENSHOT"])

        with Client(url) as client:  # the same photo without the hint, from the same server
            answer = client.post("/api/colorize", {"model": "landscape_hints_tiny"},
                                 files={"photo": ("held_out.png", open(held_out_photo, "rb").read())})
        assert answer.status == 200
    without = cv2.cvtColor(cv2.imdecode(np.frombuffer(answer.body, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    result = cv2.cvtColor(cv2.imread(found[0]), cv2.COLOR_BGR2RGB)
    assert result.shape[:2] == (PHOTO_SIZE[1], PHOTO_SIZE[0])  # full size: the photo's own
    hint_ab = color.rgb_to_lab(np.array([[[0x20, 0x50, 0xff]]], np.float32) / 255.0)[0, 0, 1:]
    near, near_without = _ab_near(result, x, y), _ab_near(without, x, y)
    # The hint pulls the color near the point towards its blue: b clearly lower, ab clearly closer to the hint's.
    assert near[1] < near_without[1] - 10, (near, near_without)
    assert np.linalg.norm(near - hint_ab) < np.linalg.norm(near_without - hint_ab) - 10, (near, near_without, hint_ab)

    saved_hints = json.loads(open(saved[0]).read())
    assert saved_hints == {"points": [{"x": x, "y": y, "color": HINT_COLOR}], "size": PATCH}
    parsed = hints_from_json(saved_hints, *PHOTO_SIZE)  # what `colorize --hints` reads
    assert parsed.points[0][:2] == (x, y) and parsed.size == PATCH
