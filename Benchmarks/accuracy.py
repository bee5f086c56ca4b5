#!/usr/bin/env python3
"""Accuracy on real studies: VRPrep's bone, vessels and tumor presets against reference labels,
with SimpleITK and plain thresholds from the same seeds, measured in the same run.

Usage (from the repository root):

    swift build -c release --product vrprep
    pip install -r Benchmarks/requirements.txt nibabel
    python3 Benchmarks/accuracy.py [--cases DIR] [--only case,case] [--runs 1] [--threads N] [--json OUT]

Inputs: the development cases of ``../shared/data/real`` (five real CT/MR studies, each a DICOM
series with a reference label map on the same grid, ``case.json`` with suggested seeds and
``reference/legend.json``). They are read from --cases (default Benchmarks/work/real-cases); the
cases that are missing there are made by running --fetch (default ../shared/data/real/fetch_cases.py,
relative to the repository root) into that folder. The script also derives one case itself:

* **ct-abdomen-pelvis-pv-sim** (simulated portal-venous phase): the non-contrast
  ``ct-abdomen-pelvis`` series with HU added inside reference structures (aorta and iliac arteries
  +130, portal/splenic vein +100, inferior vena cava and iliac veins +80, liver +50, spleen +60,
  kidneys +120, pancreas +40; sharp edges, no partial volume, the CT's own noise). Written with
  pydicom into WORK/accuracy-cases/ as a DICOM series with the source slices' tags and geometry,
  new deterministic SeriesInstanceUID and SOPInstanceUIDs; checked after writing (read back, the
  difference to the source is the offset map, voxel for voxel).

Rows (case, structure or seed, method); the seeds are case.json's ``seed_lps_mm`` (the voxel
deepest inside the structure or group):

* cta-aortic-dissection: bone (automatic); vessels from the seeds of group ``aorta``, of
  ``aorta_true_lumen`` and of ``aorta_false_lumen``.
* ct-abdomen-pelvis (no contrast, hip implant): bone (automatic); vessels from the aorta seed.
* ct-abdomen-pelvis-pv-sim: bone (automatic); vessels from the aorta seed and the portal-vein seed.
* ct-lung-gtv-1, ct-lung-gtv-4: tumor from the GTV-1 seed. mr-brain-tumor-1: tumor from the tumor seed.

Methods:

* **VRPrep**: ``vrprep segment DICOMDIR --preset P [--seed-mm x,y,z] --out LABELS.nii.gz --json
  [--threads N]`` (a private copy of the binary). Time = wall time of the process (load, segment,
  write), median of --runs; the segment time it reports is kept too. A non-zero exit is a result:
  the row says ``failed: <vrprep's message>``.
* **SimpleITK** on the series as ``ImageSeriesReader`` reads it (CT as int16 HU, MR as float32),
  the seed mapped with ``TransformPhysicalPointToIndex``: ``ConnectedThreshold`` [150, 700] HU,
  6-connected (vessel rows on CT: VRPrep's old default window) and ``ConfidenceConnected``
  (multiplier 2.5, 4 iterations, initial radius 1, 6-connected: vessel and tumor rows).
* **Plain threshold bone** (bone rows, numpy/scipy): every voxel >= 226 HU; and the 6-connected
  components of that mask that hold a voxel >= 700 HU.

Peer times: one warm-up plus --runs timed calls (median) of the filter alone ("segment"); their
"wall" adds the time ImageSeriesReader took to read the series once.

Accuracy, all on the reference grid (the arrays are compared voxel for voxel; shapes and affines
are checked): Dice, recall and precision against the row's target, mL of the region in every
reference structure, the three other structures (not the target) with the most mL, mL outside
every reference label, and the fractions each row's bar is about (``measure`` below; the README
defines each one). Every row also gets two PNG overlays, WORK/accuracy/CASE-ROW-METHOD-{axial,coronal}.png,
through the seed (or a named view point for automatic bone): reference target outlined in green,
structures to avoid in cyan, ours filled in red; radiological convention (patient's right on the
image's left), anterior at top (axial), superior at top (coronal), square pixels in mm.

Checks, with a loud failure: the series read by SimpleITK lies on the reference grid (size,
spacing, origin, direction against the NIfTI affine); case.json's seed maps to its ``seed_ijk``
and the series has its ``seed_value`` there; the slice through the seed read by pydicom equals the
SimpleITK array (so the arrays are in the reference's voxel order); every vrprep label map has the
reference's shape and affine.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_series import REPO, REQUIREMENTS, fail, import_packages, machine_info  # noqa: E402
from segment import (CONFIDENCE, CpuWatch, add_build, add_common_arguments, binary_info,  # noqa: E402
                     check_sitk_version, checked_binary, private_binary, timed)

CASES = ("cta-aortic-dissection", "ct-abdomen-pelvis", "ct-lung-gtv-1", "ct-lung-gtv-4", "mr-brain-tumor-1")
SIMULATED = "ct-abdomen-pelvis-pv-sim"
SIMULATED_SOURCE = "ct-abdomen-pelvis"
# The simulated case right after its source.
ALL_CASES = CASES[:2] + (SIMULATED,) + CASES[2:]
SIMULATION_VERSION = 1  # bump when the simulated series changes
# HU added inside each reference structure of ct-abdomen-pelvis (native: about 40 HU in the vessels).
PORTAL_VENOUS_HU = {
    "aorta": 130, "iliac_artery_left": 130, "iliac_artery_right": 130,
    "portal_vein_and_splenic_vein": 100,
    "inferior_vena_cava": 80, "iliac_vena_left": 80, "iliac_vena_right": 80,
    "liver": 50, "spleen": 60, "kidney_right": 120, "kidney_left": 120, "pancreas": 40,
}
VESSEL_WINDOW = (150, 700)  # VRPrep's old default CT vessel window, for ConnectedThreshold
BONE_HU = 226  # plain threshold bone
BONE_SEED_HU = 700  # components of the threshold that hold a voxel at least this bright
BONE_PROXY_SHARE = 0.05  # CTA bone proxy: components with at least this share of voxels >= BONE_SEED_HU
CTA_BONE_BAR = 0.02  # at most 2 % of the bone label in the reference heart and vessels
SIM_VESSEL_BONE_BAR = 0.01  # at most 1 % of the vessel region in the reference bone
VRPREP_TIMEOUT = 600  # seconds for one vrprep segment run
DEFAULT_FETCH = REPO.parent / "shared" / "data" / "real" / "fetch_cases.py"

# Display windows (level, width) for the overlays.
WINDOW_SOFT = (40, 400)
WINDOW_BONE = (400, 1800)
WINDOW_CTA = (200, 1000)

# Colours of the overlays.
GREEN, CYAN, RED, YELLOW = (0, 230, 0), (0, 200, 255), (255, 40, 40), (255, 220, 0)


# --------------------------------------------------------------------------- small helpers


def parse_only(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in ALL_CASES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"unknown case(s) {', '.join(unknown) or '(none)'}; "
                                         f"expected a comma-separated list of: {', '.join(ALL_CASES)}")
    return list(dict.fromkeys(names))


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def num(x, digits=3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def ml(x) -> str:
    if x is None:
        return "–"
    return f"{x:.1f}" if x >= 0.95 or x == 0 else f"{x:.2f}"


def import_extra():
    """nibabel (reference label maps) and Pillow (PNG overlays; scikit-image requires it)."""
    missing, modules = [], {}
    for name, pip_name in (("nibabel", "nibabel"), ("PIL.Image", "Pillow")):
        try:
            modules[name] = __import__(name, fromlist=["_"])
        except ImportError:
            missing.append(pip_name)
    if missing:
        fail(f"missing Python packages: {', '.join(missing)}. Install them with: pip install "
             f"{' '.join(missing)} (Pillow comes with pip install -r {REQUIREMENTS})")
    from PIL import ImageDraw, ImageFont
    modules["PIL.ImageDraw"], modules["PIL.ImageFont"] = ImageDraw, ImageFont
    return modules


# --------------------------------------------------------------------------- cases


def needed_sources(only: list[str]) -> list[str]:
    return list(dict.fromkeys(SIMULATED_SOURCE if name == SIMULATED else name for name in only))


def case_complete(folder: Path) -> bool:
    return ((folder / "case.json").is_file() and (folder / "reference" / "labels.nii.gz").is_file()
            and (folder / "reference" / "legend.json").is_file() and (folder / "dicom").is_dir())


def ensure_cases(cases_dir: Path, fetch: Path, names: list[str]) -> None:
    """Runs the fetch script for the cases that are missing from cases_dir."""
    missing = [n for n in names if not case_complete(cases_dir / n)]
    if not missing:
        return
    if not fetch.is_file():
        fail(f"case(s) {', '.join(missing)} are missing from {cases_dir} and the script that makes them is not at "
             f"{fetch}. Pass --fetch PATH (shared/data/real/fetch_cases.py) or --cases DIR (a folder holding the "
             "cases it made).")
    command = [sys.executable, str(fetch), str(cases_dir), "--only", ",".join(missing)]
    say(f"making the missing case(s) {', '.join(missing)}: {' '.join(command)}")
    process = subprocess.run(command)
    if process.returncode != 0:
        fail(f"`{' '.join(command)}` exited with status {process.returncode} (its messages are above)", 1)
    still = [n for n in missing if not case_complete(cases_dir / n)]
    if still:
        fail(f"{fetch.name} finished but case(s) {', '.join(still)} are still incomplete in {cases_dir}", 1)


def load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        fail(f"cannot read {path}: {error}", 1)


class Case:
    """A case: its series (SimpleITK), reference labels (nibabel), legend, seeds, and cached masks."""

    def __init__(self, name: str, folder: Path, dicom: Path, info: dict, legend: dict, simulated: dict | None = None):
        self.name, self.folder, self.dicom, self.info, self.legend = name, folder, dicom, info, legend
        self.simulated = simulated
        self.labels_by_value = {int(v): n for v, n in legend["labels"].items()}
        self.value_of = {n: v for v, n in self.labels_by_value.items()}
        self.groups = {g: [int(v) for v in values] for g, values in legend.get("groups", {}).items()}
        self.modality = info.get("modality", "CT")
        self._masks = {}

    def label_values(self, *names: str) -> list[int]:
        values = []
        for name in names:
            if name in self.groups:
                values += self.groups[name]
            elif name in self.value_of:
                values.append(self.value_of[name])
            else:
                fail(f"{self.name}: the legend has no label or group '{name}' (the case changed? re-fetch it)", 1)
        return sorted(set(values))

    def seed(self, name: str) -> list[float]:
        entry = self.info.get("structures", {}).get(name)
        if not entry or "seed_lps_mm" not in entry:
            fail(f"{self.name}: case.json has no seed for '{name}'", 1)
        return [float(v) for v in entry["seed_lps_mm"]]

    def mask(self, np, values) -> "np.ndarray":
        key = tuple(sorted(values))
        if key not in self._masks:
            self._masks[key] = np.isin(self.labels, list(key))
        return self._masks[key]


def read_series(sitk, folder: Path, modality: str):
    reader = sitk.ImageSeriesReader()
    try:
        names = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder))
    except RuntimeError as error:
        fail(f"SimpleITK cannot list the series in {folder}: {error}", 1)
    if not names:
        fail(f"SimpleITK found no DICOM series in {folder}", 1)
    reader.SetFileNames(names)
    reader.SetOutputPixelType(sitk.sitkInt16 if modality == "CT" else sitk.sitkFloat32)
    start = time.perf_counter()
    image = reader.Execute()
    return image, time.perf_counter() - start


def check_grid(np, case: Case, image, affine) -> None:
    """The SimpleITK image lies on the reference NIfTI's grid (LPS = diag(-1, -1, 1) RAS)."""
    lps = np.diag([-1.0, -1.0, 1.0]) @ np.asarray(affine, dtype=float)[:3]
    direction = np.asarray(image.GetDirection(), dtype=float).reshape(3, 3)
    spacing = np.asarray(image.GetSpacing(), dtype=float)
    columns = direction * spacing  # column a: the step of voxel axis a, in LPS mm
    if tuple(image.GetSize()) != tuple(case.labels.shape):
        fail(f"{case.name}: SimpleITK reads the series as {image.GetSize()} voxels, the reference label map has "
             f"{case.labels.shape}", 1)
    if np.abs(columns - lps[:, :3]).max() > 1e-3 or np.abs(np.asarray(image.GetOrigin()) - lps[:, 3]).max() > 1e-2:
        fail(f"{case.name}: the series (origin {image.GetOrigin()}, steps {columns.round(4).tolist()}) is not on "
             f"the reference grid (origin {lps[:, 3].round(4).tolist()}, steps {lps[:, :3].round(4).tolist()})", 1)


