"""Frames out: an H.264 video (MP4, MOV or MKV; yuv420p; the source's timestamps, frame rate, rotation and pixel
shape; its sound copied) or a folder of PNG frames. Either is written under a temporary name beside the final one
and renamed when complete, so a killed run never leaves a truncated file under the name the user asked for."""
import os
import shutil
import tempfile
from fractions import Fraction

import cv2
import numpy as np

from ..errors import UserError
from ..utils.io import atomic_write, check_output_path, remove_stale_temp_files
from .audio import AudioTrack
from .pyav import pyav

VIDEO_FORMATS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}
CRF_RANGE = (0, 51)
DEFAULT_CRF = 18  # x264's "visually lossless" region
# veryfast keeps the encoder well behind the network on a 2-core CPU; slower presets shrink the file, not the
# quality at a given CRF by much
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
DEFAULT_PRESET = "veryfast"
PNG_COMPRESSION = 1  # fast; frames of a film are many


def output_kind(path):
    """'video' for a path ending in one of VIDEO_FORMATS, 'frames' for a folder: one ending in /, one without an
    extension, or one that exists."""
    ext = os.path.splitext(path.rstrip("/"))[1].lower()
    if path.endswith(("/", os.sep)) or not ext or os.path.isdir(path):
        return "frames"
    if ext in VIDEO_FORMATS:
        return "video"
    raise UserError(f"--output {path}: cannot write {ext}; name a {', '.join(VIDEO_FORMATS)} file or a folder "
                    f"(for PNG frames)")


def check_output(path):
    """Before any work: the output can be written, and a frames folder would not mix with older files."""
    if output_kind(path) == "video":
        check_output_path(path, "--output")
        return
    folder = path.rstrip("/") or "/"
    check_output_path(folder, "--output", folder=True)
    if os.path.isdir(folder) and os.listdir(folder):
        raise UserError(f"--output {path} is a folder that already holds files; name a new or empty folder")


def _even(rgb):
    """H.264 in 4:2:0 needs even sides: repeat the last row or column where one is odd."""
    h, w = rgb.shape[:2]
    if h % 2 or w % 2:
        rgb = cv2.copyMakeBorder(rgb, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)
    return rgb


class VideoFileOutput:
    """write_all(items) encodes (frame, rgb) pairs into `path` and renames it there when they end; audio_end
    (seconds) cuts the sound where the picture stopped early (damage), None copies all of it."""

    def __init__(self, path, info, source, crf=DEFAULT_CRF, preset=DEFAULT_PRESET):
        self.path = path
        self.format = VIDEO_FORMATS[os.path.splitext(path)[1].lower()]
        self.info = info
        self.source = source
        self.crf, self.preset = crf, preset
        self.audio_end = None
        self.notes = []
        if (info.width % 2) or (info.height % 2):
            self.notes.append(f"H.264 (4:2:0) needs even sides: the {info.width}x{info.height} frames are padded to "
                              f"{info.width + info.width % 2}x{info.height + info.height % 2} by repeating the last "
                              f"row or column")

    def write_all(self, items):
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        remove_stale_temp_files(folder, os.path.basename(self.path))
        try:
            atomic_write(self.path, lambda f: self._encode(f, items))
        except OSError as e:
            raise UserError(f"cannot write {self.path} ({e.strerror or e}); choose another --output") from None

    def _open(self, file):
        av = pyav()

        container = av.open(file, "w", format=self.format)
        stream = container.add_stream("libx264", rate=Fraction(self.info.rate).limit_denominator(1001))
        stream.width, stream.height = self.info.width + self.info.width % 2, self.info.height + self.info.height % 2
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(self.crf), "preset": self.preset}
        # the source's own time base: every frame keeps its timestamp, variable frame rate included
        stream.time_base = self.info.time_base
        stream.codec_context.time_base = self.info.time_base
        if self.info.rotation:
            stream.set_display_rotation(self.info.rotation)
        if self.info.sample_aspect_ratio and self.info.sample_aspect_ratio != 1:
            stream.codec_context.sample_aspect_ratio = self.info.sample_aspect_ratio
        audio = AudioTrack(self.source.path, container, self.format) if self.source.audio_streams else None
        return container, stream, audio

    def _encode(self, file, items):
        av = pyav()

        container, stream, audio = self._open(file)
        try:
            for frame, rgb in items:
                picture = av.VideoFrame.from_ndarray(_even(rgb), format="rgb24")
                picture.pts, picture.time_base = frame.pts, self.info.time_base
                container.mux(stream.encode(picture))
                if audio is not None:
                    audio.copy_until(frame.time)
            container.mux(stream.encode(None))
            if audio is not None:
                audio.finish(self.audio_end)
                self.notes.extend(audio.notes)
        finally:
            if audio is not None:
                audio.close()
            container.close()


class FrameFolderOutput:
    """write_all(items) writes NNNNNN.png frames (numbered from 0) into a temporary folder beside `path` and
    renames it to `path` when they end."""

    def __init__(self, path, source):
        self.path = path.rstrip("/") or "/"
        self.audio_end = None
        self.notes = ["a folder of frames keeps no sound"] if source.audio_streams else []

    def write_all(self, items):
        parent, name = os.path.split(os.path.abspath(self.path))
        os.makedirs(parent, exist_ok=True)
        _remove_stale_folders(parent, name)
        tmp = tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=parent)
        try:
            for frame, rgb in items:
                dst = os.path.join(tmp, f"{frame.index:06d}.png")
                bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
                if not cv2.imwrite(dst, bgr, [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION]):
                    raise UserError(f"cannot write {dst}; choose another --output")
            if os.path.isdir(self.path):
                os.rmdir(self.path)  # checked empty before the run; a folder that filled meanwhile stays, and fails
            os.replace(tmp, self.path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def _remove_stale_folders(parent, name):
    """Temporary frame folders of `name` left by a run that was killed before its rename."""
    prefix = f".{name}."
    for entry in os.listdir(parent):
        path = os.path.join(parent, entry)
        if entry.startswith(prefix) and entry.endswith(".tmp") and os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)


def open_output(path, info, source, crf=DEFAULT_CRF, preset=DEFAULT_PRESET):
    if output_kind(path) == "video":
        return VideoFileOutput(path, info, source, crf, preset)
    return FrameFolderOutput(path, source)
