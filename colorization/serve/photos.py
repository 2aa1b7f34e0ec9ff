"""Uploaded photos kept between requests, least recently used first out, bounded by count and by bytes: each holds
its decoded pixels and, per model and output size, what Colorizer.prepare made of it, so that an update with new
hints or knobs only runs the network."""
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from ..data.image_io import ImageDecodeError, decode_image
from ..errors import UserError


class PhotoNotFound(UserError):
    """A photo id the cache does not hold (never uploaded, or pushed out by newer photos): answered with 404."""


@dataclass
class Photo:
    photo_id: str
    rgb: object  # HxWx3 uint8, as decoded (EXIF orientation applied)
    prepared: dict = field(default_factory=dict)  # (model name, max_side) -> PreparedPhoto

    @property
    def width(self):
        return self.rgb.shape[1]

    @property
    def height(self):
        return self.rgb.shape[0]

    @property
    def nbytes(self):
        return self.rgb.nbytes + sum(p.nbytes for p in list(self.prepared.values()))


def photo_id_of(data):
    """The same file gives the same id: uploading a photo again finds what was prepared for it."""
    return hashlib.sha256(data).hexdigest()[:32]


class PhotoCache:
    """Thread-safe LRU of Photo by id. A photo bigger than max_bytes on its own is still kept (alone): the request
    that brought it needs it."""

    def __init__(self, max_photos, max_bytes):
        if max_photos < 1 or max_bytes < 1:
            raise ValueError("the photo cache needs room for at least one photo")
        self.max_photos = max_photos
        self.max_bytes = max_bytes
        self._photos = OrderedDict()
        self._lock = threading.Lock()

    def add(self, data):
        """The Photo of an uploaded file's bytes (decoded once; a known file is found again)."""
        photo_id = photo_id_of(data)
        with self._lock:
            if photo_id in self._photos:
                self._photos.move_to_end(photo_id)
                return self._photos[photo_id]
        try:
            rgb = decode_image(data)
        except ImageDecodeError as e:
            raise UserError(f"photo: cannot read the image ({e}); send a JPEG, PNG, WebP, TIFF or BMP file") from None
        photo = Photo(photo_id, rgb)
        with self._lock:
            photo = self._photos.setdefault(photo_id, photo)  # a concurrent upload of the same file may have won
            self._photos.move_to_end(photo_id)
            self._evict()
        return photo

    def get(self, photo_id):
        with self._lock:
            photo = self._photos.get(photo_id)
            if photo is None:
                raise PhotoNotFound(f"photo_id {photo_id!r} is unknown or no longer kept (the server keeps the "
                                    f"{self.max_photos} most recent photos); upload the photo again")
            self._photos.move_to_end(photo_id)
            return photo

    def prepared(self, photo, model_name, colorizer, max_side=None):
        """colorizer.prepare(photo) for this model and output size, made once and kept with the photo."""
        key = (model_name, max_side)
        found = photo.prepared.get(key)
        if found is not None:
            return found
        prepared = colorizer.prepare(photo.rgb, max_side)
        with self._lock:
            photo.prepared[key] = prepared
            self._evict()
        return prepared

    def stats(self):
        with self._lock:
            return {"photos": len(self._photos), "bytes": sum(p.nbytes for p in self._photos.values())}

    def _evict(self):
        """Drop least recently used photos while over either bound (the newest one always stays)."""
        total = sum(p.nbytes for p in self._photos.values())
        while len(self._photos) > 1 and (len(self._photos) > self.max_photos or total > self.max_bytes):
            _, dropped = self._photos.popitem(last=False)
            total -= dropped.nbytes
