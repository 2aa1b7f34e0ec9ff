"""Train a colorization model: colorization-train --config-file FILE [--resume] [KEY VALUE ...]
(or python tools/train.py ...). Flags and KEY VALUE pairs may come in any order.

Exit codes: 0 done, or stopped by Ctrl-C / SIGTERM after saving a checkpoint (go on with --resume);
1 the loss became NaN or infinite; 2 a mistake to fix (config, data, paths, flags), named on one `error:` line;
130 Ctrl-C before training started (nothing was saved).
"""
import sys

from ..config import load_cfg
from ..engine.run_folder import default_output_dir
from ..engine.trainer import NonFiniteLossError, Trainer
from ..utils.distributed import cleanup
from .common import CommandParser, exit_2_on_user_error


def parse_args(argv=None):
    p = CommandParser(__doc__)
    p.add_argument("--config-file", default="", metavar="FILE", help="YAML config overriding the defaults")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in OUTPUT_DIR")
    p.add_overrides()
    return p.parse_args(argv)


@exit_2_on_user_error
def main(argv=None):
    args = parse_args(argv)
    finished = False  # trained or stopped by a signal after saving, on every process alike
    try:
        cfg = load_cfg(args.config_file, args.opts, freeze=False)
        if not cfg.OUTPUT_DIR:
            cfg.OUTPUT_DIR = default_output_dir(cfg, args.config_file)
        cfg.freeze()
        with Trainer(cfg, resume=args.resume) as trainer:
            trainer.train()
        finished = True
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
