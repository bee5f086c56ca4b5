#!/usr/bin/env python3
"""Region growing time: VRPrep vs SimpleITK and scikit-image, measured in the same run.

Usage (from the repository root):

    swift build -c release --product vrprep
    pip install -r Benchmarks/requirements.txt
    python3 Benchmarks/segment.py [--runs 5] [--threads 1,2] [--json results.json] [--confidence-large]

The two input series are the ones of ``load_series.py`` (prepared in --work by
its ``prepare_sample`` / ``prepare_large``, default Benchmarks/work): ``sample/``
(256 x 256 x 108) and ``large-432x512x512/`` (512 x 512 x 432). Each series is
grown from one skull voxel with the interval [226, 3071] HU:

* **VRPrep**: ``vrprep-bench segment DIR --seed i,j,k --connectivity C --threads T
  --runs N`` (one warm-up plus N timed runs inside vrprep; the series is loaded
  once, before), for C in {6, 26}, and ``--method confidence`` (6-connected).
* **SimpleITK** ``ConnectedThresholdImageFilter`` (FaceConnectivity = 6,
  FullConnectivity = 26) and ``ConfidenceConnectedImageFilter`` (multiplier 2.5,
  4 iterations, initial neighbourhood radius 1, as VRPrep's confidence growing),
  on the image read by ``ImageSeriesReader`` from the same files, with the
  thread count set globally and on the filter (both filters are serial anyway).
  Confidence growing runs on the sample only unless --confidence-large is given
  (then once on the large series).
* **scikit-image** ``skimage.segmentation.flood`` (connectivity=1 for 6,
  connectivity=3 for 26) on the boolean array ``(a >= 226) & (a <= 3071)``,
  timed twice: with the threshold computed before the timed region, and with
  the threshold inside it (VRPrep's time includes the interval test).
* **numpy threshold pass** ``(a >= 226) & (a <= 3071)`` on the int16 array, as
  the streaming floor; also with preallocated outputs (``out=``), which
  avoids the page faults of three fresh 1-byte-per-voxel arrays per run.

The script checks that every tool finds the same number of region voxels for
a given connectivity (and method) and prints a WARNING otherwise.

vrprep sets glibc malloc to reuse freed large blocks (its MemoryPolicy), so its
timed runs reuse the mask memory of the previous run and only the warm-up pays
the page faults; --peer-malloc-reuse gives the Python peers the same settings.
Before each measurement the script waits for an idle machine, and it repeats a
measurement during which other processes used the CPU (see CpuWatch).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import ctypes.util
import datetime
import gc
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_series import (GRID, REPO, REQUIREMENTS, SERIES, fail, import_packages, machine_info,  # noqa: E402
                         parse_series, parse_threads, prepare_series)

LOWER, UPPER = 226, 3071
# The same anatomical point (a skull voxel) in both series, as (i, j, k) = (x, y, z).
SEEDS = {"sample": (179, 92, 80), GRID["name"]: (358, 184, 320)}
# The stacked series begin with the large series: its seed lies in their first copy.
SEEDS.update({SERIES[key][0]: SEEDS[GRID["name"]] for key in SERIES if key.startswith("stacked")})
CONFIDENCE = {"multiplier": 2.5, "iterations": 4, "radius": 1}  # ITK's defaults, as VRPrep's
# Goals (large series, VRPrep with 2 threads).
GOAL_6_MS, GOAL_6_RATIO, GOAL_26_MS, GOAL_CONFIDENCE_RATIO = 40, 8, 60, 3


def summary(seconds: list[float]) -> dict:
    return {"seconds": seconds, "best": min(seconds), "median": statistics.median(seconds)}


def timed(function, runs: int) -> tuple[object, list[float]]:
    """One warm-up call, then `runs` timed calls; returns the last result and the times."""
    result = function()
    seconds = []
    gc.disable()
    try:
        for _ in range(runs):
            start = time.perf_counter()
            result = function()
            seconds.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return result, seconds


def reuse_large_allocations() -> bool:
    """The same glibc settings as vrprep's MemoryPolicy (M_MMAP_MAX = 0, M_TRIM_THRESHOLD = max)."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    libc = ctypes.CDLL(name)
    if not hasattr(libc, "mallopt"):
        return False
    return bool(libc.mallopt(-4, 0)) and bool(libc.mallopt(-1, 2**31 - 1))


