#!/usr/bin/env python3
"""Reads an Encapsulated STL/OBJ/MTL written by `vrprep export-dicom` with pydicom and compares
the document inside with the model file it was made from.

    model_check.py MODEL.dcm MODEL_FILE     # MODEL_FILE "-": no file to compare with

Prints one JSON object: SOP class, modality, MIME type, document length, whether the document
equals the file byte for byte, for an OBJ its faces and material library, for an MTL its
materials, the frame of reference, study, measurement unit, and the
instance it says it was made from. Run by the Swift test `ExportDicomTests`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pydicom


def main() -> None:
    dataset = pydicom.dcmread(sys.argv[1])
    original = Path(sys.argv[2]).read_bytes() if sys.argv[2] != "-" else None
    length = int(dataset.get("EncapsulatedDocumentLength", len(dataset.EncapsulatedDocument)))
    document = bytes(dataset.EncapsulatedDocument)[:length]
    source = dataset.get("SourceInstanceSequence")
    print(json.dumps({
        "sopClassUID": dataset.SOPClassUID, "modality": dataset.Modality, "mimeType": dataset.MIMETypeOfEncapsulatedDocument,
        "length": length, "equal": document == original if original is not None else None,
        "faces": sum(1 for line in document.splitlines() if line.startswith(b"f ")),
        "mtllib": next((line.split(b" ", 1)[1].decode() for line in document.splitlines() if line.startswith(b"mtllib ")), None),
        "materials": [line.split(b" ", 1)[1].decode() for line in document.splitlines() if line.startswith(b"newmtl ")],
        "frameOfReferenceUID": dataset.FrameOfReferenceUID,
        "studyInstanceUID": dataset.StudyInstanceUID, "title": dataset.DocumentTitle,
        "unit": dataset.MeasurementUnitsCodeSequence[0].CodeValue,
        "madeFrom": source[0].ReferencedSOPInstanceUID if source else None,
    }))


if __name__ == "__main__":
    main()
