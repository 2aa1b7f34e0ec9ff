"""The image source types the framework knows; importing this module registers them (data/source_registry.py). To add
a storage format: a file like source_zip.py, and its name on the import line below."""
from . import source_folder, source_zip  # noqa: F401  (each registers its type)
from .source_registry import SOURCE_TYPES, open_source, source_kinds, source_type_of  # noqa: F401
