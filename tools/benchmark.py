"""Speed and memory figures: the installed command `colorization-benchmark`, kept here for the seed's commands.
See colorization/cli/benchmark.py, or --help."""
import sys

from colorization.cli.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
