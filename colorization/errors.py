"""The one exception type for mistakes the user must fix (bad path, config key, file): tools print it and exit 2."""


class UserError(Exception):
    """A problem with the user's input; the message names what to fix."""
