"""The HTTP API of colorization-serve, under uvicorn on a free loopback port: every endpoint, every bad input (4xx,
JSON error, no traceback, the server goes on), the upload limit, the photo cache's bounds, concurrent requests, and
the command itself."""
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import cv2
import numpy as np
import pytest

from colorization.data import color
from colorization.data.hint_files import hints_from_json
from colorization.data.image_io import decode_image
from colorization.errors import UserError
from colorization.serve.app import create_app
from colorization.serve.client import Client
from colorization.serve.models import load_models, model_names
from colorization.serve.photos import PhotoCache, PhotoNotFound
from colorization.serve.server import BackgroundServer, exposure_warning
from colorization.serve.settings import Settings
from conftest import REPO, run_tool, run_tools_in_one_process

SHIPPED_LAB = os.path.join(REPO, "models", "landscape_train", "basic_LAB.pth")
QUICK = os.path.join(REPO, "configs", "quick")
HINT_MODEL, SUGGEST_MODEL = "hints/model_final", "suggest/model_final"
UPLOAD_LIMIT_MB = 4
BLUE_HINT = {"points": [{"x": 150, "y": 90, "color": "#2050ff"}, {"x": 40, "y": 160, "color": "#d04020"}], "size": 5}


@pytest.fixture(scope="module")
def model_files(photo_dir, tmp_path_factory):
    """The shipped basic LAB model, and two tiny hint models trained for one epoch (one process for both runs): a
    regression one and a classification one (which suggests colors)."""
    root = tmp_path_factory.mktemp("serve_models")
    common = ["SOLVER.MAX_EPOCHS", "1", "TEST.NUM_TRIPLETS", "0", "TEST.HINT_COUNTS", "(0,)", "PREDICTIONS_DIR",
              root / "predictions", "DATASETS.TRAIN", f"('{photo_dir}',)", "DATASETS.TEST", f"('{photo_dir}',)"]
    train = os.path.join(REPO, "tools", "train.py")
    cases = {
        "hints": [train, "--config-file", os.path.join(QUICK, "basic_hints_quick.yaml"), "OUTPUT_DIR",
                  root / "hints", *common],
        "suggest": [train, "--config-file", os.path.join(QUICK, "basic_classification_quick.yaml"), "MODEL.HINTS",
                    "True", "OUTPUT_DIR", root / "suggest", *common],
    }
    for name, result in run_tools_in_one_process(cases, root).items():
        assert result["returncode"] == 0, (name, result["stderr"][-3000:])
    return [SHIPPED_LAB, str(root / "hints" / "model_final.pth"), str(root / "suggest" / "model_final.pth")]


@pytest.fixture(scope="module")
def served(model_files):
    """(base URL, models by name) of a server with the three models."""
    models = load_models(model_files, "cpu")
    app = create_app(models, Settings(max_upload_mb=UPLOAD_LIMIT_MB, cache_photos=8, cache_mb=256, workers=2))
    with BackgroundServer(app) as url:
        yield url, models


@pytest.fixture(scope="module")
def photo(photo_path):
    """(RGB uint8, PNG bytes) of a real 300x200 photo (not square, so that x and y cannot be swapped unseen)."""
    rgb = cv2.resize(decode_image(open(photo_path, "rb").read()), (300, 200), interpolation=cv2.INTER_AREA)
    return rgb, _encode(rgb, ".png")


def _encode(rgb, ext):
    ok, data = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def _decode(png):
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _upload(client, data, name="photo.png"):
    answer = client.post("/api/photos", files={"photo": (name, data)})
    assert answer.status == 200, answer.body
    return answer.json()["photo_id"]


def _colorize(url, **fields):
    with Client(url) as client:
        answer = client.post("/api/colorize", fields)
    assert answer.status == 200, answer.body
    assert answer.headers["content-type"] == "image/png"
    return _decode(answer.body)


