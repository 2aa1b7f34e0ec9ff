"""Train a colorization model: python tools/train.py --config-file FILE [--resume] [KEY VALUE ...]

Exit codes: 0 done, or stopped by Ctrl-C / SIGTERM after saving a checkpoint (go on with --resume);
1 the loss became NaN or infinite; 2 a mistake to fix (config, data, paths), named on one `error:` line;
130 Ctrl-C before training started (nothing was saved).
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from colorization.config import load_cfg  # noqa: E402
from colorization.engine.run_folder import default_output_dir  # noqa: E402
from colorization.engine.trainer import NonFiniteLossError, Trainer  # noqa: E402
from colorization.errors import UserError  # noqa: E402
from colorization.utils.distributed import cleanup  # noqa: E402

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", default="", metavar="FILE", help="YAML config overriding the defaults")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in OUTPUT_DIR")
    p.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE pairs overriding the config")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    finished = False  # trained or stopped by a signal after saving, on every process alike
    try:
        cfg = load_cfg(args.config_file, args.opts, freeze=False)
        if not cfg.OUTPUT_DIR:
            cfg.OUTPUT_DIR = default_output_dir(cfg, args.config_file)
        cfg.freeze()
        Trainer(cfg, resume=args.resume).train()
        finished = True
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except NonFiniteLossError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Training itself turns Ctrl-C into a checkpoint and a clean stop; this is Ctrl-C while setting up.
        print("interrupted before training started; nothing was saved", file=sys.stderr)
        return 130
    finally:
        cleanup(wait_for_all=finished)
    return 0


if __name__ == "__main__":
    sys.exit(main())
