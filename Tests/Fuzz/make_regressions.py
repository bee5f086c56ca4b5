#!/usr/bin/env python3
"""Writes the hand-made regression inputs of Tests/Fuzz/regressions/ (the small reproducers of
the defects fuzzing found; the inputs libFuzzer minimised itself are stored as they came).

    python3 Tests/Fuzz/make_regressions.py [OUTPUT_ROOT]   (default: Tests/Fuzz/regressions)

Each file is a minimal Part 10 file (explicit VR little endian meta header) built here, so what
it holds is readable below. Python 3 standard library only.
"""
import os
import struct
import sys
import zlib

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "regressions")

LONG_VRS = {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"SQ", b"UC", b"UR", b"UT", b"UN", b"SV", b"UV"}


def element(group, elem, vr, value, length=None):
    """An explicit VR little endian element; `length` overrides the length field."""
    vr = vr.encode()
    if isinstance(value, str):
        value = value.encode()
        if len(value) % 2:
            value += b"\0" if vr == b"UI" else b" "
    n = len(value) if length is None else length
    head = struct.pack("<HH", group, elem) + vr
    if vr in LONG_VRS:
        head += b"\0\0" + struct.pack("<I", n)
    else:
        head += struct.pack("<H", n)
    return head + value


def us(group, elem, value):
    return element(group, elem, "US", struct.pack("<H", value))


def item(payload, length=None):
    return b"\xfe\xff\x00\xe0" + struct.pack("<I", len(payload) if length is None else length) + payload


SEQUENCE_END = b"\xfe\xff\xdd\xe0\0\0\0\0"


def part10(transfer_syntax, dataset, sop_class="1.2.840.10008.5.1.4.1.1.7"):
    meta = (element(0x0002, 0x0001, "OB", b"\0\1") + element(0x0002, 0x0002, "UI", sop_class)
            + element(0x0002, 0x0003, "UI", "1.2.3.4.5.6.7") + element(0x0002, 0x0010, "UI", transfer_syntax))
    meta = element(0x0002, 0x0000, "UL", struct.pack("<I", len(meta))) + meta
    return b"\0" * 128 + b"DICM" + meta + dataset