# ------------------------------------------------------------------------------------------------ endpoints
def test_models_are_offered_by_name_never_by_path(served, model_files):
    url, _ = served
    with Client(url) as client:
        answer = client.get("/api/models")
        health = client.get("/healthz")
    assert answer.status == 200
    models = {m["name"]: m for m in answer.json()["models"]}
    assert list(models) == ["basic_LAB", HINT_MODEL, SUGGEST_MODEL]  # stems, with the folder where they repeat
    assert models["basic_LAB"]["takes_hints"] is False and models["basic_LAB"]["temperature"] is None
    assert models[HINT_MODEL]["takes_hints"] and models[HINT_MODEL]["head"] == "regression"
    assert models[SUGGEST_MODEL]["suggests_colors"] and models[SUGGEST_MODEL]["temperature"] == pytest.approx(0.38)
    assert not any(os.path.dirname(path) in answer.body.decode() for path in model_files)
    assert health.status == 200 and health.json()["models"] == list(models)


def test_model_names_are_unique():
    assert model_names(["runs/a/model_final.pth", "runs/b/model_final.pth", "x/basic.pth"]) == [
        "a/model_final", "b/model_final", "basic"]
    with pytest.raises(UserError, match="names two models 'a/m'"):
        model_names(["a/m.pth", "a/m.pth"])


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp", ".tif", ".bmp"])
def test_colorize_an_upload_gives_the_colorizers_picture(served, photo, ext):
    url, models = served
    rgb, _ = photo
    data = _encode(rgb, ext)
    with Client(url) as client:
        answer = client.post("/api/colorize", {"model": "basic_LAB"}, files={"photo": (f"photo{ext}", data)})
    assert answer.status == 200, answer.body
    assert answer.headers["x-photo-size"] == "300x200"
    with models["basic_LAB"].lock:
        expected = models["basic_LAB"].colorizer.colorize(decode_image(data))
    assert np.array_equal(_decode(answer.body), expected)  # PNG is lossless: the very same pixels
    # The id it answers with names the photo from then on: same picture, no upload.
    assert np.array_equal(_colorize(url, model="basic_LAB", photo_id=answer.headers["x-photo-id"]), expected)


def test_hints_are_the_json_colorize_reads(served, model_files, photo, tmp_path):
    """The same hints JSON through the API and through `colorize --hints` give the same picture."""
    url, _ = served
    rgb, png = photo
    (tmp_path / "photo.png").write_bytes(png)
    (tmp_path / "hints.json").write_text(json.dumps(BLUE_HINT))
    with Client(url) as client:
        photo_id = _upload(client, png)
    by_api = _colorize(url, model=HINT_MODEL, photo_id=photo_id, hints=json.dumps(BLUE_HINT))
    result = run_tool("inference.py", "--img_path", tmp_path / "photo.png", "--model_to_load", model_files[1],
                      "--hints", tmp_path / "hints.json", "--output", tmp_path / "cli.png", "--device", "cpu")
    assert result.returncode == 0, result.stderr[-3000:]
    assert np.array_equal(by_api, cv2.cvtColor(cv2.imread(str(tmp_path / "cli.png")), cv2.COLOR_BGR2RGB))
    without = _colorize(url, model=HINT_MODEL, photo_id=photo_id)
    assert not np.array_equal(by_api, without)


@pytest.mark.slow
def test_the_onnxruntime_backend_serves_the_same_pictures(served, model_files, photo):
    """colorization-serve --backend onnxruntime: each checkpoint exported in memory, the same answers as PyTorch's
    (within a level of 8-bit rounding), hints included."""
    url, _ = served
    onnx_models = load_models(model_files, "cpu", "onnxruntime")
    assert [m.colorizer.backend.backend for m in onnx_models.values()] == ["onnxruntime"] * 3
    app = create_app(onnx_models, Settings(max_upload_mb=UPLOAD_LIMIT_MB, cache_photos=8, cache_mb=256, workers=1))
    with BackgroundServer(app) as onnx_url:
        for fields in ({"model": "basic_LAB"}, {"model": HINT_MODEL, "hints": json.dumps(BLUE_HINT)},
                       {"model": SUGGEST_MODEL, "temperature": 0.6}):
            pictures = []
            for base in (url, onnx_url):
                with Client(base) as client:
                    answer = client.post("/api/colorize", fields, files={"photo": ("photo.png", photo[1])})
                assert answer.status == 200, answer.body
                pictures.append(_decode(answer.body).astype(int))
            assert np.abs(pictures[0] - pictures[1]).max() <= 1, fields


