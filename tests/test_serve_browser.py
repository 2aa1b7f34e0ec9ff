"""The web page in a real headless Chromium (Debian's chromium and chromium-driver, through selenium): upload a photo,
add hint points in chosen colors, move and remove one, wait for each result, check the hue near the remaining point,
download the result at full size and save the hints as the JSON `colorize --hints` reads.

The model is the shipped hint model, as a user serves it (no training in the test). The check near the orange point (a
sunset sky, where the model alone paints it blue) asks for b higher by 10 and ab closer to the hint's by 10 than
without hints, on a validation photo the model never saw;
the green point checks the page's handling of points (moving, removing), not the model."""
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
from conftest import REPO, SAMPLE_ZIP

pytestmark = pytest.mark.browser
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
PHOTO = "gcompris-qt-data__details_TajMahal.jpg"
# Where the test clicks (fractions of the photo's width and height): the sky, which it hints orange (a sunset), and a lawn, where
# it adds a green point, drags it and removes it again.
SKY, LAWN, LAWN_MOVED = (0.15, 0.15), (0.8, 0.88), (0.55, 0.9)
ORANGE, GREEN = "#ff8c1a", "#30a030"
PATCH = 5


# The shipped hint model README serves (trained on the training splits only): the page is tested with what a user
# gets, a classification head included (its temperature slider and suggested colors are shown).
HINT_MODEL = os.path.join(REPO, "models", "landscape_train", "effnet_lite0_unet_LAB_cls_hints.pth")
HINT_MODEL_NAME = "effnet_lite0_unet_LAB_cls_hints"


@pytest.fixture(scope="module")
def held_out_photo(tmp_path_factory):
    """A validation photo of the sample set (never seen in training), as PNG: sky above, lawns below."""
    with zipfile.ZipFile(SAMPLE_ZIP) as zf:
        name = next(n for n in zf.namelist() if n.endswith(PHOTO))
        assert split_of(name, load_cfg(None, []).DATASETS.VAL_FRACTION) == "val"
        bgr = cv2.imdecode(np.frombuffer(zf.read(name), np.uint8), cv2.IMREAD_COLOR)
    path = tmp_path_factory.mktemp("browser_photo") / "held_out.png"
    cv2.imwrite(str(path), bgr)
    return str(path), bgr.shape[1], bgr.shape[0]


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium with its own profile, downloads into tmp_path/downloads, no host name but 127.0.0.1 resolving
    (as on an offline machine: a page that loads anything from a CDN breaks)."""
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
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # no network: no name resolves
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


def _set_color(driver, hex_color):
    """What picking a color in the picker's dialog does (the native dialog is not part of the page)."""
    driver.execute_script("const c = document.getElementById('color'); c.value = arguments[0];"
                          "c.dispatchEvent(new Event('input'))", hex_color)


def _photo_offset(gray, fx, fy):
    """Selenium's offsets are from an element's centre."""
    return int((fx - 0.5) * gray.size["width"]), int((fy - 0.5) * gray.size["height"])


def _then_render(driver, action):
    """Perform a page action and wait for the colorized result it asks for."""
    before = _renders(driver)
    action()
    _wait_for_render(driver, before)


def _near(points, fx, fy, width, height):
    return [(x, y, c) for x, y, c in points if abs(x - fx * width) <= 3 and abs(y - fy * height) <= 3]


def _hint_points(driver):
    """(x, y, color) of each marker on the gray photo, as the page shows them."""
    points = []
    for marker in driver.find_elements("css selector", "#side .stage[data-stage='gray'] .marker"):
        place, hex_color = marker.get_attribute("title").split(") ")
        x, y = (int(v) for v in place.strip("(").split(","))
        points.append((x, y, hex_color))
    return points


def _ab(hex_color):
    rgb = np.array([[[int(hex_color[i:i + 2], 16) for i in (1, 3, 5)]]], np.float32) / 255.0
    return color.rgb_to_lab(rgb)[0, 0, 1:]


def _resources(driver):
    return driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")


def test_api_docs_render_offline(browser):
    """/docs (Swagger UI) shows the API from files the server itself serves, with no network; there is no /redoc (its
    page fetches a logo from the internet)."""
    driver, _ = browser
    with BackgroundServer(create_app(load_models([os.path.join(REPO, "models", "landscape_train", "basic_LAB.pth")],
                                                 "cpu"))) as url:
        driver.get(url + "/docs")
        _wait(driver, lambda d: d.find_elements("css selector", ".swagger-ui .opblock-summary-path"), "/docs rendered",
              timeout=60)
        shown = driver.find_element("tag name", "body").text
        assert "colorization" in shown and "/api/colorize" in shown, shown[:500]
        resources = _resources(driver)
        assert any(r.endswith("swagger-ui-bundle.js") for r in resources), resources
        assert all(r.startswith(url) for r in resources), resources
        driver.get(url + "/redoc")
        assert "not found: /redoc" in driver.find_element("tag name", "body").text


