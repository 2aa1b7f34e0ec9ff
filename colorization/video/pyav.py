"""PyAV is an optional dependency (pip install -e ".[video]"): imported when a video is touched, with a clear
message when it is missing."""
from ..utils.optional import require


def pyav():
    return require("av", what="video", install='pip install -e ".[video]" (or pip install av)')[0]
