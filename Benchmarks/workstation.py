#!/usr/bin/env python3
"""The workstation's API on loopback: slice images and previews of a large series, end to end.

Usage (from the repository root):

    swift build -c release --product vrprep --product vrprep-bench
    pip install -r Benchmarks/requirements.txt
    python3 Benchmarks/presets.py --series large     # makes the phantom series this reads
    python3 Benchmarks/workstation.py [--slices 150] [--previews 5] [--json results.json]

What it does:

* Makes two DICOM series of 512 x 512 x 432 voxels from ``large-432x512x512/`` (the series
  of ``load_series.py``) with the phantoms of ``presets.py`` written into their pixels
  (``phantom-tumor-large-….nii.gz``: a 15 mm lesion at +40 HU; ``phantom-vessels-large-….nii.gz``:
  a tube tree at +300 HU; both with noise sigma 10 HU): each original file with its pixel
  data replaced, so every header stays a real scanner's.
* Starts ``vrprep serve`` (a copy of the release binary) on a free loopback port, uploads
  each series as a zip with ``?process=false``, and times, as a client sees them (request to
  last byte, one connection per request, ``http.client``):

  - **open**: the first slice of a study (its process starts and loads the series), once the
    study is listed (the service reads each new study once in the background, as the list shows);
  - **slices**: ``GET /v1/studies/{id}/slices/{o}/{i}?window=400,40`` for N random
    (orientation, index) pairs, and their sizes;
  - **previews**: ``POST /v1/studies/{id}/previews`` with the tumor recipe (one seed at the
    lesion's centre) and the vessel recipe (one seed in the tree), one warm-up then N timed.

Bars (issue "The clinician's workstation"): slices p95 <= 50 ms and <= 80 KB each; a tumor
preview <= 1 s and a vessel preview <= 0.5 s end to end.
"""
from __future__ import annotations

import argparse
import io
import json
import platform
import random
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from service_load import fresh_service, request, start_service  # noqa: E402  (the service benchmarks' helpers)

REPO = Path(__file__).resolve().parent.parent
LARGE = "large-432x512x512"
TUMOR_SEED = (95.7, -100.5, 105.0)
VESSEL_SEED = (125.0, -110.0, 50.0)


def fail(message: str) -> None:
    print(f"workstation.py: {message}", file=sys.stderr)
    sys.exit(1)


