#!/usr/bin/env python3
"""The whole pipeline, study -> scene package: ``vrprep process`` wall time.

Usage (from the repository root):

    swift build -c release --product vrprep
    python3 Benchmarks/process.py [--runs 3] [--json results.json]

Inputs: the series of ``load_series.py`` (prepared in --work, default
Benchmarks/work, on first use): ``sample`` (256 x 256 x 108) and ``large``
(512 x 512 x 432) by default; with ``--series ...,stacked2,stacked3`` also the
large series stacked two and three times along z (512 x 512 x 864 and 1296, 226 M
and 340 M voxels), to see how cost grows with the voxels.

What is timed: ``vrprep process DIR --out WORK/process-SERIES --json`` with the
defaults (bone and skin, 10 smoothing passes, at most 250,000 triangles per
structure, 1024 x 1024 stereo renders and a thumbnail, the package written and
hashed), as a user runs it: the process's wall time from start to exit, and the
per-stage seconds it reports (load, segment, mesh, render, package). One warm-up
run (page cache, Mesa's shader cache), then --runs timed runs; median and best.
Each run replaces the previous package; the package id must be the same in every
run (determinism) or the script fails. No peer: no tool we know makes this
package in one step (3D Slicer needs a desktop session; InVesalius exports bare
meshes).

Goal (scene-package issue): the sample in <= 10 s and the 512 x 512 x 432 series
in <= 30 s on this 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_series import SERIES, import_packages, parse_series, prepare_series  # noqa: E402
from segment import CpuWatch, add_idle_options, binary_info, private_binary  # noqa: E402

GOALS = {"sample": 10.0, "large-432x512x512": 30.0}


def fail(message: str) -> None:
    print(f"process.py: error: {message}", file=sys.stderr)
    sys.exit(1)


def run_once(binary: str, series: Path, out: Path) -> tuple[float, dict, int]:
    """(wall seconds, the JSON summary, the peak resident memory in bytes) of one run."""
    command = [binary, "process", str(series), "--out", str(out), "--json"]
    start = time.perf_counter()
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        child = subprocess.Popen(command, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        stdout.seek(0)
        stderr.seek(0)
        output, errors = stdout.read().decode(errors="replace"), stderr.read().decode(errors="replace")
    if child.returncode != 0:
        fail(f"`{' '.join(command)}` exited with {child.returncode}:\n{errors.strip()}")
    try:
        return seconds, json.loads(output), usage.ru_maxrss * 1024  # ru_maxrss: KiB on Linux
    except json.JSONDecodeError:
        fail(f"`{' '.join(command)}` printed no JSON summary:\n{output[:500]}")
    raise AssertionError


def voxel_count(series: Path) -> int:
    """Columns x rows x slices of a folder of single-frame slices, from its first file."""
    import pydicom
    files = sorted(p for p in series.iterdir() if p.suffix == ".dcm")
    first = pydicom.dcmread(files[0], stop_before_pixels=True)
    return int(first.Rows) * int(first.Columns) * len(files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vrprep", default=".build/release/vrprep")
    parser.add_argument("--work", default="Benchmarks/work")
    parser.add_argument("--series", type=parse_series, default=["sample", "large"],
                        help="comma-separated: " + ", ".join(SERIES) + " (default: sample,large)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", dest="json_out")
    add_idle_options(parser)
    args = parser.parse_args()
    if args.runs < 1:
        fail("--runs must be at least 1")
    if not Path(args.vrprep).is_file():
        fail(f"{args.vrprep} not found: run `swift build -c release --product vrprep` first")
    watch = CpuWatch(args.max_other_cpu, args.retries, args.idle_timeout, enabled=not args.no_idle_check)
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    modules = import_packages()
    results = []
    with private_binary(Path(args.vrprep), "vrprep-process-bench-") as binary:
        info = binary_info(binary)
        for key in args.series:
            name, series = prepare_series(work, modules, key)
            out = work / f"process-{name}"
            run_once(str(binary), series, out)  # warm-up
            times, stages, ids, disturbed, peaks = [], [], set(), False, []
            for _ in range(args.runs):
                def call():
                    seconds, summary, peak = run_once(str(binary), series, out)
                    return {"seconds": seconds, "summary": summary, "peak": peak}
                measured = watch.measure(f"{name}: vrprep process", call)
                disturbed |= measured["disturbed"]
                times.append(measured["seconds"])
                peaks.append(measured["peak"])
                stages.append(measured["summary"]["seconds"])
                ids.add(measured["summary"]["packageID"])
                structures = measured["summary"]["structures"]
            if len(ids) != 1:
                fail(f"{name}: the package id changed between runs: {sorted(ids)}")
            stage_medians = {k: statistics.median(s[k] for s in stages) for k in stages[0]}
            results.append({"series": name, "seconds": times, "median": statistics.median(times), "best": min(times),
                            "stages": stage_medians, "packageID": ids.pop(), "structures": structures,
                            "goalSeconds": GOALS.get(name), "disturbed": disturbed,
                            "peakBytes": max(peaks), "voxels": voxel_count(series)})
            print(f"{name}: median {statistics.median(times):.2f} s (best {min(times):.2f} s), peak {max(peaks) / 1e9:.2f} GB; stages "
                  + ", ".join(f"{k} {v:.2f} s" for k, v in stage_medians.items()), file=sys.stderr)
    print("| series | median s | best s | load | segment | mesh | render | package | peak GB | goal |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in results:
        s = r["stages"]
        goal = r["goalSeconds"]
        verdict = "" if goal is None else f"≤ {goal:g} s: {'met' if r['median'] <= goal else 'NOT met'}"
        print(f"| {r['series']} | {r['median']:.2f} | {r['best']:.2f} | {s.get('load', 0):.2f} | {s.get('segment', 0):.2f} "
              f"| {s.get('mesh', 0):.2f} | {s.get('render', 0):.2f} | {s.get('package', 0):.2f} | {r['peakBytes'] / 1e9:.2f} | {verdict} |")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"machine": platform.uname()._asdict(), "runs": args.runs,
                                                   "binary": info, "results": results}, indent=2))


if __name__ == "__main__":
    main()