def test_knobs_preview_and_gray(served, photo):
    url, models = served
    with Client(url) as client:
        photo_id = _upload(client, photo[1])
        gray = client.get(f"/api/photos/{photo_id}/gray?max_side=150")
    plain = color.rgb_to_lab(color.to_unit(_colorize(url, model=SUGGEST_MODEL, photo_id=photo_id)))
    muted = color.rgb_to_lab(color.to_unit(_colorize(url, model=SUGGEST_MODEL, photo_id=photo_id, saturation=0)))
    assert np.hypot(muted[..., 1], muted[..., 2]).max() < 3 < np.hypot(plain[..., 1], plain[..., 2]).max()
    lighter = color.rgb_to_lab(color.to_unit(_colorize(url, model=SUGGEST_MODEL, photo_id=photo_id, brightness=1.4)))
    assert lighter[..., 0].mean() > plain[..., 0].mean() + 5
    cold = _colorize(url, model=SUGGEST_MODEL, photo_id=photo_id, temperature=0.05)
    own = _colorize(url, model=SUGGEST_MODEL, photo_id=photo_id)  # at the model's own temperature, 0.38
    assert np.array_equal(_colorize(url, model=SUGGEST_MODEL, photo_id=photo_id, temperature=0.38), own)
    assert not np.array_equal(cold, _colorize(url, model=SUGGEST_MODEL, photo_id=photo_id, temperature=1.5))
    preview = _colorize(url, model="basic_LAB", photo_id=photo_id, max_side=120)
    assert preview.shape == (80, 120, 3)
    assert gray.status == 200 and gray.headers["x-photo-id"] == photo_id
    gray_rgb = _decode(gray.body).astype(int)
    assert gray_rgb.shape == (100, 150, 3) and np.abs(gray_rgb - gray_rgb[..., :1]).max() <= 1


def test_suggestions_are_the_colorizers(served, photo):
    url, models = served
    rgb, png = photo
    hints = {"points": [{"x": 20, "y": 30, "color": "#20a040"}], "size": 3}
    with Client(url) as client:
        photo_id = _upload(client, png)
        answer = client.post("/api/suggest", {"model": SUGGEST_MODEL, "photo_id": photo_id, "x": 210, "y": 60,
                                              "hints": json.dumps(hints), "top": 4})
    assert answer.status == 200, answer.body
    colors = answer.json()["colors"]
    assert 1 <= len(colors) <= 4
    probabilities = [c["probability"] for c in colors]
    assert probabilities == sorted(probabilities, reverse=True) and 0 < sum(probabilities) <= 1.0001
    assert all(len(c["hex"]) == 7 and c["hex"].startswith("#") and len(c["ab"]) == 2 for c in colors)
    with models[SUGGEST_MODEL].lock:
        expected = models[SUGGEST_MODEL].colorizer.suggest_colors(rgb, 210, 60, hints_from_json(hints, 300, 200), 4)
    assert colors == expected


