"""Draw the pictures of the docs: the installed command `colorization-figures`, kept here for the seed's commands.
See colorization/cli/make_figures.py, or --help."""
import sys

from colorization.cli.make_figures import main

if __name__ == "__main__":
    sys.exit(main())
