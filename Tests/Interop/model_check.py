#!/usr/bin/env python3
"""Reads an Encapsulated STL/OBJ/MTL written by `vrprep export-dicom` with pydicom and compares
the document inside with the model file it was made from.

    model_check.py MODEL.dcm MODEL_FILE

Prints one JSON object: SOP class, modality, MIME type, document length, whether the document
equals the file byte for byte, the frame of reference, study, measurement unit, and the
instance it says it was made from. Run by the Swift test `ExportDicomTests`.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pydicom


def main() -> None:
    dataset = pydicom.dcmread(sys.argv[1])
    original = Path(sys.argv[2]).read_bytes()
    length = int(dataset.get("EncapsulatedDocumentLength", len(dataset.EncapsulatedDocument)))
    document = bytes(dataset.EncapsulatedDocument)[:length]
    source = dataset.get("SourceInstanceSequence")
    print(json.dumps({
        "sopClassUID": dataset.SOPClassUID, "modality": dataset.Modality, "mimeType": dataset.MIMETypeOfEncapsulatedDocument,
        "length": length, "equal": document == original, "frameOfReferenceUID": dataset.FrameOfReferenceUID,
        "studyInstanceUID": dataset.StudyInstanceUID, "title": dataset.DocumentTitle,
        "unit": dataset.MeasurementUnitsCodeSequence[0].CodeValue,
        "madeFrom": source[0].ReferencedSOPInstanceUID if source else None,
    }))


if __name__ == "__main__":
    main()
