"""Shared fixtures: real photos from the embedded sample set, and a way to run the tools as a user does."""
import functools
import http.server
import json
import os
import subprocess
import sys
import threading
import zipfile

import pytest

# Under pytest-xdist (pytest.ini runs two workers) each worker and the tools it starts compute on one thread: two
# workers on two cores, not four threads taking turns on them.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"


def pytest_collection_finish(session):
    """Every worker imports every test module: one that sets torch's thread count at import would set it for the
    whole worker (two workers with two OpenMP threads each on two cores made the suite a third slower). Back to one
    once they are all imported; a module that needs another count sets it in a fixture (one_torch_thread)."""
    if os.environ.get("PYTEST_XDIST_WORKER") and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)

# The longest test files (python -m pytest --durations=0, summed per file: 25 to 55 s each), run first: the two
# workers take whole files (--dist loadfile), longest first, so neither is left running a long file alone at the end.
LONGEST_FIRST = ("test_onnx_cli.py", "test_zhang_integration.py", "test_serve_api.py", "test_shipped_models.py",
                 "test_onnx.py", "test_distributed.py", "test_reliability.py", "test_ddcolor_tools.py",
                 "test_recipe_training.py", "test_fid.py", "test_video.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_ZIP = os.path.join(REPO, "datasets", "sample_photos.zip")


def copy_photos(photo_dir, folder, count):
    """A new folder holding the first `count` photos of photo_dir, unchanged (a small training or test set)."""
    folder.mkdir()
    for p in sorted(photo_dir.iterdir())[:count]:
        (folder / p.name).write_bytes(p.read_bytes())
    return folder


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread for a module (as the reliability harness runs): bit-identical runs, and no thread
    contention on a busy machine."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory):
    """A folder of 12 real color photos taken from the embedded sample set."""
    folder = tmp_path_factory.mktemp("photos")
    with zipfile.ZipFile(SAMPLE_ZIP) as zf:
        names = sorted(n for n in zf.namelist() if n.endswith(".jpg"))[:12]
        for n in names:
            (folder / os.path.basename(n)).write_bytes(zf.read(n))
    return folder


@pytest.fixture(scope="session")
def photo_path(photo_dir):
    return str(sorted(photo_dir.iterdir())[0])


@pytest.fixture(scope="session")
def exported_basic(tmp_path_factory):
    """The shipped basic_LAB.pth as colorization-export --format onnx writes it, exported once per test worker (an
    export takes seconds) for the tests that run a .onnx file."""
    from colorization.cli import export_model
    path = tmp_path_factory.mktemp("exported") / "basic_LAB.onnx"
    checkpoint = os.path.join(REPO, "models", "landscape_train", "basic_LAB.pth")
    assert export_model.main(["--format", "onnx", "--checkpoint", checkpoint, "--output", str(path)]) == 0
    return path


def run_tool(*args, cwd=None, env=None, timeout=600):
    """Run tools/<script> in a subprocess; returns CompletedProcess with text output."""
    script, rest = args[0], [str(a) for a in args[1:]]
    full_env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    return subprocess.run([sys.executable, os.path.join(REPO, "tools", script), *rest], cwd=cwd or REPO,
                          env=full_env, capture_output=True, text=True, timeout=timeout)


# Many short tool runs, one after the other in one subprocess (a single Python start-up for all of them): each
# runs as __main__ with its own argv and gets its own exit code, stdout and stderr. A run that hangs is named, and
# every thread's stack is printed, long before the subprocess timeout.
HANG_DUMP_S = 300
_TOOLS_DRIVER = r'''
import contextlib, faulthandler, io, json, logging, runpy, sys, traceback
cases_file, results_file, hang_s = sys.argv[1], sys.argv[2], float(sys.argv[3])
results = {}
for name, argv in json.load(open(cases_file)).items():
    print(f"running {name!r}", file=sys.__stderr__, flush=True)
    faulthandler.dump_traceback_later(hang_s, exit=True, file=sys.__stderr__)
    err, out = io.StringIO(), io.StringIO()
    logging.root.handlers.clear()
    sys.argv = list(argv)
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            runpy.run_path(argv[0], run_name="__main__")
            rc = 0
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            traceback.print_exc()
            rc = 1
    faulthandler.cancel_dump_traceback_later()
    results[name] = {"returncode": rc, "stdout": out.getvalue(), "stderr": err.getvalue()}
json.dump(results, open(results_file, "w"))
print("all runs done; exiting", file=sys.__stderr__, flush=True)
faulthandler.dump_traceback_later(hang_s, exit=True, file=sys.__stderr__)
'''


def run_tools_in_one_process(cases, folder):
    """cases: name -> argv (the tool's script path first). Returns name -> {"returncode", "stdout", "stderr"}."""
    cases = {name: [str(a) for a in argv] for name, argv in cases.items()}
    (folder / "cases.json").write_text(json.dumps(cases))
    proc = subprocess.run([sys.executable, "-c", _TOOLS_DRIVER, str(folder / "cases.json"),
                           str(folder / "results.json"), str(HANG_DUMP_S)], cwd=REPO,
                          env=dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1"), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-8000:]
    return json.loads((folder / "results.json").read_text())


class _CountingHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the test folder; counts requests; "/truncated/NAME" announces more bytes than it sends."""

    def do_GET(self):
        self.server.request_paths.append(self.path)
        if self.path.startswith("/truncated/"):
            body = b"x" * 100
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body) * 10))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path, monkeypatch):
    """(base URL, served folder, list of requested paths); TORCH_HOME points into tmp_path."""
    served = tmp_path / "served"
    served.mkdir()
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    # A configured proxy must not intercept loopback requests.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    handler = functools.partial(_CountingHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.request_paths = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", served, httpd.request_paths
    finally:
        httpd.shutdown()
        httpd.server_close()
