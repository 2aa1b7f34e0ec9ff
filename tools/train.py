"""Train a colorization model: the installed command `colorization-train`, kept here for the seed's commands.
See colorization/cli/train.py, or --help."""
import sys

from colorization.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