# ------------------------------------------------------------------------------------------------ bad input
def _big_png_header_only():
    """A real, valid 10000x10000 RGB PNG of zeros (about 300 KB compressed, 300 MB decoded): a decompression bomb."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + 3 * 10000)
    idat = b"".join(compressor.compress(row) for _ in range(10000)) + compressor.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 10000, 10000, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


BAD_REQUESTS = {  # name -> (path, fields, file bytes or None, status, words the error must hold)
    "not an image": ("/api/colorize", {"model": "basic_LAB"}, b"%PDF-1.4 not a photo", 400, ["photo", "cannot read"]),
    "empty file": ("/api/colorize", {"model": "basic_LAB"}, b"", 400, ["photo", "empty"]),
    "truncated file": ("/api/colorize", {"model": "basic_LAB"}, "truncated", 400, ["photo", "truncated"]),
    "decompression bomb": ("/api/photos", {}, "bomb", 400, ["too large to decode", "10000x10000"]),
    "unknown model": ("/api/colorize", {"model": "basic_XYZ", "photo_id": "ID"}, None, 400,
                      ["unknown name 'basic_XYZ'", "basic_LAB"]),
    "model missing": ("/api/colorize", {"photo_id": "ID"}, None, 422, ["model", "required"]),
    "no photo": ("/api/colorize", {"model": "basic_LAB"}, None, 400, ["photo_id"]),
    "photo and photo_id": ("/api/colorize", {"model": "basic_LAB", "photo_id": "ID"}, "photo", 400, ["not both"]),
    "unknown photo id": ("/api/colorize", {"model": "basic_LAB", "photo_id": "0" * 32}, None, 404,
                         ["photo_id", "upload the photo again"]),
    "hints not JSON": ("/api/colorize", {"model": HINT_MODEL, "photo_id": "ID", "hints": "{points: ["}, None, 400,
                       ["hints is not valid JSON"]),
    "hints unknown key": ("/api/colorize", {"model": HINT_MODEL, "photo_id": "ID", "hints": '{"dots": []}'}, None,
                          400, ["unknown key 'dots'"]),
    "hint color": ("/api/colorize", {"model": HINT_MODEL, "photo_id": "ID",
                                     "hints": '{"points": [{"x": 1, "y": 1, "color": "blue"}]}'}, None, 400,
                   ["points[0].color", "#rrggbb"]),
    "point outside the photo": ("/api/colorize", {"model": HINT_MODEL, "photo_id": "ID",
                                                  "hints": '{"points": [{"x": 300, "y": 10, "color": "#0000ff"}]}'},
                                None, 400, ["points[0]", "outside the photo (300x200"]),
    "hints to a model without": ("/api/colorize", {"model": "basic_LAB", "photo_id": "ID",
                                                   "hints": json.dumps(BLUE_HINT)}, None, 400, ["takes no hints"]),
    "saturation out of range": ("/api/colorize", {"model": "basic_LAB", "photo_id": "ID", "saturation": "7"}, None,
                                422, ["saturation", "less than or equal to 3"]),
    "saturation not a number": ("/api/colorize", {"model": "basic_LAB", "photo_id": "ID", "saturation": "lots"},
                                None, 422, ["saturation"]),
    "temperature of a regression": ("/api/colorize", {"model": "basic_LAB", "photo_id": "ID", "temperature": "0.5"},
                                    None, 400, ["temperature", "regresses"]),
    "suggest from a regression": ("/api/suggest", {"model": HINT_MODEL, "photo_id": "ID", "x": 1, "y": 1}, None, 400,
                                  ["classification"]),
    "suggest outside the photo": ("/api/suggest", {"model": SUGGEST_MODEL, "photo_id": "ID", "x": 5, "y": 200}, None,
                                  400, ["outside the photo (300x200"]),
}


@pytest.fixture(scope="module")
def bad_answers(served, photo):
    """Every bad request above, one after the other on one server; then the server must still answer."""
    url, _ = served
    rgb, png = photo
    files = {"truncated": _encode(rgb, ".jpg")[:1500], "bomb": _big_png_header_only(), "photo": png}
    answers = {}
    with Client(url) as client:
        photo_id = _upload(client, png)
        for name, (path, fields, data, _, _) in BAD_REQUESTS.items():
            fields = {k: (photo_id if v == "ID" else v) for k, v in fields.items()}
            data = files.get(data, data)
            answers[name] = client.post(path, fields, None if data is None else {"photo": ("upload.bin", data)})
        answers["afterwards"] = client.post("/api/colorize", {"model": "basic_LAB", "photo_id": photo_id})
    return answers


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
def test_a_bad_request_is_a_4xx_naming_what_to_fix(bad_answers, name):
    answer, (_, _, _, status, words) = bad_answers[name], BAD_REQUESTS[name]
    assert answer.status == status, answer.body
    assert answer.headers["content-type"] == "application/json"
    assert "Traceback" not in answer.body.decode()
    for word in words:
        assert word in answer.error, answer.error


def test_the_server_goes_on_after_bad_requests(bad_answers):
    assert bad_answers["afterwards"].status == 200


def _raw_post(url, head_fields, body_parts):
    """Send a request by hand (to claim a length or stream chunks); the status line and body of the answer."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as sock:
        head = "".join(f"{k}: {v}\r\n" for k, v in head_fields.items())
        sock.sendall(f"POST /api/photos HTTP/1.1\r\nHost: {parts.netloc}\r\n{head}\r\n".encode())
        for part in body_parts:
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered before the whole body came: that is the point
            sock.sendall(part)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    head, _, body = answer.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), body


