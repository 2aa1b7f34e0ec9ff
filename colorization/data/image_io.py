"""Decoding any common image file into 8-bit RGB with OpenCV: EXIF orientation, alpha, 16-bit, palette, CMYK."""
import io

import cv2
import imagesize
import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".webp", ".tif", ".tiff")
# Larger images are refused instead of decoded (a decompression bomb would take gigabytes).
MAX_PIXELS = 1 << 28


class ImageDecodeError(ValueError):
    """The bytes are not a readable image; the message says why."""


def is_image_name(name):
    return name.lower().endswith(IMAGE_EXTENSIONS)


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


def _reduction_flag(width, height, min_short_side):
    # JPEG can be decoded at 1/2, 1/4, 1/8 scale directly: far less memory and time for big photos.
    if not min_short_side:
        return 0
    for factor, flag in ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4),
                         (2, cv2.IMREAD_REDUCED_COLOR_2)):
        if min(width, height) // factor >= min_short_side:
            return flag
    return 0


def _to_uint8_rgb(img):
    """Normalise what IMREAD_UNCHANGED gives (gray, BGRA, 16-bit, float) to 8-bit RGB."""
    if img.dtype == np.uint16:
        img = (img.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    elif img.dtype in (np.float32, np.float64):
        img = (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif img.dtype != np.uint8:
        raise ImageDecodeError(f"unsupported pixel type {img.dtype}")
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)
    if img.shape[2] == 4:
        # Composite over white: the colour under fully transparent pixels is arbitrary.
        alpha = img[:, :, 3:4].astype(np.float32) / 255.0
        bgr = img[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        return cv2.cvtColor((bgr + 0.5).astype(np.uint8), cv2.COLOR_BGR2RGB)
    if img.shape[2] == 1:
        return cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2RGB)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def decode_image(data, min_short_side=0):
    """Bytes of an image file -> HxWx3 uint8 RGB.

    min_short_side lets a large JPEG be decoded at a reduced scale, never below that short side.
    """
    width, height = probe_size(data)
    buf = np.frombuffer(data, np.uint8)
    try:
        if data[:2] == b"\xff\xd8":
            # JPEG: OpenCV applies the EXIF orientation and converts CMYK / gray itself.
            img = cv2.imdecode(buf, _reduction_flag(width, height, min_short_side) or cv2.IMREAD_COLOR)
            if img is not None:
                img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
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