class CpuWatch:
    """CPU time used by other processes (anything but this process and its waited-for children).

    From /proc/stat (busy time of the whole machine) minus os.times() of this process and its
    children, so that short-lived compiler processes are counted too. Measurements during which
    other processes used more than `max_share` of one core are repeated (`retries` times)."""

    def __init__(self, max_share: float, retries: int, idle_timeout: float, enabled: bool = True):
        self.enabled = enabled and Path("/proc/stat").is_file()
        self.tick = os.sysconf("SC_CLK_TCK") if self.enabled else 100
        self.max_share, self.retries, self.idle_timeout = max_share, retries, idle_timeout

    def snapshot(self) -> tuple[float, float, float]:
        own = sum(os.times()[:4])
        if not self.enabled:
            return time.monotonic(), 0.0, own
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        busy = (fields[0] + fields[1] + fields[2] + fields[5] + fields[6]) / self.tick  # user nice system irq softirq
        return time.monotonic(), busy, own

    def other(self, a, b) -> tuple[float, float]:
        """(wall seconds, CPU seconds used by other processes) between two snapshots."""
        return b[0] - a[0], max(0.0, (b[1] - a[1]) - (b[2] - a[2]))

    def too_busy(self, wall: float, other: float) -> bool:
        # A floor of 5 ticks: both clocks count in ticks.
        return self.enabled and other > max(self.max_share * wall, 5 / self.tick)

    def wait_idle(self) -> None:
        if not self.enabled:
            return
        deadline, told = time.monotonic() + self.idle_timeout, False
        while True:
            a = self.snapshot()
            time.sleep(1.0)
            wall, other = self.other(a, self.snapshot())
            if not self.too_busy(wall, other):
                return
            if time.monotonic() > deadline:
                print(f"warning: the machine is still busy after {self.idle_timeout:.0f} s; measuring anyway",
                      file=sys.stderr)
                return
            if not told:
                print(f"waiting for the machine to be idle (other processes use {other / wall:.0%} of a core) ...",
                      file=sys.stderr)
                told = True
            time.sleep(4.0)

    def measure(self, description: str, function) -> dict:
        """Runs function() (a measurement returning a result dict) on an idle machine."""
        for attempt in range(1, self.retries + 2):
            self.wait_idle()
            a = self.snapshot()
            result = function()
            wall, other = self.other(a, self.snapshot())
            result.update(otherCpuSeconds=round(other, 3), measurementWallSeconds=round(wall, 3),
                          attempts=attempt, disturbed=self.too_busy(wall, other))
            if not result["disturbed"]:
                return result
            print(f"{description}: other processes used {other:.2f} CPU-s in {wall:.2f} s; "
                  + ("repeating" if attempt <= self.retries else "giving up, row marked ‡"), file=sys.stderr)
        return result


def add_idle_options(parser: argparse.ArgumentParser) -> None:
    """The idle-check options (--max-other-cpu, --retries, --idle-timeout, --no-idle-check)."""
    parser.add_argument("--max-other-cpu", type=float, default=0.05,
                        help="repeat a measurement during which other processes used more than this share "
                             "of one core (default: 0.05); before each one, wait for the machine to be idle")
    parser.add_argument("--retries", type=int, default=5,
                        help="how often a disturbed measurement is repeated before it is kept, marked (default: 5)")
    parser.add_argument("--idle-timeout", type=float, default=900,
                        help="seconds to wait for an idle machine before each measurement (default: 900)")
    parser.add_argument("--no-idle-check", action="store_true",
                        help="do not watch other processes' CPU use")


def watch_from_args(args) -> CpuWatch:
    return CpuWatch(args.max_other_cpu, args.retries, args.idle_timeout, enabled=not args.no_idle_check)


# --------------------------------------------------------------------------- tools


def run_vrprep(binary: Path, folder: Path, seed, runs: int, threads: int, connectivity: int,
               method: str) -> dict:
    command = [str(binary), "segment", str(folder), "--seed", ",".join(map(str, seed)),
               "--lower", str(LOWER), "--upper", str(UPPER), "--connectivity", str(connectivity),
               "--method", method, "--runs", str(runs), "--threads", str(threads)]
    process = subprocess.run(command, capture_output=True, text=True)
    if process.returncode != 0:
        fail(f"`{' '.join(command)}` exited with status {process.returncode}:\n{process.stderr.strip()}", 1)
    lines = [line for line in process.stdout.splitlines() if line.startswith("{")]
    if not lines:
        fail(f"`{' '.join(command)}` printed no JSON line:\n{process.stdout}{process.stderr}", 1)
    r = json.loads(lines[-1])
    label = "VRPrep confidence" if method == "confidence" else "VRPrep"
    return {**r, "tool": "vrprep", "label": label, "method": method, "connectivity": connectivity,
            "requestedThreads": threads, "command": " ".join(command)}


