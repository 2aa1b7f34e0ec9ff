"""Image sources by type: a type claims the paths it can read (a folder, a .zip ...) and opens them. A source lists
its image names, reads one by name, names it in messages, and fingerprints its files (names, sizes, modification
times) for the screening cache. A new storage format is one file that calls register_source, imported by
data/sources.py."""
from dataclasses import dataclass
from typing import Callable

from ..errors import UserError

SOURCE_TYPES = {}


@dataclass(frozen=True)
class SourceType:
    """claims(path) -> whether `path` is of this type; opener(path) -> the source; what: the type in words, for
    messages ("a folder of images")."""
    name: str
    claims: Callable
    opener: Callable
    what: str


def register_source(name, claims, what):
    """Decorator registering opener(path) -> source (a class or a function) as the source type `name`."""
    def wrap(opener):
        if name in SOURCE_TYPES:
            raise ValueError(f"source type {name!r} is registered twice")
        SOURCE_TYPES[name] = SourceType(name, claims, opener, what)
        return opener
    return wrap


def source_type_of(path):
    """The registered type that claims `path`, or None."""
    return next((t for t in SOURCE_TYPES.values() if t.claims(path)), None)


def source_kinds():
    """The registered types in words, for messages: "a folder of images, a .zip archive"."""
    return ", ".join(t.what for t in SOURCE_TYPES.values())


def open_source(path):
    """The image source at `path`, opened by the type that claims it; UserError when no type does."""
    kind = source_type_of(path)
    if kind is None:
        raise UserError(f"{path} is not an image source; give {source_kinds()}")
    return kind.opener(path)
