"""How `ovirt-node ks validate` time grows with the size of the file.

    .venv/bin/python tests/bench/bench_ks_validate.py [--json]

CPU seconds in this process, best of 5, start-up excluded (start-up against
ksvalidator is bench_ks_render.py's ks-validate figure): a %post body of
50,000 and 200,000 lines, and one line of 100,000 and 400,000 characters (a
`bootloader --append` and an %addon body line). Target: 4x the size takes
less than 6x the time (a quadratic cost takes 16x). Exits 1 when a target is
missed; --json adds the figures to out/bench.json (path ks-validate-growth).
"""

import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "bench"))

from harness import Path, finish  # noqa: E402

from org_ovirt_node.ks.validate import validate_file  # noqa: E402
from tests.support.kickstarts import GOOD_KS  # noqa: E402

GROWTH_TARGET = 6.0


def _validate_seconds(path, text):
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(text)
    best = None
    for _ in range(5):
        start = time.process_time()
        validate_file(path)
        elapsed = time.process_time() - start
        best = elapsed if best is None else min(best, elapsed)
    return best


def growth(workdir, bench):
    post = lambda n: GOOD_KS + "%post\n" + "".join(f"echo {i} >> /root/log\n" for i in range(n)) + "%end\n"  # noqa: E731
    append = lambda n: GOOD_KS + "bootloader --append='" + "x" * n + "'\n"  # noqa: E731
    addon = lambda n: GOOD_KS.replace("--volume=/var/log:16GiB", "--volume=/var/log:16GiB" + "x" * n)  # noqa: E731
    for name, make, small, large in (("%post lines", post, 50_000, 200_000),
                                     ("bootloader line chars", append, 100_000, 400_000),
                                     ("%addon line chars", addon, 100_000, 400_000)):
        path = os.path.join(workdir, "big.ks")
        t_small, t_large = _validate_seconds(path, make(small)), _validate_seconds(path, make(large))
        factor = t_large / t_small
        print(f"  {name:22} {small:>7,}: {t_small:.3f} s  {large:>7,}: {t_large:.3f} s  "
              f"x{factor:.1f} for x{large // small}, target < x{GROWTH_TARGET:.0f}")
        bench.extra[name] = f"{small:,}: {t_small:.3f} s, {large:,}: {t_large:.3f} s (cpu)"
        bench.target(f"{name}: time for x{large // small} the size",
                    bench.ratio(f"{name} x{large // small}", factor), GROWTH_TARGET)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true",
                        help="also write the figures to out/bench.json")
    args = parser.parse_args()
    path = Path("ks-validate-growth", "ks validate CPU time as the file grows (in process, "
                "best of 5)")
    with tempfile.TemporaryDirectory() as workdir:
        print("ks validate growth with the file (in process):")
        growth(workdir, path)
    return finish([path.result()], args.json)


if __name__ == "__main__":
    sys.exit(main())
