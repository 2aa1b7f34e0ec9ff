"""Pack a data set into shards: the installed command `colorization-pack`, runnable from a checkout.
See colorization/cli/pack.py, or --help."""
import sys

from colorization.cli.pack import main

if __name__ == "__main__":
    sys.exit(main())
