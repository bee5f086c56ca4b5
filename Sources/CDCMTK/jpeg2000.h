// Internal to CDCMTK: JPEG 2000 decoding through OpenJPEG.
#ifndef CDCMTK_JPEG2000_H
#define CDCMTK_JPEG2000_H

#include <cstddef>
#include <cstdint>
#include <string>

struct Jpeg2000Target {
    size_t rows;
    size_t columns;
    unsigned samples;
    unsigned bitsAllocated;  // 8, 16 or 32: width of each sample written to the buffer
};

/// Decodes one JPEG 2000 codestream (or JP2 file) into `buffer`, samples interleaved, in
/// machine byte order. The buffer holds rows × columns × samples × bitsAllocated / 8 bytes.
/// Returns false with a message in `error`.
bool cdcm_decode_jpeg2000(const uint8_t *data, size_t size, const Jpeg2000Target &target, void *buffer,
                          std::string &error);

#endif
