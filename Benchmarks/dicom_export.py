#!/usr/bin/env python3
"""DICOM Segmentation out and in on a large series: VRPrep's export and import against
highdicom's writer and reader, on the same bone label map, in the same run.

Usage (from the repository root):

    swift build -c release --product vrprep
    pip install -r Benchmarks/requirements.txt highdicom
    python3 Benchmarks/dicom_export.py [--runs 3] [--json results.json]

What it does:

* Makes (once) the 512 x 512 x 432 CT series of ``load_series.py`` under ``--work``.
* ``vrprep process`` on it with the bone preset alone: a package whose ``labels.nii.gz`` is the
  bone of the large series.
* **Export**: ``vrprep export-dicom SERIES --package PKG --formats seg`` (the process as a user
  runs it, loading the series included) and, from its ``--json``, the bytes written. Peer: the
  same mask (read from the package) written by ``highdicom.seg.Segmentation(...).save_as`` from
  the source images already in memory (loading them is not timed).
* **Import**: ``vrprep process SERIES --labels seg.dcm``, its "segment" stage (reading the SEG
  and placing it on the grid; the stage times printed by ``--json``). Peer: ``highdicom.seg.segread``
  and ``get_volume`` (or per-instance masks) of the same file.

Goal (issue "Back to the hospital"): export and import of the bone on this series within 1 s each.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_series import GRID, prepare_large  # noqa: E402  (the large series)

REPO = Path(__file__).resolve().parent.parent


def fail(message: str) -> None:
    print(f"dicom_export.py: {message}", file=sys.stderr)
    sys.exit(1)


def run(arguments: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(arguments, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        fail(f"{' '.join(arguments[:3])}… failed: {done.stderr[-800:]}")
    return seconds, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vrprep", type=Path, default=REPO / ".build" / "release" / "vrprep")
    parser.add_argument("--work", type=Path, default=REPO / "Benchmarks" / "work")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import highdicom as hd
    import numpy as np
    import pydicom
    import scipy.ndimage as ndimage
    from pydicom.sr.codedict import codes

    if not args.vrprep.is_file():
        fail(f"{args.vrprep} not found: run `swift build -c release --product vrprep` first")
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    series = prepare_large(work, {"numpy": np, "scipy.ndimage": ndimage, "pydicom": pydicom})
    scratch = Path(tempfile.mkdtemp(prefix="dicom-export-", dir=work))
    package = scratch / "bone-package"
    print("making the bone package …", file=sys.stderr)
    run([str(args.vrprep), "process", str(series), "--structures", "bone", "--out", str(package), "--render-size", "256",
         "--shaders", str(REPO / "Shaders")])
    rows = []

    # Export: vrprep.
    times, size = [], 0
    for n in range(args.runs):
        out = scratch / f"export-{n}"
        seconds, printed = run([str(args.vrprep), "export-dicom", str(series), "--package", str(package), "--out", str(out),
                                "--formats", "seg", "--json"])
        times.append(seconds)
        size = json.loads(printed)["files"][0]["bytes"]
    seg_file = scratch / "export-0" / "seg.dcm"
    rows.append({"step": "export SEG", "tool": "vrprep export-dicom (loads the series too)", "median_s": statistics.median(times),
                 "runs": times, "bytes": size})

    # Export: highdicom, from images already in memory.
    images = [pydicom.dcmread(f) for f in sorted(series.glob("*.dcm"))]
    normal = np.cross(np.array(images[0].ImageOrientationPatient[:3], float), np.array(images[0].ImageOrientationPatient[3:], float))
    images.sort(key=lambda i: float(np.dot(normal, np.array(i.ImagePositionPatient, float))))
    sys.path.insert(0, str(REPO / "Tests" / "Interop"))
    from seg_check import read_nifti
    mask = read_nifti(package / "labels.nii.gz") == 1
    description = hd.seg.SegmentDescription(
        segment_number=1, segment_label="bone", segmented_property_category=codes.cid7150.Tissue,
        segmented_property_type=codes.SCT.Bone, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=hd.AlgorithmIdentificationSequence(name="peer", version="1", family=codes.cid7162.ArtificialIntelligence))
    times = []
    for n in range(args.runs):
        start = time.perf_counter()
        seg = hd.seg.Segmentation(source_images=images, pixel_array=mask[..., None], segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
                                  segment_descriptions=[description], series_instance_uid=hd.UID(), series_number=900,
                                  sop_instance_uid=hd.UID(), instance_number=1, manufacturer="peer", manufacturer_model_name="peer",
                                  software_versions="1", device_serial_number="1")
        seg.save_as(scratch / f"highdicom-{n}.dcm")
        times.append(time.perf_counter() - start)
    rows.append({"step": "export SEG", "tool": f"highdicom {hd.__version__} (images already loaded)", "median_s": statistics.median(times),
                 "runs": times, "bytes": (scratch / "highdicom-0.dcm").stat().st_size})

    # Import: vrprep (the "segment" stage of process --labels).
    times = []
    for n in range(args.runs):
        _, printed = run([str(args.vrprep), "process", str(series), "--labels", str(seg_file), "--out", str(scratch / f"import-{n}"),
                          "--render-size", "64", "--max-triangles", "20000", "--json", "--shaders", str(REPO / "Shaders")])
        stages = json.loads(printed).get("seconds", {})
        times.append(stages.get("segment", float("nan")))
    rows.append({"step": "import SEG", "tool": "vrprep process --labels (its import stage)", "median_s": statistics.median(times), "runs": times})
    # Import: highdicom.
    times = []
    for n in range(args.runs):
        start = time.perf_counter()
        read = hd.seg.segread(seg_file)
        volume = read.get_volume(combine_segments=True) if hasattr(read, "get_volume") else None
        times.append(time.perf_counter() - start)
    rows.append({"step": "import SEG", "tool": f"highdicom {hd.__version__} segread + get_volume", "median_s": statistics.median(times),
                 "runs": times})

    machine = f"{platform.machine()}, {platform.system()} {platform.release()}"
    print(f"\nDICOM SEG of the bone of {GRID['name']} ({int(mask.sum()):,} voxels), {args.runs} runs, {machine}\n")
    print("| step | tool | median s | bytes |")
    print("|---|---|---:|---:|")
    for r in rows:
        print(f"| {r['step']} | {r['tool']} | {r['median_s']:.3f} | {r.get('bytes', '')} |")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