def check_voxel_order(np, pydicom, case: Case, image, hu) -> None:
    """case.json's seeds map to their seed_ijk with their seed_value, and the slice through the first
    seed, read by pydicom, equals the array: the arrays are in the reference's (i, j, k) order."""
    checked = None
    for name, entry in case.info.get("structures", {}).items():
        if "seed_lps_mm" not in entry or "seed_ijk" not in entry:
            continue
        index = image.TransformPhysicalPointToIndex([float(v) for v in entry["seed_lps_mm"]])
        if list(index) != [int(v) for v in entry["seed_ijk"]]:
            fail(f"{case.name}: seed of {name} {entry['seed_lps_mm']} mm maps to voxel {list(index)}, case.json says "
                 f"{entry['seed_ijk']}", 1)
        if "seed_value" in entry and case.simulated is None and abs(float(hu[index]) - float(entry["seed_value"])) > 0.5:
            fail(f"{case.name}: voxel {list(index)} ({name}'s seed) is {float(hu[index])} in the series, case.json "
                 f"says {entry['seed_value']}", 1)
        checked = checked or index
    if checked is None:
        fail(f"{case.name}: case.json has no seed to check the voxel order with", 1)
    k = checked[2]
    position = np.asarray(image.TransformIndexToPhysicalPoint((0, 0, k)))
    for path in sorted(case.dicom.iterdir()):
        if not path.is_file():
            continue
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            ipp = np.asarray([float(v) for v in ds.ImagePositionPatient])
        except Exception:  # noqa: BLE001 - not a DICOM image
            continue
        if np.abs(ipp - position).max() < 1e-2:
            ds = pydicom.dcmread(path)
            values = ds.pixel_array.astype(np.float64) * float(ds.get("RescaleSlope", 1) or 1) \
                + float(ds.get("RescaleIntercept", 0) or 0)
            if values.T.shape != hu[:, :, k].shape or not np.array_equal(values.T, hu[:, :, k].astype(np.float64)):
                fail(f"{case.name}: slice {k} read by pydicom ({path.name}) differs from the SimpleITK array: "
                     "voxel order or orientation is wrong", 1)
            return
    fail(f"{case.name}: no DICOM file in {case.dicom} lies at slice {k} ({position.round(3).tolist()} mm)", 1)