def run_sitk_connected(sitk, image, seed, runs: int, threads: int, connectivity: int) -> dict:
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    f = sitk.ConnectedThresholdImageFilter()
    f.SetNumberOfThreads(threads)
    f.SetSeedList([seed])
    f.SetLower(LOWER)
    f.SetUpper(UPPER)
    f.SetReplaceValue(1)
    f.SetConnectivity(f.FaceConnectivity if connectivity == 6 else f.FullConnectivity)
    out, seconds = timed(lambda: f.Execute(image), runs)
    region = int(sitk.GetArrayViewFromImage(out).sum(dtype="int64"))
    return {"tool": "simpleitk", "label": "SimpleITK ConnectedThreshold", "method": "connected",
            "connectivity": connectivity, "requestedThreads": threads, "threads": threads,
            "regionVoxels": region, "serial": True, **summary(seconds)}


def run_sitk_confidence(sitk, image, seed, runs: int, threads: int) -> dict:
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    f = sitk.ConfidenceConnectedImageFilter()
    f.SetNumberOfThreads(threads)
    f.SetSeedList([seed])
    f.SetMultiplier(CONFIDENCE["multiplier"])
    f.SetNumberOfIterations(CONFIDENCE["iterations"])
    f.SetInitialNeighborhoodRadius(CONFIDENCE["radius"])
    f.SetReplaceValue(1)
    out, seconds = timed(lambda: f.Execute(image), runs)
    region = int(sitk.GetArrayViewFromImage(out).sum(dtype="int64"))
    mean, variance = f.GetMean(), f.GetVariance()
    deviation = CONFIDENCE["multiplier"] * variance ** 0.5
    seed_value = float(image[seed])  # ITK widens the interval to hold the seed's value
    return {"tool": "simpleitk", "label": "SimpleITK ConfidenceConnected", "method": "confidence",
            "connectivity": 6, "requestedThreads": threads, "threads": threads, "regionVoxels": region,
            "serial": True, "mean": mean, "variance": variance,
            # ITK thresholds with static_cast<pixel type>(bound): truncation toward zero.
            "lower": min(mean - deviation, seed_value), "upper": max(mean + deviation, seed_value),
            **summary(seconds)}


def run_flood(np, flood, a, seed, runs: int, connectivity: int, threshold_inside: bool) -> dict:
    point = (seed[2], seed[1], seed[0])
    skimage_connectivity = 1 if connectivity == 6 else 3
    if threshold_inside:
        def grow():
            return flood((a >= LOWER) & (a <= UPPER), point, connectivity=skimage_connectivity)
        label = "scikit-image flood, threshold timed"
    else:
        inside = (a >= LOWER) & (a <= UPPER)

        def grow():
            return flood(inside, point, connectivity=skimage_connectivity)
        label = "scikit-image flood, threshold precomputed"
    out, seconds = timed(grow, runs)
    region = int(np.count_nonzero(out))
    return {"tool": "skimage", "label": label, "method": "connected", "connectivity": connectivity,
            "requestedThreads": 1, "threads": 1, "thresholdInside": threshold_inside,
            "regionVoxels": region, **summary(seconds)}


def run_threshold(np, a, runs: int, preallocated: bool) -> dict:
    if preallocated:
        low = np.empty(a.shape, dtype=bool)
        high = np.empty(a.shape, dtype=bool)

        def threshold():
            np.greater_equal(a, LOWER, out=low)
            np.less_equal(a, UPPER, out=high)
            return np.logical_and(low, high, out=low)
        label = "numpy threshold pass, out="
    else:
        def threshold():
            return (a >= LOWER) & (a <= UPPER)
        label = "numpy threshold pass"
    out, seconds = timed(threshold, runs)
    return {"tool": "numpy", "label": label, "method": "threshold", "connectivity": None,
            "requestedThreads": 1, "threads": 1, "preallocated": preallocated,
            "regionVoxels": int(np.count_nonzero(out)), **summary(seconds)}


