"""Fibonacci: CPU-bound, pure Python; cost grows with `n`.

Parameters:
  n       (int, default 20, 0..10000 iterative / 0..32 recursive) which Fibonacci number
  method  ("iterative" | "recursive", default "iterative"): iterative is O(n) big-integer
          additions; recursive is the naive O(phi^n) call tree (n = 25 is ~0.1 s in CPython)

Result: {"n", "method", "digits" (decimal digits of F(n)), "last_digits" (F(n) mod 10^12)}.
"""


def fib_iterative(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def fib_recursive(n):
    return n if n < 2 else fib_recursive(n - 1) + fib_recursive(n - 2)


def main(args):
    n = int(args.get("n", 20))
    method = args.get("method", "iterative")
    if method == "iterative":
        if not 0 <= n <= 10000:
            return {"error": "n must be between 0 and 10000 for the iterative method"}
        value = fib_iterative(n)
    elif method == "recursive":
        if not 0 <= n <= 32:
            return {"error": "n must be between 0 and 32 for the recursive method"}
        value = fib_recursive(n)
    else:
        return {"error": "method must be 'iterative' or 'recursive'"}
    return {
        "n": n,
        "method": method,
        "digits": len(str(value)),
        "last_digits": value % 10**12,
    }