def image_header(rows, columns, bits=8, samples=1, frames=None, photometric="MONOCHROME2"):
    data = (element(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.7")
            + element(0x0008, 0x0018, "UI", "1.2.3.4.5.6.7") + us(0x0028, 0x0002, samples)
            + element(0x0028, 0x0004, "CS", photometric))
    if frames is not None:
        data += element(0x0028, 0x0008, "IS", str(frames))
    data += (us(0x0028, 0x0010, rows) + us(0x0028, 0x0011, columns) + us(0x0028, 0x0100, bits)
             + us(0x0028, 0x0101, bits) + us(0x0028, 0x0102, bits - 1) + us(0x0028, 0x0103, 0))
    if samples > 1:
        data += us(0x0028, 0x0006, 0)
    return data


def encapsulated(fragments, offsets=b""):
    """Encapsulated pixel data: the basic offset table item, then one item per fragment."""
    body = item(offsets) + b"".join(item(f) for f in fragments) + SEQUENCE_END
    return struct.pack("<HH", 0x7FE0, 0x0010) + b"OB\0\0" + b"\xff\xff\xff\xff" + body


def rle_header(offsets):
    return struct.pack("<16I", len(offsets), *offsets, *([0] * (15 - len(offsets))))


def write(target, name, data):
    folder = os.path.join(ROOT, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as out:
        out.write(data)
    print(f"{target}/{name}: {len(data)} bytes")


RLE = "1.2.840.10008.1.2.5"
J2K = "1.2.840.10008.1.2.4.90"
DEFLATE = "1.2.840.10008.1.2.1.99"

# RLE: one 8-bit segment whose offset points 2 GB past its 68-byte fragment (DCMTK 3.6.7 read there).
write("dicom_frames", "rle-segment-offset-outside-fragment.dcm",
      part10(RLE, image_header(2, 2) + encapsulated([rle_header([0x7FFFFFF0]) + b"\x03\1\2\3\4"])))
# RLE: two segments (16-bit) whose first ends 64 kB past its 66-byte fragment: a literal run of 4
# bytes at offset 64 was read beyond the fragment.
write("dicom_frames", "rle-segment-end-outside-fragment.dcm",
      part10(RLE, image_header(2, 2, bits=16) + encapsulated([rle_header([64, 0x10000]) + b"\x03\x01"])))
# RLE: a 6-byte fragment, shorter than the 64-byte RLE header DCMTK 3.6.7 copied from it.
write("dicom_frames", "rle-fragment-shorter-than-header.dcm",
      part10(RLE, image_header(2, 2) + encapsulated([b"\1\0\0\0\x40\0"])))

# RLE, 65535 x 32769 16-bit pixels: 4295032830 bytes, which DCMTK 3.6.7's 32-bit frame size wraps
# to 65534, so a 65534-byte buffer passed and the decoder was free to write 4 GiB into it (with this
# little data it stops early; the shim now refuses the frame before decoding).
write("dicom_frames", "frame-size-wraps-32-bits.dcm",
      part10(RLE, image_header(65535, 32769, bits=16) + encapsulated([rle_header([64, 66]) + b"\x00\x00\x00\x00"])))

# JPEG baseline (pydicom's 3x3 SC_rgb_small_odd_jpeg.dcm) with every symbol of its DC Huffman tables
# set to 247: DCMTK's IJG decoder indexed its 16-entry extend_test/extend_offset tables with it
# (a global buffer over-read; the shim now refuses DC symbols over 15).
CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "dicom-corpus")
jpeg = bytearray(open(os.path.join(CORPUS, "pydicom-test_files", "SC_rgb_small_odd_jpeg.dcm"), "rb").read())
at = 0
while (at := jpeg.find(b"\xff\xc4", at)) >= 0:
    end, p = at + 2 + (jpeg[at + 2] << 8 | jpeg[at + 3]), at + 4
    while p + 17 <= end:
        count = sum(jpeg[p + 1:p + 17])
        if jpeg[p] & 0x10 == 0:
            jpeg[p + 17:p + 17 + count] = bytes([247]) * count
        p += 17 + count
    at = end
write("dicom_frames", "jpeg-dc-huffman-symbol-over-15.dcm", bytes(jpeg))

# JPEG 2000, 3 frames: a basic offset table of exactly 3 entries; the frame past the end (3) read a
# fourth entry beyond the table.
j2k_frames = [b"\xff\x4f\xff\x51" + b"\0" * 8] * 6  # 6 fragments for 3 frames: the table is used
write("dicom_frames", "j2k-offset-table-frame-past-end.dcm",
      part10(J2K, image_header(2, 2, frames=3)
             + encapsulated(j2k_frames, offsets=struct.pack("<3I", 0, 40, 80))))
# JPEG 2000: NumberOfFrames 1073741825, so 4 x frames overflows 32 bits (to 4) and a 4-byte table
# passed the size check; frame 1 read entry 1 beyond it.
write("dicom_frames", "j2k-offset-table-frames-overflow.dcm",
      part10(J2K, image_header(2, 2, frames=1073741825)
             + encapsulated(j2k_frames, offsets=struct.pack("<I", 0))))

# DICOMDIR record whose DirectoryRecordType (CS, at most 16 characters) has 56: DCMTK 3.6.7's
# DcmByteString::verify(autocorrect) walks past the end of the value and std::string::erase throws
# std::out_of_range (DCMTK fixed it in 3.6.9); the shim turned the exception into an error but
# leaked the half-read object.
record = element(0x0004, 0x1430, "CS", "PATIENT" * 8)
directory = (struct.pack("<HH", 0x0004, 0x1220) + b"SQ\0\0" + b"\xff\xff\xff\xff"
             + item(record, length=0xFFFFFFFF) + b"\xfe\xff\x0d\xe0\0\0\0\0" + SEQUENCE_END)
write("dicom_attributes", "dicomdir-record-type-too-long-throws.dcm",
      part10("1.2.840.10008.1.2.1", directory, sop_class="1.2.840.10008.1.3.10"))

# Deflate: a 100 MiB value of zeros, declared and present, deflated to about 100 kB: DCMTK inflates
# every value of a deflated dataset into memory while parsing it (a decompression bomb: 1000 times
# the input). The shim now stops inflating at 4 MiB + 20 times the input.
def deflated(*parts):
    stream = zlib.compressobj(9, zlib.DEFLATED, -15)
    return b"".join(stream.compress(part) for part in parts) + stream.flush()


head = element(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.7")
zeros = b"\0" * (1 << 20)
write("dicom_attributes", "deflate-bomb-100MiB.dcm",
      part10(DEFLATE, deflated(head + struct.pack("<HH", 0x0009, 0x1010) + b"OB\0\0" + struct.pack("<I", 100 << 20),
                               *([zeros] * 100))))
# Deflate: 4 million empty items of a sequence (32 MiB inflated, 8 bytes each) in 40 kB: each item
# is a DCMTK object of some 250 bytes, so this held about 1 GB before the limit.
items = b"\xfe\xff\x00\xe0\0\0\0\0" * (1 << 16)
write("dicom_attributes", "deflate-empty-items-32MiB.dcm",
      part10(DEFLATE, deflated(head + struct.pack("<HH", 0x0008, 0x1140) + b"SQ\0\0\xff\xff\xff\xff",
                               *([items] * 64), SEQUENCE_END)))
