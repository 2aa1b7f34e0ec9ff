"""Pack a data set into shards (WebDataset tar files and an index) that training reads from a folder or a URL.

colorization-pack --dataset NAME_OR_PATH --output FOLDER [--size 256] [--quality 95] [--shard_mb 128]
(or python tools/pack.py ...). NAME_OR_PATH: a catalog name, a folder, a .zip or a .txt file list (PATH@train /
PATH@val for a split). Unreadable, too small and grayscale photos are skipped and counted.
"""
import sys

from tqdm import tqdm

from ..config import load_cfg
from ..data.dataset import split_of
from ..data.pack import pack
from ..data.paths_catalog import resolve_dataset
from ..data.sources import open_source
from ..errors import UserError
from ..utils.io import ensure_writable
from .common import CommandParser, exit_2_on_user_error


def parse_args(argv=None):
    p = CommandParser(__doc__)
    p.add_argument("--dataset", required=True, metavar="NAME_OR_PATH", help="what to pack")
    p.add_argument("--output", required=True, metavar="FOLDER", help="folder of the shards and their index.json")
    p.add_argument("--size", type=int, default=256, help="short side of the stored photos (default: %(default)s)")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality, 50 to 100 (default: %(default)s)")
    p.add_argument("--shard_mb", type=float, default=128, help="about this many MB per shard (default: %(default)s)")
    return p.parse_args(argv)


@exit_2_on_user_error
def main(argv=None):
    args = parse_args(argv)
    if args.size < 8:
        raise UserError(f"--size {args.size}: give a short side of at least 8 pixels")
    if not 50 <= args.quality <= 100:
        raise UserError(f"--quality {args.quality}: give a JPEG quality from 50 to 100")
    if not args.shard_mb > 0:
        raise UserError(f"--shard_mb {args.shard_mb}: give a positive size")
    cfg = load_cfg(None, [])
    spec = resolve_dataset(args.dataset)
    source = open_source(spec.source, spec.root)
    names = source.list_images()
    if spec.split != "all":
        names = [n for n in names if split_of(n, cfg.DATASETS.VAL_FRACTION) == spec.split]
    if not names:
        raise UserError(f"data set {args.dataset!r} holds no image files to pack")
    ensure_writable(args.output, "--output")
    with tqdm(total=len(names), desc="packing", unit="photo", file=sys.stderr, leave=False) as bar:
        index = pack(source, names, args.output, args.size, args.quality, cfg.DATASETS.GRAY_CHROMA_THRESHOLD,
                     int(args.shard_mb * (1 << 20)), progress=lambda done: bar.update(done - bar.n))
    skipped = index["skipped"]
    print(f"{index['photos']} photos in {len(index['shards'])} shard(s) -> {args.output}; skipped "
          f"{skipped['unreadable']} unreadable or too small, {skipped['grayscale']} grayscale")
    return 0
