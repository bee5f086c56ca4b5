// Fuzz target: parse untrusted bytes as DICOM and decode its first frames (cdcm_decode_frame),
// through every decoder the shim has: native (little/big endian, 4:2:2), RLE, JPEG, JPEG-LS
// (DCMTK) and JPEG 2000 (OpenJPEG, jpeg2000.cpp).
//
// Each frame is decoded as a caller who trusts nothing would: first with no room, so the shim
// says the size it needs (CDCM_BUFFER_TOO_SMALL), then into a heap buffer of exactly that size,
// so that AddressSanitizer reports any byte written past what the shim asked for. Sizes over
// kMaxBuffer are refused by the target (counted, not allocated).
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "common.h"

namespace {

// NumberOfFrames as the Swift layer reads it (text), 1 when absent or not a number.
unsigned long frameCount(const cdcm_file *file) {
    cdcm_path_step step{tag(0x0028, 0x0008), 0};
    char text[32];
    size_t length = 0;
    if (cdcm_get_string(file, &step, 1, text, sizeof text, &length).code != CDCM_OK) return 1;
    char *end = nullptr;
    long value = std::strtol(text, &end, 10);
    return value > 0 ? static_cast<unsigned long>(value) : 1;
}

void decode(cdcm_file *file, uint32_t frame) {
    char model[64];
    size_t needed = 0;
    uint8_t none[1];
    // capacity 0 (with a valid pointer, as Swift passes for an empty buffer): tells the size.
    cdcm_status status = cdcm_decode_frame(file, frame, none, 0, &needed, model, sizeof model);
    checkStatus(status);
    FUZZ_CHECK(std::memchr(model, 0, sizeof model) != nullptr);
    if (status.code == CDCM_OK) {
        // Only a frame of zero bytes fits in no room at all.
        FUZZ_CHECK(needed == 0);
        return;
    }
    if (status.code != CDCM_BUFFER_TOO_SMALL) return;
    FUZZ_CHECK(needed > 0);
    if (needed > kMaxBuffer) return;  // a size the caller's limits would refuse
    auto *buffer = static_cast<uint8_t *>(std::malloc(needed));
    FUZZ_CHECK(buffer != nullptr);
    size_t got = 0;
    status = cdcm_decode_frame(file, frame, buffer, needed, &got, model, sizeof model);
    checkStatus(status);
    FUZZ_CHECK(std::memchr(model, 0, sizeof model) != nullptr);
    FUZZ_CHECK(status.code != CDCM_BUFFER_TOO_SMALL);  // the size it asked for must be enough
    if (status.code == CDCM_OK) FUZZ_CHECK(got <= needed);
    std::free(buffer);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cdcm_file *file = nullptr;
    cdcm_status status = cdcm_open_memory(data, size, &file);
    checkStatus(status);
    if (status.code != CDCM_OK) return 0;

    cdcm_pixel_info info;
    status = cdcm_get_pixel_info(file, &info);
    checkStatus(status);
    if (status.code == CDCM_OK && info.present) {
        const unsigned long frames = frameCount(file);
        const unsigned long first = frames < 4 ? frames : 4;
        for (unsigned long frame = 0; frame < first; ++frame) decode(file, static_cast<uint32_t>(frame));
        // One frame past the end: must be an error, never a read beyond the pixel data.
        decode(file, static_cast<uint32_t>(frames > 0xFFFFFFFEul ? 0xFFFFFFFEul : frames));
    }
    cdcm_close(file);
    return 0;
}