def orientation(np, image):
    """(perm, flips) that bring an (i, j, k) array to (L, P, S) order (axis b of the result = index
    axis perm[b], reversed where flips[b]); None for an oblique series."""
    d = np.asarray(image.GetDirection(), dtype=float).reshape(3, 3)
    perm, flips = [], []
    for b in range(3):
        a = int(np.argmax(np.abs(d[b])))
        if abs(d[b, a]) < 0.99:
            return None
        perm.append(a)
        flips.append(bool(d[b, a] < 0))
    return (perm, flips) if sorted(perm) == [0, 1, 2] else None


def load_case(modules, cases_dir: Path, work: Path, name: str, sitk_threads: int) -> Case:
    np, sitk, nib, pydicom = modules["numpy"], modules["SimpleITK"], modules["nibabel"], modules["pydicom"]
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(sitk_threads)
    source = cases_dir / (SIMULATED_SOURCE if name == SIMULATED else name)
    info = load_json(source / "case.json")
    legend = load_json(source / "reference" / "legend.json")
    reference = nib.load(str(source / "reference" / "labels.nii.gz"))
    labels = np.asarray(reference.dataobj)
    if labels.ndim != 3:
        fail(f"{name}: the reference label map has {labels.ndim} dimensions", 1)
    simulated, dicom = None, source / "dicom"
    if name == SIMULATED:
        dicom, simulated = prepare_simulated(modules, source, info, legend, labels, work)
    case = Case(name, source, dicom, info, legend, simulated)
    case.labels = labels.astype(np.int32)
    case.affine = np.asarray(reference.affine, dtype=float)
    say(f"{name}: reading {dicom} with SimpleITK ...")
    image, case.read_seconds = read_series(sitk, dicom, case.modality)
    check_grid(np, case, image, case.affine)
    case.image = image
    case.hu = sitk.GetArrayFromImage(image).transpose(2, 1, 0)  # (k, j, i) -> (i, j, k), the reference's order
    check_voxel_order(np, pydicom, case, image, case.hu)
    if simulated is not None:
        check_simulated(np, sitk, case, source, simulated)
    case.spacing = np.asarray(image.GetSpacing(), dtype=float)
    case.voxel_ml = float(np.prod(case.spacing)) / 1000.0
    case.orientation = orientation(np, image)
    say(f"{name}: {image.GetSize()} voxels of {' x '.join(f'{s:g}' for s in case.spacing)} mm, {case.modality}, "
        f"read in {case.read_seconds:.2f} s; voxel order checked against pydicom and case.json's seeds")
    return case


# --------------------------------------------------------------------------- the simulated portal-venous case


def simulation_description(source: Path, legend: dict) -> dict:
    digest = hashlib.sha256((source / "case.json").read_bytes()).hexdigest()
    return {"generator": SIMULATION_VERSION, "source": SIMULATED_SOURCE, "sourceCaseSha256": digest,
            "offsetsHU": PORTAL_VENOUS_HU}


def offset_map(np, labels, legend: dict):
    value_of = {n: int(v) for v, n in legend["labels"].items()}
    missing = [n for n in PORTAL_VENOUS_HU if n not in value_of]
    if missing:
        fail(f"{SIMULATED_SOURCE}: the legend has no label {', '.join(missing)}: cannot simulate the contrast", 1)
    offsets = np.zeros(labels.shape, dtype=np.int16)
    for name, hu in PORTAL_VENOUS_HU.items():
        offsets[labels == value_of[name]] = hu
    return offsets


def prepare_simulated(modules, source: Path, info: dict, legend: dict, labels, work: Path):
    """The simulated portal-venous series (made once, remade when the source or the offsets change)."""
    np, pydicom = modules["numpy"], modules["pydicom"]
    from pydicom.uid import generate_uid

    target = work / "accuracy-cases" / SIMULATED
    marker = target / "simulation.json"  # beside dicom/, not in it
    description = simulation_description(source, legend)
    if marker.is_file() and (target / "dicom").is_dir():
        try:
            recorded = json.loads(marker.read_text())
        except ValueError:
            recorded = {}
        if {k: recorded.get(k) for k in description} == description:
            say(f"{SIMULATED}: reusing {target / 'dicom'}")
            return target / "dicom", recorded

    say(f"{SIMULATED}: writing the simulated portal-venous series into {target / 'dicom'} ...")
    offsets = offset_map(np, labels, legend)
    grid = info["grid"]
    origin = np.asarray(grid["origin_lps_mm"], dtype=float)
    direction = np.asarray(grid["direction"], dtype=float).reshape(3, 3)
    spacing = np.asarray(grid["spacing_mm"], dtype=float)
    normal = direction[:, 2]
    series_uid = generate_uid(entropy_srcs=["VRPrep accuracy benchmark", SIMULATED, str(SIMULATION_VERSION), "series"])
    staging = target / "dicom.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    seen = set()
    files = sorted(p for p in (source / "dicom").iterdir() if p.is_file())
    for path in files:
        ds = pydicom.dcmread(path)
        ipp = np.asarray([float(v) for v in ds.ImagePositionPatient], dtype=float)
        k_float = float(np.dot(ipp - origin, normal)) / spacing[2]
        k = int(round(k_float))
        if abs(k - k_float) > 1e-3 or not 0 <= k < labels.shape[2] or k in seen:
            fail(f"{SIMULATED_SOURCE}: {path.name} lies at slice {k_float:.4f}, not on a free slice of the grid", 1)
        seen.add(k)
        slope = float(ds.get("RescaleSlope", 1) or 1)
        if slope != 1:
            fail(f"{SIMULATED_SOURCE}: {path.name} has RescaleSlope {slope}; the simulation expects 1", 1)
        stored = ds.pixel_array
        info_dtype = np.iinfo(stored.dtype)
        added = offsets[:, :, k].T.astype(np.int32)  # (i, j) -> (rows, columns)
        if added.shape != stored.shape:
            fail(f"{SIMULATED_SOURCE}: {path.name} is {stored.shape} pixels, the label map's slice {added.shape}", 1)
        values = stored.astype(np.int32) + added
        if values.min() < info_dtype.min or values.max() > info_dtype.max:
            fail(f"{SIMULATED_SOURCE}: {path.name}: adding the contrast leaves the {stored.dtype} range", 1)
        ds.PixelData = values.astype(stored.dtype).tobytes()
        for keyword in ("SmallestImagePixelValue", "LargestImagePixelValue"):
            if keyword in ds:
                delattr(ds, keyword)
        sop_uid = generate_uid(entropy_srcs=["VRPrep accuracy benchmark", SIMULATED, str(SIMULATION_VERSION),
                                             str(ds.SOPInstanceUID)])
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = sop_uid
        ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
        ds.SeriesDescription = "Simulated portal-venous phase (VRPrep accuracy benchmark)"  # LO: 64 characters
        ds.save_as(staging / path.name, enforce_file_format=True)
    if len(seen) != labels.shape[2]:
        fail(f"{SIMULATED_SOURCE}: {len(seen)} slices written, the grid has {labels.shape[2]}", 1)
    shutil.rmtree(target / "dicom", ignore_errors=True)
    staging.rename(target / "dicom")
    value_of = {n: int(v) for v, n in legend["labels"].items()}
    applied = {name: {"label": value_of[name], "offsetHU": hu, "voxels": int(np.count_nonzero(labels == value_of[name]))}
               for name, hu in PORTAL_VENOUS_HU.items()}
    recorded = {**description, "seriesInstanceUID": str(series_uid), "files": len(files), "applied": applied}
    marker.write_text(json.dumps(recorded, indent=2) + "\n")
    return target / "dicom", recorded


