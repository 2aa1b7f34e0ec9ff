"""Strip a checkpoint for shipping: the installed command `colorization-export`, kept here for the seed's commands.
See colorization/cli/export_model.py, or --help."""
import sys

from colorization.cli.export_model import main

if __name__ == "__main__":
    sys.exit(main())