def test_uploads_over_the_limit_are_refused_with_413(served):
    url, _ = served
    boundary = "x" * 16
    content_type = f"multipart/form-data; boundary={boundary}"
    # A claimed length over the limit: answered before the body is read (nothing is sent here).
    status, body = _raw_post(url, {"Content-Type": content_type, "Content-Length": str(30 << 20)}, [])
    assert status.startswith("HTTP/1.1 413") and b"upload limit of 4 MB" in body
    # A streamed body without a length: answered as soon as it passes the limit.
    start = (f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="big.bin"\r\n\r\n').encode()
    chunk = b"\x00" * (256 << 10)
    chunks = [start] + [chunk] * ((UPLOAD_LIMIT_MB + 2) * 4)
    status, body = _raw_post(url, {"Content-Type": content_type, "Transfer-Encoding": "chunked"},
                             [b"%x\r\n%s\r\n" % (len(c), c) for c in chunks] + [b"0\r\n\r\n"])
    assert status.startswith("HTTP/1.1 413") and b"--max-upload-mb" in body
    with Client(url) as client:
        assert client.get("/healthz").status == 200


# ------------------------------------------------------------------------------------------------ load
def test_the_photo_cache_is_bounded_by_count_and_bytes():
    photos = [np.full((40, 50, 3), i, np.uint8) for i in range(5)]
    files = [_encode(p, ".png") for p in photos]
    cache = PhotoCache(max_photos=3, max_bytes=1 << 30)
    ids = [cache.add(f).photo_id for f in files[:3]]
    cache.get(ids[0])  # used: the least recently used is now ids[1]
    cache.add(files[3])
    with pytest.raises(PhotoNotFound, match="upload the photo again"):
        cache.get(ids[1])
    assert cache.get(ids[0]).photo_id == ids[0] and cache.stats()["photos"] == 3
    small = PhotoCache(max_photos=10, max_bytes=2 * photos[0].nbytes)
    for f in files:
        small.add(f)
    assert small.stats() == {"photos": 2, "bytes": 2 * photos[0].nbytes}
    again = cache.add(files[3])  # the same file again: the photo kept, not a second copy
    assert again is cache.get(again.photo_id) and cache.stats()["photos"] == 3


def test_memory_stays_bounded_over_many_photos(model_files, photo):
    """A server that keeps 3 photos, given 20 different ones with previews and full-size results."""
    models = load_models(model_files[:1], "cpu")
    settings = Settings(cache_photos=3, cache_mb=8, workers=2)
    with BackgroundServer(create_app(models, settings)) as url, Client(url) as client:
        for i in range(20):
            rgb = np.roll(photo[0], 7 * i, axis=1)
            photo_id = _upload(client, _encode(rgb, ".png"))
            for max_side in (120, None):
                fields = {"model": "basic_LAB", "photo_id": photo_id, **({"max_side": max_side} if max_side else {})}
                assert client.post("/api/colorize", fields).status == 200
            health = client.get("/healthz").json()
            assert health["cached_photos"] <= 3 and health["cached_bytes"] <= 8 << 20
        assert client.post("/api/colorize", {"model": "basic_LAB", "photo_id": photo_id}).status == 200


def test_concurrent_requests_each_get_their_own_answer(served, photo):
    """Requests of several models, photos, temperatures and hints at once: each answer is the one it gets alone
    (the temperature is the model's state: a request must never see another's)."""
    url, _ = served
    with Client(url) as client:
        ids = [_upload(client, _encode(np.roll(photo[0], 50 * i, axis=0), ".png")) for i in range(2)]
    jobs = [dict(model=m, photo_id=i, **extra) for i in ids for m, extra in (
        ("basic_LAB", {}), (HINT_MODEL, {"hints": json.dumps(BLUE_HINT)}), (SUGGEST_MODEL, {"temperature": 0.05}),
        (SUGGEST_MODEL, {"temperature": 1.5}), (SUGGEST_MODEL, {"saturation": 2.0, "max_side": 90}))]
    alone = [_colorize(url, **job) for job in jobs]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda job: _colorize(url, **job), jobs * 4))
    for k, result in enumerate(together):
        assert np.array_equal(result, alone[k % len(jobs)]), jobs[k % len(jobs)]