# --------------------------------------------------------------------------- reporting


def reference_key(r: dict, threads: int):
    """The VRPrep row a peer is compared with: same series, method and connectivity."""
    method = "confidence" if r["method"] == "confidence" else "connected"
    connectivity = r["connectivity"] or 6  # the threshold pass is compared with 6-connected growing
    return (r["series"], method, connectivity, threads)


def vrprep_medians(results: list[dict]) -> dict:
    return {(r["series"], r["method"], r["connectivity"], r["requestedThreads"]): r["median"]
            for r in results if r["tool"] == "vrprep"}


def markdown_table(results: list[dict], reference_threads: int) -> str:
    medians = vrprep_medians(results)
    header = ("| series | tool / method | conn. | threads | median ms | best ms | region voxels | Mvoxels/s "
              f"| peer median / VRPrep median (same conn., {reference_threads} threads) |")
    lines = [header, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        ratio = ""
        if r["tool"] != "vrprep":
            reference = medians.get(reference_key(r, reference_threads))
            if reference:
                ratio = f"{r['median'] / reference:.1f}"
        conn = str(r["connectivity"]) if r["connectivity"] else "–"
        threads = str(r["requestedThreads"]) + ("*" if r.get("serial") else "")
        if r["tool"] in ("skimage", "numpy"):
            threads = "1†"
        mark = " ‡" if r.get("disturbed") else ""
        lines.append(f"| {r['series']} | {r['label']} | {conn} | {threads} | {r['median'] * 1e3:.1f}{mark} "
                     f"| {r['best'] * 1e3:.1f} | {r['regionVoxels']:,} | {r['voxels'] / r['median'] / 1e6:.0f} "
                     f"| {ratio} |")
    if any(r.get("disturbed") for r in results):
        lines += ["", "‡ other processes used the CPU during this measurement: not reliable."]
    lines += [
        "",
        f"Interval [{LOWER}, {UPPER}] HU, seed {SEEDS['sample']} in the sample and {SEEDS[GRID['name']]} in "
        f"the large series. Mvoxels/s = volume voxels / median. Ratio > 1 means VRPrep is faster; for "
        "confidence rows it is against VRPrep confidence, for the threshold pass against 6-connected VRPrep.",
        "\\* SimpleITK: SetNumberOfThreads(T) and SetGlobalDefaultNumberOfThreads(T), but ConnectedThreshold "
        "and ConfidenceConnected are serial (single-threaded flood fill) anyway.",
        "† scikit-image and numpy run single-threaded; timed once per series. Threshold pass rows: "
        "region voxels = voxels inside the interval (no connectivity). \"threshold precomputed\": "
        "flood on the boolean array (a >= lower) & (a <= upper), computed outside the timed region; "
        "\"threshold timed\": the threshold is inside the timed region, like VRPrep's interval test.",
    ]
    return "\n".join(lines)


def check_regions(results: list[dict]) -> list[str]:
    problems = []
    groups: dict = {}
    for r in results:
        if r["method"] == "threshold":
            continue
        groups.setdefault((r["series"], r["method"], r["connectivity"]), []).append(r)
    for (series, method, connectivity), rows in groups.items():
        counts = {f"{r['label']} ({r['requestedThreads']} t)": r["regionVoxels"] for r in rows}
        if len(set(counts.values())) > 1:
            listing = ", ".join(f"{k}: {v:,}" for k, v in counts.items())
            problem = f"{series}, {method}, {connectivity}-connected: region voxel counts differ: {listing}"
            if method == "confidence":
                # Say which final intervals the tools used (ITK casts its bounds to the pixel type).
                intervals = sorted({f"{r['label']}: [{r['lower']:.2f}, {r['upper']:.2f}]"
                                    + (f" -> thresholds [{int(r['lower'])}, {int(r['upper'])}]"
                                       if r["tool"] == "simpleitk" else "")
                                    for r in rows})
                problem += "; final intervals: " + "; ".join(intervals)
            problems.append(problem)
    return problems


def goal_lines(results: list[dict], threads: int) -> list[str]:
    large = GRID["name"]
    medians = vrprep_medians(results)
    v6 = medians.get((large, "connected", 6, threads))
    v26 = medians.get((large, "connected", 26, threads))
    vc = medians.get((large, "confidence", 6, threads))
    s6 = [r["median"] for r in results if r["series"] == large and r["tool"] == "simpleitk"
          and r["method"] == "connected" and r["connectivity"] == 6 and r["requestedThreads"] == threads]
    mark = lambda ok: "met" if ok else "NOT met"
    lines = [f"Goals (large series, VRPrep with {threads} threads):"]
    if v6 is not None:
        lines.append(f"- 6-connected <= {GOAL_6_MS} ms: {v6 * 1e3:.1f} ms, {mark(v6 * 1e3 <= GOAL_6_MS)}")
        if s6:
            ratio = s6[0] / v6
            lines.append(f"- 6-connected >= {GOAL_6_RATIO}x SimpleITK: {ratio:.1f}x, {mark(ratio >= GOAL_6_RATIO)}")
    if v26 is not None:
        lines.append(f"- 26-connected <= {GOAL_26_MS} ms: {v26 * 1e3:.1f} ms, {mark(v26 * 1e3 <= GOAL_26_MS)}")
    if vc is not None and v6 is not None:
        ratio = vc / v6
        lines.append(f"- confidence within {GOAL_CONFIDENCE_RATIO}x of 6-connected growing: {ratio:.1f}x "
                     f"({vc * 1e3:.1f} ms), {mark(ratio <= GOAL_CONFIDENCE_RATIO)}")
    return lines


@contextlib.contextmanager
def private_binary(original: Path, prefix: str):
    """Yields the path of a private copy of the vrprep binary (removed afterwards), so that a
    rebuild during the benchmark does not mix two builds. Its libraries are found by absolute
    run paths; if the copy does not run, the original is used."""
    scratch = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        binary = scratch / "vrprep"
        shutil.copy2(original, binary)
        if subprocess.run([str(binary), "--version"], capture_output=True).returncode != 0:
            binary = original
        yield binary
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def binary_info(binary: Path) -> dict:
    data = binary.read_bytes()
    return {"sha256": hashlib.sha256(data).hexdigest(),
            "mtime": datetime.datetime.fromtimestamp(binary.stat().st_mtime, datetime.timezone.utc)
            .isoformat(timespec="seconds")}


# --------------------------------------------------------------------------- shared by the benchmark scripts


def add_common_arguments(parser: argparse.ArgumentParser, runs: int | None = None,
                         work_help: str = "folder for the generated input series (default: Benchmarks/work)",
                         tool: str = "vrprep") -> None:
    """--vrprep and --work, as every benchmark script takes them; with `runs`, also --runs (that
    default) and --json. `tool`: the binary the script runs: vrprep (the product) or vrprep-bench
    (the kernels timed on their own, a target under Benchmarks/)."""
    parser.add_argument("--vrprep", type=Path, default=REPO / ".build" / "release" / tool,
                        help=f"the {tool} binary (default: .build/release/{tool}); a copy of it is run, so that "
                             "a rebuild during the benchmark does not mix two builds")
    parser.add_argument("--work", type=Path, default=REPO / "Benchmarks" / "work", help=work_help)
    if runs is not None:
        parser.add_argument("--runs", type=int, default=runs,
                            help=f"timed runs per measurement, after one warm-up (default: {runs})")
        parser.add_argument("--json", type=Path, help="also write the results, with machine info, as JSON to this file")


def prepared_series(work: Path, modules, wanted=("sample", "large")) -> tuple[Path, list[tuple[str, Path]]]:
    """The work folder (made if missing) and the input series wanted (short names, see
    load_series.SERIES), each as (folder name, folder), prepared once."""
    work = work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    return work, [prepare_series(work, modules, key) for key in wanted]


def add_series_argument(parser: argparse.ArgumentParser, default=("sample", "large")) -> None:
    parser.add_argument("--series", type=parse_series, default=list(default),
                        help="comma-separated: " + ", ".join(SERIES) + f" (default: {','.join(default)})")


def row_measurer(watch: CpuWatch, name: str, rows: list[dict]):
    """measure(description, function) for a series: runs `function` (which returns a row and an
    output) under the CPU watch, appends the row to `rows`, and returns the row and the output."""
    def measure(description: str, function):
        print(f"{name}: {description} ...", file=sys.stderr)
        holder = {}

        def call():
            row, output = function()
            holder["output"] = output
            return row
        rows.append(watch.measure(f"{name}: {description}", call))
        return rows[-1], holder["output"]
    return measure


def checked_binary(path: Path, hint: str = "") -> Path:
    """The vrprep binary's resolved path; stops with how to build it when there is none."""
    original = path.resolve()
    if not (original.is_file() and os.access(original, os.X_OK)):
        fail(f"{original.name} binary not found at {original}. Build it first with: swift build -c release "
             f"--product {original.name} (or pass --vrprep PATH{hint})")
    return original


def check_sitk_version(sitk) -> None:
    if sitk.Version.VersionString() != "2.5.7":
        print(f"warning: SimpleITK {sitk.Version.VersionString()} is installed, the benchmark was written "
              f"for 2.5.7 (pip install -r {REQUIREMENTS})", file=sys.stderr)


def disturbed_warnings(results: list[dict], args) -> list[str]:
    """A warning when measurements were disturbed by other processes even after the retries."""
    disturbed = [r for r in results if r.get("disturbed")]
    if not disturbed:
        return []
    return [f"{len(disturbed)} measurement(s) marked ‡ were disturbed by other processes "
            f"(more than {args.max_other_cpu:.0%} of a core) even after {args.retries} retries: "
            "their times are not reliable"]


def print_warnings(warnings: list[str]) -> None:
    """Each warning in a banner on standard error, and plainly in the report."""
    banner = "!" * 78
    for warning in warnings:
        print(f"\n{banner}\nWARNING: {warning}\n{banner}", file=sys.stderr)
        print(f"\nWARNING: {warning}")


def add_build(machine: dict, build: dict | None) -> dict:
    """The timed copy of vrprep (hash, date) in the machine description."""
    if build:
        machine["vrprepBinarySha256"] = build["sha256"]
        machine["vrprepBinaryMtime"] = build["mtime"]
    return machine


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description="Region growing time: VRPrep vs SimpleITK and scikit-image.")
    add_common_arguments(parser, runs=5, tool="vrprep-bench")
    parser.add_argument("--threads", type=parse_threads, default=[1, 2],
                        help="comma-separated thread counts for VRPrep and SimpleITK (default: 1,2)")
    parser.add_argument("--confidence-large", action="store_true",
                        help="also run SimpleITK's ConfidenceConnected on the large series (1 timed run)")
    parser.add_argument("--sitk-pixel", choices=("int16", "int32"), default="int16",
                        help="pixel type of the image the SimpleITK filters get: int16 (default; VRPrep's "
                             "voxel type, used by the numpy peers too) or int32 (what ImageSeriesReader "
                             "returns for these files when no output type is set)")
    parser.add_argument("--peer-malloc-reuse", action="store_true",
                        help="apply vrprep's glibc malloc settings (reuse freed large blocks) to this Python "
                             "process too, so that the peers' timed runs also avoid fresh page faults")
    add_series_argument(parser)
    add_idle_options(parser)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    original_binary = checked_binary(args.vrprep)
    modules = import_packages()
    try:
        import skimage
        from skimage.segmentation import flood
    except ImportError:
        fail(f"missing Python package scikit-image. Install it with: pip install -r {REQUIREMENTS}")
    np = modules["numpy"]
    sitk = modules["SimpleITK"]
    check_sitk_version(sitk)
    peer_malloc_reuse = reuse_large_allocations() if args.peer_malloc_reuse else False
    if args.peer_malloc_reuse and not peer_malloc_reuse:
        print("warning: could not apply the malloc settings (mallopt not found)", file=sys.stderr)
    watch = watch_from_args(args)

    work, series = prepared_series(args.work, modules, args.series)
    reference_threads = 2 if 2 in args.threads else max(args.threads)

    results = []
    with private_binary(original_binary, "vrprep-segment-bench-") as binary:
        build = binary_info(binary)
        for name, folder in series:
            results += time_series(args, np, sitk, flood, watch, binary, name, folder)

    problems = check_regions(results)
    print(markdown_table(results, reference_threads))
    print()
    for line in goal_lines(results, reference_threads):
        print(line)
    if peer_malloc_reuse:
        print("\nPeers ran with vrprep's malloc settings (--peer-malloc-reuse).")
    warnings = list(problems) + disturbed_warnings(results, args)
    print_warnings(warnings)

    if args.json:
        machine = machine_info(original_binary, modules)
        machine["scikit-image"] = skimage.__version__
        add_build(machine, build)
        document = {
            "benchmark": "segment",
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "runs": args.runs, "threads": args.threads, "lower": LOWER, "upper": UPPER,
            "confidence": CONFIDENCE, "sitkPixelType": args.sitk_pixel,
            "peerMallocReuse": peer_malloc_reuse, "confidenceLarge": args.confidence_large,
            "idleCheck": {"enabled": watch.enabled, "maxOtherCpuShare": args.max_other_cpu,
                          "retries": args.retries},
            "notes": [
                "SimpleITK ConnectedThreshold and ConfidenceConnected are serial: the thread count is set "
                "(filter and global default) but does not change the work.",
                "scikit-image flood: 'threshold precomputed' rows take the boolean array (a >= lower) & "
                "(a <= upper) computed outside the timed region; 'threshold timed' rows include it.",
                "vrprep sets glibc malloc to reuse freed large blocks (MemoryPolicy): its timed runs reuse "
                "the memory of the previous run; the warm-up run pays the page faults.",
            ],
            "warnings": warnings,
            "regionMismatches": problems,
            "machine": machine,
            "results": results,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)


