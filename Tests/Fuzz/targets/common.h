// Shared helpers for the CDCMTK fuzz targets.
#ifndef VRPREP_FUZZ_COMMON_H
#define VRPREP_FUZZ_COMMON_H

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "CDCMTK.h"

// The most a target allocates for one value or frame. A bigger request is what the shim
// reports (CDCM_BUFFER_TOO_SMALL with the size); the target counts it as refused instead of
// letting libFuzzer's malloc limit call it an out-of-memory crash. The Swift layer has its own
// limits (DicomLimits) before it allocates a frame.
constexpr size_t kMaxBuffer = size_t(64) << 20;

// A broken promise of the C contract (CDCMTK.h) is a bug even when nothing crashes: abort so
// that libFuzzer keeps the input.
#define FUZZ_CHECK(condition)                                                                  \
    do {                                                                                       \
        if (!(condition)) {                                                                    \
            std::fprintf(stderr, "contract violated: %s (%s:%d)\n", #condition, __FILE__,      \
                         __LINE__);                                                            \
            std::abort();                                                                      \
        }                                                                                      \
    } while (0)

// Every status message is NUL-terminated within its capacity.
inline void checkStatus(const cdcm_status &status) {
    FUZZ_CHECK(std::memchr(status.message, 0, sizeof status.message) != nullptr);
    FUZZ_CHECK(status.code >= CDCM_OK && status.code <= CDCM_UNSUPPORTED);
}

constexpr uint32_t tag(uint16_t group, uint16_t element) { return uint32_t(group) << 16 | element; }

#endif
