"""Decoding any common image file into 8-bit RGB with OpenCV: EXIF orientation, alpha, 16-bit, palette, CMYK."""
import glob
import io
import logging
import os

import cv2
import imagesize
import numpy as np

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".webp", ".tif", ".tiff")
# Larger images are refused instead of decoded (a decompression bomb would take gigabytes).
MAX_PIXELS = 1 << 28
# Memory one decode may take: OpenCV holds the decoded pixels twice at its peak, then the 8-bit RGB copy. A JPEG
# over it is decoded at a smaller scale; any other format over it is refused, from its header, before decoding.
MAX_DECODE_BYTES = 512 << 20
# Alpha compositing and 16-bit conversion run over strips of about this many pixels (bounded temporaries).
_STRIP_PIXELS = 1 << 20


class ImageDecodeError(ValueError):
    """The bytes are not a readable image; the message says why."""


def is_image_name(name):
    return name.lower().endswith(IMAGE_EXTENSIONS)


def find_image_files(path):
    """The image files under a folder (searched recursively) or matching a glob pattern (** reaches into
    subfolders), unsorted; [] when there are none."""
    if os.path.isdir(path):
        return [os.path.join(d, f) for d, _, files in os.walk(path) for f in files if is_image_name(f)]
    return [p for p in glob.glob(path, recursive=True) if os.path.isfile(p) and is_image_name(p)]


def probe_size(data):
    """(width, height) from the header alone, without decoding; raises ImageDecodeError for non-images."""
    if not data:
        raise ImageDecodeError("empty file")
    try:
        width, height = imagesize.get(io.BytesIO(data))
    except Exception as e:  # imagesize raises various errors on broken headers
        raise ImageDecodeError(f"unreadable header ({e})") from None
    if width <= 0 or height <= 0:
        raise ImageDecodeError("not a recognised image header")
    if width * height > MAX_PIXELS:
        raise ImageDecodeError(f"too large ({width}x{height} pixels, limit {MAX_PIXELS})")
    return width, height


_JPEG_SCALES = ((1, cv2.IMREAD_COLOR), (2, cv2.IMREAD_REDUCED_COLOR_2), (4, cv2.IMREAD_REDUCED_COLOR_4),
                (8, cv2.IMREAD_REDUCED_COLOR_8))


def _jpeg_read_flag(width, height, min_short_side):
    """JPEG can be decoded at 1/2, 1/4, 1/8 scale directly: far less memory and time for big photos.

    The largest reduction that keeps the short side >= min_short_side; then, if the decoded image would still
    exceed MAX_DECODE_BYTES, a stronger one (a huge photo is read smaller rather than not at all).
    """
    chosen = 0
    for i, (factor, _) in enumerate(_JPEG_SCALES):
        if min_short_side and min(width, height) // factor >= min_short_side:
            chosen = i
    wanted = chosen
    while chosen < len(_JPEG_SCALES) - 1 and _jpeg_bytes(width, height, _JPEG_SCALES[chosen][0]) > MAX_DECODE_BYTES:
        chosen += 1
    if chosen != wanted:
        logger.warning("a %dx%d JPEG is decoded at 1/%d scale: at full size it would need about %d MB "
                       "(limit %d MB)", width, height, _JPEG_SCALES[chosen][0],
                       _jpeg_bytes(width, height, _JPEG_SCALES[wanted][0]) >> 20, MAX_DECODE_BYTES >> 20)
    return _JPEG_SCALES[chosen][1]