def time_series(args, np, sitk, flood, watch: CpuWatch, binary: Path, name: str, folder: Path) -> list[dict]:
    seed = SEEDS[name]
    print(f"{name}: reading with SimpleITK ...", file=sys.stderr)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))
    if args.sitk_pixel == "int16":
        reader.SetOutputPixelType(sitk.sitkInt16)
    image = reader.Execute()
    voxels = int(np.prod(image.GetSize()))
    a = sitk.GetArrayFromImage(image)  # (z, y, x), a copy
    if a.dtype != np.int16:
        if a.min() < -32768 or a.max() > 32767:
            fail(f"{name}: values outside the int16 range")
        a = a.astype(np.int16)
    seed_value = int(image[seed])
    if not LOWER <= seed_value <= UPPER:
        fail(f"{name}: seed {seed} has value {seed_value}, outside [{LOWER}, {UPPER}]")
    print(f"{name}: size {image.GetSize()}, {image.GetPixelIDTypeAsString()}, seed {seed} = {seed_value} "
          f"(inside [{LOWER}, {UPPER}])", file=sys.stderr)

    rows = []

    def measure(description: str, function) -> None:
        print(f"{name}: {description} ...", file=sys.stderr)
        rows.append(watch.measure(f"{name}: {description}", function))

    for threads in args.threads:
        for connectivity in (6, 26):
            measure(f"VRPrep {connectivity}-connected, {threads} thread(s)",
                    lambda: run_vrprep(binary, folder, seed, args.runs, threads, connectivity, "connected"))
        measure(f"VRPrep confidence, {threads} thread(s)",
                lambda: run_vrprep(binary, folder, seed, args.runs, threads, 6, "confidence"))
    for threads in args.threads:
        for connectivity in (6, 26):
            measure(f"SimpleITK ConnectedThreshold {connectivity}-connected, {threads} thread(s)",
                    lambda: run_sitk_connected(sitk, image, seed, args.runs, threads, connectivity))
    if name == "sample" or args.confidence_large:
        confidence_runs = args.runs if name == "sample" else 1
        for threads in args.threads:
            measure(f"SimpleITK ConfidenceConnected, {threads} thread(s), {confidence_runs} run(s)",
                    lambda: run_sitk_confidence(sitk, image, seed, confidence_runs, threads))
    for connectivity in (6, 26):
        for inside in (False, True):
            measure(f"scikit-image flood {connectivity}-connected, threshold {'timed' if inside else 'precomputed'}",
                    lambda: run_flood(np, flood, a, seed, args.runs, connectivity, inside))
    for preallocated in (False, True):
        measure(f"numpy threshold pass{', out=' if preallocated else ''}",
                lambda: run_threshold(np, a, args.runs, preallocated))

    for r in rows:
        r["series"] = name
        r["folder"] = str(folder)
        r["seed"] = list(seed)
        r["seedValue"] = seed_value
        if r["tool"] == "vrprep" and r["voxels"] != voxels:
            print(f"WARNING: {name}: VRPrep counted {r['voxels']} voxels, SimpleITK's image has {voxels}",
                  file=sys.stderr)
        r["voxels"] = voxels
    return rows  # the image and the array are freed here


if __name__ == "__main__":
    main()
