// Fuzz target: parse untrusted bytes as DICOM (cdcm_open_memory) and read attributes the way
// the Swift DICOM layer does (DicomFile.string/bytes/itemCount/pixelDataInfo): top-level and
// meta-header strings, values inside nested sequences (enhanced multi-frame functional groups),
// raw bytes of OB/OW values and native pixel data, item counts, pixel data info.
#include <cstdint>
#include <cstring>
#include <vector>

#include "common.h"

namespace {

// Reads the attribute at `path` as text: first into a small buffer (the Swift layer starts with
// 256 bytes; here 8, so that CDCM_BUFFER_TOO_SMALL is taken often), then into one of the size
// the shim asked for.
void readString(const cdcm_file *file, const cdcm_path_step *path, size_t depth) {
    char small[8];
    size_t length = 12345;
    cdcm_status status = cdcm_get_string(file, path, depth, small, sizeof small, &length);
    checkStatus(status);
    if (status.code == CDCM_OK) {
        FUZZ_CHECK(length < sizeof small && small[length] == '\0');
        return;
    }
    if (status.code != CDCM_BUFFER_TOO_SMALL) return;
    FUZZ_CHECK(length + 1 > sizeof small);
    if (length + 1 > kMaxBuffer) return;
    std::vector<char> text(length + 1);  // exactly the size promised, so ASan sees overruns
    size_t again = 0;
    status = cdcm_get_string(file, path, depth, text.data(), text.size(), &again);
    checkStatus(status);
    FUZZ_CHECK(status.code == CDCM_OK && again == length && text[length] == '\0');
}

// Reads the bytes at `path` as DicomFile.bytes does: a probe with no room, then the exact size.
void readBytes(const cdcm_file *file, const cdcm_path_step *path, size_t depth) {
    uint8_t probe = 0;
    size_t length = 0;
    cdcm_status status = cdcm_get_bytes(file, path, depth, &probe, 0, &length);
    checkStatus(status);
    if (status.code == CDCM_OK) {
        FUZZ_CHECK(length == 0);
        return;
    }
    if (status.code != CDCM_BUFFER_TOO_SMALL || length > kMaxBuffer) return;
    std::vector<uint8_t> bytes(length);
    size_t again = 0;
    status = cdcm_get_bytes(file, path, depth, bytes.data(), bytes.size(), &again);
    checkStatus(status);
    FUZZ_CHECK(status.code == CDCM_OK && again == length);
}

void countItems(const cdcm_file *file, const cdcm_path_step *path, size_t depth) {
    size_t count = 99;
    cdcm_status status = cdcm_count_items(file, path, depth, &count);
    checkStatus(status);
    if (status.code != CDCM_OK) FUZZ_CHECK(count == 0);
}

// Top-level attributes read by FrameHeader, SeriesGrouping, DicomFile+Samples (one step).
const uint32_t kStrings[] = {
    tag(0x0002, 0x0010), tag(0x0002, 0x0002), tag(0x0008, 0x0008), tag(0x0008, 0x0016),
    tag(0x0008, 0x0018), tag(0x0008, 0x0060), tag(0x0010, 0x0010), tag(0x0018, 0x0050),
    tag(0x0018, 0x0088), tag(0x0018, 0x1120), tag(0x0020, 0x000D), tag(0x0020, 0x000E),
    tag(0x0020, 0x0013), tag(0x0020, 0x0032), tag(0x0020, 0x0037), tag(0x0020, 0x0052),
    tag(0x0028, 0x0002), tag(0x0028, 0x0004), tag(0x0028, 0x0006), tag(0x0028, 0x0008),
    tag(0x0028, 0x0009), tag(0x0028, 0x0010), tag(0x0028, 0x0011), tag(0x0028, 0x0030),
    tag(0x0028, 0x0100), tag(0x0028, 0x0101), tag(0x0028, 0x0102), tag(0x0028, 0x0103),
    tag(0x0028, 0x1050), tag(0x0028, 0x1052), tag(0x0028, 0x1053), tag(0x3004, 0x000C),
    tag(0x0008, 0x0005),  // SpecificCharacterSet
    tag(0x0008, 0x1140),  // a sequence: must be CDCM_NOT_FOUND as text
    tag(0x7FE0, 0x0010),  // pixel data as text (OB/OW → numbers)
    tag(0x0028, 0x1201),  // RedPaletteColorLookupTableData (OW)
};

// OB/OW and other binary values read as bytes.
const uint32_t kBytes[] = {
    tag(0x7FE0, 0x0010), tag(0x6000, 0x3000), tag(0x0028, 0x1201), tag(0x0028, 0x2000),
    tag(0x0042, 0x0011),  // EncapsulatedDocument
    tag(0x0010, 0x0010),  // a string read as bytes
};

const uint32_t kSequences[] = {
    tag(0x5200, 0x9229), tag(0x5200, 0x9230), tag(0x0008, 0x1140), tag(0x0008, 0x1115),
    tag(0x3006, 0x0039), tag(0x0062, 0x0002), tag(0x0018, 0x9114),
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cdcm_file *file = reinterpret_cast<cdcm_file *>(1);
    cdcm_status status = cdcm_open_memory(data, size, &file);
    checkStatus(status);
    if (status.code != CDCM_OK) {
        FUZZ_CHECK(file == nullptr);
        return 0;
    }
    FUZZ_CHECK(file != nullptr);

    for (uint32_t t : kStrings) {
        cdcm_path_step step{t, 0};
        readString(file, &step, 1);
    }
    for (uint32_t t : kBytes) {
        cdcm_path_step step{t, 0};
        readBytes(file, &step, 1);
    }
    for (uint32_t t : kSequences) {
        cdcm_path_step step{t, 0};
        countItems(file, &step, 1);
    }

    // Nested paths, as FrameHeader.enhancedFrames reads them: per-frame functional groups,
    // item i, then a functional group macro's sequence, item 0, then the attribute.
    const uint32_t perFrame = tag(0x5200, 0x9230), shared = tag(0x5200, 0x9229);
    const uint32_t items[] = {0, 1, 0xFFFFFFFFu};  // 0xFFFFFFFF: far beyond any item count
    for (uint32_t item : items) {
        cdcm_path_step position[] = {{perFrame, item}, {tag(0x0020, 0x9113), 0}, {tag(0x0020, 0x0032), 0}};
        readString(file, position, 3);
        cdcm_path_step orientation[] = {{perFrame, item}, {tag(0x0020, 0x9116), 0}, {tag(0x0020, 0x0037), 0}};
        readString(file, orientation, 3);
        cdcm_path_step content[] = {{perFrame, item}, {tag(0x0020, 0x9111), 0}, {tag(0x0020, 0x9057), 0}};
        readString(file, content, 3);
        cdcm_path_step group[] = {{perFrame, item}, {tag(0x0020, 0x9113), 0}};
        countItems(file, group, 2);
        cdcm_path_step asBytes[] = {{perFrame, item}, {tag(0x0020, 0x9113), 0}, {tag(0x0020, 0x0032), 0}};
        readBytes(file, asBytes, 3);
    }
    cdcm_path_step spacing[] = {{shared, 0}, {tag(0x0028, 0x9110), 0}, {tag(0x0028, 0x0030), 0}};
    readString(file, spacing, 3);
    cdcm_path_step rescale[] = {{shared, 0}, {tag(0x0028, 0x9145), 0}, {tag(0x0028, 0x1053), 0}};
    readString(file, rescale, 3);
    // A path through something that is not a sequence, and a meta-header tag inside a path.
    cdcm_path_step notSequence[] = {{tag(0x0010, 0x0010), 0}, {tag(0x0010, 0x0020), 0}};
    readString(file, notSequence, 2);
    cdcm_path_step metaNested[] = {{shared, 0}, {tag(0x0002, 0x0010), 0}};
    readString(file, metaNested, 2);
    // Depth 0 names nothing.
    size_t length = 7;
    char text[4];
    status = cdcm_get_string(file, nullptr, 0, text, sizeof text, &length);
    FUZZ_CHECK(status.code == CDCM_NOT_FOUND && length == 0);

    cdcm_pixel_info info;
    status = cdcm_get_pixel_info(file, &info);
    checkStatus(status);
    if (status.code == CDCM_OK) {
        FUZZ_CHECK(std::memchr(info.transfer_syntax_uid, 0, sizeof info.transfer_syntax_uid) != nullptr);
        FUZZ_CHECK(std::memchr(info.transfer_syntax_name, 0, sizeof info.transfer_syntax_name) != nullptr);
        if (!info.present) FUZZ_CHECK(!info.encapsulated && info.value_length == 0 && info.fragments == 0);
    }
    cdcm_close(file);
    return 0;
}
