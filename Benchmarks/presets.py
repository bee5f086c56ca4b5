#!/usr/bin/env python3
"""Segmentation presets on phantoms: VRPrep's tumor and vessel presets vs SimpleITK, time and
accuracy, measured in the same run, on the same data.

Usage (from the repository root):

    swift build -c release --product vrprep
    pip install -r Benchmarks/requirements.txt
    python3 Benchmarks/presets.py [--runs 3] [--threads 2] [--series sample,large] [--json results.json]

The two input series are the ones of ``load_series.py`` (prepared in --work by
its ``prepare_sample`` / ``prepare_large``, default Benchmarks/work): ``sample/``
(256 x 256 x 108) and ``large-432x512x512/`` (512 x 512 x 432), the same head in
the same patient space. For each series and each preset, vrprep draws a phantom
with a known truth into the CT:

* **tumor**: a 15 mm sphere at +40 HU (partial volume at its edge), centred at
  LPS (95.7, -100.5, 105) mm, in the brain;
* **vessels**: a branching tube tree (radii 1.5-4 mm) at +300 HU, seeded at LPS
  (125, -110, 50) mm, one branch about 2 mm from the skull;

plus Gaussian noise (sigma 10 HU) on the whole volume. The truth is the exact mask
of the shape (a voxel belongs to it when its centre lies inside).

* **VRPrep**: ``vrprep-bench segment DIR --preset P --phantom --runs N --threads T
  --save-phantom WORK/phantom-P-SERIES`` (series loaded and phantom drawn once, not
  timed; then one warm-up plus N timed runs of the preset; vrprep reports Dice and
  HD95 against the truth). ``--save-phantom`` writes the phantom volume to
  ``PREFIX.nii.gz`` (int16, HU) and its truth to ``PREFIX-truth.nii.gz`` (uint8 0/1),
  so that the peers run on the very same voxels. The script runs a copy of the
  binary.
* **SimpleITK** (thread count T set globally and on each filter), on
  ``PREFIX.nii.gz`` as ``sitk.ReadImage`` reads it (LPS; the seed goes to its
  nearest voxel with ``TransformPhysicalPointToIndex``, as VRPrep places it):

  - tumor: ``ConfidenceConnectedImageFilter`` (multiplier 2.5, 4 iterations, initial
    neighbourhood radius 1, replace value 1: ITK's defaults, as 3D Slicer offers it)
    on the raw phantom, and on the phantom smoothed by
    ``SmoothingRecursiveGaussianImageFilter`` (sigma 1.0 mm, float32 output). In the
    smoothed variant the smoothing is inside the timed region (smoothing + growing,
    one time).
  - vessels: ``ConnectedThresholdImageFilter`` with VRPrep's former fixed CT vessel window
    [150, 700] HU, 6-connected (FaceConnectivity, SimpleITK's default and VRPrep's).

  Each is one warm-up plus N timed ``Execute`` calls; median and best.

Accuracy, outside the timed regions, for every row: Dice and HD95 against the truth,
region voxels and voxels outside the truth. HD95 is computed as VRPrep's
``Overlap.hausdorff95``: boundary voxels are mask voxels with a 6-neighbour outside the
mask (voxels on the border of the box around both masks count); for each boundary
voxel of each mask, the distance (mm) from its centre to the nearest boundary voxel
centre of the other mask (``scipy.ndimage.distance_transform_edt`` with the voxel
spacing, on the complement of the other's boundary); the element at index
``ceil(0.95 * (n - 1))`` of all those distances, sorted. For the vessel rows the
script also counts **bone voxels**: region voxels that are >= 226 HU in the original
series (read with ``ImageSeriesReader``) and not in the truth; ``vrprep-bench segment``
reports the same count for its own mask (``boneVoxels``, taken from the series before
the phantom was drawn).

Checks, with a loud failure: the phantom's grid is the original series' grid; outside
the truth the phantom differs from the original by noise only (so the NIfTI was read
in the right orientation); the seed voxel lies in the truth and its value is within
50 HU (5 sigma of the noise) of the expected ~60 HU (tumor) / ~320 HU (vessels).
Before each measurement the script waits for an idle machine and repeats a
measurement during which other processes used the CPU (segment.py's CpuWatch).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_series import (GRID, fail, import_packages, machine_info, parse_series)  # noqa: E402
from segment import (CONFIDENCE, LOWER, add_build, add_common_arguments, add_idle_options,  # noqa: E402
                     binary_info, check_sitk_version, checked_binary, disturbed_warnings, print_warnings,
                     prepared_series, private_binary, row_measurer, summary, timed, watch_from_args)

PRESETS = ("tumor", "vessels")
# The phantoms' seeds (LPS mm), where vrprep seeds its presets.
SEED_MM = {"tumor": (95.7, -100.5, 105.0), "vessels": (125.0, -110.0, 50.0)}
EXPECTED_SEED_HU = {"tumor": 60.0, "vessels": 320.0}
SEED_TOLERANCE_HU = 50.0  # 5 sigma of the phantom's noise
NOISE_SIGMA_HU = 10.0
VESSEL_WINDOW = (150, 700)  # VRPrep's former fixed CT vessel window (it now takes the window from the blood around the seeds)
BONE_HU = LOWER  # 226: bone in the original series
SMOOTHING_SIGMA_MM = 1.0
# Goals (from the presets issue): large series, VRPrep on 2 cores; Dice on every series.
GOAL_SECONDS = {"tumor": 1.0, "vessels": 5.0}
GOAL_DICE = {"tumor": 0.90, "vessels": 0.85}


# --------------------------------------------------------------------------- accuracy


def boundary(ndimage, mask):
    """Mask voxels with a 6-neighbour outside the mask (voxels on the array's border count)."""
    inner = ndimage.binary_erosion(mask, structure=ndimage.generate_binary_structure(3, 1), border_value=0)
    return mask & ~inner


def bounding_box(np, mask):
    """((low z, y, x), (high z, y, x)) of the non-zero voxels, or None."""
    low, high = [], []
    for axis in range(3):
        present = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        if present.size == 0:
            return None
        low.append(int(present[0]))
        high.append(int(present[-1]))
    return low, high


def hausdorff95(np, ndimage, a, b, spacing_zyx) -> float | None:
    """VRPrep's Overlap.hausdorff95 (mm) of two boolean masks (z, y, x); None when either is empty."""
    box_a, box_b = bounding_box(np, a), bounding_box(np, b)
    if box_a is None or box_b is None:
        return None
    # The box around both masks, one voxel larger on each side (within the grid), as VRPrep crops.
    crop = tuple(slice(max(0, min(la, lb) - 1), min(n, max(ha, hb) + 2))
                 for la, lb, ha, hb, n in zip(box_a[0], box_b[0], box_a[1], box_b[1], a.shape))
    ca, cb = boundary(ndimage, a[crop]), boundary(ndimage, b[crop])
    to_b = ndimage.distance_transform_edt(~cb, sampling=spacing_zyx)
    distances = [to_b[ca]]
    del to_b
    to_a = ndimage.distance_transform_edt(~ca, sampling=spacing_zyx)
    distances.append(to_a[cb])
    del to_a
    distances = np.sort(np.concatenate(distances))
    if distances.size == 0:
        return None
    return float(distances[math.ceil(0.95 * (distances.size - 1))])


def accuracy(np, ndimage, region, truth, spacing_zyx, bone=None) -> dict:
    """Dice, HD95 and voxel counts of a boolean region against the boolean truth."""
    region_voxels = int(np.count_nonzero(region))
    truth_voxels = int(np.count_nonzero(truth))
    both = int(np.count_nonzero(region & truth))
    dice = 1.0 if region_voxels + truth_voxels == 0 else 2.0 * both / (region_voxels + truth_voxels)
    result = {"regionVoxels": region_voxels, "truthVoxels": truth_voxels, "dice": dice,
              "hausdorff95MM": hausdorff95(np, ndimage, region, truth, spacing_zyx),
              "outsideTruthVoxels": region_voxels - both, "missedTruthVoxels": truth_voxels - both}
    if bone is not None:
        result["boneVoxels"] = int(np.count_nonzero(region & bone))
    return result


# --------------------------------------------------------------------------- tools


def run_vrprep(binary: Path, folder: Path, preset: str, runs: int, threads: int, prefix: Path) -> dict:
    command = [str(binary), "segment", str(folder), "--preset", preset, "--phantom",
               "--runs", str(runs), "--threads", str(threads), "--save-phantom", str(prefix)]
    for path in phantom_paths(prefix):
        path.unlink(missing_ok=True)  # so that a stale phantom cannot be read
    process = subprocess.run(command, capture_output=True, text=True)
    if process.returncode != 0:
        fail(f"`{' '.join(command)}` exited with status {process.returncode}:\n{process.stderr.strip()}", 1)
    lines = [line for line in process.stdout.splitlines() if line.startswith("{")]
    if not lines:
        fail(f"`{' '.join(command)}` printed no JSON line:\n{process.stdout}{process.stderr}", 1)
    r = json.loads(lines[-1])
    if r.get("preset") != preset or "dice" not in r:
        fail(f"`{' '.join(command)}` printed an unexpected JSON object: {lines[-1]}", 1)
    hd95 = r.get("hausdorff95MM")
    return {"tool": "vrprep", "label": "VRPrep", "variant": "preset", "preset": preset,
            "requestedThreads": threads, "threads": r["threads"], "dimensions": r["dimensions"],
            "regionVoxels": r["regionVoxels"], "dice": r["dice"],
            "hausdorff95MM": hd95 if hd95 is not None and hd95 >= 0 else None,
            "vrprepMedian": r["median"], "command": " ".join(command), **summary(r["seconds"]),
            **({"boneVoxels": r["boneVoxels"]} if "boneVoxels" in r else {})}


def phantom_paths(prefix: Path) -> tuple[Path, Path]:
    return prefix.with_name(prefix.name + ".nii.gz"), prefix.with_name(prefix.name + "-truth.nii.gz")


def run_sitk_confidence(sitk, image, seed, runs: int, threads: int, smoothed: bool):
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    smoothing = sitk.SmoothingRecursiveGaussianImageFilter()
    smoothing.SetNumberOfThreads(threads)
    smoothing.SetSigma(SMOOTHING_SIGMA_MM)
    f = sitk.ConfidenceConnectedImageFilter()
    f.SetNumberOfThreads(threads)
    f.SetSeedList([seed])
    f.SetMultiplier(CONFIDENCE["multiplier"])
    f.SetNumberOfIterations(CONFIDENCE["iterations"])
    f.SetInitialNeighborhoodRadius(CONFIDENCE["radius"])
    f.SetReplaceValue(1)
    if smoothed:
        out, seconds = timed(lambda: f.Execute(smoothing.Execute(image)), runs)
        label = f"SimpleITK SmoothingRecursiveGaussian {SMOOTHING_SIGMA_MM:g} mm + ConfidenceConnected"
    else:
        out, seconds = timed(lambda: f.Execute(image), runs)
        label = "SimpleITK ConfidenceConnected"
    mean, variance = f.GetMean(), f.GetVariance()
    deviation = CONFIDENCE["multiplier"] * variance ** 0.5
    row = {"tool": "simpleitk", "label": label, "variant": "confidence-smoothed" if smoothed else "confidence",
           "preset": "tumor", "requestedThreads": threads, "threads": threads,
           "smoothingSigmaMM": SMOOTHING_SIGMA_MM if smoothed else None, "smoothingTimed": smoothed,
           "confidence": CONFIDENCE, "mean": mean, "variance": variance,
           "lower": mean - deviation, "upper": mean + deviation, **summary(seconds)}
    return row, out


def run_sitk_connected(sitk, image, seed, runs: int, threads: int):
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    f = sitk.ConnectedThresholdImageFilter()
    f.SetNumberOfThreads(threads)
    f.SetSeedList([seed])
    f.SetLower(VESSEL_WINDOW[0])
    f.SetUpper(VESSEL_WINDOW[1])
    f.SetReplaceValue(1)
    f.SetConnectivity(f.FaceConnectivity)
    out, seconds = timed(lambda: f.Execute(image), runs)
    row = {"tool": "simpleitk", "label": "SimpleITK ConnectedThreshold", "variant": "connected",
           "preset": "vessels", "requestedThreads": threads, "threads": threads, "connectivity": 6,
           "lower": VESSEL_WINDOW[0], "upper": VESSEL_WINDOW[1], **summary(seconds)}
    return row, out


# --------------------------------------------------------------------------- reporting


def find(results, series, preset, tool="vrprep"):
    for r in results:
        if (r["series"], r["preset"], r["tool"]) == (series, preset, tool):
            return r
    return None


def ratio_for(r: dict, results: list[dict]) -> float | None:
    """Peer median / VRPrep median, same series and preset."""
    if r["tool"] == "vrprep":
        return None
    v = find(results, r["series"], r["preset"])
    return r["median"] / v["median"] if v else None


def bone_cell(r: dict) -> str:
    if r["preset"] != "vessels":
        return ""
    return f"{r['boneVoxels']:,}"


def markdown_table(results: list[dict], threads: int) -> str:
    lines = ["| series | preset | tool | median s | best s | Dice | HD95 mm | region voxels | outside truth "
             "| bone voxels | peer median / VRPrep median |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in results:
        ratio = ratio_for(r, results)
        hd95 = "–" if r["hausdorff95MM"] is None else f"{r['hausdorff95MM']:.2f}"
        mark = " ‡" if r.get("disturbed") else ""
        lines.append(f"| {r['series']} | {r['preset']} | {r['label']} | {r['median']:.4f}{mark} | {r['best']:.4f} "
                     f"| {r['dice']:.3f} | {hd95} | {r['regionVoxels']:,} | {r['outsideTruthVoxels']:,} "
                     f"| {bone_cell(r)} | {'' if ratio is None else f'{ratio:.2f}'} |")
    truths = {(r["series"], r["preset"]): r["truthVoxels"] for r in results}
    lines += [
        "",
        "Truth voxels: " + "; ".join(f"{s} {p} {n:,}" for (s, p), n in truths.items()) + ".",
        f"{threads} thread(s) for every tool (vrprep --threads, SimpleITK SetNumberOfThreads and "
        "SetGlobalDefaultNumberOfThreads; the region-growing filters are serial). Ratio > 1 means VRPrep is faster. "
        f"The smoothed SimpleITK row times SmoothingRecursiveGaussian ({SMOOTHING_SIGMA_MM:g} mm) and "
        "ConfidenceConnected together. Outside truth = region voxels not in the truth mask. Bone voxels = region "
        f"voxels >= {BONE_HU} HU in the original series and not in the truth.",
    ]
    if any(r.get("disturbed") for r in results):
        lines.append("‡ other processes used the CPU during this measurement: not reliable.")
    return "\n".join(lines)


def goal_lines(results: list[dict], threads: int) -> list[str]:
    large = GRID["name"]
    mark = lambda ok: "met" if ok else "NOT met"
    lines = [f"Goals (VRPrep, {threads} threads; times on the large series, {large}, for 2 cores):"]
    for preset in PRESETS:
        v = find(results, large, preset)
        if v:
            lines.append(f"- {preset} preset <= {GOAL_SECONDS[preset]:g} s: {v['median']:.4f} s, "
                         f"{mark(v['median'] <= GOAL_SECONDS[preset])}")
    for series in dict.fromkeys(r["series"] for r in results):
        v = find(results, series, "tumor")
        if v:
            lines.append(f"- {series}: tumor Dice >= {GOAL_DICE['tumor']:.2f}: {v['dice']:.3f}, "
                         f"{mark(v['dice'] >= GOAL_DICE['tumor'])}")
        v = find(results, series, "vessels")
        if v:
            dice_ok = v["dice"] >= GOAL_DICE["vessels"]
            bone_text = f"{v['boneVoxels']:,} bone voxel(s)"
            verdict = mark(dice_ok and v["boneVoxels"] == 0)
            lines.append(f"- {series}: vessel Dice >= {GOAL_DICE['vessels']:.2f} with no bone voxel: "
                         f"{v['dice']:.3f}, {bone_text}; {verdict}")
    return lines


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description="Segmentation presets on phantoms: VRPrep vs SimpleITK.")
    add_common_arguments(parser, runs=3,
                         work_help="folder for the generated input series and the phantoms (default: Benchmarks/work)",
                         tool="vrprep-bench")
    parser.add_argument("--series", type=parse_series, default=["sample", "large"],
                        help="comma-separated: sample, large (default: both)")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads for VRPrep and SimpleITK (default: 2, the goals' core count)")
    add_idle_options(parser)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    if set(args.series) - {"sample", "large"}:
        parser.error("--series: the phantoms are drawn on sample and large only")

    original_binary = checked_binary(args.vrprep)
    modules = import_packages()
    sitk = modules["SimpleITK"]
    check_sitk_version(sitk)
    watch = watch_from_args(args)

    work, series = prepared_series(args.work, modules, args.series)

    results = []
    with private_binary(original_binary, "vrprep-presets-bench-") as binary:
        build = binary_info(binary)
        for name, folder in series:
            results += time_series(args, modules, watch, binary, work, name, folder)

    print(markdown_table(results, args.threads))
    print()
    for line in goal_lines(results, args.threads):
        print(line)
    warnings = disturbed_warnings(results, args)
    print_warnings(warnings)

    if args.json:
        machine = machine_info(original_binary, modules)
        add_build(machine, build)
        document = {
            "benchmark": "presets",
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "runs": args.runs, "threads": args.threads, "series": [name for name, _ in series],
            "seedsMM": SEED_MM, "expectedSeedHU": EXPECTED_SEED_HU, "seedToleranceHU": SEED_TOLERANCE_HU,
            "confidence": CONFIDENCE, "smoothingSigmaMM": SMOOTHING_SIGMA_MM, "vesselWindow": VESSEL_WINDOW,
            "boneHU": BONE_HU,
            "goals": {"secondsLarge": GOAL_SECONDS, "dice": GOAL_DICE, "boneVoxels": 0},
            "idleCheck": {"enabled": watch.enabled, "maxOtherCpuShare": args.max_other_cpu,
                          "retries": args.retries},
            "notes": [
                "vrprep draws the phantom into the series once (not timed) and writes it with --save-phantom; the "
                "SimpleITK peers read those files, so all tools segment the same voxels.",
                "median and best are computed from the per-run seconds (statistics.median) for every tool; "
                "vrprep's own median (upper median) is kept as vrprepMedian.",
                "The smoothed ConfidenceConnected row times SmoothingRecursiveGaussian and ConfidenceConnected "
                "together.",
                f"boneVoxels: region voxels >= {BONE_HU} HU in the original series and not in the truth (for VRPrep, "
                "counted by vrprep-bench segment itself).",
                "HD95 as VRPrep's Overlap.hausdorff95: 6-neighbour boundary voxels, distances between voxel centres "
                "in mm, element ceil(0.95 (n - 1)) of the sorted distances of both directions.",
            ],
            "warnings": warnings,
            "goalLines": goal_lines(results, args.threads)[1:],
            "machine": machine,
            "results": results,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)


def read_original(sitk, folder: Path):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))
    reader.SetOutputPixelType(sitk.sitkInt16)
    return reader.Execute()


