"""What every bench shares: alternating rounds, min/median/max, ratios, targets.

A bench measures one or more *paths* (deploy, update, remaster, ...). Each
path has contenders (ours, the peers a user would pick instead, the physical
floor), each timed once per round; the order of the contenders alternates
from round to round (forwards, then backwards), so a machine that slows down
or speeds up during the run weighs on all of them alike. Every sample holds
the wall time and the CPU time (user + system of this process and of the
children it waited for), and for commands run as a child the peak memory of
the largest process among them (wait4's ru_maxrss).

Targets compare medians. A path's result is a dict (`Path.result()`) that
`print_path` prints and `--json` writes to out/bench.json.
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path as FsPath

REPO = FsPath(__file__).resolve().parents[2]
JSON_OUT = REPO / "out" / "bench.json"


def say(message):
    """Progress goes to stderr; stdout carries the figures."""
    print(f"==> {message}", file=sys.stderr, flush=True)


def drop_caches():
    """Write back and drop the page cache, so the next contender starts cold."""
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as stream:
        stream.write("3\n")


def _cpu():
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(function, *args):
    """Run FUNCTION(*ARGS); return a sample {wall, cpu} (seconds)."""
    cpu, start = _cpu(), time.monotonic()
    function(*args)
    return {"wall": time.monotonic() - start, "cpu": _cpu() - cpu}


GNU_TIME = "/usr/bin/time"


def timed_command(cmd, env=None, **kwargs):
    """Run CMD as a child; return a sample {wall, cpu, peak_mib}; raise if it fails.

    peak_mib is the largest resident set among CMD and the processes it
    waited for, as GNU time reports it: a child forked from this (large)
    process would count this process's pages until it execs, so the peak is
    taken one level down, below time's own small process.
    """
    with tempfile.NamedTemporaryFile("r", prefix="bench-peak-") as peak_file:
        wrapped = [GNU_TIME, "-f", "%M", "-o", peak_file.name] if os.path.exists(GNU_TIME) \
            else []
        start = time.monotonic()
        process = subprocess.Popen([str(c) for c in wrapped + list(cmd)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                                   **kwargs)
        stderr = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.monotonic() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        process.stderr.close()
        if process.returncode:
            tail = stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise RuntimeError(f"{cmd[0]} failed (exit {process.returncode}): "
                               f"{' | '.join(tail)}")
        text = peak_file.read().strip().splitlines()
        peak_kib = int(text[-1]) if text and text[-1].isdigit() else usage.ru_maxrss
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_mib": peak_kib / 1024}


def spread(values):
    """{min, median, max} of VALUES, rounded for printing."""
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3),
            "max": round(max(values), 3)}


class Path:
    """One measured path: its contenders' samples, ratios and targets."""

    def __init__(self, name, title):
        self.name, self.title = name, title
        self.samples = {}
        self.extra = {}
        self.notes = []
        self.targets = []
        self.ratios = {}

    def rounds(self, rounds, contenders):
        """Time every contender ROUNDS times, alternating the order.

        CONTENDERS maps a name to a function taking no argument and returning
        a sample.
        """
        names = list(contenders)
        for name in names:
            self.samples.setdefault(name, [])
        for number in range(rounds):
            order = names if number % 2 == 0 else names[::-1]
            for name in order:
                if name not in contenders:
                    continue
                sample = contenders[name]()
                self.samples[name].append(sample)
                say(f"{self.name}: round {number + 1}/{rounds}: {name} "
                    f"{sample['wall']:.2f} s (cpu {sample['cpu']:.2f} s"
                    + (f", peak {sample['peak_mib']:.0f} MiB" if "peak_mib" in sample else "")
                    + ")")

    def median(self, name, field="wall"):
        return statistics.median(sample[field] for sample in self.samples[name])

    def ratio(self, label, value):
        self.ratios[label] = round(value, 2)
        return value

    def target(self, label, value, limit, at_most=True, unit="x"):
        """Record target LABEL: VALUE must be <= LIMIT (or >= with at_most False).

        VALUE None means it could not be measured (see the notes): not met,
        not missed.
        """
        met = None if value is None else (value <= limit if at_most else value >= limit)
        self.targets.append({"target": label, "value": None if value is None else round(value, 2),
                             "limit": limit, "op": "<=" if at_most else ">=", "unit": unit,
                             "met": met})

    def missed(self):
        return [target for target in self.targets if target["met"] is False]

    def result(self):
        contenders = {}
        for name, samples in self.samples.items():
            if not samples:
                continue
            figures = {"rounds": len(samples), "wall_s": spread([s["wall"] for s in samples]),
                       "cpu_s": spread([s["cpu"] for s in samples])}
            if all("peak_mib" in s for s in samples):
                figures["peak_mib"] = spread([s["peak_mib"] for s in samples])
            for key in samples[0]:
                if key not in ("wall", "cpu", "peak_mib"):
                    figures[key] = samples[-1][key]
            contenders[name] = figures
        return {"path": self.name, "title": self.title, "contenders": contenders,
                "ratios": self.ratios, "targets": self.targets, "notes": self.notes,
                **self.extra}


