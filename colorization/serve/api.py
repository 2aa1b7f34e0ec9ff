"""The HTTP API: models, photo uploads, colorizing (PNG) and suggested colors. Routes are stateless: what a server
holds (models, photos, limits) is the app's `state.server` (a ServerState), made by create_app."""
import json
from typing import Optional

import cv2
from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from ..data import color
from ..data.hint_files import hints_from_json
from ..engine.colorizer import BRIGHTNESS_RANGE, SATURATION_RANGE, TEMPERATURE_RANGE, Colorizer
from ..errors import UserError
from .models import find_model

router = APIRouter()

# PNG settings: zlib level 1 with run-length matching only, faster than OpenCV's default and smaller
# (docs/measured_choices.md).
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE]
MAX_PREVIEW_SIDE = 16384
PHOTO_HELP = "the photo file (JPEG, PNG, WebP, TIFF or BMP); or give photo_id instead"
PHOTO_ID_HELP = "the id of a photo uploaded before (POST /api/photos, or the X-Photo-Id of an earlier answer)"
HINTS_HELP = ('hint points, the JSON that `colorize --hints` reads: {"points": [{"x": 412, "y": 96, "color": '
              '"#3a7bd5"}], "size": 3}; x and y in the photo\'s pixels, size the patch side in network pixels')
MAX_SIDE_HELP = "make the output's longer side at most this many pixels (a preview); default: the photo's size"


def _server(request):
    return request.app.state.server


def _png(rgb):
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".png", bgr, PNG_PARAMS)
    if not ok:
        raise RuntimeError("OpenCV could not encode a PNG")
    return data.tobytes()


def _png_response(rgb, photo):
    return Response(_png(rgb), media_type="image/png",
                    headers={"X-Photo-Id": photo.photo_id, "X-Photo-Size": f"{photo.width}x{photo.height}"})


def _photo(server, upload, photo_id):
    """The Photo a request names: an uploaded file (kept for later requests) or the id of one kept before."""
    if upload is not None and photo_id:
        raise UserError("give either photo (a file) or photo_id, not both")
    if upload is not None:
        data = upload.file.read()
        if not data:
            raise UserError("photo: the uploaded file is empty")
        return server.photos.add(data)
    if not photo_id:
        raise UserError("send a photo: the file as `photo`, or the `photo_id` of one uploaded before")
    return server.photos.get(photo_id)


def _hints(text, photo):
    """UserHints of the `hints` field (None when absent), checked against the photo's size."""
    if text is None or not text.strip():
        return None
    try:
        data = json.loads(text)
    except ValueError as e:
        raise UserError(f"hints is not valid JSON ({e}); {HINTS_HELP}") from None
    return hints_from_json(data, photo.width, photo.height, "hints")


@router.get("/healthz", tags=["server"], summary="liveness: models loaded, photos kept")
def healthz(request: Request):
    server = _server(request)
    cached = server.photos.stats()
    return {"status": "ok", "models": list(server.models), "cached_photos": cached["photos"],
            "cached_bytes": cached["bytes"]}


@router.get("/api/models", tags=["models"], summary="the models this server offers, by name")
def list_models(request: Request):
    return {"models": [m.info() for m in _server(request).models.values()]}


@router.post("/api/photos", tags=["photos"], summary="upload a photo once; later requests name it by photo_id")
def upload_photo(request: Request, photo: UploadFile = File(..., description=PHOTO_HELP)):
    server = _server(request)
    with server.work:
        found = _photo(server, photo, None)
    return {"photo_id": found.photo_id, "width": found.width, "height": found.height}


@router.get("/api/photos/{photo_id}/gray", tags=["photos"],
            summary="the photo in gray (its lightness, as models see it)",
            response_class=Response, responses={200: {"content": {"image/png": {}}}})
def gray_photo(request: Request, photo_id: str,
               max_side: Optional[int] = Query(None, ge=1, le=MAX_PREVIEW_SIDE, description=MAX_SIDE_HELP)):
    server = _server(request)
    photo = server.photos.get(photo_id)
    with server.work:
        rgb = photo.rgb
        scale = max_side / max(photo.width, photo.height) if max_side else 1.0
        if scale < 1.0:
            size = (max(1, round(photo.width * scale)), max(1, round(photo.height * scale)))
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        gray = Colorizer.to_rgb(color.rgb_to_lab(color.to_unit(rgb)), saturation=0.0)
        return _png_response(gray, photo)


@router.post("/api/colorize", tags=["colorize"], summary="colorize a photo: the result as PNG",
             response_class=Response, responses={200: {"content": {"image/png": {}}}})
def colorize(request: Request,
             model: str = Form(..., description="a model name from GET /api/models"),
             photo: Optional[UploadFile] = File(None, description=PHOTO_HELP),
             photo_id: Optional[str] = Form(None, description=PHOTO_ID_HELP),
             hints: Optional[str] = Form(None, description=HINTS_HELP),
             saturation: float = Form(1.0, ge=SATURATION_RANGE[0], le=SATURATION_RANGE[1],
                                      description="color factor: above 1 vivid, below 1 muted, 0 gray"),
             brightness: float = Form(1.0, ge=BRIGHTNESS_RANGE[0], le=BRIGHTNESS_RANGE[1],
                                      description="lightness factor: above 1 lighter, below 1 darker"),
             temperature: Optional[float] = Form(None, ge=TEMPERATURE_RANGE[0], le=TEMPERATURE_RANGE[1],
                                                 description="annealed-mean temperature, classification heads only: "
                                                             "lower is more vivid (default: the model's)"),
             max_side: Optional[int] = Form(None, ge=1, le=MAX_PREVIEW_SIDE, description=MAX_SIDE_HELP)):
    """The response carries the photo's id in `X-Photo-Id` (send it as photo_id next time instead of the file) and
    its size in `X-Photo-Size`."""
    server = _server(request)
    served = find_model(server.models, model)
    served.check_temperature(temperature)
    with server.work:
        found = _photo(server, photo, photo_id)
        user_hints = _hints(hints, found)
        served.check_hints(user_hints)
        prepared = server.photos.prepared(found, served.name, served.colorizer, max_side)
        lab = served.predict(prepared, user_hints, temperature)
        return _png_response(Colorizer.to_rgb(lab, saturation, brightness), found)


@router.post("/api/suggest", tags=["colorize"], summary="colors a classification-head model finds likely at a point")
def suggest(request: Request,
            model: str = Form(..., description="a model name from GET /api/models (one with suggests_colors)"),
            photo_id: str = Form(..., description=PHOTO_ID_HELP),
            x: float = Form(..., description="the point's column in the photo's pixels"),
            y: float = Form(..., description="the point's row in the photo's pixels"),
            hints: Optional[str] = Form(None, description=HINTS_HELP + " (the suggestions take them into account)"),
            top: int = Form(6, ge=1, le=32, description="at most this many colors")):
    """Answers {"colors": [{"hex": "#rrggbb", "ab": [a, b], "probability": p}]}, most likely first: the modes of the
    model's predicted color distribution at the point, shown at the photo's lightness there."""
    server = _server(request)
    served = find_model(server.models, model)
    with server.work:
        found = server.photos.get(photo_id)
        user_hints = _hints(hints, found)
        prepared = server.photos.prepared(found, served.name, served.colorizer)
        colors = served.suggest(prepared, x, y, user_hints, top)
    return JSONResponse({"colors": colors})
