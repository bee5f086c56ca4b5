#!/usr/bin/env python3
"""DICOM series load time: VRPrep vs SimpleITK, measured in the same run.

Usage (from the repository root):

    swift build -c release --product vrprep
    pip install -r Benchmarks/requirements.txt
    python3 Benchmarks/load_series.py [--runs 5] [--threads 1,2] [--json results.json]

Two input series are prepared in --work (default Benchmarks/work, git-ignored):

* ``sample/``: a copy of the 108 ``IM*.dcm`` files of
  ``SampleStudies/ct-head-promed0051`` (256 x 256 x 108, 1.5 mm slices).
* ``large-432x512x512/``: 432 slices of 512 x 512, made by trilinear resampling
  of the sample onto a grid with half the voxel spacing in every direction
  (0.4785156 x 0.4785156 x 0.375 mm), so that the field of view, edge to edge,
  is the same as the sample's (see ``GRID`` below). File names are shuffled
  (seeded), so name order is not spatial order, like in the sample.

For each series and each thread count it runs ``vrprep-bench load DIR --runs N
--threads T`` (one warm-up plus N timed runs, inside vrprep) and SimpleITK's
``ImageSeriesReader`` (GetGDCMSeriesFileNames on the folder, then Execute; one
warm-up plus N timed runs, both steps inside the timed region, since vrprep's
time also includes scanning the folder, reading the headers and sorting).
Both tools therefore measure a warm page cache.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE_SOURCE = REPO / "SampleStudies" / "ct-head-promed0051"
SAMPLE_SLICES = 108
REQUIREMENTS = "Benchmarks/requirements.txt"

# Resampling grid of the large series. The sample is 256 x 256 x 108 voxels of
# 0.9570312 x 0.9570312 x 1.5 mm, first voxel centre at (0, -244.042956, 0),
# identity orientation. The large series halves the in-plane spacing and
# quarters the slice spacing, so that 512 x 0.4785156 = 256 x 0.9570312 =
# 245.0 mm and 432 x 0.375 = 108 x 1.5 = 162 mm: the field of view, voxel edge
# to voxel edge, is exactly the sample's. New voxel centre i then sits at sample
# index (i + 0.5) / 2 - 0.5 = i/2 - 0.25 in-plane and (k + 0.5) / 4 - 0.5 =
# k/4 - 0.375 along z, so the new origin (first voxel centre) is
# sample origin - (0.25 * 0.9570312, 0.25 * 0.9570312, 0.375 * 1.5) mm
# = (-0.2392578, -244.2822138, -0.5625). The outermost new voxels (within 0.25
# sample voxel in-plane, 0.375 along z) lie beyond the sample's outermost voxel
# centres and take the nearest sample value (map_coordinates mode="nearest").
GRID = {
    "name": "large-432x512x512",
    "columns": 512,
    "rows": 512,
    "slices": 432,
    "pixel_spacing": 0.9570312 / 2,  # mm, rows and columns
    "slice_spacing": 1.5 / 4,  # mm (0.375)
}
GENERATOR_VERSION = 1  # bump when the generated files change
SEED = 20261121


def fail(message: str, status: int = 2) -> None:
    """Stops the benchmark script that runs (any of them) with its name and the message."""
    print(f"{Path(sys.argv[0]).name}: error: {message}", file=sys.stderr)
    sys.exit(status)


def import_packages():
    missing = []
    modules = {}
    for name, pip_name in (("numpy", "numpy"), ("scipy.ndimage", "scipy"),
                           ("pydicom", "pydicom"), ("SimpleITK", "SimpleITK")):
        try:
            modules[name] = __import__(name, fromlist=["_"])
        except ImportError:
            missing.append(pip_name)
    if missing:
        fail(f"missing Python packages: {', '.join(missing)}. "
             f"Install them with: pip install -r {REQUIREMENTS}")
    import pydicom
    if pydicom.__version__ != "3.0.2":
        print(f"warning: pydicom {pydicom.__version__} is installed, the benchmark was written for 3.0.2 "
              f"(pip install -r {REQUIREMENTS})", file=sys.stderr)
    return modules


# --------------------------------------------------------------------------- inputs


def dicom_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".dcm")


def prepare_sample(work: Path) -> Path:
    """Copy (never link) the 108 IM*.dcm files of the sample study."""
    target = work / "sample"
    sources = sorted(SAMPLE_SOURCE.glob("IM*.dcm"))
    if len(sources) != SAMPLE_SLICES:
        fail(f"expected {SAMPLE_SLICES} IM*.dcm files in {SAMPLE_SOURCE}, found {len(sources)}")
    if target.is_dir():
        present = {p.name: p for p in target.iterdir()}
        complete = (len(present) == len(sources) and all(
            s.name in present and not present[s.name].is_symlink()
            and present[s.name].stat().st_size == s.stat().st_size for s in sources))
        if complete:
            return target
        shutil.rmtree(target)
    staging = work / "sample.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for source in sources:
        shutil.copyfile(source, staging / source.name)
    staging.rename(target)
    print(f"prepared {target} ({len(sources)} files copied)", file=sys.stderr)
    return target


def read_sample_volume(np, pydicom):
    """The sample as float32 HU, shape (z, y, x), sorted by ImagePositionPatient z."""
    datasets = [pydicom.dcmread(p) for p in SAMPLE_SOURCE.glob("IM*.dcm")]
    datasets.sort(key=lambda d: float(d.ImagePositionPatient[2]))
    hu = np.stack([d.pixel_array.astype(np.float32) * float(d.RescaleSlope) + float(d.RescaleIntercept)
                   for d in datasets])
    return hu, datasets


def large_marker(work: Path) -> Path:
    # Kept beside the folder, not inside it, so that it is not part of the input.
    return work / f"{GRID['name']}.complete.json"


def large_description() -> dict:
    return {"generator_version": GENERATOR_VERSION, "seed": SEED, **GRID}


def prepare_large(work: Path, modules) -> Path:
    np = modules["numpy"]
    ndimage = modules["scipy.ndimage"]
    pydicom = modules["pydicom"]
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    target = work / GRID["name"]
    marker = large_marker(work)
    if target.is_dir() and marker.is_file():
        try:
            recorded = json.loads(marker.read_text())
        except ValueError:
            recorded = None
        files = dicom_files(target)
        if recorded == large_description() and len(files) == GRID["slices"] and len(list(target.iterdir())) == len(files):
            return target
    shutil.rmtree(target, ignore_errors=True)
    marker.unlink(missing_ok=True)

    started = time.perf_counter()
    hu, datasets = read_sample_volume(np, pydicom)
    first = datasets[0]
    src_nz, src_ny, src_nx = hu.shape
    row_spacing, column_spacing = (float(v) for v in first.PixelSpacing)  # along y, along x
    positions = [float(d.ImagePositionPatient[2]) for d in datasets]
    src_dz = (positions[-1] - positions[0]) / (src_nz - 1)
    ox, oy, oz = (float(v) for v in first.ImagePositionPatient)
    if [float(v) for v in first.ImageOrientationPatient] != [1, 0, 0, 0, 1, 0]:
        fail("the sample is expected to have identity orientation")

    nx, ny, nz = GRID["columns"], GRID["rows"], GRID["slices"]
    dxy, dz = GRID["pixel_spacing"], GRID["slice_spacing"]
    # Voxel centre i of the new grid, in sample index units: (i + 0.5) * new/old - 0.5.
    fx = (np.arange(nx) + 0.5) * (dxy / column_spacing) - 0.5
    fy = (np.arange(ny) + 0.5) * (dxy / row_spacing) - 0.5
    fz = (np.arange(nz) + 0.5) * (dz / src_dz) - 0.5
    new_origin = (ox + fx[0] * column_spacing, oy + fy[0] * row_spacing, oz + fz[0] * src_dz)
    yy, xx = np.meshgrid(fy, fx, indexing="ij")

    uid = lambda *parts: generate_uid(entropy_srcs=["VRPrep Benchmarks/load_series.py", GRID["name"], *parts])
    study_uid = first.StudyInstanceUID  # same study and frame of reference as the sample
    frame_uid = first.FrameOfReferenceUID
    series_uid = uid("series")
    names = [f"IM{n:04d}.dcm" for n in np.random.default_rng(SEED).permutation(nz) + 1]

    staging = work / f"{GRID['name']}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for k in range(nz):
        coords = np.stack([np.full_like(yy, fz[k]), yy, xx])
        plane = ndimage.map_coordinates(hu, coords, order=1, mode="nearest")
        stored = np.clip(np.rint(plane + 1024.0), -32768, 32767).astype("<i2")
        sop_uid = uid("instance", str(k + 1))

        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian

        ds = Dataset()
        ds.file_meta = meta
        ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = sop_uid
        ds.StudyDate = ""
        ds.StudyTime = ""
        ds.AccessionNumber = ""
        ds.Modality = "CT"
        ds.Manufacturer = ""
        ds.ReferringPhysicianName = ""
        ds.StudyDescription = first.get("StudyDescription", "")
        ds.SeriesDescription = "VRPrep benchmark: sample CT resampled to 512x512x432 (trilinear)"
        ds.DerivationDescription = ("Trilinear resampling of SampleStudies/ct-head-promed0051 by "
                                    "Benchmarks/load_series.py (half in-plane spacing, quarter slice spacing)")
        ds.PatientName = first.get("PatientName", "")
        ds.PatientID = first.get("PatientID", "")
        ds.PatientBirthDate = ""
        ds.PatientSex = ""
        ds.PatientIdentityRemoved = "YES"
        ds.SliceThickness = f"{dz:g}"
        ds.PatientPosition = ""
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.StudyID = ""
        ds.SeriesNumber = 2
        ds.InstanceNumber = k + 1
        z = new_origin[2] + k * dz
        ds.ImagePositionPatient = [f"{new_origin[0]:.7g}", f"{new_origin[1]:.10g}", f"{z:.7g}"]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.FrameOfReferenceUID = frame_uid
        ds.PositionReferenceIndicator = ""
        ds.SliceLocation = f"{z:.7g}"
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = ny
        ds.Columns = nx
        ds.PixelSpacing = [f"{dxy:.8g}", f"{dxy:.8g}"]
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        if "WindowCenter" in first:
            ds.WindowCenter = first.WindowCenter
            ds.WindowWidth = first.WindowWidth
        ds.RescaleIntercept = -1024
        ds.RescaleSlope = 1
        ds.RescaleType = "HU"
        ds.PixelData = stored.tobytes()
        ds["PixelData"].VR = "OW"
        ds.save_as(staging / names[k], enforce_file_format=True)

    staging.rename(target)
    marker.write_text(json.dumps(large_description(), indent=2) + "\n")
    print(f"prepared {target} ({nz} files of {ny}x{nx}, {time.perf_counter() - started:.1f} s)",
          file=sys.stderr)
    return target


# --------------------------------------------------------------------------- timing


STACKED = {"name": "stacked-1296x512x512", "copies": 3}


def stacked_name(copies: int) -> str:
    return f"stacked-{copies * GRID['slices']}x{GRID['rows']}x{GRID['columns']}"


def prepare_stacked(work: Path, modules, copies: int = STACKED["copies"]) -> Path:
    """The large series `copies` times along z (three copies: 512 x 512 x 1296, 340 M voxels, a
    whole-body CT's size): copy n of slice k lies 162 mm (the large series' extent) above copy
    n - 1, with new series and instance UIDs; the pixel data is the large series' own. Made once;
    kept."""
    pydicom = modules["pydicom"]
    from pydicom.uid import generate_uid

    large = prepare_large(work, modules)
    name = stacked_name(copies)
    target = work / name
    if target.is_dir() and len(dicom_files(target)) == copies * GRID["slices"]:
        return target
    shutil.rmtree(target, ignore_errors=True)
    staging = work / f"{name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    extent = GRID["slices"] * GRID["slice_spacing"]
    uid = lambda *parts: generate_uid(entropy_srcs=["VRPrep Benchmarks/load_series.py", name, *parts])
    series_uid = uid("series")
    for n in range(copies):
        for path in dicom_files(large):
            ds = pydicom.dcmread(path)
            k = int(ds.InstanceNumber) - 1
            number = n * GRID["slices"] + k + 1
            ds.SOPInstanceUID = uid("instance", str(number))
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.SeriesInstanceUID = series_uid
            ds.SeriesDescription = f"VRPrep benchmark: the 512x512x432 series stacked {copies} times along z"
            ds.InstanceNumber = number
            position = [float(v) for v in ds.ImagePositionPatient]
            position[2] += n * extent
            ds.ImagePositionPatient = [f"{position[0]:.7g}", f"{position[1]:.10g}", f"{position[2]:.7g}"]
            ds.SliceLocation = f"{position[2]:.7g}"
            ds.save_as(staging / f"IM{number:04d}.dcm")
    staging.rename(target)
    return target


# The series the benchmarks can run on, by short name: (folder name, how to prepare it).
SERIES = {
    "sample": ("sample", lambda work, modules: prepare_sample(work)),
    "large": (GRID["name"], prepare_large),
    "stacked2": (stacked_name(2), lambda work, modules: prepare_stacked(work, modules, 2)),
    "stacked3": (stacked_name(3), lambda work, modules: prepare_stacked(work, modules, 3)),
}


def series_key(text: str) -> str:
    """The short name of a series given by short or folder name ("large" or "large-432x512x512")."""
    for key, (folder, _) in SERIES.items():
        if text in (key, folder):
            return key
    raise argparse.ArgumentTypeError(f"unknown series {text!r}; expected: " + ", ".join(SERIES))


def parse_series(text: str) -> list[str]:
    """A comma-separated list of series (short or folder names) as short names, in order, once each."""
    names = [series_key(part.strip()) for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected a comma-separated list of: " + ", ".join(SERIES))
    return list(dict.fromkeys(names))


def prepare_series(work: Path, modules, key: str) -> tuple[str, Path]:
    """(folder name, folder) of a series, prepared in `work` on first use."""
    folder, prepare = SERIES[key]
    return folder, prepare(work, modules)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def time_vrprep(binary: Path, folder: Path, runs: int, threads: int) -> dict:
    command = [str(binary), "load", str(folder), "--runs", str(runs), "--threads", str(threads)]
    process = subprocess.run(command, capture_output=True, text=True)
    if process.returncode != 0:
        fail(f"`{' '.join(command)}` exited with status {process.returncode}:\n{process.stderr.strip()}", 1)
    lines = [line for line in process.stdout.splitlines() if line.startswith("{")]
    if not lines:
        fail(f"`{' '.join(command)}` printed no JSON line:\n{process.stdout}{process.stderr}", 1)
    result = json.loads(lines[-1])
    result["tool"] = "vrprep"
    result["requestedThreads"] = threads
    return result


def time_simpleitk(sitk, folder: Path, runs: int, threads: int) -> dict:
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)

    def load():
        start = time.perf_counter()
        names = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder))
        scanned = time.perf_counter()
        reader = sitk.ImageSeriesReader()
        reader.SetNumberOfThreads(threads)
        reader.SetFileNames(names)
        image = reader.Execute()
        end = time.perf_counter()
        return image, end - start, scanned - start

    image, _, _ = load()  # warm-up
    seconds, scan_seconds = [], []
    for _ in range(runs):
        image, total, scan = load()
        seconds.append(total)
        scan_seconds.append(scan)
    slices = image.GetSize()[2]
    median = statistics.median(seconds)
    input_bytes = folder_bytes(folder)
    return {
        "tool": "simpleitk", "threads": threads, "requestedThreads": threads,
        "dimensions": list(image.GetSize()), "slices": slices,
        "pixelType": image.GetPixelIDTypeAsString(),
        "inputBytes": input_bytes, "seconds": seconds, "best": min(seconds), "median": median,
        "scanSeconds": scan_seconds,  # GetGDCMSeriesFileNames part of each run
        "slicesPerSecond": slices / median, "megabytesPerSecond": input_bytes / 1e6 / median,
    }


# --------------------------------------------------------------------------- reporting


def machine_info(binary: Path, modules) -> dict:
    cpu_model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = int(subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout)
    except (OSError, ValueError, subprocess.CalledProcessError):
        nproc = len(os.sched_getaffinity(0))
    try:
        vrprep_version = subprocess.run([str(binary), "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        vrprep_version = None
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "Sources", "Package.swift"],
                                    capture_output=True, text=True, check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = None, None
    sitk = modules["SimpleITK"]
    return {
        "nproc": nproc, "cpuModel": cpu_model, "platform": platform.platform(),
        "python": platform.python_version(), "SimpleITK": sitk.Version.VersionString(),
        "ITK": sitk.Version.ITKVersionString(), "pydicom": modules["pydicom"].__version__,
        "numpy": modules["numpy"].__version__, "scipy": __import__("scipy").__version__,
        "vrprep": vrprep_version, "vrprepBinary": str(binary),
        "gitCommit": commit, "sourcesModified": dirty,
    }


def markdown_table(results: list[dict]) -> str:
    header = ("| series | tool | threads | median s | best s | slices/s | MB/s "
              "| SimpleITK median / VRPrep median |")
    lines = [header, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    medians = {(r["series"], r["tool"], r["requestedThreads"]): r["median"] for r in results}
    for r in results:
        ratio = ""
        if r["tool"] == "vrprep":
            other = medians.get((r["series"], "simpleitk", r["requestedThreads"]))
            if other:
                ratio = f"{other / r['median']:.2f}"
        tool = "VRPrep" if r["tool"] == "vrprep" else "SimpleITK"
        mb_s = r["inputBytes"] / 1e6 / r["median"]
        lines.append(f"| {r['series']} | {tool} | {r['requestedThreads']} | {r['median']:.4f} "
                     f"| {r['best']:.4f} | {r['slices'] / r['median']:.0f} | {mb_s:.0f} | {ratio} |")
    lines.append("")
    lines.append("Ratio > 1 means VRPrep is faster. MB/s = file bytes / median (1 MB = 10^6 bytes).")
    return "\n".join(lines)


def parse_threads(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of integers, got {text!r}")
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("thread counts must be integers >= 1")
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description="DICOM series load time: VRPrep vs SimpleITK.")
    parser.add_argument("--vrprep", type=Path, default=REPO / ".build" / "release" / "vrprep-bench",
                        help="the vrprep-bench binary (default: .build/release/vrprep-bench)")
    parser.add_argument("--work", type=Path, default=REPO / "Benchmarks" / "work",
                        help="folder for the generated input series (default: Benchmarks/work)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per tool, after one warm-up (default: 5)")
    parser.add_argument("--threads", type=parse_threads, default=[1, 2],
                        help="comma-separated thread counts (default: 1,2)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--series", type=parse_series, default=["sample", "large"],
                        help="comma-separated: " + ", ".join(SERIES) + " (default: sample,large)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    binary = args.vrprep.resolve()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        fail(f"vrprep binary not found at {binary}. Build it first with: swift build -c release "
             f"(or pass --vrprep PATH)")
    modules = import_packages()
    sitk = modules["SimpleITK"]

    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    series = [prepare_series(work, modules, key) for key in args.series]

    results = []
    for name, folder in series:
        for threads in args.threads:
            print(f"timing {name}, {threads} thread(s) ...", file=sys.stderr)
            v = time_vrprep(binary, folder, args.runs, threads)
            s = time_simpleitk(sitk, folder, args.runs, threads)
            for r in (v, s):
                r["series"] = name
                r["folder"] = str(folder)
            if list(s["dimensions"]) != list(v["dimensions"]):
                print(f"WARNING: {name}, {threads} thread(s): SimpleITK image size {s['dimensions']} "
                      f"!= VRPrep dimensions {v['dimensions']}", file=sys.stderr)
            if v["inputBytes"] != s["inputBytes"]:
                print(f"warning: {name}: VRPrep counted {v['inputBytes']} input bytes, "
                      f"the folder holds {s['inputBytes']}", file=sys.stderr)
            results += [v, s]

    print(markdown_table(results))

    if args.json:
        document = {
            "benchmark": "load_series",
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "runs": args.runs, "threads": args.threads,
            "machine": machine_info(binary, modules),
            "results": results,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
