"""The load figure: colorization-serve in a process of its own on loopback, N client threads sending a fixed number
of POST /api/colorize requests for a 1024x768 photo, per model and per way of naming the photo (its id, as the page
does after the first upload, or the file in every request): p50 / p95 latency, requests/s, errors, and the server's
resident memory (peak and at the end)."""
import json
import multiprocessing
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from ..errors import UserError
from ..serve.app import create_app
from ..serve.client import Client
from ..serve.models import load_models
from ..serve.server import bind, serve_forever, url_of
from ..serve.settings import Settings
from .common import round_sig
from .inference import INFERENCE_SIZE, make_photo
from .memory import _status_mb

LOAD_WARMUP = 2  # requests per model before timing (first-call allocations)
MODES = ("photo_id", "upload")
# Hint points of a hint model's requests, as fractions of the photo's width and height, with their colors.
HINTS = ((0.25, 0.2, "#3a7bd5"), (0.7, 0.3, "#4a90e2"), (0.5, 0.8, "#5d8a3a"))


def _serve_child(model_paths, device, settings, conn):
    """The server's process: load the models, bind a free loopback port, tell the parent its URL, serve."""
    models = load_models(model_paths, device)
    sock = bind("127.0.0.1", 0)
    conn.send(url_of(sock))
    conn.close()
    serve_forever(create_app(models, settings), sock, log_level="warning")


class ServerProcess:
    """`with ServerProcess(paths, device) as (url, pid):` a server in a fresh, spawned process; stopped at the end."""

    def __init__(self, model_paths, device, settings):
        ctx = multiprocessing.get_context("spawn")
        self.conn, child_conn = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_serve_child, args=(model_paths, device, settings, child_conn), daemon=True)

    def __enter__(self):
        self.process.start()
        if not self.conn.poll(300):
            self.process.kill()
            raise RuntimeError("the server process did not start within 300 s")
        return self.conn.recv(), self.process.pid

    def __exit__(self, *exc):
        self.process.terminate()  # SIGTERM: uvicorn shuts down
        self.process.join(30)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def _hints_json(width, height):
    points = [{"x": int(fx * width), "y": int(fy * height), "color": c} for fx, fy, c in HINTS]
    return json.dumps({"points": points, "size": 3})


def _one_request(url, fields, files):
    """(seconds, ok) of one POST /api/colorize on its own connection."""
    start = time.perf_counter()
    try:
        with Client(url) as client:
            answer = client.post("/api/colorize", fields, files)
        ok = answer.status == 200 and answer.headers.get("content-type") == "image/png"
    except OSError:
        ok = False
    return time.perf_counter() - start, ok


def _run_load(url, fields, files, requests, clients):
    """Latencies and error count of `requests` requests sent by `clients` threads, and the wall time of all."""
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda _: _one_request(url, fields, files), range(requests)))
    wall = time.perf_counter() - start
    return [t for t, _ in results], sum(not ok for _, ok in results), wall


def _percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _proc_mb(pid, key):
    return _status_mb(key, f"/proc/{pid}/status")


def bench_load(model_paths, requests, clients, workdir, device="auto"):
    """One row per model and mode (see the module's docstring)."""
    if not model_paths:
        raise UserError("the load figure serves model files: give --model_to_load CKPT[,CKPT...]")
    photo = open(make_photo(workdir), "rb").read()
    width, height = INFERENCE_SIZE
    rows = []
    with ServerProcess(list(model_paths), device, Settings()) as (url, pid):
        with Client(url) as client:
            models = client.get("/api/models").json()["models"]
            photo_id = client.post("/api/photos", files={"photo": ("photo.jpg", photo)}).json()["photo_id"]
        for model in models:
            fields = {"model": model["name"], **({"hints": _hints_json(width, height)} if model["takes_hints"] else {})}
            for mode in MODES:
                mode_fields, files = ((dict(fields, photo_id=photo_id), None) if mode == "photo_id"
                                      else (fields, {"photo": ("photo.jpg", photo)}))
                _run_load(url, mode_fields, files, LOAD_WARMUP, 1)
                latencies, errors, wall = _run_load(url, mode_fields, files, requests, clients)
                rows.append({"figure": "load", "model": model["name"], "arch": model["arch"],
                             "hints": len(HINTS) if model["takes_hints"] else 0, "photo": f"{width}x{height}",
                             "mode": mode, "clients": clients, "requests": requests,
                             "p50_ms": round_sig(1e3 * statistics.median(latencies)),
                             "p95_ms": round_sig(1e3 * _percentile(latencies, 0.95)),
                             "requests_per_s": round_sig(requests / wall), "errors": errors,
                             "server_peak_rss_mb": round_sig(_proc_mb(pid, "VmHWM")),
                             "server_rss_mb": round_sig(_proc_mb(pid, "VmRSS"))})
    return rows
