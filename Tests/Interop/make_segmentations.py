#!/usr/bin/env python3
"""Segmentations of a study made by other tools, not by VRPrep's writers, for the import tests.

    make_segmentations.py STUDY_FOLDER OUT_FOLDER      # writes the fixtures, prints what it wrote
    make_segmentations.py --compare LABELS.nii.gz EXPECTED.npy   # prints the differing voxels per label

Two structures are cut from the study itself (pydicom reads it): "bony" (CT values above 300
in the upper half of the volume) and "sphere" (a ball of 15 mm radius at the volume's centre),
kept as EXPECTED.npy (values 1 and 2, array [slice][row][column], slices ordered along the
normal). Written from them:

* ``highdicom.seg``: a BINARY DICOM Segmentation by highdicom, segments "bony" and "sphere";
* ``highdicom-labelmap.seg``: the same as a Label Map Segmentation (pixels are segment numbers);
* ``rt-utils.dcm``: an RT Structure Set by rt-utils, ROIs "bony" and "sphere";
* ``nibabel.nii.gz``: a NIfTI label map by nibabel (RAS affine, as nibabel writes it);
* ``slicer.seg.nrrd``: a segmentation as Slicer saves it (pynrrd: cropped, LPS, gzip, SegmentN_ fields);
* ``nibabel-cropped.nii.gz``: the same NIfTI, cropped to the labels' box plus 2 voxels (as Slicer
  crops a segmentation), on a grid of its own;
* bad ones: ``missing-slice.dcm`` (a contour on an image the study lacks), ``other-study.seg`` (the SEG with another StudyInstanceUID), ``elsewhere.nii.gz``
  (a map 200 mm away from the study), ``empty-segment.seg`` (a third segment with no pixel).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pydicom


def study_images(folder: Path) -> list:
    images = []
    for file in sorted(folder.iterdir()):
        try:
            image = pydicom.dcmread(file)
        except Exception:  # noqa: BLE001 (not DICOM)
            continue
        if "ImagePositionPatient" in image and "PixelData" in image:
            images.append(image)
    row = np.array(images[0].ImageOrientationPatient[:3], float)
    column = np.array(images[0].ImageOrientationPatient[3:], float)
    normal = np.cross(row, column)
    images.sort(key=lambda i: float(np.dot(normal, np.array(i.ImagePositionPatient, float))))
    return images


def lps_affine(images: list) -> np.ndarray:
    """Voxel (column i, row j, slice k) → LPS mm."""
    first, last = images[0], images[-1]
    row = np.array(first.ImageOrientationPatient[:3], float)
    column = np.array(first.ImageOrientationPatient[3:], float)
    spacing = [float(v) for v in first.PixelSpacing]  # between rows, between columns
    origin = np.array(first.ImagePositionPatient, float)
    step = (np.array(last.ImagePositionPatient, float) - origin) / max(1, len(images) - 1)
    affine = np.eye(4)
    affine[:3, 0] = row * spacing[1]
    affine[:3, 1] = column * spacing[0]
    affine[:3, 2] = step
    affine[:3, 3] = origin
    return affine


def write_nifti(path: Path, labels: np.ndarray, affine_lps: np.ndarray) -> None:
    import nibabel as nib
    ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine_lps
    # nibabel's array is [i][j][k] (column, row, slice).
    image = nib.Nifti1Image(np.ascontiguousarray(labels.transpose(2, 1, 0)).astype(np.uint8), ras)
    image.set_sform(ras, code=1)
    image.set_qform(ras, code=1)
    nib.save(image, str(path))


def write_seg_nrrd(path: Path, labels: np.ndarray, affine_lps: np.ndarray) -> None:
    """A segmentation as 3D Slicer saves it (pynrrd): cropped to the segments' extent, in
    left-posterior-superior space, gzip, with Slicer's SegmentN_ fields."""
    import nrrd
    where = np.argwhere(labels > 0)
    low, high = where.min(axis=0), where.max(axis=0) + 1
    cropped = labels[low[0]:high[0], low[1]:high[1], low[2]:high[2]]
    origin = (affine_lps @ np.array([low[2], low[1], low[0], 1.0]))[:3]
    header = {
        "type": "unsigned char", "dimension": 3, "space": "left-posterior-superior",
        "space directions": affine_lps[:3, :3].T, "space origin": origin, "kinds": ["domain", "domain", "domain"], "encoding": "gzip",
        "Segment0_ID": "Segment_1", "Segment0_Name": "bony", "Segment0_Color": "0.9 0.85 0.7", "Segment0_LabelValue": "1",
        "Segment0_Layer": "0", "Segment1_ID": "Segment_2", "Segment1_Name": "sphere", "Segment1_Color": "0.8 0.2 0.2",
        "Segment1_LabelValue": "2", "Segment1_Layer": "0", "Segmentation_MasterRepresentation": "Binary labelmap",
    }
    # pynrrd's array is [i][j][k] (column, row, slice), written with i fastest (Fortran order).
    nrrd.write(str(path), np.ascontiguousarray(cropped.transpose(2, 1, 0)).astype(np.uint8), header, index_order="F")


