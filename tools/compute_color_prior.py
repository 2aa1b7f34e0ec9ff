"""Color prior of a data set: the installed command `colorization-color-prior`, kept here for the seed's commands.
See colorization/cli/compute_color_prior.py, or --help."""
import sys

from colorization.cli.compute_color_prior import main

if __name__ == "__main__":
    sys.exit(main())
