"""Video colorization with the engine's Colorizer: frames in (reading), color carried along the motion
(stability), keyframe hints that follow the content (hints_track), flicker measured (flicker), frames out with the
sound (writing, audio), all overlapping in threads (pipeline, threads)."""
from .pipeline import VideoOptions, VideoReport, colorize_video
from .reading import open_frames
from .writing import check_output, open_output

__all__ = ["VideoOptions", "VideoReport", "colorize_video", "open_frames", "open_output", "check_output"]
