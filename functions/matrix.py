"""Image-like matrix work in pure Python: cost grows as size^2 (blur) and size^3 (product).

A deterministic `size` x `size` "image" of 8-bit pixels is generated from `seed`, blurred with
a 3x3 box filter `passes` times, and multiplied by its transpose when `multiply` is true.

Parameters:
  size      (int, default 64, 1..400) side of the square image
  passes    (int, default 1, 0..20) box-blur passes
  multiply  (bool, default false) also compute image x image^T (size^3 multiply-adds)
  seed      (int, default 1) pixel generator seed

Result: {"size", "passes", "mean" (after blurring), "checksum", "trace" (of the product, if any)}.
"""


def generate(size, seed):
    # A linear congruential generator: the same pixels on every Python.
    x = seed & 0xFFFFFFFF
    image = []
    for _ in range(size):
        row = []
        for _ in range(size):
            x = (1103515245 * x + 12345) & 0x7FFFFFFF
            row.append(x >> 23)
        image.append(row)
    return image


def blur(image):
    size = len(image)
    out = [[0] * size for _ in range(size)]
    for i in range(size):
        for j in range(size):
            total = 0
            count = 0
            for di in (-1, 0, 1):
                ii = i + di
                if 0 <= ii < size:
                    row = image[ii]
                    for dj in (-1, 0, 1):
                        jj = j + dj
                        if 0 <= jj < size:
                            total += row[jj]
                            count += 1
            out[i][j] = total // count
    return out


def main(args):
    size = int(args.get("size", 64))
    passes = int(args.get("passes", 1))
    seed = int(args.get("seed", 1))
    if not 1 <= size <= 400:
        return {"error": "size must be between 1 and 400"}
    if not 0 <= passes <= 20:
        return {"error": "passes must be between 0 and 20"}
    image = generate(size, seed)
    for _ in range(passes):
        image = blur(image)
    result = {
        "size": size,
        "passes": passes,
        "mean": sum(map(sum, image)) / (size * size),
        "checksum": sum((i + 1) * v for i, row in enumerate(image) for v in row) % 1000000007,
    }
    if args.get("multiply", False):
        columns = list(zip(*image))
        result["trace"] = sum(sum(a * b for a, b in zip(image[i], columns[i])) for i in range(size))
    return result