def _jpeg_bytes(width, height, factor):
    # OpenCV's decoders hold the decoded pixels twice at the peak (measured with OpenCV 5).
    return 2 * -(-width // factor) * -(-height // factor) * 3


def _png_layout(data):
    """(channels as OpenCV decodes them, bytes per sample, label) from a PNG's IHDR, or None."""
    if len(data) < 26 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    depth, color_type = data[24], data[25]
    # gray, -, RGB, palette (BGR, or BGRA with a tRNS chunk), gray + alpha (BGRA), RGBA
    channels, label = {0: (1, "gray"), 2: (3, "RGB"), 3: (4, "palette"), 4: (4, "gray+alpha"),
                       6: (4, "RGBA")}.get(color_type, (4, "PNG"))
    return channels, 2 if depth == 16 else 1, f"{depth}-bit {label} PNG"


def _check_decode_budget(data, width, height):
    """Refuse, from the header, a non-JPEG image whose decode would take more than MAX_DECODE_BYTES."""
    layout = _png_layout(data)
    if layout is None:
        # Other formats: assume the worst OpenCV may hand back (4 channels, 16-bit for TIFF).
        tiff = data[:4] in (b"II*\x00", b"MM\x00*")
        layout = (4, 2 if tiff else 1, "TIFF" if tiff else "image")
    channels, sample_bytes, label = layout
    pixels = width * height
    needed = 2 * pixels * channels * sample_bytes  # what OpenCV decodes, held twice at its peak
    if sample_bytes == 2:
        needed += pixels * channels  # the 8-bit copy
    if channels != 3:
        needed += pixels * 3  # the RGB result
    if needed > MAX_DECODE_BYTES:
        raise ImageDecodeError(f"too large to decode safely: a {width}x{height} {label} needs about "
                               f"{needed >> 20} MB (limit {MAX_DECODE_BYTES >> 20} MB); downscale it or save it "
                               f"as JPEG")


def _strips(img):
    rows = max(1, _STRIP_PIXELS // max(1, img.shape[1]))
    for top in range(0, img.shape[0], rows):
        yield slice(top, top + rows)


def _to_uint8_rgb(img):
    """Normalise what IMREAD_UNCHANGED gives (gray, BGRA, 16-bit, float) to 8-bit RGB.

    Works in place or strip by strip, so converting a big image takes little more memory than the image.
    """
    if img.dtype == np.uint16:
        img = cv2.convertScaleAbs(img, alpha=1.0 / 257.0)  # rounds and saturates like x / 257 + 0.5
    elif img.dtype in (np.float32, np.float64):
        img = (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise ImageDecodeError(f"unsupported pixel type {img.dtype}")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.shape[2] == 4:
        # Composite over white: the colour under fully transparent pixels is arbitrary.
        out = np.empty(img.shape[:2] + (3,), np.uint8)
        for rows in _strips(img):
            part = img[rows]
            alpha = part[:, :, 3:4].astype(np.float32) / 255.0
            bgr = part[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
            out[rows] = cv2.cvtColor((bgr + 0.5).astype(np.uint8), cv2.COLOR_BGR2RGB)
        return out
    if img.shape[2] != 3:
        raise ImageDecodeError(f"unsupported number of channels ({img.shape[2]})")
    img = np.ascontiguousarray(img)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB, dst=img)


def decode_image(data, min_short_side=0):
    """Bytes of an image file -> HxWx3 uint8 RGB.

    min_short_side lets a large JPEG be decoded at a reduced scale, never below that short side (unless the
    full decode would exceed MAX_DECODE_BYTES). Raises ImageDecodeError, with the reason, for anything else.
    """
    width, height = probe_size(data)
    buf = np.frombuffer(data, np.uint8)
    jpeg = data[:2] == b"\xff\xd8"
    if not jpeg:
        _check_decode_budget(data, width, height)
    try:
        if jpeg:
            # JPEG: OpenCV applies the EXIF orientation and converts CMYK / gray itself.
            img = cv2.imdecode(buf, _jpeg_read_flag(width, height, min_short_side))
            if img is not None:
                img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB, dst=img)
        else:
            # PNG, WebP, TIFF, BMP: keep alpha and 16-bit to convert them properly.
            img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
            if img is not None:
                img = _to_uint8_rgb(img)
    except cv2.error as e:
        raise ImageDecodeError(f"OpenCV could not decode it ({str(e).strip().splitlines()[-1]})") from None
    if img is None or img.size == 0:
        raise ImageDecodeError("corrupt or truncated image data")
    return np.ascontiguousarray(img)


def read_image_file(path, min_short_side=0):
    with open(path, "rb") as f:
        data = f.read()
    return decode_image(data, min_short_side)
