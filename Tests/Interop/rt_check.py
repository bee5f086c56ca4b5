#!/usr/bin/env python3
"""Reads an RT Structure Set written by `vrprep export-dicom` with rt-utils (another team's
reader) and compares each ROI's mask with the label map it was written from.

    rt_check.py RTSTRUCT.dcm LABELS.nii.gz STUDY_FOLDER NAME=VALUE [NAME=VALUE …]

Prints one JSON object: the ROI names, and per ROI the Dice coefficient of rt-utils' mask
against the label map's voxels of that value. Run by the Swift test `ExportDicomTests`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from rt_utils import RTStructBuilder

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seg_check import read_nifti  # noqa: E402


def main() -> None:
    rtstruct_path, labels_path, study = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    values = {name: int(value) for name, value in (pair.split("=") for pair in sys.argv[4:])}
    structure = RTStructBuilder.create_from(dicom_series_path=study, rt_struct_path=rtstruct_path)
    labels = read_nifti(labels_path)
    dice = {}
    for name in structure.get_roi_names():
        mask = structure.get_roi_mask_by_name(name).transpose(2, 0, 1)  # [row][column][slice] → [slice][row][column]
        ours = labels == values[name]
        dice[name] = round(2 * float(np.count_nonzero(mask & ours)) / float(np.count_nonzero(mask) + np.count_nonzero(ours)), 4)
    print(json.dumps({"rois": structure.get_roi_names(), "dice": dice}))


if __name__ == "__main__":
    main()
