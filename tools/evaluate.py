"""Compare models on a data set: the installed command `colorization-evaluate`, kept here for the seed's commands.
See colorization/cli/evaluate.py, or --help."""
import sys

from colorization.cli.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
