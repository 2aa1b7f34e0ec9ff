"""The web page and HTTP API: the installed command `colorization-serve`, kept here to run from a checkout.
See colorization/cli/serve.py, or --help."""
import sys

from colorization.cli.serve import main

if __name__ == "__main__":
    sys.exit(main())
