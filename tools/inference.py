"""Colorize photos: the installed command `colorize`, kept here for the seed's commands.
See colorization/cli/inference.py, or --help."""
import sys

from colorization.cli.inference import main

if __name__ == "__main__":
    sys.exit(main())
