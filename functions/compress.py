"""Compression of generated data: cost grows with `size` and the zlib `level`.

`size` bytes are generated deterministically from `seed` with a tunable redundancy (text-like
data compresses, random data does not), then compressed with zlib and checked by
decompressing.

Parameters:
  size        (int, default 1000000, 0..64000000) bytes to generate
  level       (int, default 6, 0..9) zlib compression level
  redundancy  (float, default 0.5, 0..1) share of bytes copied from a small vocabulary
              rather than drawn at random
  seed        (int, default 1) generator seed

Result: {"size", "level", "compressed" (bytes), "ratio", "crc32"}.
"""

import random
import zlib

WORDS = [b"function ", b"invocation ", b"container ", b"cold ", b"warm ", b"latency ",
         b"memory ", b"cgroup ", b"platform ", b"trace "]


def generate(size, redundancy, seed):
    rng = random.Random(seed)
    out = bytearray()
    while len(out) < size:
        if rng.random() < redundancy:
            out += WORDS[rng.randrange(len(WORDS))]
        else:
            out += rng.randbytes(8)
    return bytes(out[:size])


def main(args):
    size = int(args.get("size", 1_000_000))
    level = int(args.get("level", 6))
    redundancy = float(args.get("redundancy", 0.5))
    seed = int(args.get("seed", 1))
    if not 0 <= size <= 64_000_000:
        return {"error": "size must be between 0 and 64000000"}
    if not 0 <= level <= 9:
        return {"error": "level must be between 0 and 9"}
    if not 0.0 <= redundancy <= 1.0:
        return {"error": "redundancy must be between 0 and 1"}
    data = generate(size, redundancy, seed)
    packed = zlib.compress(data, level)
    if zlib.decompress(packed) != data:
        return {"error": "round trip mismatch"}
    return {
        "size": size,
        "level": level,
        "compressed": len(packed),
        "ratio": len(packed) / size if size else 1.0,
        "crc32": zlib.crc32(data),
    }
