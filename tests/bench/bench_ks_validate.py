"""How `ovirt-node ks validate` time grows with the size of the file.

    .venv/bin/python tests/bench/bench_ks_validate.py

CPU seconds in this process, best of 5, start-up excluded (start-up against
ksvalidator is bench_ks_render.py's ks-validate figure): a %post body of
50,000 and 200,000 lines, and one line of 100,000 and 400,000 characters (a
`bootloader --append` and an %addon body line). Target: 4x the size takes
less than 6x the time (a quadratic cost takes 16x). Exits 1 when a target is missed.
"""

import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

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
    with tempfile.TemporaryDirectory() as workdir:
        print("ks validate growth with the file (in process):")
        return 0 if growth(workdir) else 1


if __name__ == "__main__":
    sys.exit(main())