def check_simulated(np, sitk, case: Case, source: Path, simulated: dict) -> None:
    """Simulated minus source = the offset map, voxel for voxel; prints what was applied."""
    original, _ = read_series(sitk, source / "dicom", "CT")
    difference = case.hu.astype(np.int32) - sitk.GetArrayFromImage(original).transpose(2, 1, 0).astype(np.int32)
    expected = offset_map(np, case.labels, case.legend)
    if not np.array_equal(difference, expected):
        wrong = int(np.count_nonzero(difference != expected))
        fail(f"{SIMULATED}: the simulated series differs from the source by something else than the offsets at "
             f"{wrong:,} voxels (remove {case.dicom.parent} and run again)", 1)
    source_hu = case.hu.astype(np.int32) - difference
    parts = []
    for name, hu in PORTAL_VENOUS_HU.items():
        inside = case.labels == case.value_of[name]
        before = float(np.median(source_hu[inside])) if inside.any() else float("nan")
        parts.append(f"{name} +{hu} HU ({int(np.count_nonzero(inside)):,} voxels, median {before:.0f} -> "
                     f"{before + hu:.0f} HU)")
    say(f"{SIMULATED}: simulated portal-venous contrast, series {simulated.get('seriesInstanceUID')}: " + "; ".join(parts))


# --------------------------------------------------------------------------- rows


def rows_for(case: Case) -> list[dict]:
    """The rows of a case: id, title, preset, seed, target labels, structures to avoid, window, kind."""
    n = case.name
    rows = []
    if n == "cta-aortic-dissection":
        vessels = case.label_values("aorta_and_branches", "pulmonary_artery")
        heart = case.label_values("heart")
        bone = [v for v, name in case.labels_by_value.items() if name.startswith("vertebrae")]
        aorta = case.label_values("aorta")
        rows.append(dict(id="bone", title="bone (automatic)", preset="bone", seed=None, seed_name=None,
                         target=bone, target_name="T12", avoid=vessels + heart, avoid_name="heart + vessels",
                         view=case.seed("heart"), view_name="heart seed", window=WINDOW_BONE, kind="bone-cta"))
        for row_id, seed_name, title in (("vessels-aorta", "aorta", "vessels (aorta group seed)"),
                                         ("vessels-true-lumen", "aorta_true_lumen", "vessels (true lumen seed)"),
                                         ("vessels-false-lumen", "aorta_false_lumen", "vessels (false lumen seed)")):
            rows.append(dict(id=row_id, title=title, preset="vessels", seed=case.seed(seed_name), seed_name=seed_name,
                             target=aorta, target_name="aorta", avoid=heart, avoid_name="heart",
                             window=WINDOW_CTA, kind="vessels-cta", vessels=vessels, heart=heart, bone=bone))
    elif n in (SIMULATED_SOURCE, SIMULATED):
        bone = case.label_values("bone")
        vessels = case.label_values("vessels")
        sim = n == SIMULATED
        enhanced = case.label_values(*PORTAL_VENOUS_HU) if sim else []
        rows.append(dict(id="bone", title="bone (automatic)", preset="bone", seed=None, seed_name=None,
                         target=bone, target_name="bone group",
                         avoid=enhanced if sim else vessels,
                         avoid_name="enhanced structures" if sim else "vessels",
                         view=case.seed("kidney_right") if sim else case.seed("femur_left"),
                         view_name="right kidney seed" if sim else "left femur seed (implant)",
                         window=WINDOW_BONE, kind="bone-sim" if sim else "bone-abdomen",
                         enhanced=enhanced))
        rows.append(dict(id="vessels-aorta", title="vessels (aorta seed)", preset="vessels", seed=case.seed("aorta"),
                         seed_name="aorta",
                         target=case.label_values("aorta", "iliac_artery_left", "iliac_artery_right") if sim
                         else case.label_values("aorta"),
                         target_name="aorta + iliac arteries" if sim else "aorta",
                         avoid=bone, avoid_name="bone group", window=WINDOW_SOFT,
                         kind="vessels-sim" if sim else "vessels-abdomen", vessels=vessels, bone=bone))
        if sim:
            rows.append(dict(id="vessels-portal", title="vessels (portal vein seed)", preset="vessels",
                             seed=case.seed("portal_vein_and_splenic_vein"), seed_name="portal_vein_and_splenic_vein",
                             target=case.label_values("portal_vein_and_splenic_vein"), target_name="portal/splenic vein",
                             avoid=bone, avoid_name="bone group", window=WINDOW_SOFT, kind="vessels-sim",
                             vessels=vessels, bone=bone))
    else:
        name = next(iter(case.labels_by_value.values()))  # GTV-1 or tumor: one label
        rows.append(dict(id="tumor", title=f"tumor ({name} seed)", preset="tumor", seed=case.seed(name), seed_name=name,
                         target=case.label_values(name), target_name=name, avoid=[], avoid_name="",
                         window=None if case.modality != "CT" else WINDOW_SOFT, kind="tumor"))
    return rows


def methods_for(case: Case, row: dict) -> list[str]:
    if row["preset"] == "bone":
        return ["vrprep", "threshold", "threshold-components"]
    if row["preset"] == "vessels":
        return ["vrprep"] + (["sitk-connected"] if case.modality == "CT" else []) + ["sitk-confidence"]
    return ["vrprep", "sitk-confidence"]


METHOD_LABELS = {
    "vrprep": "VRPrep",
    "sitk-connected": f"SimpleITK ConnectedThreshold [{VESSEL_WINDOW[0]}, {VESSEL_WINDOW[1]}]",
    "sitk-confidence": "SimpleITK ConfidenceConnected",
    "threshold": f"threshold ≥ {BONE_HU} HU",
    "threshold-components": f"threshold ≥ {BONE_HU} HU, components with ≥ {BONE_SEED_HU} HU",
}


# --------------------------------------------------------------------------- methods