def test_the_page_colorizes_with_hints_and_downloads_the_result(browser, held_out_photo):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    driver, downloads = browser
    photo, width, height = held_out_photo
    with BackgroundServer(create_app(load_models([HINT_MODEL], "cpu"))) as url:
        driver.get(url + "/")
        _wait(driver, lambda d: d.execute_script("return document.getElementById('model').options.length") == 1,
              "the model list")
        assert driver.find_element("id", "model").get_attribute("value") == HINT_MODEL_NAME

        driver.find_element("id", "file").send_keys(photo)  # what choosing a file in the dialog does
        _wait_for_render(driver, 0)
        assert driver.execute_script("return document.getElementById('result').naturalWidth") > 0
        patch = driver.find_element("id", "patch")
        patch.send_keys(Keys.RIGHT, Keys.RIGHT)  # the patch size slider, by keyboard: 3 -> 5
        assert patch.get_attribute("value") == str(PATCH)

        gray = driver.find_element("id", "gray")
        _set_color(driver, ORANGE)  # no point yet: the color of the next one
        _then_render(driver, lambda: ActionChains(driver).move_to_element_with_offset(gray, *_photo_offset(gray, *SKY))
                     .click().perform())
        _then_render(driver, lambda: ActionChains(driver).move_to_element_with_offset(gray, *_photo_offset(gray, *LAWN))
                     .click().perform())
        _then_render(driver, lambda: _set_color(driver, GREEN))  # the picker recolors the selected point: the new one
        assert [c for _, _, c in _hint_points(driver)] == [ORANGE, GREEN]
        assert _near(_hint_points(driver), *SKY, width, height) and _near(_hint_points(driver), *LAWN, width, height)

        lawn_marker = driver.find_elements("css selector", "#side .stage[data-stage='gray'] .marker")[1]
        dx, dy = (a - b for a, b in zip(_photo_offset(gray, *LAWN_MOVED), _photo_offset(gray, *LAWN)))
        _then_render(driver, lambda: ActionChains(driver).click_and_hold(lawn_marker).move_by_offset(dx // 2, dy // 2)
                     .move_by_offset(dx - dx // 2, dy - dy // 2).release().perform())
        points = _hint_points(driver)
        assert len(points) == 2 and _near(points, *LAWN_MOVED, width, height) == [points[1]], points
        lawn_marker = driver.find_elements("css selector", "#side .stage[data-stage='gray'] .marker")[1]
        _then_render(driver, lambda: ActionChains(driver).double_click(lawn_marker).perform())
        points = _hint_points(driver)
        assert len(points) == 1 and points[0][2] == ORANGE, points  # removed; the sky point stays
        x, y, _ = points[0]

        driver.find_element("id", "download").click()
        done, found = _downloaded(downloads, "held_out_colorized.png")
        _wait(driver, done, "the downloaded PNG")
        driver.find_element("id", "save-hints").click()
        done, saved = _downloaded(downloads, "held_out_hints.json")
        _wait(driver, done, "the saved hints")

        with Client(url) as client:  # the same photo without hints, from the same server
            answer = client.post("/api/colorize", {"model": HINT_MODEL_NAME},
                                 files={"photo": ("held_out.png", open(photo, "rb").read())})
        assert answer.status == 200
    without = cv2.cvtColor(cv2.imdecode(np.frombuffer(answer.body, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    result = cv2.cvtColor(cv2.imread(found[0]), cv2.COLOR_BGR2RGB)
    assert result.shape[:2] == (height, width)  # full size: the photo's own
    # The orange hint pulls the color near its point towards its own: b clearly higher (yellower), ab clearly closer to
    # the hint's.
    near, near_without, target = _ab_near(result, x, y), _ab_near(without, x, y), _ab(ORANGE)
    assert near[1] > near_without[1] + 10, (near, near_without)
    assert np.linalg.norm(near - target) < np.linalg.norm(near_without - target) - 10, (near, near_without, target)

    saved_hints = json.loads(open(saved[0]).read())
    assert saved_hints == {"points": [{"x": x, "y": y, "color": ORANGE}], "size": PATCH}
    parsed = hints_from_json(saved_hints, width, height)  # what `colorize --hints` reads
    assert parsed.points[0][:2] == (x, y) and parsed.size == PATCH
