#!/usr/bin/env python3
"""Surface meshing time: VRPrep vs VTK, measured in the same run, on the same bone mask.

Usage (from the repository root):

    swift build -c release --product vrprep
    pip install -r Benchmarks/requirements.txt
    python3 Benchmarks/mesh.py [--runs 3] [--threads 1,2] [--json results.json]

The two input series are the ones of ``load_series.py`` (prepared in --work by
its ``prepare_sample`` / ``prepare_large``, default Benchmarks/work): ``sample/``
(256 x 256 x 108) and ``large-432x512x512/`` (512 x 512 x 432). Both are
thresholded to the bone mask ``[226, 3071] HU`` (0/1) and meshed in three steps:

* **extract**: the iso-surface 0.5 of the mask (marching cubes).
* **smooth 20**: 20 smoothing passes on the extracted surface.
* **decimate 10 %**: reduction of the smoothed surface to 10 % of its triangles.

For each thread count T:

* **VRPrep**: ``vrprep-bench mesh DIR --lower 226 --upper 3071 --smooth 20
  --decimate 0.1 --runs N --threads T`` (series loaded and thresholded once, not
  timed; then one warm-up plus N timed runs of extract (padded by one outside
  voxel, so border structures close), Taubin smoothing and meshoptimizer
  decimation).
* **VTK** (``vtkSMPTools`` backend STDThread, ``Initialize(T)``), on the mask
  ``(a >= 226) & (a <= 3071)`` as uint8, built with numpy from the image that
  SimpleITK's ``ImageSeriesReader`` reads from the same files and wrapped in a
  ``vtkImageData`` (same dimensions, spacing, origin; identity orientation):

  - ``vtkFlyingEdges3D`` (value 0.5; normals, gradients and scalars off) on the mask
    padded by one zero voxel on each side (origin moved out by one voxel), as
    VRPrep pads: the main comparison. Also timed on the unpadded mask, for
    reference (its border-touching structures stay open, so it has fewer triangles).
  - ``vtkWindowedSincPolyDataFilter`` (20 iterations, pass band 0.1,
    NormalizeCoordinates on, FeatureEdgeSmoothing off, BoundarySmoothing off) on the
    padded Flying Edges output.
  - ``vtkQuadricDecimation`` (``SetTargetReduction(0.9)``) on the smoothed output. It
    is serial and slow (about half a minute on the large mesh): one timed run without
    warm-up on the large series (``--vtk-decimate-large-runs``), warm-up plus N on the
    sample.

  Each VTK step is one warm-up plus N timed ``Modified(); Update()`` calls of one
  filter; the mask, the padding and the ``vtkImageData`` are made outside the
  timed region (VRPrep's thresholding is outside its timed region too).

The script checks that VRPrep's extracted triangle count is within +-1 % of VTK's
padded Flying Edges count and prints a loud WARNING otherwise. It also reports the
enclosed volumes (``vtkMassProperties``) next to VRPrep's, and whether VTK's
decimated mesh is closed (boundary and non-manifold edges, ``vtkFeatureEdges``).
Before each measurement the script waits for an idle machine and repeats a
measurement during which other processes used the CPU (segment.py's CpuWatch).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_series import (GRID, REQUIREMENTS, fail, import_packages, machine_info, parse_threads)  # noqa: E402
from segment import (LOWER, UPPER, add_build, add_common_arguments, add_idle_options, add_series_argument, binary_info,  # noqa: E402
                     checked_binary, disturbed_warnings, prepared_series, print_warnings, private_binary,
                     row_measurer, summary, timed, watch_from_args)

SMOOTH_PASSES = 20
PASS_BAND = 0.1
DECIMATE_FRACTION = 0.1
TRIANGLE_TOLERANCE = 0.01  # VRPrep vs VTK padded Flying Edges
STEPS = ("extract", "smooth", "decimate")
STEP_NAMES = {"extract": "extract", "smooth": f"smooth {SMOOTH_PASSES}",
              "decimate": f"decimate {DECIMATE_FRACTION:.0%}"}
# Goals (large series, VRPrep with 2 threads).
GOAL_EXTRACT_RATIO, GOAL_SMOOTH_S, GOAL_DECIMATE_S = 1.5, 0.5, 3.0


def import_vtk():
    try:
        from vtkmodules.vtkCommonCore import vtkSMPTools, vtkVersion
        from vtkmodules.vtkCommonDataModel import vtkImageData
        from vtkmodules.vtkFiltersCore import (vtkFeatureEdges, vtkFlyingEdges3D, vtkMassProperties,
                                               vtkQuadricDecimation, vtkWindowedSincPolyDataFilter)
        from vtkmodules.util import numpy_support
    except ImportError:
        fail(f"missing Python package vtk (9.x). Install it with: pip install -r {REQUIREMENTS}")
    version = vtkVersion.GetVTKVersion()
    if not version.startswith("9."):
        print(f"warning: VTK {version} is installed, the benchmark was written for VTK 9.x", file=sys.stderr)
    return argparse.Namespace(
        version=version, vtkSMPTools=vtkSMPTools, vtkImageData=vtkImageData, vtkFeatureEdges=vtkFeatureEdges,
        vtkFlyingEdges3D=vtkFlyingEdges3D, vtkMassProperties=vtkMassProperties,
        vtkQuadricDecimation=vtkQuadricDecimation, vtkWindowedSincPolyDataFilter=vtkWindowedSincPolyDataFilter,
        numpy_support=numpy_support)


def select_smp_backend(vtk, wanted: str) -> dict:
    """Selects the vtkSMPTools backend; returns what was compiled in and what is used."""
    smp = vtk.vtkSMPTools
    default = smp.GetBackend()  # the backend in use before the script chose one
    available = [name for name in ("Sequential", "STDThread", "TBB", "OpenMP")
                 if _backend_available(smp, name)]
    if wanted not in available:
        print(f"warning: vtkSMPTools backend {wanted!r} is not available in this VTK "
              f"(available: {', '.join(available)}); using {default}", file=sys.stderr)
        wanted = default
    smp.SetBackend(wanted)
    used = smp.GetBackend()
    if used == "Sequential":
        print("warning: only the Sequential vtkSMPTools backend is in use: VTK's SMP filters run "
              "single-threaded whatever --threads says", file=sys.stderr)
    return {"default": default, "available": available, "used": used}


def _backend_available(smp, name: str) -> bool:
    # SetBackend() falls back (with a printed warning) to another backend for one that is not
    # compiled in; silence VTK's warning stream for the probe.
    before = smp.GetBackend()
    with open(os.devnull, "w") as null:
        saved = os.dup(2)
        os.dup2(null.fileno(), 2)
        try:
            ok = bool(smp.SetBackend(name)) and smp.GetBackend() == name
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    smp.SetBackend(before)
    return ok


# --------------------------------------------------------------------------- tools


def run_vrprep(binary: Path, folder: Path, runs: int, threads: int) -> dict:
    command = [str(binary), "mesh", str(folder), "--lower", str(LOWER), "--upper", str(UPPER),
               "--smooth", str(SMOOTH_PASSES), "--decimate", str(DECIMATE_FRACTION),
               "--runs", str(runs), "--threads", str(threads)]
    process = subprocess.run(command, capture_output=True, text=True)
    if process.returncode != 0:
        fail(f"`{' '.join(command)}` exited with status {process.returncode}:\n{process.stderr.strip()}", 1)
    lines = [line for line in process.stdout.splitlines() if line.startswith("{")]
    if not lines:
        fail(f"`{' '.join(command)}` printed no JSON line:\n{process.stdout}{process.stderr}", 1)
    return {"raw": json.loads(lines[-1]), "requestedThreads": threads, "command": " ".join(command)}


def vrprep_rows(measured: dict) -> list[dict]:
    """One row per step from one `vrprep-bench mesh` run. Median and best are computed here from the
    per-run seconds (statistics.median, as for VTK; vrprep's own `*Median` is the upper median)."""
    r = measured["raw"]
    common = {"tool": "vrprep", "label": "VRPrep", "variant": "padded", "requestedThreads": measured["requestedThreads"],
              "threads": r["threads"], "command": measured["command"], "voxels": r["voxels"]}
    for key in ("otherCpuSeconds", "measurementWallSeconds", "attempts", "disturbed"):
        common[key] = measured[key]
    return [
        {**common, "step": "extract", "trianglesOut": r["triangles"], "volumeML": r["volumeML"],
         "vrprepMedian": r["extractMedian"], **summary(r["extractSeconds"])},
        {**common, "step": "smooth", "trianglesOut": r["triangles"], "volumeML": r["smoothedVolumeML"],
         "passes": r["smoothPasses"], "vrprepMedian": r["smoothMedian"], **summary(r["smoothSeconds"])},
        {**common, "step": "decimate", "trianglesOut": r["decimatedTriangles"], "watertight": r["decimatedWatertight"],
         "fraction": r["decimateFraction"], "vrprepMedian": r["decimateMedian"], **summary(r["decimateSeconds"])},
    ]


def mask_image(vtk, np, mask, spacing, origin, pad: bool):
    """The 0/1 uint8 mask, shape (z, y, x), as vtkImageData; padded by one zero voxel on each side if asked."""
    if pad:
        mask = np.pad(mask, 1)
        origin = tuple(o - s for o, s in zip(origin, spacing))
    return array_image(vtk, np, mask, spacing, origin, "mask")


def array_image(vtk, np, array, spacing, origin, name: str):
    """A numpy array, shape (z, y, x), as vtkImageData sharing its memory, scalars named `name`."""
    array = np.ascontiguousarray(array)
    nz, ny, nx = array.shape
    image = vtk.vtkImageData()
    image.SetDimensions(nx, ny, nz)
    image.SetSpacing(*spacing)
    image.SetOrigin(*origin)
    scalars = vtk.numpy_support.numpy_to_vtk(array.ravel(), deep=False,
                                             array_type=vtk.numpy_support.get_vtk_array_type(array.dtype))
    scalars.SetName(name)
    image.GetPointData().SetScalars(scalars)
    image._keep_alive = array  # numpy_to_vtk(deep=False) does not own the buffer
    return image


def set_vtk_threads(vtk, threads: int) -> int:
    vtk.vtkSMPTools.Initialize(threads)
    return vtk.vtkSMPTools.GetEstimatedNumberOfThreads()


def update_runs(algorithm, runs: int) -> list[float]:
    def update():
        algorithm.Modified()
        algorithm.Update()
    _, seconds = timed(update, runs)
    return seconds


def volume_ml(vtk, polydata) -> float:
    mass = vtk.vtkMassProperties()
    mass.SetInputData(polydata)
    mass.Update()
    return mass.GetVolume() / 1000.0  # mm^3 -> mL


def open_edges(vtk, polydata) -> tuple[int, int]:
    """(boundary edges, non-manifold edges) of a triangle mesh: both 0 for a closed manifold surface."""
    counts = []
    for boundary in (True, False):
        edges = vtk.vtkFeatureEdges()
        edges.SetInputData(polydata)
        edges.FeatureEdgesOff()
        edges.ManifoldEdgesOff()
        edges.SetBoundaryEdges(boundary)
        edges.SetNonManifoldEdges(not boundary)
        edges.Update()
        counts.append(edges.GetOutput().GetNumberOfLines())
    return counts[0], counts[1]


def vtk_row(step: str, label: str, variant: str, threads: int, smp_threads: int, polydata, seconds, **extra) -> dict:
    return {"tool": "vtk", "step": step, "label": label, "variant": variant, "requestedThreads": threads,
            "threads": threads, "smpThreads": smp_threads, "trianglesOut": polydata.GetNumberOfPolys(),
            "points": polydata.GetNumberOfPoints(), **extra, **summary(seconds)}


def run_vtk_extract(vtk, image, runs: int, threads: int, variant: str) -> tuple[dict, object]:
    smp_threads = set_vtk_threads(vtk, threads)
    f = vtk.vtkFlyingEdges3D()
    f.SetInputData(image)
    f.SetValue(0, 0.5)
    f.ComputeNormalsOff()
    f.ComputeGradientsOff()
    f.ComputeScalarsOff()
    seconds = update_runs(f, runs)
    output = f.GetOutput()
    return vtk_row("extract", "VTK vtkFlyingEdges3D", variant, threads, smp_threads, output, seconds), output


def run_vtk_smooth(vtk, surface, runs: int, threads: int) -> tuple[dict, object]:
    smp_threads = set_vtk_threads(vtk, threads)
    f = vtk.vtkWindowedSincPolyDataFilter()
    f.SetInputData(surface)
    f.SetNumberOfIterations(SMOOTH_PASSES)
    f.SetPassBand(PASS_BAND)
    f.NormalizeCoordinatesOn()
    f.FeatureEdgeSmoothingOff()
    f.BoundarySmoothingOff()
    seconds = update_runs(f, runs)
    output = f.GetOutput()
    return vtk_row("smooth", "VTK vtkWindowedSincPolyDataFilter", "padded", threads, smp_threads, output, seconds,
                   passes=SMOOTH_PASSES, passBand=PASS_BAND), output


def run_vtk_decimate(vtk, surface, runs: int, threads: int, warm_up: bool) -> tuple[dict, object]:
    smp_threads = set_vtk_threads(vtk, threads)
    f = vtk.vtkQuadricDecimation()
    f.SetInputData(surface)
    f.SetTargetReduction(1.0 - DECIMATE_FRACTION)
    if warm_up:
        seconds = update_runs(f, runs)
    else:  # timed() always makes a warm-up call: time the runs here
        seconds = []
        gc.disable()
        try:
            for _ in range(runs):
                f.Modified()
                start = time.perf_counter()
                f.Update()
                seconds.append(time.perf_counter() - start)
        finally:
            gc.enable()
    output = f.GetOutput()
    return vtk_row("decimate", "VTK vtkQuadricDecimation", "padded", threads, smp_threads, output, seconds,
                   targetReduction=1.0 - DECIMATE_FRACTION, warmUp=warm_up, serial=True), output


# --------------------------------------------------------------------------- reporting


def ratio_for(r: dict, results: list[dict]) -> float | None:
    """VTK median / VRPrep median, same series, step and thread count."""
    if r["tool"] != "vtk":
        return None
    for v in results:
        if (v["tool"] == "vrprep" and v["series"] == r["series"] and v["step"] == r["step"]
                and v["requestedThreads"] == r["requestedThreads"]):
            return r["median"] / v["median"]
    return None


def ordered(results: list[dict]) -> list[dict]:
    series_order = {name: i for i, name in enumerate(dict.fromkeys(r["series"] for r in results))}
    tool_order = {("vrprep", "padded"): 0, ("vtk", "padded"): 1, ("vtk", "unpadded"): 2}
    return sorted(results, key=lambda r: (series_order[r["series"]], STEPS.index(r["step"]), r["requestedThreads"],
                                          tool_order[(r["tool"], r["variant"])]))


def markdown_table(results: list[dict]) -> str:
    lines = ["| series | step | tool | threads | median s | best s | triangles out "
             "| VTK median / VRPrep median (same threads) |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for r in ordered(results):
        ratio = ratio_for(r, results)
        tool = r["label"] + (" (unpadded)" if r["variant"] == "unpadded" else "")
        threads = str(r["requestedThreads"]) + ("*" if r.get("serial") else "")
        once = r.get("warmUp") is False and len(r["seconds"]) == 1
        median = f"{r['median']:.4f}" + (" ‡" if r.get("disturbed") else "") + ("¹" if once else "")
        lines.append(f"| {r['series']} | {STEP_NAMES[r['step']]} | {tool} | {threads} | {median} "
                     f"| {r['best']:.4f} | {r['trianglesOut']:,} | {'' if ratio is None else f'{ratio:.2f}'} |")
    lines += [
        "",
        f"Mask [{LOWER}, {UPPER}] HU (0/1), iso-value 0.5. Ratio > 1 means VRPrep is faster. VRPrep pads the grid "
        "by one outside voxel; the VTK rows without a note run on the mask padded by one zero voxel on each side "
        "(the main comparison); \"(unpadded)\" rows run on the mask as read (border structures stay open). "
        "VTK smoothing and decimation run on the padded Flying Edges output.",
        "\\* vtkQuadricDecimation is serial: the vtkSMPTools thread count does not change its work.",
    ]
    if any(r.get("warmUp") is False and len(r["seconds"]) == 1 for r in results):
        lines.append("¹ one timed run without warm-up: median = best = that run.")
    if any(r.get("disturbed") for r in results):
        lines.append("‡ other processes used the CPU during this measurement: not reliable.")
    return "\n".join(lines)


def find(results, series, step, tool, threads, variant="padded"):
    for r in results:
        if (r["series"], r["step"], r["tool"], r["requestedThreads"], r["variant"]) == (series, step, tool, threads,
                                                                                     variant):
            return r
    return None


def triangle_problems(results: list[dict]) -> list[str]:
    problems = []
    for v in results:
        if v["tool"] != "vrprep" or v["step"] != "extract":
            continue
        k = find(results, v["series"], "extract", "vtk", v["requestedThreads"])
        if k is None:
            continue
        difference = (v["trianglesOut"] - k["trianglesOut"]) / k["trianglesOut"]
        if abs(difference) > TRIANGLE_TOLERANCE:
            problems.append(f"{v['series']}, {v['requestedThreads']} thread(s): VRPrep extracted "
                            f"{v['trianglesOut']:,} triangles, VTK vtkFlyingEdges3D (padded) {k['trianglesOut']:,} "
                            f"({difference:+.2%}, tolerance ±{TRIANGLE_TOLERANCE:.0%})")
    return problems


def check_lines(results: list[dict]) -> list[str]:
    lines = ["Checks (outside the timed regions):"]
    for name in dict.fromkeys(r["series"] for r in results):
        threads = sorted({r["requestedThreads"] for r in results if r["series"] == name})
        t = threads[-1]
        v_ext, v_smo, v_dec = (find(results, name, s, "vrprep", t) for s in STEPS)
        k_ext, k_smo, k_dec = (find(results, name, s, "vtk", t) for s in STEPS)
        k_unp = find(results, name, "extract", "vtk", t, "unpadded")
        if v_ext and k_ext:
            difference = (v_ext["trianglesOut"] - k_ext["trianglesOut"]) / k_ext["trianglesOut"]
            line = (f"- {name}: extracted triangles VRPrep {v_ext['trianglesOut']:,}, VTK padded "
                    f"{k_ext['trianglesOut']:,} ({difference:+.3%})")
            if k_unp:
                line += f", VTK unpadded {k_unp['trianglesOut']:,}"
            lines.append(line + f"; enclosed volume VRPrep {v_ext['volumeML']:.2f} mL, VTK padded "
                                f"{k_ext['volumeML']:.2f} mL.")
        if v_smo and k_smo:
            lines.append(f"- {name}: smoothed volume VRPrep (Taubin) {v_smo['volumeML']:.2f} mL, VTK (windowed "
                         f"sinc) {k_smo['volumeML']:.2f} mL.")
        if v_dec and k_dec:
            closed = k_dec["boundaryEdges"] == 0 and k_dec["nonManifoldEdges"] == 0
            lines.append(f"- {name}: decimated triangles VRPrep {v_dec['trianglesOut']:,} (watertight: "
                         f"{'yes' if v_dec['watertight'] else 'no'}), VTK {k_dec['trianglesOut']:,} ("
                         + ("closed" if closed else f"{k_dec['boundaryEdges']:,} boundary and "
                            f"{k_dec['nonManifoldEdges']:,} non-manifold edges") + ").")
    return lines


def goal_lines(results: list[dict], threads: int) -> list[str]:
    large = GRID["name"]
    mark = lambda ok: "met" if ok else "NOT met"
    lines = [f"Goals (large series, VRPrep with {threads} threads):"]
    v, k = find(results, large, "extract", "vrprep", threads), find(results, large, "extract", "vtk", threads)
    if v and k:
        ratio = k["median"] / v["median"]
        difference = (v["trianglesOut"] - k["trianglesOut"]) / k["trianglesOut"]
        same = abs(difference) <= TRIANGLE_TOLERANCE
        lines.append(f"- extraction >= {GOAL_EXTRACT_RATIO}x faster than vtkFlyingEdges3D at the same triangle count "
                     f"(±{TRIANGLE_TOLERANCE:.0%}): {v['median']:.4f} s vs {k['median']:.4f} s = {ratio:.2f}x, "
                     f"triangles {difference:+.3%}, {mark(ratio >= GOAL_EXTRACT_RATIO and same)}")
    v = find(results, large, "smooth", "vrprep", threads)
    if v:
        lines.append(f"- smoothing {SMOOTH_PASSES} passes <= {GOAL_SMOOTH_S} s: {v['median']:.4f} s, "
                     f"{mark(v['median'] <= GOAL_SMOOTH_S)}")
    v = find(results, large, "decimate", "vrprep", threads)
    if v:
        lines.append(f"- decimation to {DECIMATE_FRACTION:.0%} <= {GOAL_DECIMATE_S} s: {v['median']:.4f} s, "
                     f"{mark(v['median'] <= GOAL_DECIMATE_S)}")
    return lines


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description="Surface meshing time: VRPrep vs VTK.")
    add_common_arguments(parser, runs=3, tool="vrprep-bench")
    parser.add_argument("--threads", type=parse_threads, default=[1, 2],
                        help="comma-separated thread counts for VRPrep and VTK (default: 1,2)")
    parser.add_argument("--vtk-backend", default="STDThread",
                        help="vtkSMPTools backend for VTK (default: STDThread; the pip wheel's default is "
                             "Sequential, which ignores the thread count)")
    parser.add_argument("--vtk-decimate-large-runs", type=int, default=1,
                        help="timed runs of vtkQuadricDecimation on the large series, without warm-up (default: 1)")
    parser.add_argument("--no-unpadded", action="store_true",
                        help="skip the reference vtkFlyingEdges3D runs on the unpadded mask")
    add_series_argument(parser)
    add_idle_options(parser)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.vtk_decimate_large_runs < 1:
        parser.error("--vtk-decimate-large-runs must be at least 1")

    original_binary = checked_binary(args.vrprep)
    modules = import_packages()
    vtk = import_vtk()
    backend = select_smp_backend(vtk, args.vtk_backend)
    print(f"VTK {vtk.version}, vtkSMPTools backend {backend['used']} (default {backend['default']}, "
          f"available: {', '.join(backend['available'])})", file=sys.stderr)
    watch = watch_from_args(args)

    work, series = prepared_series(args.work, modules, args.series)
    reference_threads = 2 if 2 in args.threads else max(args.threads)

    results = []
    with private_binary(original_binary, "vrprep-mesh-bench-") as binary:
        build = binary_info(binary)
        for name, folder in series:
            results += time_series(args, modules, vtk, watch, binary, name, folder)

    problems = triangle_problems(results)
    print(markdown_table(results))
    print()
    print(f"vtkSMPTools backend: {backend['used']} (the VTK wheel's default: {backend['default']}; available: "
          f"{', '.join(backend['available'])}); vtkSMPTools.Initialize(T) before each VTK measurement.")
    print()
    for line in check_lines(results):
        print(line)
    print()
    for line in goal_lines(results, reference_threads):
        print(line)
    warnings = list(problems)
    if backend["used"] == "Sequential":
        warnings.append("VTK ran with the Sequential vtkSMPTools backend only: its SMP filters were single-threaded")
    warnings += disturbed_warnings(results, args)
    print_warnings(warnings)

    if args.json:
        machine = machine_info(original_binary, modules)
        machine["vtk"] = vtk.version
        machine["vtkSMPBackend"] = backend
        add_build(machine, build)
        document = {
            "benchmark": "mesh",
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "runs": args.runs, "threads": args.threads, "lower": LOWER, "upper": UPPER,
            "smoothPasses": SMOOTH_PASSES, "passBand": PASS_BAND, "decimateFraction": DECIMATE_FRACTION,
            "vtkDecimateLargeRuns": args.vtk_decimate_large_runs,
            "idleCheck": {"enabled": watch.enabled, "maxOtherCpuShare": args.max_other_cpu,
                          "retries": args.retries},
            "notes": [
                "VRPrep pads the grid by one outside voxel. VTK 'padded' rows run on the mask padded by one zero "
                "voxel on each side (np.pad, outside the timed region); 'unpadded' rows on the mask as read.",
                "VTK smoothing and decimation run on the padded vtkFlyingEdges3D output.",
                "median and best are computed from the per-run seconds (statistics.median) for both tools; "
                "vrprep's own *Median fields (upper median) are kept as vrprepMedian.",
                "vtkQuadricDecimation is serial; on the large series it runs without warm-up.",
            ],
            "warnings": warnings,
            "triangleMismatches": problems,
            "goals": goal_lines(results, reference_threads)[1:],
            "machine": machine,
            "results": ordered(results),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)


def time_series(args, modules, vtk, watch, binary: Path, name: str, folder: Path) -> list[dict]:
    np = modules["numpy"]
    sitk = modules["SimpleITK"]
    print(f"{name}: reading with SimpleITK ...", file=sys.stderr)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))
    image = reader.Execute()
    direction = image.GetDirection()
    if any(abs(a - b) > 1e-6 for a, b in zip(direction, (1, 0, 0, 0, 1, 0, 0, 0, 1))):
        fail(f"{name}: expected identity orientation, SimpleITK reports direction {direction}")
    a = sitk.GetArrayViewFromImage(image)  # (z, y, x)
    mask = ((a >= LOWER) & (a <= UPPER)).astype(np.uint8)
    spacing, origin = image.GetSpacing(), image.GetOrigin()
    voxels = int(mask.size)
    del a, image
    print(f"{name}: mask {mask.shape[::-1]} (x, y, z), spacing {spacing}, {int(mask.sum()):,} voxels inside "
          f"[{LOWER}, {UPPER}]", file=sys.stderr)
    images = {"padded": mask_image(vtk, np, mask, spacing, origin, pad=True)}
    if not args.no_unpadded:
        images["unpadded"] = mask_image(vtk, np, mask, spacing, origin, pad=False)
    del mask

    large = name != "sample"
    rows = []

    measure = row_measurer(watch, name, rows)

    for threads in args.threads:
        measured, _ = measure(f"VRPrep, {threads} thread(s)",
                              lambda: (run_vrprep(binary, folder, args.runs, threads), None))
        rows.pop()
        rows += vrprep_rows(measured)
    for threads in args.threads:
        if "unpadded" in images:
            row, surface = measure(f"VTK vtkFlyingEdges3D unpadded, {threads} thread(s)",
                                   lambda: run_vtk_extract(vtk, images["unpadded"], args.runs, threads, "unpadded"))
            row["volumeML"] = volume_ml(vtk, surface)
        row, surface = measure(f"VTK vtkFlyingEdges3D padded, {threads} thread(s)",
                               lambda: run_vtk_extract(vtk, images["padded"], args.runs, threads, "padded"))
        row["volumeML"] = volume_ml(vtk, surface)
        row, smoothed = measure(f"VTK vtkWindowedSincPolyDataFilter, {threads} thread(s)",
                                lambda: run_vtk_smooth(vtk, surface, args.runs, threads))
        row["volumeML"] = volume_ml(vtk, smoothed)
        runs = args.vtk_decimate_large_runs if large else args.runs
        row, reduced = measure(f"VTK vtkQuadricDecimation, {threads} thread(s), {runs} run(s)"
                               + (" without warm-up" if large else ""),
                               lambda: run_vtk_decimate(vtk, smoothed, runs, threads, warm_up=not large))
        row["boundaryEdges"], row["nonManifoldEdges"] = open_edges(vtk, reduced)
        del surface, smoothed, reduced

    for r in rows:
        r["series"] = name
        r["folder"] = str(folder)
        if r["tool"] == "vrprep" and r["voxels"] != voxels:
            print(f"WARNING: {name}: VRPrep counted {r['voxels']} voxels, SimpleITK's image has {voxels}",
                  file=sys.stderr)
        r["voxels"] = voxels
    return rows


if __name__ == "__main__":
    main()
