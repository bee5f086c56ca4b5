// Fuzz target: the JPEG 2000 path of the shim (cdcm_decode_jpeg2000 in jpeg2000.cpp, OpenJPEG)
// on untrusted bytes, a raw codestream (FF 4F FF 51 ...) or a JP2 file, as cdcm_decode_frame
// hands it a frame's fragments.
//
// The DICOM header the shim trusts for the output geometry (Rows, Columns, SamplesPerPixel,
// BitsAllocated) is not part of the codestream, so each input is decoded against a few target
// geometries derived from its first bytes:
//   1. the one the codestream's SIZ marker declares (as a consistent DICOM header would say),
//      at 8 or 16 bits from the precision of its first component;
//   2. the same with rows and columns swapped, and one sample more than declared (images up to
//      512 x 512 only);
//   3. one read from the first input bytes directly (bytes 4..7 of the SIZ segment are Lsiz
//      and Rsiz in a codestream: small numbers, so small odd geometries), 8, 16 or 32 bits.
// The output buffer is a heap block of exactly rows × columns × samples × bytes, so ASan sees
// any write past it. Geometries over kMaxBuffer are skipped.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common.h"
#include "jpeg2000.h"

namespace {

uint32_t be32(const uint8_t *p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
uint16_t be16(const uint8_t *p) { return uint16_t(p[0] << 8 | p[1]); }

void decodeInto(const uint8_t *data, size_t size, const Jpeg2000Target &target) {
    if (target.rows == 0 || target.columns == 0 || target.samples == 0) return;
    const size_t bytes = target.bitsAllocated / 8;
    if (target.rows > kMaxBuffer || target.columns > kMaxBuffer ||
        target.rows * target.columns > kMaxBuffer / (target.samples * bytes))
        return;
    const size_t count = target.rows * target.columns * target.samples * bytes;
    void *buffer = std::malloc(count);
    FUZZ_CHECK(buffer != nullptr);
    std::string error;
    const bool decoded = cdcm_decode_jpeg2000(data, size, target, buffer, error);
    FUZZ_CHECK(decoded || !error.empty());  // a failure always says why
    std::free(buffer);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    // 1 and 2: the geometry in the SIZ marker segment of a raw codestream.
    // SOC(2) SIZ(2) Lsiz(2) Rsiz(2) Xsiz(4) Ysiz(4) XOsiz(4) YOsiz(4) XTsiz..YTOsiz(16) Csiz(2) Ssiz(1)
    if (size >= 43 && data[0] == 0xFF && data[1] == 0x4F && data[2] == 0xFF && data[3] == 0x51) {
        const uint32_t xsiz = be32(data + 8), ysiz = be32(data + 12);
        const uint32_t x0 = be32(data + 16), y0 = be32(data + 20);
        const unsigned components = be16(data + 40);
        const unsigned precision = (data[42] & 0x7F) + 1u;
        if (xsiz > x0 && ysiz > y0 && components > 0) {
            const size_t columns = xsiz - x0, rows = ysiz - y0;
            const unsigned bits = precision <= 8 ? 8 : 16;
            decodeInto(data, size, Jpeg2000Target{rows, columns, components, bits});
            // The mismatches decode the whole stream again before the shim compares: only for
            // small images, to keep the executions per second up.
            if (rows * columns <= 512 * 512) {
                if (rows != columns) decodeInto(data, size, Jpeg2000Target{columns, rows, components, bits});
                decodeInto(data, size, Jpeg2000Target{rows, columns, components + 1, bits});
            }
        }
    }
    // 3: a small geometry taken from the first bytes (also for JP2 files and junk).
    if (size >= 8) {
        static const unsigned kBits[] = {8, 16, 32, 16};
        const size_t rows = 1 + data[4] % 64, columns = 1 + data[5] % 64;
        const unsigned samples = 1 + data[6] % 4;
        decodeInto(data, size, Jpeg2000Target{rows, columns, samples, kBits[data[7] % 4]});
    } else {
        decodeInto(data, size, Jpeg2000Target{1, 1, 1, 8});
    }
    return 0;
}
