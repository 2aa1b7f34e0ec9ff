"""PyAV is an optional dependency (pip install -e ".[video]"): imported when a video is touched, with a clear
message when it is missing."""
from ..errors import UserError


def pyav():
    try:
        import av
    except ImportError:
        raise UserError('video needs PyAV, which is not installed: pip install -e ".[video]" (or pip install av)') \
            from None
    return av
