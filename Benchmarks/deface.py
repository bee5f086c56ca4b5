#!/usr/bin/env python3
"""Defacing: how long finding and removing a head's face takes (issue "Privacy of shared head scans").

Usage (from the repository root):

    swift build -c release --product vrprep-bench
    python3 Benchmarks/deface.py [--runs 5] [--threads N] [--json results.json]

Inputs: the series of ``load_series.py`` (prepared in --work, default Benchmarks/work, on first
use): ``sample`` (the head CT, 256 x 256 x 108) and ``large`` (the same head resampled to
512 x 512 x 432, 113 M voxels).

What is timed: ``vrprep-bench deface DIR`` loads the series once, then runs ``Defacing.deface``
(sampling the series on a patient-aligned grid of about 2 mm, finding the face, the distance and
flood fields, and clearing the region at full resolution) once as a warm-up and --runs times;
median and every run, in seconds, with the face found and the millilitres removed. Loading is
not timed (``load_series.py`` times it). No peer is timed: the tools we know for this
(pydeface, mri_deface, quickshear) register a template or need FSL/FreeSurfer, which are not
installable here.

Goal (issue): the 512 x 512 x 432 series defaced in <= 1 s on this 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_series import SERIES, import_packages, parse_series, prepare_series  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
GOALS = {"large-432x512x512": 1.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=parse_series, default=["sample", "large"],
                        help="comma-separated: " + ", ".join(SERIES) + " (default: sample,large)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--work", type=Path, default=ROOT / "Benchmarks" / "work")
    parser.add_argument("--bench", type=Path, default=ROOT / ".build" / "release" / "vrprep-bench")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not args.bench.exists():
        sys.exit(f"{args.bench}: not built (swift build -c release --product vrprep-bench)")
    rows = []
    modules = import_packages()
    for key in args.series:
        label, folder = prepare_series(args.work, modules, key)
        command = [str(args.bench), "deface", str(folder), "--runs", str(args.runs)]
        if args.threads:
            command += ["--threads", str(args.threads)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"{label}: vrprep-bench deface failed: {done.stderr.strip()}")
        result = json.loads(done.stdout)
        result["series"] = label
        rows.append(result)
        goal = GOALS.get(label)
        verdict = "" if goal is None else (f"  (goal <= {goal:g} s: {'met' if result['median'] <= goal else 'NOT met'})")
        print(f"{label:22} {result['voxels'] / 1e6:6.1f} M voxels  median {result['median']:.3f} s  "
              f"face {'found' if result['faceFound'] else 'not found'}, {result['removedML']:.1f} mL removed{verdict}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