def run_vrprep(np, nib, binary: Path, case: Case, row: dict, out: Path, runs: int, threads: int) -> tuple[dict, object]:
    command = [str(binary), "segment", str(case.dicom), "--preset", row["preset"]]
    if row["seed"] is not None:
        command += ["--seed-mm", ",".join(f"{v:g}" for v in row["seed"])]
    command += ["--out", str(out), "--json", "--threads", str(threads)]
    walls, process = [], None
    for _ in range(runs):
        out.unlink(missing_ok=True)
        start = time.perf_counter()
        try:
            process = subprocess.run(command, capture_output=True, text=True, timeout=VRPREP_TIMEOUT)
        except subprocess.TimeoutExpired:
            walls.append(time.perf_counter() - start)
            return {"command": " ".join(command), "wallSeconds": walls, "wall": statistics.median(walls),
                    "exitStatus": None, "status": "failed",
                    "message": f"no answer after {VRPREP_TIMEOUT} s (killed)"}, None
        except OSError as error:
            fail(f"cannot run {binary}: {error}", 1)
        walls.append(time.perf_counter() - start)
        if process.returncode != 0:
            break
    result = {"command": " ".join(command), "wallSeconds": walls, "wall": statistics.median(walls),
              "exitStatus": process.returncode}
    if process.returncode != 0:
        message = process.stderr.strip().splitlines()
        text = message[-1] if message else f"exit status {process.returncode}, no message"
        if process.returncode < 0:
            text = f"killed by signal {-process.returncode}" + (f": {text}" if message else "")
        result.update(status="failed", message=text.removeprefix("vrprep: error: ").strip(),
                      stderr=process.stderr.strip())
        return result, None
    try:
        report = json.loads(process.stdout[process.stdout.index("{"):])
    except ValueError:
        result.update(status="failed", message=f"printed no JSON object: {process.stdout.strip()[:200]}")
        return result, None
    if not out.is_file():
        result.update(status="failed", message=f"exit status 0 but {out} was not written")
        return result, None
    image = nib.load(str(out))
    if tuple(image.shape) != tuple(case.labels.shape):
        fail(f"{case.name}: vrprep's label map {out} is {image.shape}, the reference {case.labels.shape}", 1)
    if np.abs(np.asarray(image.affine) - case.affine).max() > 1e-3:
        fail(f"{case.name}: vrprep's label map {out} has affine {np.asarray(image.affine).round(4).tolist()}, the "
             f"reference {case.affine.round(4).tolist()}", 1)
    region = np.asarray(image.dataobj) != 0
    labels = report.get("labels") or [{}]
    seeds = report.get("seeds") or []
    result.update(status="ok", warnings=list(report.get("warnings") or []),
                  segment=(report.get("seconds") or {}).get("segment"),
                  presetSeconds=labels[0].get("seconds"), interval=labels[0].get("interval") or report.get("interval"),
                  figures=labels[0].get("figures"), reportedVoxels=labels[0].get("voxels"),
                  stoppedByVolumeLimit=report.get("stoppedByVolumeLimit"),
                  seedsUsed=[{"index": s.get("index"), "value": s.get("value")} for s in seeds],
                  automaticSeedVoxels=report.get("automaticSeedVoxels"), threads=report.get("threads"))
    if row["seed"] is not None and seeds and list(seeds[0].get("index", [])) != list(row["seed_index"]):
        result["warnings"].append(f"(benchmark) vrprep put the seed at voxel {seeds[0].get('index')}, SimpleITK at "
                                  f"{list(row['seed_index'])}")
    return result, region


def run_sitk(np, sitk, case: Case, row: dict, method: str, runs: int, threads: int) -> tuple[dict, object]:
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
    seed = list(row["seed_index"])
    if method == "sitk-connected":
        f = sitk.ConnectedThresholdImageFilter()
        f.SetLower(VESSEL_WINDOW[0])
        f.SetUpper(VESSEL_WINDOW[1])
        f.SetConnectivity(f.FaceConnectivity)
    else:
        f = sitk.ConfidenceConnectedImageFilter()
        f.SetMultiplier(CONFIDENCE["multiplier"])
        f.SetNumberOfIterations(CONFIDENCE["iterations"])
        f.SetInitialNeighborhoodRadius(CONFIDENCE["radius"])
    f.SetNumberOfThreads(threads)
    f.SetSeedList([seed])
    f.SetReplaceValue(1)
    out, seconds = timed(lambda: f.Execute(case.image), runs)
    region = sitk.GetArrayFromImage(out).transpose(2, 1, 0) != 0
    result = {"status": "ok", "warnings": [], "segment": statistics.median(seconds), "segmentSeconds": seconds,
              "wall": case.read_seconds + statistics.median(seconds), "readSeconds": case.read_seconds}
    if method == "sitk-connected":
        result["interval"] = list(VESSEL_WINDOW)
        if not VESSEL_WINDOW[0] <= float(case.hu[tuple(seed)]) <= VESSEL_WINDOW[1]:
            result["warnings"].append(f"seed value {float(case.hu[tuple(seed)]):g} is outside the window: "
                                      "nothing grows")
    else:
        mean, variance = f.GetMean(), f.GetVariance()
        deviation = CONFIDENCE["multiplier"] * math.sqrt(max(variance, 0.0))
        result.update(mean=mean, variance=variance, interval=[mean - deviation, mean + deviation])
    return result, region


def run_threshold(np, ndimage, case: Case, method: str, runs: int) -> tuple[dict, object]:
    hu = case.hu

    def threshold():
        return hu >= BONE_HU

    def components():
        mask = hu >= BONE_HU
        labelled, _ = ndimage.label(mask)  # 6-connected
        keep = np.unique(labelled[hu >= BONE_SEED_HU])
        keep = keep[keep != 0]
        return np.isin(labelled, keep)

    region, seconds = timed(threshold if method == "threshold" else components, runs)
    return {"status": "ok", "warnings": [], "segment": statistics.median(seconds), "segmentSeconds": seconds,
            "wall": case.read_seconds + statistics.median(seconds), "readSeconds": case.read_seconds}, region


# --------------------------------------------------------------------------- accuracy


def overlap(np, region, target) -> dict:
    r, t = int(np.count_nonzero(region)), int(np.count_nonzero(target))
    both = int(np.count_nonzero(region & target))
    return {"dice": (2.0 * both / (r + t)) if r + t else None, "recall": both / t if t else None,
            "precision": both / r if r else None}


def fraction(np, region, mask, voxels: int):
    return int(np.count_nonzero(region & mask)) / voxels if voxels else None


def bone_proxy(np, ndimage, case: Case, row: dict):
    """CTA (its reference labels only T12 as bone): voxels >= 226 HU more than 2 voxels (two 26-neighbourhood
    dilations) away from the reference heart and vessels, in 6-connected components of which at least 5 % of
    the voxels are >= 700 HU. Bone has a cortex; the enhanced lung vessels the reference lacks (350-550 HU)
    reach 700 HU in single voxels only (< 1 % of their components in this CTA)."""
    key = "bone-proxy"
    if key not in case._masks:
        near = ndimage.binary_dilation(case.mask(np, row["vessels"] + row["heart"]),
                                       structure=ndimage.generate_binary_structure(3, 3), iterations=2)
        candidate = (case.hu >= BONE_HU) & ~near
        labelled, count = ndimage.label(candidate)
        sizes = np.bincount(labelled.ravel(), minlength=count + 1)
        bright = np.bincount(labelled[candidate & (case.hu >= BONE_SEED_HU)], minlength=count + 1)
        keep = np.flatnonzero(bright >= BONE_PROXY_SHARE * np.maximum(sizes, 1))
        keep = keep[keep != 0]
        case._masks[key] = np.isin(labelled, keep)
        say(f"{case.name}: bone proxy (>= {BONE_HU} HU, > 2 voxels from reference heart and vessels, components "
            f"with >= {BONE_PROXY_SHARE:.0%} of voxels >= {BONE_SEED_HU} HU): "
            f"{np.count_nonzero(case._masks[key]) * case.voxel_ml:.1f} mL in {keep.size} component(s)")
    return case._masks[key]