@pytest.mark.slow
def test_the_load_figure(model_files):
    """colorization-benchmark --which load: a row per model and way of sending the photo, no errors."""
    result = run_tool("benchmark.py", "--which", "load", "--iters", "3", "--clients", "2", "--device", "cpu",
                      "--model_to_load", ",".join(model_files[:2]), env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [(r["model"], r["mode"]) for r in rows] == [(m, mode) for m in ("basic_LAB", "model_final")
                                                       for mode in ("photo_id", "upload")]
    for r in rows:
        assert r["figure"] == "load" and r["photo"] == "1024x768" and r["requests"] == 3 and r["clients"] == 2
        assert r["errors"] == 0 and 0 < r["p50_ms"] <= r["p95_ms"] and r["requests_per_s"] > 0
        assert r["server_peak_rss_mb"] >= r["server_rss_mb"] > 0
    assert [r["hints"] for r in rows] == [0, 0, 3, 3]


# ------------------------------------------------------------------------------------------------ the command
@pytest.mark.multiprocess
def test_the_command_serves_the_page_and_stops_on_ctrl_c(tmp_path):
    command = [sys.executable, os.path.join(REPO, "tools", "serve.py"), "--model_to_load", SHIPPED_LAB, "--port", "0",
               "--device", "cpu"]
    proc = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving basic_LAB at http://127.0.0.1:"), (line, proc.stderr.read()[-3000:])
        url = line.split(" at ")[1].split("/  ")[0]
        with Client(url) as client:
            page = client.get("/")
            assert page.status == 200 and b'<script type="module" src="/static/app.js">' in page.body
            for asset in ("/static/app.js", "/static/style.css"):
                assert client.get(asset).status == 200
            assert b"http://" not in page.body and b"https://" not in page.body  # nothing from elsewhere: offline
            paths = client.get("/openapi.json").json()["paths"]
            assert {"/api/models", "/api/colorize", "/api/suggest", "/api/photos", "/healthz"} <= set(paths)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        assert "Traceback" not in proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()


COMMAND_MISTAKES = {  # name -> (arguments, words the error names)
    "missing_model": (["--model_to_load", "missing.pth"], ["--model_to_load", "missing.pth"]),
    "port": (["--model_to_load", SHIPPED_LAB, "--port", "70000"], ["--port 70000"]),
    "upload_limit": (["--model_to_load", SHIPPED_LAB, "--max-upload-mb", "0"], ["--max-upload-mb"]),
    "no_model": (["--port", "8000"], ["--model_to_load"]),
}


@pytest.fixture(scope="module")
def mistakes(tmp_path_factory):
    """The command's answers to COMMAND_MISTAKES, run one after the other in one Python process."""
    serve = os.path.join(REPO, "tools", "serve.py")
    return run_tools_in_one_process({name: [serve, *args] for name, (args, _) in COMMAND_MISTAKES.items()},
                                    tmp_path_factory.mktemp("mistakes"))


@pytest.mark.parametrize("name", sorted(COMMAND_MISTAKES))
def test_command_mistakes_are_one_error_line(mistakes, name):
    result, words = mistakes[name], COMMAND_MISTAKES[name][1]
    assert result["returncode"] == 2
    lines = result["stderr"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result["stderr"]
    assert all(w in lines[0] for w in words), lines[0]


def test_listening_beyond_loopback_warns_that_there_is_no_login():
    assert exposure_warning("127.0.0.1") is None and exposure_warning("::1") is None
    assert exposure_warning("localhost") is None
    assert "no login" in exposure_warning("0.0.0.0") and "0.0.0.0" in exposure_warning("0.0.0.0")
