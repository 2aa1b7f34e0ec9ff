"""The limits of a server (plain data: the command line reads their defaults without importing the web stack)."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """max_upload_mb: largest request body (413 above it); cache_photos / cache_mb: photos kept between requests, by
    count and by memory; workers: requests doing heavy work (decoding, the network, PNG encoding) at once, the
    others wait their turn, which bounds memory under load."""
    max_upload_mb: float = 25.0
    cache_photos: int = 32
    cache_mb: float = 512.0
    workers: int = 2

    @property
    def max_upload_bytes(self):
        return int(self.max_upload_mb * 2**20)

    @property
    def cache_bytes(self):
        return int(self.cache_mb * 2**20)
