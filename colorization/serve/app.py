"""The web app: create_app(models, settings) builds it (tests call it directly); one handler turns every error into
JSON {"error": "..."} with a 4xx status that names what to fix, and the page is served from the package."""
import logging
import os
import threading

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException

from ..errors import UserError
from .api import router
from .photos import PhotoCache, PhotoNotFound
from .settings import Settings

logger = logging.getLogger(__name__)

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")


class ServerState:
    """What one app holds: its models (name -> ServedModel), its photos, its limits."""

    def __init__(self, models, settings):
        self.models = models
        self.settings = settings
        self.photos = PhotoCache(settings.cache_photos, settings.cache_bytes)
        self.work = threading.BoundedSemaphore(settings.workers)


class UploadTooLarge(HTTPException):
    """HTTPException, so that FastAPI's body parsing lets it through to the error handler as it is."""

    def __init__(self, limit_mb):
        super().__init__(413, f"the request is larger than the server's upload limit of {limit_mb:g} MB "
                              f"(--max-upload-mb); send a smaller photo")


class BodyLimit:
    """ASGI middleware: a request body over max_bytes is answered 413, from Content-Length before anything is read,
    or as soon as a streamed body passes the limit."""

    def __init__(self, app, max_bytes, limit_mb):
        self.app, self.max_bytes, self.limit_mb = app, max_bytes, limit_mb

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers", ())).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            response = _error(413, str(UploadTooLarge(self.limit_mb).detail))
            response.headers["Connection"] = "close"
            return await response(scope, receive, send)
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise UploadTooLarge(self.limit_mb)
            return message

        return await self.app(scope, counted, send)


def _error(status, message):
    return JSONResponse({"error": message}, status_code=status)


def _validation_message(exc):
    """'model: Field required; saturation: Input should be less than or equal to 3' from FastAPI's error list."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "form"))
        parts.append(f"{where or 'request'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def _add_error_handlers(app):
    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError):
        return _error(404 if isinstance(exc, PhotoNotFound) else 400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        return _error(422, _validation_message(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        message = exc.detail if exc.status_code != 404 else f"not found: {request.url.path} (see /docs for the API)"
        return _error(exc.status_code, str(message))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        logger.exception("unexpected error serving %s", request.url.path)
        return _error(500, f"internal error ({type(exc).__name__}); the server log has the details")


def create_app(models, settings=Settings()):
    """The app serving `models` (name -> ServedModel, see load_models) under `settings`."""
    # FastAPI's own /docs loads Swagger UI from a CDN (blank on an offline machine): here the server serves its files.
    # No /redoc: ReDoc's page fetches its logo from the internet.
    app = FastAPIOffline(title="colorization", version="0.1.0", redoc_url=None,
                         description="Colorize photos with the models this server was started with; the page is "
                                     "at /.")
    app.state.server = ServerState(models, settings)
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes, limit_mb=settings.max_upload_mb)
    _add_error_handlers(app)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def page():
        return FileResponse(os.path.join(STATIC_DIR, "index.html"))

    return app
