#!/usr/bin/env python3
"""Reads a DICOM Segmentation written by `vrprep export-dicom` with highdicom (another team's
reader, not ours) and compares it, image by image, with the label map it was written from.

    seg_check.py SEG.dcm LABELS.nii.gz STUDY_FOLDER NAME=VALUE [NAME=VALUE …]

NAME=VALUE says which label value of the label map each segment (by its label) holds. For each
source image of the study (read with pydicom), highdicom gives the segmentation's masks on that
image (by its SOP Instance UID); the label map's slice at the image's place along the slice
axis must agree in every pixel. Prints one JSON object: the segments (label, coded category and
type, algorithm type, CIELab colour), frames, images compared, pixels that differ (must be 0).
Run by the Swift test `ExportDicomTests`.
"""
from __future__ import annotations

import gzip
import json
import struct
import sys
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom


def read_nifti(path: Path) -> np.ndarray:
    """A NIfTI-1 label map as an array [k][j][i] (i fastest on disk), without nibabel."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    endian = "<" if struct.unpack("<i", data[:4])[0] == 348 else ">"
    dims = struct.unpack(endian + "8h", data[40:56])
    datatype = struct.unpack(endian + "h", data[70:72])[0]
    offset = int(struct.unpack(endian + "f", data[108:112])[0])
    types = {2: "u1", 4: "i2", 8: "i4", 16: "f4", 512: "u2", 64: "f8"}
    nx, ny, nz = dims[1], dims[2], dims[3]
    voxels = np.frombuffer(data, dtype=endian + types[datatype], count=nx * ny * nz, offset=offset)
    return voxels.reshape(nz, ny, nx)


def main() -> None:
    seg_path, labels_path, study = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    values = {name: int(value) for name, value in (pair.split("=") for pair in sys.argv[4:])}
    seg = hd.seg.segread(seg_path)
    labels = read_nifti(labels_path)
    # The study's images in their order along the slice normal (the label map's slice order).
    sources = []
    for file in sorted(study.iterdir()):
        try:
            image = pydicom.dcmread(file, stop_before_pixels=True)
        except Exception:  # noqa: BLE001 (not a DICOM file)
            continue
        if "ImagePositionPatient" not in image:
            continue
        row, column = np.array(image.ImageOrientationPatient[:3], float), np.array(image.ImageOrientationPatient[3:], float)
        sources.append((float(np.dot(np.cross(row, column), np.array(image.ImagePositionPatient, float))), image.SOPInstanceUID))
    sources.sort()
    if len(sources) != labels.shape[0]:
        raise SystemExit(f"{len(sources)} images but {labels.shape[0]} label slices")
    segments = []
    for number in seg.segment_numbers:
        description = seg.get_segment_description(number)
        segments.append({"number": int(number), "label": description.segment_label,
                         "category": description.segmented_property_category.meaning,
                         "type": description.segmented_property_type.meaning,
                         "algorithm": str(description.SegmentAlgorithmType),
                         "cielab": [int(v) for v in description.get("RecommendedDisplayCIELabValue", [])]})
    referenced = {uid for _, _, uid in seg.get_source_image_uids()}
    numbers = list(seg.segment_numbers)
    differing = 0
    for k, (_, uid) in enumerate(sources):
        if uid in referenced:
            masks = seg.get_pixels_by_source_instance(source_sop_instance_uids=[uid], segment_numbers=numbers)[0]
        else:  # no frame on this image: every segment is empty there
            masks = np.zeros(labels[k].shape + (len(numbers),), np.uint8)
        for index, segment in enumerate(segments):
            ours = labels[k] == values[segment["label"]]
            differing += int(np.count_nonzero(masks[..., index].astype(bool) != ours))
    print(json.dumps({"segments": segments, "frames": int(seg.NumberOfFrames), "images": len(sources),
                      "referencedImages": len(referenced), "differing": differing, "labelledVoxels": int(np.count_nonzero(labels)),
                      "modality": seg.Modality, "studyInstanceUID": seg.StudyInstanceUID,
                      "frameOfReferenceUID": seg.FrameOfReferenceUID}))


if __name__ == "__main__":
    main()