def phantom_zip(work: Path, phantom: Path, name: str) -> bytes:
    """The large series with the phantom's voxels as its pixels, zipped (files in slice order)."""
    import nibabel
    import numpy
    import pydicom
    volume = numpy.asarray(nibabel.load(str(phantom)).dataobj)  # (i, j, k) = (column, row, slice)
    files = sorted((work / LARGE).glob("*.dcm"))
    datasets = [pydicom.dcmread(str(f)) for f in files]
    normal = numpy.cross(numpy.array(datasets[0].ImageOrientationPatient[:3], float),
                         numpy.array(datasets[0].ImageOrientationPatient[3:], float))
    datasets.sort(key=lambda d: float(numpy.dot(normal, numpy.array(d.ImagePositionPatient, float))))
    if volume.shape != (int(datasets[0].Columns), int(datasets[0].Rows), len(datasets)):
        fail(f"{phantom.name} is {volume.shape}, the series {datasets[0].Columns}x{datasets[0].Rows}x{len(datasets)}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for k, ds in enumerate(datasets):
            slope, intercept = float(getattr(ds, "RescaleSlope", 1)), float(getattr(ds, "RescaleIntercept", 0))
            stored = numpy.round((volume[:, :, k].T.astype(float) - intercept) / slope)
            dtype = numpy.int16 if int(ds.PixelRepresentation) == 1 else numpy.uint16
            info = numpy.iinfo(dtype)
            ds.PixelData = numpy.clip(stored, info.min, info.max).astype(dtype).tobytes()
            out = io.BytesIO()
            ds.save_as(out)
            archive.writestr(f"{name}/IM{k + 1:04d}.dcm", out.getvalue())
    return buffer.getvalue()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vrprep", type=Path, default=REPO / ".build" / "release" / "vrprep")
    parser.add_argument("--work", type=Path, default=REPO / "Benchmarks" / "work")
    parser.add_argument("--slices", type=int, default=150, help="timed slice requests per series (default 150)")
    parser.add_argument("--previews", type=int, default=5, help="timed previews per recipe, after one warm-up (default 5)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = parser.parse_args()
    work = args.work.resolve()
    for needed in [work / LARGE, work / f"phantom-tumor-{LARGE}.nii.gz", work / f"phantom-vessels-{LARGE}.nii.gz"]:
        if not needed.exists():
            fail(f"{needed} is missing: run `python3 Benchmarks/presets.py --series large` first")
    if not args.vrprep.is_file():
        fail(f"{args.vrprep} not found: run `swift build -c release --product vrprep` first")
    binary, data, token = fresh_service(work / "workstation", args.vrprep)
    print("writing the phantom series …", file=sys.stderr)
    zips = {kind: phantom_zip(work, work / f"phantom-{kind}-{LARGE}.nii.gz", kind) for kind in ("tumor", "vessels")}
    server, port = start_service(binary, data, "--max-upload-mb", "4096")
    rows = []
    try:
        rng = random.Random(1)
        for kind, blob in zips.items():
            status, answer = request(port, "POST", "/v1/studies?process=false", token, blob, "application/zip")
            if status != 201:
                fail(f"the upload answered {status}: {answer[:200]!r}")
            study = json.loads(answer)["studyId"]
            # The service reads each new study once in the background (for the list); as a clinician
            # opens a study from the list, the timing starts once that reading is done.
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                status, listed = request(port, "GET", "/v1/studies", token)
                if any(s.get("id") == study and s.get("modality") for s in json.loads(listed).get("studies", [])):
                    break
                time.sleep(0.2)
            else:
                fail("the study was not listed with its modality within 120 s")
            start = time.perf_counter()
            status, _ = request(port, "GET", f"/v1/studies/{study}/slices/axial/216?window=400,40", token)
            opened = time.perf_counter() - start
            if status != 200:
                fail(f"the first slice answered {status}")
            rows.append({"series": kind, "what": "open (first slice: process start + load)", "n": 1, "median_ms": opened * 1000,
                         "p95_ms": opened * 1000, "max_kb": None})
            times, sizes = [], []
            for _ in range(args.slices):
                orientation = rng.choice(["axial", "coronal", "sagittal"])
                index = rng.randrange(432 if orientation == "axial" else 512)
                start = time.perf_counter()
                status, body = request(port, "GET", f"/v1/studies/{study}/slices/{orientation}/{index}?window=400,40", token)
                times.append(time.perf_counter() - start)
                if status != 200:
                    fail(f"slice {orientation} {index} answered {status}: {body[:200]!r}")
                sizes.append(len(body))
            rows.append({"series": kind, "what": "slice (axial, coronal, sagittal at random)", "n": len(times),
                         "median_ms": statistics.median(times) * 1000, "p95_ms": percentile(times, 95) * 1000,
                         "max_kb": max(sizes) / 1000, "median_kb": statistics.median(sizes) / 1000})
            seed = TUMOR_SEED if kind == "tumor" else VESSEL_SEED
            recipe = json.dumps({"structures": [{"preset": kind, "seedsMM": [list(seed)]}]}).encode()
            previews, volumes = [], []
            for n in range(args.previews + 1):
                start = time.perf_counter()
                status, body = request(port, "POST", f"/v1/studies/{study}/previews", token, recipe, "application/json")
                elapsed = time.perf_counter() - start
                if status != 200:
                    fail(f"the {kind} preview answered {status}: {body[:300]!r}")
                answer = json.loads(body)
                volumes.append(answer["structures"][0]["volumeML"])
                if n > 0:
                    previews.append((elapsed, answer["seconds"]))
            rows.append({"series": kind, "what": f"{kind} preview (one seed)", "n": len(previews),
                         "median_ms": statistics.median(p[0] for p in previews) * 1000,
                         "p95_ms": percentile([p[0] for p in previews], 95) * 1000, "max_kb": None,
                         "segment_ms": statistics.median(p[1] for p in previews) * 1000, "volume_ml": volumes[-1]})
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    print(f"Workstation API, 512 x 512 x 432 phantom series, loopback, {platform.machine()} "
          f"({subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores):\n")
    print("| series | request | n | median ms | p95 ms | largest KB | notes |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    for row in rows:
        notes = ""
        if "median_kb" in row:
            notes = f"median {row['median_kb']:.0f} KB"
        if "segment_ms" in row:
            notes = f"segmenting {row['segment_ms']:.0f} ms of it; {row['volume_ml']:.1f} mL"
        largest = f"{row['max_kb']:.0f}" if row["max_kb"] is not None else ""
        print(f"| {row['series']} | {row['what']} | {row['n']} | {row['median_ms']:.1f} | {row['p95_ms']:.1f} | {largest} | {notes} |")
    if args.json:
        args.json.write_text(json.dumps({"machine": platform.platform(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
