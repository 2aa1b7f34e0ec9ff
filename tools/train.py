"""Train a colorization model: python tools/train.py --config-file FILE [--resume] [KEY VALUE ...]"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from colorization.config import load_cfg  # noqa: E402
from colorization.config.run import default_output_dir  # noqa: E402
from colorization.engine.trainer import NonFiniteLossError, Trainer  # noqa: E402
from colorization.errors import UserError  # noqa: E402
from colorization.utils.distributed import cleanup  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--config-file", default="", metavar="FILE", help="YAML config overriding the defaults")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in OUTPUT_DIR")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE pairs overriding the config")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        cfg = load_cfg(args.config_file, args.opts, freeze=False)
        if not cfg.OUTPUT_DIR:
            cfg.OUTPUT_DIR = default_output_dir(cfg, args.config_file)
        cfg.freeze()
        Trainer(cfg, resume=args.resume).train()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except NonFiniteLossError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
