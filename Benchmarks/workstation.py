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
  - **slices**: ``GET /v1/studies/{id}/slices/{o}/{i}?window=400,40&format=F`` for N random
    (orientation, index) pairs, and their sizes: as the page asks for them while the clinician
    scrolls (``webp``: lossy, quality 95) and once the view rests (``png``: exact);
  - **previews**: ``POST /v1/studies/{id}/previews`` with the tumor recipe (one seed at the
    lesion's centre) and the vessel recipe (one seed in the tree), one warm-up then N timed;
  - **the page's first view over a slow link** (``--slow-link-runs``, default 3 after one warm-up):
    ``/app`` in headless chromium with the link shaped to ``--mbit`` and ``--rtt-ms`` by chromium's
    network emulation (this machine cannot make the network namespace ``tc netem`` needs; see
    ``first_view_over_slow_link``), timed until the studies are listed and until the newest
    study's three views are drawn from exact images.

Bars (issue "The clinician's workstation"): slices p95 <= 50 ms and <= 80 KB each; a tumor
preview <= 1 s and a vessel preview <= 0.5 s end to end; the first view over 2 Mbit/s and 150 ms
<= 3 s.
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


def first_view_over_slow_link(port: int, token: str, args) -> list[dict]:
    """The page's first view over a slow link, in headless chromium (Debian's, through Playwright).

    The link is shaped by chromium's network emulation (DevTools ``Network.emulateNetworkConditions``:
    ``--mbit`` down and up, ``--rtt-ms`` added to each request; cache disabled), as in
    ``slow_link.py``: this machine cannot make the network namespace that ``tc netem`` needs.
    Timed from the navigation's start, a clinician already signed in (the token in the tab's
    session storage, as the page keeps it): **list** (``/app`` drawn with the studies listed) and
    **first view** (the first study opened: its three views drawn from exact images). The study's
    own process is already running (as for a clinician coming back to it); its cold start (loading
    the series from disk) is the "open" row.
    """
    from playwright.sync_api import sync_playwright
    runs, errors = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        for n in range(args.slow_link_runs + 1):  # the first run warms up
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.add_init_script(f"sessionStorage.setItem('vrprep-token', {json.dumps(token)})")
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            wire = []
            page.on("requestfinished", lambda r: wire.append(r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"]))
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
            throughput = args.mbit * 1e6 / 8
            cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": args.rtt_ms,
                                                           "downloadThroughput": throughput, "uploadThroughput": throughput})
            start = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/app?lang=en", wait_until="commit")
            page.wait_for_selector("#studies button.openStudy", timeout=60_000)
            listed = time.perf_counter() - start
            page.locator("#studies button.openStudy").first.click()  # the newest study (both are open in their processes)
            page.wait_for_function("document.body.dataset.exactViews === '3'", timeout=60_000, polling=20)
            viewed = time.perf_counter() - start
            if n > 0:
                runs.append((listed, viewed, sum(wire) / 1000))
                if args.images:
                    args.images.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(args.images / f"first-view-run{n}.png"))
            context.close()
        browser.close()
    if errors:
        print(f"WARNING: console errors: {errors[:5]}", file=sys.stderr)
    link = f"{args.mbit:g} Mbit/s, {args.rtt_ms:g} ms"
    return [{"series": "newest", "what": f"page: studies listed ({link})", "n": len(runs),
             "median_ms": statistics.median(r[0] for r in runs) * 1000, "p95_ms": max(r[0] for r in runs) * 1000,
             "max_kb": None, "runs_s": [r[0] for r in runs], "wire_kb": 0},
            {"series": "newest", "what": f"page: first view, three exact slices ({link})", "n": len(runs),
             "median_ms": statistics.median(r[1] for r in runs) * 1000, "p95_ms": max(r[1] for r in runs) * 1000,
             "max_kb": None, "runs_s": [r[1] for r in runs], "wire_kb": statistics.median(r[2] for r in runs)}]


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
    parser.add_argument("--slow-link-runs", type=int, default=3, help="timed first views over the slow link (0: none; default 3)")
    parser.add_argument("--mbit", type=float, default=2.0, help="the slow link's bandwidth, Mbit/s (default 2)")
    parser.add_argument("--rtt-ms", type=float, default=150.0, help="latency added to each request on the slow link, ms (default 150)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--images", type=Path, default=REPO / "Benchmarks" / "work" / "workstation-images",
                        help="screenshots of the first view over the slow link")
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
            # The same random slices in each format: WebP while scrolling, PNG (exact) at rest.
            chosen = []
            for _ in range(args.slices):
                orientation = rng.choice(["axial", "coronal", "sagittal"])
                chosen.append((orientation, rng.randrange(432 if orientation == "axial" else 512)))
            for format, what in (("webp", "slice while scrolling (WebP)"), ("png", "slice at rest (PNG, exact)")):
                times, sizes = [], []
                for orientation, index in chosen:
                    start = time.perf_counter()
                    status, body = request(port, "GET", f"/v1/studies/{study}/slices/{orientation}/{index}?window=400,40&format={format}", token)
                    times.append(time.perf_counter() - start)
                    if status != 200:
                        fail(f"slice {orientation} {index} ({format}) answered {status}: {body[:200]!r}")
                    sizes.append(len(body))
                rows.append({"series": kind, "what": what, "n": len(times),
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
        if args.slow_link_runs:
            rows += first_view_over_slow_link(port, token, args)
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
        if "runs_s" in row:
            notes = f"runs {', '.join(f'{t:.2f}' for t in row['runs_s'])} s; {row['wire_kb']:.0f} KB on the wire"
        largest = f"{row['max_kb']:.0f}" if row["max_kb"] is not None else ""
        print(f"| {row['series']} | {row['what']} | {row['n']} | {row['median_ms']:.1f} | {row['p95_ms']:.1f} | {largest} | {notes} |")
    if args.json:
        args.json.write_text(json.dumps({"machine": platform.platform(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