def measure(np, ndimage, case: Case, row: dict, region, result: dict) -> dict:
    """Accuracy figures of a region (boolean, reference order) for a row; also the 'key' text and the bar."""
    voxels = int(np.count_nonzero(region))
    counts = np.bincount(case.labels[region].ravel(), minlength=1)
    per_structure = {case.labels_by_value.get(v, f"label {v}"): int(c) * case.voxel_ml
                     for v, c in enumerate(counts) if v != 0 and c}
    target = case.mask(np, row["target"])
    others = {name: v for name, v in per_structure.items() if case.value_of.get(name) not in row["target"]}
    top = sorted(others.items(), key=lambda kv: -kv[1])[:3]
    m = {"voxels": voxels, "volumeML": voxels * case.voxel_ml, "mlByStructure": per_structure,
         "targetML": int(np.count_nonzero(target)) * case.voxel_ml,
         "outsideLabelsML": (int(counts[0]) if len(counts) else 0) * case.voxel_ml,
         "leaks": [{"structure": n, "ml": v} for n, v in top], **overlap(np, region, target)}
    kind, key, bar = row["kind"], [], None
    f = lambda values: fraction(np, region, case.mask(np, values), voxels)  # noqa: E731
    if kind == "bone-cta":
        m["dice"] = m["precision"] = None  # T12 is the only bone label: only its recall means something
        t12_bone = target & (case.hu >= BONE_HU)
        m["recall"] = overlap(np, region, t12_bone)["recall"]
        m["fractionInHeartAndVessels"] = f(row["avoid"])
        m["t12ML"] = sum(per_structure.get(case.labels_by_value[v], 0.0) for v in row["target"])
        key.append(f"in heart + vessels {pct(m['fractionInHeartAndVessels'])}")
        bar = ("in heart + vessels ≤ 2 %", None if voxels == 0 else m["fractionInHeartAndVessels"] <= CTA_BONE_BAR)
    elif kind == "vessels-cta":
        m["fractionInVessels"] = f(row["vessels"])
        m["fractionInHeart"] = f(row["heart"])
        m["t12ML"] = sum(per_structure.get(case.labels_by_value[v], 0.0) for v in row["bone"])
        m["boneProxyML"] = int(np.count_nonzero(region & bone_proxy(np, ndimage, case, row))) * case.voxel_ml
        key += [f"in vessels {pct(m['fractionInVessels'])}", f"heart {pct(m['fractionInHeart'])}",
                f"T12 {ml(m['t12ML'])} mL", f"bone proxy {ml(m['boneProxyML'])} mL",
                f"outside labels {ml(m['outsideLabelsML'])} mL"]
    elif kind in ("bone-abdomen", "bone-sim"):
        bone_bright = target & (case.hu >= BONE_HU)
        near = ndimage.binary_dilation(target, structure=ndimage.generate_binary_structure(3, 3))
        m["recall"] = overlap(np, region, bone_bright)["recall"]
        m["dice"] = m["precision"] = None  # the reference bone holds the marrow: see the fractions
        m["fractionNearBone"] = fraction(np, region, near, voxels)
        key.append(f"within 1 voxel of ref. bone {pct(m['fractionNearBone'])}")
        if kind == "bone-sim":
            m["fractionInEnhanced"] = f(row["enhanced"])
            m["enhancedML"] = int(np.count_nonzero(region & case.mask(np, row["enhanced"]))) * case.voxel_ml
            key.append(f"in enhanced organs/vessels {ml(m['enhancedML'])} mL ({pct(m['fractionInEnhanced'])})")
        warnings = result.get("warnings") or []
        metal = [w for w in warnings if any(word in w.lower() for word in ("metal", "implant"))]
        if result.get("method") == "vrprep":
            m["metalWarning"] = bool(metal)
            key.append("metal warning: " + ("yes" if metal else "no"))
    elif kind in ("vessels-abdomen", "vessels-sim"):
        m["fractionInVessels"] = f(row["vessels"])
        m["fractionInBone"] = f(row["bone"])
        key += [f"in vessels {pct(m['fractionInVessels'])}", f"in bone {pct(m['fractionInBone'])}"]
        if kind == "vessels-sim":
            bar = ("in bone ≤ 1 %", None if voxels == 0 else m["fractionInBone"] <= SIM_VESSEL_BONE_BAR)
    m["key"] = ", ".join(key)
    if bar is not None:
        m["bar"], m["barMet"] = bar[0], bar[1]
    return m


# --------------------------------------------------------------------------- overlays


def canonical(np, case: Case, array):
    """An (i, j, k) array in (L, P, S) order."""
    perm, flips = case.orientation
    out = array.transpose(perm)
    for axis, flip in enumerate(flips):
        if flip:
            out = np.flip(out, axis=axis)
    return out


def canonical_index(case: Case, index):
    perm, flips = case.orientation
    shape = case.labels.shape
    return [shape[perm[b]] - 1 - index[perm[b]] if flips[b] else index[perm[b]] for b in range(3)]


def upsample_indices(np, n: int, spacing: float, pixel: float):
    size = max(1, int(round(n * spacing / pixel)))
    return np.minimum((np.arange(size) + 0.5) * pixel / spacing, n - 1).astype(np.intp)


def outline(np, ndimage, mask, width: int):
    if not mask.any():
        return mask
    inner = ndimage.binary_erosion(mask, structure=np.ones((3, 3), bool), iterations=width, border_value=0)
    return mask & ~inner


def gray(np, case: Case, slice2d, window):
    if window is None:  # MR: 1st-99th percentile of the whole volume
        if not hasattr(case, "percentiles"):
            case.percentiles = tuple(float(v) for v in np.percentile(case.hu, [1, 99]))
        low, high = case.percentiles
    else:
        low, high = window[0] - window[1] / 2, window[0] + window[1] / 2
    scaled = (slice2d.astype(np.float64) - low) / max(high - low, 1e-9)
    return (np.clip(scaled, 0, 1) * 255).astype(np.uint8)