def print_path(result, stream=sys.stdout):
    """The path's table: contenders' wall/cpu (and peak) min/median/max, ratios, targets."""
    print(f"\n## {result['path']}: {result['title']}", file=stream)
    for key, value in result.items():
        if key not in ("path", "title", "contenders", "ratios", "targets", "notes"):
            print(f"   {key}: {value}", file=stream)
    print(f"   {'contender':<14}{'rounds':>6}  {'wall s min/median/max':>24}  "
          f"{'cpu s min/median/max':>22}  {'peak MiB':>16}", file=stream)
    for name, figures in result["contenders"].items():
        wall, cpu = figures["wall_s"], figures["cpu_s"]
        peak = figures.get("peak_mib")
        peak_text = f"{peak['min']:.0f}/{peak['median']:.0f}/{peak['max']:.0f}" if peak else "-"
        print(f"   {name:<14}{figures['rounds']:>6}  "
              f"{wall['min']:>7.2f}/{wall['median']:>7.2f}/{wall['max']:>7.2f}  "
              f"{cpu['min']:>6.2f}/{cpu['median']:>6.2f}/{cpu['max']:>6.2f}  {peak_text:>16}",
              file=stream)
    for name, figures in result["contenders"].items():
        for key, value in figures.items():
            if key not in ("rounds", "wall_s", "cpu_s", "peak_mib"):
                shown = f"{value / 2**20:.0f} MiB" if key.endswith("_bytes") else value
                print(f"   {name} {key.replace('_bytes', '')}: {shown}", file=stream)
    for label, value in result["ratios"].items():
        print(f"   ratio {label} = {value:.2f}", file=stream)
    for target in result["targets"]:
        verdict = {True: "met", False: "MISSED", None: "not measured"}[target["met"]]
        value = "n/a" if target["value"] is None else f"{target['value']:.2f}"
        print(f"   target {target['target']}: {value} {target['op']} {target['limit']}"
              f"{target['unit']}: {verdict}", file=stream)
    for note in result["notes"]:
        print(f"   note: {note}", file=stream)


def write_json(results, path=JSON_OUT):
    """Add RESULTS (path results) to PATH, replacing earlier results of the same paths."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        with open(path, encoding="utf-8") as stream:
            known = {item["path"]: item for item in json.load(stream).get("paths", [])}
    except (OSError, ValueError, AttributeError):
        known = {}
    for result in results:
        known[result["path"]] = result
    data = {"written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "cpus": os.cpu_count(), "paths": list(known.values())}
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as stream:
        json.dump(data, stream, indent=1)
        stream.write("\n")
    os.replace(temporary, path)


def finish(results, json_out):
    """Print every path, write JSON if asked; return the exit status (1 if a target is missed)."""
    for result in results:
        print_path(result)
    if json_out:
        write_json(results)
        print(f"\n(figures written to {os.path.relpath(JSON_OUT, os.getcwd())})")
    missed = [f"{result['path']}: {target['target']}" for result in results
              for target in result["targets"] if target["met"] is False]
    for line in missed:
        print(f"MISSED {line}", file=sys.stderr)
    return 1 if missed else 0
