"""What every command shares: an argument parser whose mistakes are one `error:` line, KEY VALUE config overrides
anywhere among the flags, the one place a UserError becomes that line and exit code 2, and a quick exit."""
import argparse
import atexit
import difflib
import functools
import gc
import sys

from ..engine.colorizer import BACKENDS
from ..errors import UserError


def exit_2_on_user_error(main):
    """Decorate a command's main(argv): a UserError (including a mistake on the command line) is printed as one
    `error: <message>` line on stderr and the command returns 2. Run as the process's command (argv None: read from
    sys.argv), it also makes the process's exit quick (_freeze_objects_at_exit)."""
    @functools.wraps(main)
    def run(argv=None):
        if argv is None:
            _freeze_objects_at_exit()
        try:
            return main(argv)
        except UserError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    return run


_exit_hook_registered = False


def _freeze_objects_at_exit():
    """At the interpreter's exit, after the threads are joined and before its last garbage collections, moves the
    objects still alive out of the collector's sight (gc.freeze). Those collections walk torch's ~10^5 objects and
    cost 0.4-0.7 s per command. The exit otherwise stays the same: every exit handler runs, the output is flushed,
    objects are released as their last reference goes; only those in reference cycles are left to the operating
    system, whose finalizers Python never promises at exit anyway: every command closes its files itself."""
    global _exit_hook_registered
    if not _exit_hook_registered:
        atexit.register(gc.freeze)
        _exit_hook_registered = True


def add_backend_argument(parser):
    """--backend, for every command that runs a colorizer."""
    parser.add_argument("--backend", choices=BACKENDS, default="auto",
                        help="torch, or onnxruntime (a .pth is exported to ONNX in memory first); auto: onnxruntime "
                             "for a .onnx file, torch otherwise")


def _is_number(token):
    try:
        float(token)
        return True
    except ValueError:
        return False


class CommandParser(argparse.ArgumentParser):
    """argparse whose mistakes (a misspelt or missing flag, a bad value) raise a UserError naming the flag.

    With add_overrides(), KEY VALUE pairs may come anywhere among the flags: `--config-file F SOLVER.BASE_LR -1
    --resume`. A token that is not a flag starts a pair; the token after it is its VALUE as written (even `-1e-3`
    or `-x`) unless it starts with `--` or is one of this parser's flags: a forgotten VALUE leaves an odd number of
    overrides for the config loader to name, and a misspelt flag is still reported, instead of either becoming a
    VALUE. Overrides land in args.opts, in their order.
    """

    def __init__(self, doc, **kwargs):
        self._values_of_flag = {}  # option string -> how many values follow it; filled by add_argument
        self._overrides = False
        super().__init__(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)

    def add_argument(self, *args, **kwargs):
        action = super().add_argument(*args, **kwargs)
        for flag in action.option_strings:
            self._values_of_flag[flag] = action.nargs
        return action

    def add_overrides(self, help="KEY VALUE pairs overriding the config"):
        """Accept config overrides anywhere on the command line, into args.opts (shown as KEY VALUE in --help)."""
        self._overrides = True
        # Listed for --help and usage only: parse_args hands argparse the flags alone and fills opts itself.
        super().add_argument("opts", nargs="*", metavar="KEY VALUE", help=help)

    def parse_args(self, args=None, namespace=None):
        argv = list(sys.argv[1:] if args is None else args)
        flags, overrides = self._split_overrides(argv) if self._overrides else (argv, [])
        namespace, unknown = self.parse_known_args(flags, namespace)
        if unknown:
            raise UserError(f"unrecognized arguments: {' '.join(unknown)}{self._did_you_mean(unknown)}")
        if self._overrides:
            namespace.opts = overrides
        return namespace

    def error(self, message):
        raise UserError(f"{message} (see {self.prog} --help)")

    def _split_overrides(self, argv):
        for flag, nargs in self._values_of_flag.items():
            if not (nargs is None or isinstance(nargs, int)):
                raise TypeError(f"{flag} takes nargs={nargs!r}: a variable number of values cannot be told apart "
                                f"from KEY VALUE overrides")
        flags, overrides, i = [], [], 0
        while i < len(argv):
            token = argv[i]
            if token.startswith("-") and len(token) > 1 and not _is_number(token):
                taken = 1 + self._values_after(token)
                flags += argv[i:i + taken]
                i += taken
                continue
            overrides.append(token)
            i += 1
            if i < len(argv) and not argv[i].startswith("--") and self._known_flag(argv[i]) is None:
                overrides.append(argv[i])
                i += 1
        return flags, overrides

    def _known_flag(self, token):
        """The option string `token` selects (exactly, as --flag=value, or as an unambiguous prefix), or None."""
        if not token.startswith("-"):
            return None
        name = token.split("=", 1)[0] if token.startswith("--") else token
        if name in self._values_of_flag:
            return name
        matches = [flag for flag in self._values_of_flag if flag.startswith("--") and flag.startswith(name)]
        return matches[0] if self.allow_abbrev and len(name) > 2 and len(matches) == 1 else None

    def _values_after(self, token):
        flag = self._known_flag(token)
        if flag is None or "=" in token:
            return 0  # an unknown flag is reported by argparse; --flag=value carries its value
        nargs = self._values_of_flag[flag]
        return 1 if nargs is None else nargs

    def _did_you_mean(self, unknown):
        for token in unknown:
            if token.startswith("-"):
                close = difflib.get_close_matches(token.split("=", 1)[0], self._values_of_flag, n=1)
                if close:
                    return f" (did you mean {close[0]}?)"
        return f" (see {self.prog} --help)"
