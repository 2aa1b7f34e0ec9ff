"""Colorize a video: the installed command `colorization-video`, kept here beside the other tools.
See colorization/cli/video.py, or --help."""
import sys

from colorization.cli.video import main

if __name__ == "__main__":
    sys.exit(main())
