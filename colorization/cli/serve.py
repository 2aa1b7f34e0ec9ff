"""The web page and HTTP API: colorization-serve --model_to_load A.pth [B.pth ...] [--host 127.0.0.1] [--port 8000]
(or python tools/serve.py ...). Open the printed address in a browser; the API is described at /docs.

Models are loaded once, at start, and offered by name (a file's stem); clients choose among them and never send a
path. Needs the serve extra: pip install -e ".[serve]".
"""
import logging
import sys

from ..errors import UserError
from ..serve.settings import Settings
from .common import CommandParser, add_backend_argument, exit_2_on_user_error

DEFAULTS = Settings()


def parse_args(argv=None):
    p = CommandParser(__doc__)
    p.add_argument("--model_to_load", nargs="+", required=True, metavar="CKPT",
                   help="one or more checkpoints written by colorization-train (or colorization-export; a .onnx "
                        "runs on onnxruntime)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: %(default)s, this machine only; 0.0.0.0: every network, "
                        "and the page has no login)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default: %(default)s; 0: a free one)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    add_backend_argument(p)
    p.add_argument("--max-upload-mb", type=float, default=DEFAULTS.max_upload_mb,
                   help="largest request body accepted, in MB; larger ones are answered 413 (default: %(default)s)")
    p.add_argument("--cache-photos", type=int, default=DEFAULTS.cache_photos,
                   help="photos kept between requests, least recently used dropped first (default: %(default)s)")
    p.add_argument("--cache-mb", type=float, default=DEFAULTS.cache_mb,
                   help="memory the kept photos may take, in MB (default: %(default)s)")
    p.add_argument("--workers", type=int, default=DEFAULTS.workers,
                   help="requests worked on at once; more wait their turn (default: %(default)s)")
    return p.parse_args(argv)


def check_args(args):
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port} is outside 0 .. 65535")
    for flag, value in (("--max-upload-mb", args.max_upload_mb), ("--cache-mb", args.cache_mb)):
        if not value > 0:
            raise UserError(f"{flag} must be above 0, got {value:g}")
    for flag, value in (("--cache-photos", args.cache_photos), ("--workers", args.workers)):
        if value < 1:
            raise UserError(f"{flag} must be at least 1, got {value}")


def _serve_modules():
    """The serve package needs FastAPI and uvicorn, which only the serve extra installs."""
    try:
        from ..serve import app, models, server
    except ImportError as e:
        raise UserError(f"colorization-serve needs {e.name}: pip install -e \".[serve]\"") from None
    return app, models, server


@exit_2_on_user_error
def main(argv=None):
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    args = parse_args(argv)
    check_args(args)
    app_module, models_module, server = _serve_modules()
    models = models_module.load_models(args.model_to_load, args.device, args.backend)
    settings = Settings(max_upload_mb=args.max_upload_mb, cache_photos=args.cache_photos,
                                   cache_mb=args.cache_mb, workers=args.workers)
    warning = server.exposure_warning(args.host)
    if warning:
        print(warning, file=sys.stderr)
    sock = server.bind(args.host, args.port)
    print(f"serving {', '.join(models)} at {server.url_of(sock)}/  (API: {server.url_of(sock)}/docs; Ctrl-C stops)",
          flush=True)
    server.serve_forever(app_module.create_app(models, settings), sock)
    return 0