def make(study: Path, out: Path) -> None:
    import highdicom as hd
    from pydicom.sr.codedict import codes

    out.mkdir(parents=True, exist_ok=True)
    images = study_images(study)
    volume = np.stack([i.pixel_array.astype(np.float32) * float(getattr(i, "RescaleSlope", 1)) + float(getattr(i, "RescaleIntercept", 0))
                       for i in images])
    k, rows, columns = volume.shape
    affine = lps_affine(images)
    expected = np.zeros(volume.shape, np.uint8)
    upper = np.zeros(volume.shape, bool)
    upper[k // 2:] = True
    expected[(volume > 300) & upper] = 1
    kk, jj, ii = np.meshgrid(np.arange(k), np.arange(rows), np.arange(columns), indexing="ij")
    centre = affine @ np.array([columns / 2, rows / 2, k / 2, 1.0])
    points = (affine[:3, :3] @ np.stack([ii.ravel(), jj.ravel(), kk.ravel()])).T + affine[:3, 3]
    sphere = (np.linalg.norm(points - centre[:3], axis=1) <= 15).reshape(volume.shape)
    expected[sphere] = 2
    np.save(out / "expected.npy", expected)

    algorithm = hd.AlgorithmIdentificationSequence(name="test fixture", version="1", family=codes.cid7162.ArtificialIntelligence)
    descriptions = [
        hd.seg.SegmentDescription(segment_number=1, segment_label="bony", segmented_property_category=codes.cid7150.Tissue,
                                  segmented_property_type=codes.SCT.Bone,
                                  algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC, algorithm_identification=algorithm),
        hd.seg.SegmentDescription(segment_number=2, segment_label="sphere", segmented_property_category=codes.cid7150.Tissue,
                                  segmented_property_type=codes.SCT.Neoplasm,
                                  algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC, algorithm_identification=algorithm),
    ]
    masks = np.stack([expected == 1, expected == 2], axis=-1)
    seg = hd.seg.Segmentation(source_images=images, pixel_array=masks, segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
                              segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=900,
                              sop_instance_uid=hd.UID(), instance_number=1, manufacturer="highdicom test",
                              manufacturer_model_name="fixture", software_versions="1", device_serial_number="1")
    seg.save_as(out / "highdicom.seg")
    # The same as a Label Map Segmentation (its pixels are the segment numbers).
    labelmap = hd.seg.Segmentation(source_images=images, pixel_array=expected, segmentation_type=hd.seg.SegmentationTypeValues.LABELMAP,
                                   segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=901,
                                   sop_instance_uid=hd.UID(), instance_number=1, manufacturer="highdicom test",
                                   manufacturer_model_name="fixture", software_versions="1", device_serial_number="1")
    labelmap.save_as(out / "highdicom-labelmap.seg")
    # Another study's segmentation: the same pixels, another StudyInstanceUID.
    other = pydicom.dcmread(out / "highdicom.seg")
    other.StudyInstanceUID = pydicom.uid.generate_uid()
    other.save_as(out / "other-study.seg")
    # A third segment that no frame holds.
    empty = pydicom.dcmread(out / "highdicom.seg")
    extra = pydicom.Dataset()
    extra.update(empty.SegmentSequence[1])
    extra.SegmentNumber = 3
    extra.SegmentLabel = "nothing"
    empty.SegmentSequence.append(extra)
    empty.save_as(out / "empty-segment.seg")

    # An RT Structure Set drawn by rt-utils from the same masks (its array is [row][column][slice]).
    from rt_utils import RTStructBuilder
    rt = RTStructBuilder.create_new(dicom_series_path=str(study))
    rt.add_roi(mask=np.ascontiguousarray((expected == 1).transpose(1, 2, 0)), name="bony", color=[230, 220, 200])
    rt.add_roi(mask=np.ascontiguousarray((expected == 2).transpose(1, 2, 0)), name="sphere", color=[200, 60, 50])
    rt.save(str(out / "rt-utils"))  # rt-utils adds ".dcm"
    # The same with one contour drawn on an image the study does not hold.
    missing = pydicom.dcmread(out / "rt-utils.dcm")
    missing.ROIContourSequence[1].ContourSequence[0].ContourImageSequence[0].ReferencedSOPInstanceUID = pydicom.uid.generate_uid()
    missing.save_as(out / "missing-slice.dcm")

    write_nifti(out / "nibabel.nii.gz", expected, affine)
    write_seg_nrrd(out / "slicer.seg.nrrd", expected, affine)
    # Cropped to the labels' box plus 2 voxels: its origin moves to the box's corner.
    where = np.argwhere(expected > 0)
    low = np.maximum(where.min(axis=0) - 2, 0)
    high = np.minimum(where.max(axis=0) + 3, expected.shape)
    cropped = expected[low[0]:high[0], low[1]:high[1], low[2]:high[2]]
    shifted = affine.copy()
    shifted[:3, 3] = (affine @ np.array([low[2], low[1], low[0], 1.0]))[:3]
    write_nifti(out / "nibabel-cropped.nii.gz", cropped, shifted)
    # 200 mm away along the columns: not of this study.
    away = affine.copy()
    away[:3, 3] += affine[:3, 0] / np.linalg.norm(affine[:3, 0]) * 200
    write_nifti(out / "elsewhere.nii.gz", cropped, away)
    print(json.dumps({"shape": list(expected.shape), "bony": int((expected == 1).sum()), "sphere": int((expected == 2).sum()),
                      "cropped": list(cropped.shape)}))


def compare(labels_path: Path, expected_path: Path) -> None:
    """Voxels that differ between a package's label map and the expected labels, per label value."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from seg_check import read_nifti

    labels = read_nifti(labels_path)
    expected = np.load(expected_path)
    if labels.shape != expected.shape:
        raise SystemExit(f"the label map is {labels.shape}, the expected labels {expected.shape}")
    present = sorted(set(np.unique(expected).tolist()) - {0})
    differing = {str(v): int(np.count_nonzero((labels == v) != (expected == v))) for v in present}
    dice = {str(v): round(2 * float(np.count_nonzero((labels == v) & (expected == v)))
                          / float(np.count_nonzero(labels == v) + np.count_nonzero(expected == v)), 4) for v in present}
    print(json.dumps({"shape": list(labels.shape), "differing": differing, "dice": dice, "labelled": int(np.count_nonzero(expected))}))


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        compare(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        make(Path(sys.argv[1]), Path(sys.argv[2]))
