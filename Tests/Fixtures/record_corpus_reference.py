#!/usr/bin/env python3
"""Record, once, what pydicom decodes for every file of the DICOM corpus.

The tests compare VRPrep's DCMTK decoding against this file. Re-record only on purpose:

    pip install pydicom==3.0.2 numpy pylibjpeg==2.1.0 pylibjpeg-libjpeg==2.5.0 \
        pylibjpeg-openjpeg==2.6.0 pylibjpeg-rle==2.2.0
    python3 Tests/Fixtures/record_corpus_reference.py

(the same decoder set MANIFEST.tsv was made with). For each file whose pixels pydicom
decodes, it stores the array shape as (frames, rows, columns, samples), min, max, sum,
the SHA-256 of the values as little-endian int64 in that order, and 256 values sampled
at evenly spaced flat indices (for lossy files, compared with a tolerance).
"""
import csv
import hashlib
import json
import pathlib

import numpy as np
import pydicom

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "dicom-corpus"
OUT = HERE / "dicom-corpus-reference.json"


def main() -> None:
    rows = list(csv.DictReader(open(CORPUS / "MANIFEST.tsv"), delimiter="\t"))
    result = {"generator": f"pydicom {pydicom.__version__}, numpy {np.__version__}", "files": {}}
    for row in rows:
        if row["pixel_decodes_with_pydicom"] != "yes":
            continue
        path = row["path"]
        ds = pydicom.dcmread(CORPUS / path, force=True)
        arr = ds.pixel_array
        frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
        samples = int(getattr(ds, "SamplesPerPixel", 1) or 1)
        shaped = arr.reshape(frames, int(ds.Rows), int(ds.Columns), samples)
        values = shaped.astype("<i8")
        flat = values.ravel()
        picks = np.linspace(0, flat.size - 1, num=min(256, flat.size)).round().astype(np.int64)
        result["files"][path] = {
            "shape": list(shaped.shape),
            "photometric": str(ds.get("PhotometricInterpretation", "")),
            "transferSyntax": str(ds.file_meta.get("TransferSyntaxUID", "")) if hasattr(ds, "file_meta") else "",
            "min": int(flat.min()),
            "max": int(flat.max()),
            "sum": int(flat.sum()),
            "sha256": hashlib.sha256(flat.tobytes()).hexdigest(),
            "sampleIndices": picks.tolist(),
            "sampleValues": flat[picks].tolist(),
        }
    OUT.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(f"recorded {len(result['files'])} files into {OUT}")


if __name__ == "__main__":
    main()