def check_same_grid(name: str, a, b, what: str) -> None:
    if a.GetSize() != b.GetSize():
        fail(f"{name}: {what}: size {b.GetSize()}, the original series {a.GetSize()}", 1)
    for key, tolerance in (("GetSpacing", 1e-4), ("GetOrigin", 1e-3), ("GetDirection", 1e-5)):
        va, vb = getattr(a, key)(), getattr(b, key)()
        if any(abs(x - y) > tolerance for x, y in zip(va, vb)):
            fail(f"{name}: {what}: {key[3:].lower()} {vb}, the original series {va}", 1)


def time_series(args, modules, watch, binary: Path, work: Path, name: str, folder: Path) -> list[dict]:
    np = modules["numpy"]
    ndimage = modules["scipy.ndimage"]
    sitk = modules["SimpleITK"]
    print(f"{name}: reading the original series with SimpleITK ...", file=sys.stderr)
    original = read_original(sitk, folder)
    spacing_zyx = tuple(reversed(original.GetSpacing()))
    bone_original = sitk.GetArrayViewFromImage(original) >= BONE_HU  # (z, y, x)
    rows = []

    measure = row_measurer(watch, name, rows)

    for preset in PRESETS:
        prefix = work / f"phantom-{preset}-{name}"
        v, _ = measure(f"VRPrep {preset} preset, {args.threads} thread(s), writing {prefix}.nii.gz",
                       lambda: (run_vrprep(binary, folder, preset, args.runs, args.threads, prefix), None))
        volume_path, truth_path = phantom_paths(prefix)
        for path in (volume_path, truth_path):
            if not path.is_file():
                fail(f"{name}: vrprep did not write {path}", 1)
        image = sitk.ReadImage(str(volume_path))
        truth_image = sitk.ReadImage(str(truth_path))
        check_same_grid(name, original, image, f"phantom {volume_path.name}")
        check_same_grid(name, original, truth_image, f"truth {truth_path.name}")
        if image.GetPixelID() != sitk.sitkInt16:
            fail(f"{name}: {volume_path.name} is {image.GetPixelIDTypeAsString()}, expected 16-bit signed integer", 1)
        truth = sitk.GetArrayViewFromImage(truth_image) != 0
        if list(image.GetSize()) != list(v["dimensions"]):
            fail(f"{name}: vrprep reports dimensions {v['dimensions']}, {volume_path.name} has {image.GetSize()}", 1)

        # Outside the truth the phantom is the original plus noise: checks orientation and alignment.
        outside = ~truth
        difference = (sitk.GetArrayViewFromImage(image)[outside].astype(np.float32)
                      - sitk.GetArrayViewFromImage(original)[outside])
        shift, spread = float(difference.mean()), float(difference.std())
        del difference, outside
        if abs(shift) > 1.0 or spread > 2 * NOISE_SIGMA_HU:
            fail(f"{name}: outside the truth, {volume_path.name} minus the original series has mean {shift:.2f} HU "
                 f"and standard deviation {spread:.2f} HU (expected about 0 and {NOISE_SIGMA_HU:g}): the phantom "
                 "does not line up with the original series (orientation?)", 1)

        seed = image.TransformPhysicalPointToIndex(SEED_MM[preset])
        if any(not 0 <= s < n for s, n in zip(seed, image.GetSize())):
            fail(f"{name}: {preset} seed {SEED_MM[preset]} mm falls outside the image, at index {seed}", 1)
        seed_value = int(image[seed])
        in_truth = bool(truth_image[seed])
        if not in_truth or abs(seed_value - EXPECTED_SEED_HU[preset]) > SEED_TOLERANCE_HU:
            fail(f"{name}: {preset} seed {SEED_MM[preset]} mm -> voxel {seed} has value {seed_value} HU "
                 f"({'in' if in_truth else 'NOT in'} the truth); expected about {EXPECTED_SEED_HU[preset]:g} HU "
                 f"(±{SEED_TOLERANCE_HU:g}) inside the truth", 1)
        print(f"{name}: {preset} phantom {image.GetSize()}, seed {SEED_MM[preset]} mm -> voxel {seed} = "
              f"{seed_value} HU (in the truth), truth {int(np.count_nonzero(truth)):,} voxels, outside it "
              f"phantom - original = {shift:+.2f} ± {spread:.2f} HU", file=sys.stderr)

        bone = (bone_original & ~truth) if preset == "vessels" else None
        # VRPrep: its own Dice and HD95; the voxels outside the truth follow from Dice and the counts.
        truth_voxels = int(np.count_nonzero(truth))
        both = round(v["dice"] * (v["regionVoxels"] + truth_voxels) / 2)
        v.update(truthVoxels=truth_voxels, outsideTruthVoxels=v["regionVoxels"] - both,
                 missedTruthVoxels=truth_voxels - both)
        if preset == "vessels" and "boneVoxels" not in v:
            fail(f"{name}: vrprep-bench segment --preset vessels --phantom printed no boneVoxels (an older binary?)", 1)
        peers = []
        if preset == "tumor":
            for smoothed in (False, True):
                peers.append(measure(
                    f"SimpleITK {'smoothing + ' if smoothed else ''}ConfidenceConnected, {args.threads} thread(s)",
                    lambda: run_sitk_confidence(sitk, image, seed, args.runs, args.threads, smoothed)))
        else:
            peers.append(measure(f"SimpleITK ConnectedThreshold [{VESSEL_WINDOW[0]}, {VESSEL_WINDOW[1]}], "
                                 f"{args.threads} thread(s)",
                                 lambda: run_sitk_connected(sitk, image, seed, args.runs, args.threads)))
        for row, out in peers:
            region = sitk.GetArrayViewFromImage(out) != 0
            row.update(accuracy(np, ndimage, region, truth, spacing_zyx, bone))
            del region
        for r in [v] + [row for row, _ in peers]:
            r.update(seed=list(seed), seedMM=list(SEED_MM[preset]), seedValue=seed_value,
                     phantom=str(volume_path), truth=str(truth_path))
        del peers, image, truth_image, truth, bone

    for r in rows:
        r["series"] = name
        r["folder"] = str(folder)
    return rows


if __name__ == "__main__":
    main()