def draw_overlays(modules, case: Case, row: dict, method: str, region, out_dir: Path) -> list[str]:
    """Axial and coronal PNGs through the row's seed (or view point)."""
    np, ndimage = modules["numpy"], modules["scipy.ndimage"]
    Image, ImageDraw, ImageFont = modules["PIL.Image"], modules["PIL.ImageDraw"], modules["PIL.ImageFont"]
    if case.orientation is None:
        return []
    try:
        font = ImageFont.load_default(size=13)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    hu = canonical(np, case, case.hu)
    ours = canonical(np, case, region)
    target = canonical(np, case, case.mask(np, row["target"]))
    avoid = canonical(np, case, case.mask(np, row["avoid"])) if row["avoid"] else None
    point = row["seed_index"] if row["seed"] is not None else row["view_index"]
    seed = canonical_index(case, point)
    perm = case.orientation[0]
    spacing = [case.spacing[perm[b]] for b in range(3)]  # L, P, S
    paths = []
    for plane in ("axial", "coronal"):
        if plane == "axial":
            take = lambda a: a[:, :, seed[2]].T  # noqa: E731 - rows P (anterior at top), columns L (right at left)
            row_spacing, marker = spacing[1], (seed[1], seed[0])
            where = f"axial slice {point[2]} (z = {row['point_mm'][2]:.1f} mm)"
            edges = ("A", "P")
        else:
            take = lambda a: a[:, seed[1], :].T[::-1]  # noqa: E731 - rows S (superior at top), columns L
            row_spacing, marker = spacing[2], (hu.shape[2] - 1 - seed[2], seed[0])
            where = f"coronal row {point[1]} (y = {row['point_mm'][1]:.1f} mm)"
            edges = ("S", "I")
        image2d = take(hu)
        pixel = min(row_spacing, spacing[0], max(image2d.shape[1] * spacing[0], image2d.shape[0] * row_spacing) / 560)
        ri = upsample_indices(np, image2d.shape[0], row_spacing, pixel)
        ci = upsample_indices(np, image2d.shape[1], spacing[0], pixel)
        big = lambda a: a[np.ix_(ri, ci)]  # noqa: E731
        g = gray(np, case, big(image2d), row["window"])
        rgb = np.repeat(g[:, :, None], 3, axis=2).astype(np.float64)
        width = 2 if pixel <= 0.6 * min(row_spacing, spacing[0]) else 1
        mine = big(take(ours))
        rgb[mine] = 0.55 * rgb[mine] + 0.45 * np.asarray(RED)
        rgb[outline(np, ndimage, mine, 1)] = RED
        if avoid is not None:
            rgb[outline(np, ndimage, big(take(avoid)), width)] = CYAN
        rgb[outline(np, ndimage, big(take(target)), width)] = GREEN
        picture = Image.fromarray(rgb.astype(np.uint8))
        # The seed: a yellow cross at its voxel's centre.
        draw = ImageDraw.Draw(picture)
        y = (int(np.searchsorted(ri, marker[0])) + int(np.searchsorted(ri, marker[0], side="right"))) / 2
        x = (int(np.searchsorted(ci, marker[1])) + int(np.searchsorted(ci, marker[1], side="right"))) / 2
        draw.line([(x - 7, y), (x + 7, y)], fill=YELLOW, width=1)
        draw.line([(x, y - 7), (x, y + 7)], fill=YELLOW, width=1)
        w, h = picture.size
        draw.text((3, h / 2 - 7), "R", fill=YELLOW, font=font)
        draw.text((w - 11, h / 2 - 7), "L", fill=YELLOW, font=font)
        draw.text((w / 2 - 4, 2), edges[0], fill=YELLOW, font=font)
        draw.text((w / 2 - 4, h - 16), edges[1], fill=YELLOW, font=font)
        # Caption above the image.
        seed_text = (f"seed {row['seed_name']}" if row["seed"] is not None else f"view: {row['view_name']}")
        lines = [f"{case.name}{' (SIMULATED)' if case.simulated else ''} | {row['title']} | {METHOD_LABELS[method]}",
                 f"{where}, {seed_text} (yellow cross)",
                 f"green: reference {row['target_name']}" + (f"; cyan: {row['avoid_name']}" if row["avoid"] else "")
                 + "; red: this method"]
        wrapped = []
        for line in lines:
            words, current = line.split(" "), ""
            for word in words:
                trial = (current + " " + word).strip()
                if current and draw.textlength(trial, font=font) > max(w, 480) - 8:
                    wrapped.append(current)
                    current = word
                else:
                    current = trial
            wrapped.append(current)
        caption_height = 16 * len(wrapped) + 6
        canvas = Image.new("RGB", (max(w, 480), h + caption_height), (0, 0, 0))
        canvas.paste(picture, ((canvas.size[0] - w) // 2, caption_height))
        text = ImageDraw.Draw(canvas)
        for n, line in enumerate(wrapped):
            text.text((4, 3 + 16 * n), line, fill=(255, 255, 255), font=font)
        path = out_dir / f"{case.name}-{row['id']}-{method}-{plane}.png"
        canvas.save(path)
        paths.append(str(path))
    return paths


# --------------------------------------------------------------------------- reporting


def status_text(r: dict) -> str:
    if r["status"] != "ok":
        return f"failed: {r.get('message', '')}"
    warnings = [w for w in r.get("warnings") or [] if not w.startswith("(benchmark)")]
    notes = []
    if r["voxels"] == 0:
        notes.append("empty")
    if warnings:
        notes.append(f"{len(warnings)} warning(s) ¹")
    if r.get("stoppedByVolumeLimit"):
        notes.append("stopped by volume limit")
    return "; ".join(notes) or "ok"


def verdict(r: dict) -> str:
    return "n/a (empty region)" if r["barMet"] is None else "met" if r["barMet"] else "NOT met"


def bar_text(r: dict) -> str:
    return f"{r['bar']}: {verdict(r)}" if "bar" in r else ""


def time_text(r: dict) -> str:
    segment = r.get("segment")
    mark = " ‡" if r.get("disturbed") else ""
    if segment is None:
        return f"{r['wall']:.2f}{mark}"
    return f"{r['wall']:.2f} ({segment:.2f}){mark}"


def case_label(name: str) -> str:
    return f"{name} (simulated)" if name == SIMULATED else name


def markdown_table(results: list[dict]) -> str:
    lines = ["| case | structure (seed) | method | Dice | recall | precision | key fractions | bar "
             "| leaked into other reference structures (top 3, mL) | mL | time s: wall (segment) | status |",
             "| --- | --- | --- | ---: | ---: | ---: | --- | --- | --- | ---: | ---: | --- |"]
    for r in results:
        if r["status"] != "ok":
            lines.append(f"| {case_label(r['case'])} | {r['row']} | {r['methodLabel']} | | | | | | | "
                         f"| {time_text(r)} | {status_text(r)} |")
            continue
        leaks = "; ".join(f"{x['structure']} {ml(x['ml'])}" for x in r["leaks"]) or "–"
        lines.append(f"| {case_label(r['case'])} | {r['row']} | {r['methodLabel']} | {num(r['dice'])} "
                     f"| {num(r['recall'])} | {num(r['precision'])} | {r['key']} | {bar_text(r)} | {leaks} "
                     f"| {ml(r['volumeML'])} | {time_text(r)} | {status_text(r)} |")
    return "\n".join(lines)


def summary_table(results: list[dict]) -> str:
    lines = ["| case | structure (seed) | method | Dice | recall | what counts here | mL | s |",
             "| --- | --- | --- | ---: | ---: | --- | ---: | ---: |"]
    for r in results:
        if r["status"] != "ok":
            message = r.get("message", "")
            short = message if len(message) <= 100 else message[:99].rstrip() + "…"
            lines.append(f"| {case_label(r['case'])} | {r['row']} | {r['methodLabel']} | | "
                         f"| refused: {short} | | {r['wall']:.2f}{' ‡' if r.get('disturbed') else ''} |")
            continue
        key = r["key"] or f"precision {num(r['precision'], 2)}; reference {ml(r['targetML'])} mL"
        if r["voxels"] == 0:
            key = "empty region"
        elif "bar" in r:
            key += f" ({verdict(r)}: {r['bar']})"
        lines.append(f"| {case_label(r['case'])} | {r['row']} | {r['methodLabel']} | {num(r['dice'], 2)} "
                     f"| {num(r['recall'], 2)} | {key} | {ml(r['volumeML'])} | {r['wall']:.2f}"
                     f"{' ‡' if r.get('disturbed') else ''} |")
    if any(r.get("disturbed") for r in results):
        lines += ["", "‡ other processes used the CPU during this measurement: its time is not reliable."]
    return "\n".join(lines)


def notes_lines(results: list[dict], threads: int, runs: int) -> list[str]:
    lines = [
        "",
        "Dice / recall / precision against the row's target: CTA vessel rows the aorta group (true lumen + false "
        "lumen + wall/flap); simulated aorta seed: aorta + iliac arteries; portal seed: portal/splenic vein; "
        "tumors: the GTV / tumor label. Bone rows give recall only: of the reference bone voxels (CTA: T12) that are "
        f">= {BONE_HU} HU. Key fractions are shares of the region's voxels. 'bone proxy' (CTA): voxels >= {BONE_HU} "
        f"HU more than 2 voxels from the reference heart and vessels, in components with >= {BONE_PROXY_SHARE:.0%} of "
        f"their voxels >= {BONE_SEED_HU} HU.",
        f"Time: VRPrep = wall time of `vrprep segment` (load, segment, write; median of {runs}), in brackets the "
        f"segment time it reports; peers = ImageSeriesReader read once + the filter (median of {runs} after a "
        f"warm-up), in brackets the filter. {threads} thread(s) for every tool.",
    ]
    if any(r.get("disturbed") for r in results):
        lines.append("‡ other processes used the CPU during this measurement: its time is not reliable.")
    warned = [r for r in results if r["status"] == "ok" and r.get("warnings")]
    if warned:
        lines += ["", "¹ Warnings:"]
        for r in warned:
            for w in r["warnings"]:
                lines.append(f"- {case_label(r['case'])}, {r['row']}, {r['methodLabel']}: {w}")
    failed = [r for r in results if r["status"] != "ok"]
    if failed:
        lines += ["", "Refusals / failures (as the tool said them):"]
        for r in failed:
            lines.append(f"- {case_label(r['case'])}, {r['row']}, {r['methodLabel']}: {r.get('message', '')}")
    return lines


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description="Accuracy on real studies: VRPrep's presets vs reference labels, "
                                                 "with SimpleITK and threshold peers.")
    add_common_arguments(parser, runs=1, work_help="folder for results and the simulated case "
                                                   "(default: Benchmarks/work; results in WORK/accuracy)")
    parser.add_argument("--cases", type=Path, default=None,
                        help="folder with the development cases (default: WORK/real-cases, i.e. Benchmarks/work/"
                             "real-cases); missing ones are made with --fetch")
    parser.add_argument("--fetch", type=Path, default=DEFAULT_FETCH,
                        help="the script that makes the cases (default: ../shared/data/real/fetch_cases.py "
                             "beside the repository)")
    parser.add_argument("--only", type=parse_only, default=list(ALL_CASES),
                        help=f"comma-separated cases (default: all: {','.join(ALL_CASES)})")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for vrprep and SimpleITK (default: the cores this process may use)")
    parser.add_argument("--no-png", action="store_true", help="do not write the PNG overlays")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    threads = args.threads or len(os.sched_getaffinity(0))

    original_binary = checked_binary(args.vrprep)
    modules = import_packages()
    modules.update(import_extra())
    np, ndimage, sitk, nib = modules["numpy"], modules["scipy.ndimage"], modules["SimpleITK"], modules["nibabel"]
    check_sitk_version(sitk)

    work = args.work.resolve()
    cases_dir = (args.cases or work / "real-cases").resolve()
    cases_dir.mkdir(parents=True, exist_ok=True)
    ensure_cases(cases_dir, args.fetch.resolve(), needed_sources(args.only))
    out_dir = work / "accuracy"
    (out_dir / "labels").mkdir(parents=True, exist_ok=True)
    watch = CpuWatch(0.05, 0, 0)

    results = []
    started = time.perf_counter()
    with private_binary(original_binary, "vrprep-accuracy-bench-") as binary:
        build = binary_info(binary)
        for name in args.only:
            case = load_case(modules, cases_dir, work, name, threads)
            for row in rows_for(case):
                point = row["seed"] if row["seed"] is not None else row["view"]
                index = list(case.image.TransformPhysicalPointToIndex(point))
                if any(not 0 <= v < n for v, n in zip(index, case.labels.shape)):
                    fail(f"{name}: {row['title']}: point {point} mm lies outside the series (voxel {index})", 1)
                row["seed_index" if row["seed"] is not None else "view_index"] = index
                row["point_mm"] = point
                for method in methods_for(case, row):
                    label = METHOD_LABELS[method]
                    say(f"{name}: {row['title']}: {label} ...")
                    a = watch.snapshot()
                    if method == "vrprep":
                        out = out_dir / "labels" / f"{name}-{row['id']}-vrprep.nii.gz"
                        result, region = run_vrprep(np, nib, binary, case, row, out, args.runs, threads)
                    elif method.startswith("sitk"):
                        result, region = run_sitk(np, sitk, case, row, method, args.runs, threads)
                    else:
                        result, region = run_threshold(np, ndimage, case, method, args.runs)
                    wall, other = watch.other(a, watch.snapshot())
                    result.update(case=name, simulated=case.simulated is not None, row=row["title"], rowId=row["id"],
                                  preset=row["preset"], method=method, methodLabel=label, seedMM=row["seed"],
                                  seedIndex=row.get("seed_index"), seedStructure=row["seed_name"],
                                  target=row["target_name"], otherCpuSeconds=round(other, 3),
                                  disturbed=watch.too_busy(wall, other))
                    if region is not None:
                        result.update(measure(np, ndimage, case, row, region, result))
                        if not args.no_png:
                            result["png"] = draw_overlays(modules, case, row, method, region, out_dir)
                        if method == "vrprep" and result.get("reportedVoxels") not in (None, result["voxels"]):
                            result["warnings"].append(f"(benchmark) vrprep reports {result['reportedVoxels']:,} "
                                                      f"voxels, its label map has {result['voxels']:,}")
                    results.append(result)
                    say(f"    -> {status_text(result) if region is None else (result['key'] or 'done')}"
                        + (f"; Dice {num(result.get('dice'))}" if result.get("dice") is not None else "")
                        + (f"; {result['volumeML']:.1f} mL" if region is not None else ""))
                    del region
            if case.orientation is None and not args.no_png:
                say(f"warning: {name}: the series is oblique; no PNG overlays")
            del case
    elapsed = time.perf_counter() - started

    table, summary = markdown_table(results), summary_table(results)
    notes = notes_lines(results, threads, args.runs)
    print(table)
    for line in notes:
        print(line)
    print(f"\n{len(results)} rows in {elapsed:.0f} s; overlays and label maps in {out_dir}")
    (out_dir / "table.md").write_text(table + "\n" + "\n".join(notes) + "\n")
    (out_dir / "summary.md").write_text(summary + "\n")
    say(f"wrote {out_dir / 'table.md'} and {out_dir / 'summary.md'}")

    if args.json:
        machine = machine_info(original_binary, modules)
        machine["nibabel"] = nib.__version__
        machine["Pillow"] = modules["PIL.Image"].__version__
        add_build(machine, build)
        document = {
            "benchmark": "accuracy",
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "runs": args.runs, "threads": threads, "cases": args.only, "casesFolder": str(cases_dir),
            "seconds": elapsed, "vesselWindow": VESSEL_WINDOW, "boneHU": BONE_HU, "boneSeedHU": BONE_SEED_HU,
            "confidence": CONFIDENCE, "portalVenousOffsetsHU": PORTAL_VENOUS_HU,
            "bars": {"ctaBoneInHeartAndVessels": CTA_BONE_BAR, "simulatedVesselsInBone": SIM_VESSEL_BONE_BAR},
            "notes": notes[1:],
            "machine": machine,
            "results": results,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        say(f"wrote {args.json}")


if __name__ == "__main__":
    main()
