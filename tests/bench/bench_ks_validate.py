"""`ovirt-node ks validate` against pykickstart's `ksvalidator`, and how its
time grows with the size of the file.

    .venv/bin/python tests/bench/bench_ks_validate.py [ROUNDS]

1. Start-up: one small node kickstart, validated by both tools as whole
   processes, alternating A B A B ..., ROUNDS rounds (default 7); the ratio
   is taken round by round. Target: median within 1.5x of ksvalidator.
2. Linear time, in this process (start-up excluded): a %post body of 50,000
   and 200,000 lines, and one line of 100,000 and 400,000 characters (a
   `bootloader --append` and an %addon body line). Target: 4x the size takes
   less than 6x the time (a quadratic cost takes 16x).

Exits 1 when a target is missed.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from org_ovirt_node.ks.validate import validate_file  # noqa: E402
from tests.support.kickstarts import GOOD_KS  # noqa: E402

BIN = os.path.dirname(sys.executable)
STARTUP_TARGET = 1.5
GROWTH_TARGET = 6.0


def _process_seconds(argv):
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def startup(workdir, rounds):
    path = os.path.join(workdir, "small.ks")
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(GOOD_KS)
    ours = [os.path.join(BIN, "ovirt-node"), "ks", "validate", path]
    theirs = [os.path.join(BIN, "ksvalidator"), path]
    _process_seconds(ours), _process_seconds(theirs)  # warm the page cache
    times = {"ovirt-node ks validate": [], "ksvalidator": []}
    ratios = []
    for _ in range(rounds):
        a, b = _process_seconds(ours), _process_seconds(theirs)
        times["ovirt-node ks validate"].append(a)
        times["ksvalidator"].append(b)
        ratios.append(a / b)
    for name, values in times.items():
        print(f"  {name:24} min {min(values):.3f}  median {statistics.median(values):.3f}  "
              f"max {max(values):.3f} s")
    ratio = statistics.median(ratios)
    print(f"  ratio (median of pairs) {ratio:.2f}x, target <= {STARTUP_TARGET}x")
    return ratio <= STARTUP_TARGET


def _validate_seconds(path, text):
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(text)
    best = None
    for _ in range(3):
        start = time.perf_counter()
        validate_file(path)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best


def growth(workdir):
    post = lambda n: GOOD_KS + "%post\n" + "".join(f"echo {i} >> /root/log\n" for i in range(n)) + "%end\n"  # noqa: E731
    append = lambda n: GOOD_KS + "bootloader --append='" + "x" * n + "'\n"  # noqa: E731
    addon = lambda n: GOOD_KS.replace("--volume=/var/log:16GiB", "--volume=/var/log:16GiB" + "x" * n)  # noqa: E731
    ok = True
    for name, make, small, large in (("%post lines", post, 50_000, 200_000),
                                     ("bootloader line chars", append, 100_000, 400_000),
                                     ("%addon line chars", addon, 100_000, 400_000)):
        path = os.path.join(workdir, "big.ks")
        t_small, t_large = _validate_seconds(path, make(small)), _validate_seconds(path, make(large))
        factor = t_large / t_small
        print(f"  {name:22} {small:>7,}: {t_small:.3f} s  {large:>7,}: {t_large:.3f} s  "
              f"x{factor:.1f} for x{large // small}, target < x{GROWTH_TARGET:.0f}")
        ok = ok and factor < GROWTH_TARGET
    return ok


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    with tempfile.TemporaryDirectory() as workdir:
        print("ks validate start-up, one small kickstart, whole processes:")
        fast = startup(workdir, rounds)
        print("ks validate growth with the file (in process):")
        linear = growth(workdir)
    return 0 if fast and linear else 1


if __name__ == "__main__":
    sys.exit(main())
