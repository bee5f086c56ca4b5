// Implementation of the C door over DCMTK. See include/CDCMTK.h for the contract.
#include "dcmtk/config/osconfig.h"  // must come first (C++17 guard)

#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcistrmb.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/oflog/oflog.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dccodec.h"

#include <cstring>
#include <exception>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "CDCMTK.h"
#include "jpeg2000.h"

struct cdcm_file {
    DcmFileFormat format;
};

namespace {

// Codecs and logging are process-wide in DCMTK; set them up exactly once.
void setUpOnce() {
    static std::once_flag once;
    std::call_once(once, [] {
        // DCMTK logs warnings to stderr by default; the caller gets errors as statuses.
        OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
        // Real files sometimes declare one transfer syntax in the meta header and use another
        // (explicit vs implicit VR) in the dataset: let DCMTK detect the one really used.
        dcmAutoDetectDatasetXfer.set(OFTrue);
        DJDecoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
        DcmRLEDecoderRegistration::registerCodecs();
    });
}

cdcm_status makeStatus(int code, const std::string &message = std::string()) {
    cdcm_status status;
    status.code = code;
    std::snprintf(status.message, sizeof status.message, "%s", message.c_str());
    return status;
}

cdcm_status ok() { return makeStatus(CDCM_OK); }

cdcm_status fromCondition(const OFCondition &condition, const char *what) {
    return makeStatus(CDCM_ERROR, std::string(what) + ": " + condition.text());
}

// Runs body, turning any C++ exception into a status.
template <typename Body>
cdcm_status guarded(const char *what, Body body) {
    try {
        return body();
    } catch (const std::bad_alloc &) {
        return makeStatus(CDCM_ERROR, std::string(what) + ": out of memory");
    } catch (const std::exception &error) {
        return makeStatus(CDCM_ERROR, std::string(what) + ": " + error.what());
    } catch (...) {
        return makeStatus(CDCM_ERROR, std::string(what) + ": unknown C++ exception");
    }
}

DcmTagKey tagKey(uint32_t tag) {
    return DcmTagKey(static_cast<Uint16>(tag >> 16), static_cast<Uint16>(tag & 0xFFFF));
}

// Walks `path` and returns the object at its end (element or sequence), or NULL.
DcmObject *resolve(const cdcm_file *file, const cdcm_path_step *path, size_t depth) {
    if (depth == 0) return nullptr;
    auto &format = const_cast<DcmFileFormat &>(file->format);
    DcmItem *item = format.getDataset();
    if (depth == 1 && (path[0].tag >> 16) == 0x0002) item = format.getMetaInfo();
    for (size_t step = 0; step + 1 < depth; ++step) {
        DcmItem *next = nullptr;
        if (item == nullptr) return nullptr;
        if (item->findAndGetSequenceItem(tagKey(path[step].tag), next,
                                         static_cast<signed long>(path[step].item)).bad())
            return nullptr;
        item = next;
    }
    if (item == nullptr) return nullptr;
    DcmStack stack;
    if (item->search(tagKey(path[depth - 1].tag), stack, ESM_fromHere, OFFalse).bad())
        return nullptr;
    return stack.top();
}

bool isJpeg2000(E_TransferSyntax xfer) {
    return xfer == EXS_JPEG2000LosslessOnly || xfer == EXS_JPEG2000;
}

// A transfer syntax this build can decode: DCMTK's registered codecs, or JPEG 2000 here.
bool canDecode(const DcmXfer &xfer) {
    return !xfer.isEncapsulated() || isJpeg2000(xfer.getXfer()) ||
           DcmCodecList::canChangeCoding(xfer.getXfer(), EXS_LittleEndianExplicit);
}

DcmPixelData *pixelData(const cdcm_file *file) {
    DcmElement *element = nullptr;
    auto *dataset = const_cast<DcmFileFormat &>(file->format).getDataset();
    if (dataset == nullptr || dataset->findAndGetElement(DCM_PixelData, element).bad()) return nullptr;
    return dynamic_cast<DcmPixelData *>(element);
}


// The bytes of frame `frame` of encapsulated pixel data: every fragment of a single-frame
// object, fragment frame+1 when there is one fragment per frame, else the fragments the
// basic offset table assigns to the frame.
OFCondition frameFragments(DcmPixelData *pixels, const DcmXfer &xfer, Uint32 frame, Uint32 frames,
                           std::vector<Uint8> &bytes) {
    DcmPixelSequence *sequence = nullptr;
    const DcmRepresentationParameter *parameter = nullptr;
    OFCondition condition = pixels->getEncapsulatedRepresentation(xfer.getXfer(), parameter, sequence);
    if (condition.bad() || sequence == nullptr) return condition.bad() ? condition : EC_CorruptedData;
    const unsigned long items = sequence->card();
    if (items < 2) return makeOFCondition(0, 1, OF_error, "no compressed fragments");
    const unsigned long fragments = items - 1;
    auto append = [&](unsigned long item) -> OFCondition {
        DcmPixelItem *fragment = nullptr;
        OFCondition c = sequence->getItem(fragment, item);
        if (c.bad()) return c;
        Uint8 *data = nullptr;
        c = fragment->getUint8Array(data);
        if (c.bad()) return c;
        if (data != nullptr) bytes.insert(bytes.end(), data, data + fragment->getLength());
        return EC_Normal;
    };
    if (frames <= 1) {
        for (unsigned long item = 1; item < items; ++item) {
            OFCondition c = append(item);
            if (c.bad()) return c;
        }
        return EC_Normal;
    }
    if (fragments == frames) return append(frame + 1);
    // Several fragments per frame: the offset table gives each frame's first byte, counted
    // from the first fragment's item tag (8 bytes of tag and length per item).
    DcmPixelItem *table = nullptr;
    Uint8 *tableBytes = nullptr;
    if (sequence->getItem(table, 0).bad() || table->getLength() < 4 * frames ||
        table->getUint8Array(tableBytes).bad() || tableBytes == nullptr)
        return makeOFCondition(0, 2, OF_error, "several fragments per frame and no basic offset table");
    auto offsetOf = [&](Uint32 index) {
        const Uint8 *p = tableBytes + 4 * index;
        return static_cast<Uint32>(p[0] | p[1] << 8 | p[2] << 16 | static_cast<Uint32>(p[3]) << 24);
    };
    const Uint32 begin = offsetOf(frame);
    const Uint32 end = frame + 1 < frames ? offsetOf(frame + 1) : UINT32_MAX;
    Uint32 position = 0;
    for (unsigned long item = 1; item < items; ++item) {
        DcmPixelItem *fragment = nullptr;
        if (sequence->getItem(fragment, item).bad()) break;
        if (position >= begin && position < end) {
            OFCondition c = append(item);
            if (c.bad()) return c;
        }
        position += 8 + fragment->getLength();
    }
    return bytes.empty() ? makeOFCondition(0, 3, OF_error, "no fragment at the frame's offset") : EC_Normal;
}

cdcm_status decodeJpeg2000Frame(DcmDataset *dataset, DcmPixelData *pixels, const DcmXfer &xfer, Uint32 frame,
                                void *buffer, char *color_model, size_t color_capacity) {
    Uint16 rows = 0, columns = 0, samples = 1, bitsAllocated = 0;
    Sint32 frames = 1;
    dataset->findAndGetUint16(DCM_Rows, rows);
    dataset->findAndGetUint16(DCM_Columns, columns);
    dataset->findAndGetUint16(DCM_SamplesPerPixel, samples);
    dataset->findAndGetUint16(DCM_BitsAllocated, bitsAllocated);
    dataset->findAndGetSint32(DCM_NumberOfFrames, frames);
    if (bitsAllocated != 8 && bitsAllocated != 16 && bitsAllocated != 32)
        return makeStatus(CDCM_UNSUPPORTED, "JPEG 2000 with BitsAllocated " + std::to_string(bitsAllocated));
    std::vector<Uint8> bytes;
    OFCondition condition = frameFragments(pixels, xfer, frame, frames > 0 ? static_cast<Uint32>(frames) : 1, bytes);
    if (condition.bad()) return fromCondition(condition, "cannot find the frame's JPEG 2000 data");
    std::string error;
    Jpeg2000Target target{rows, columns, samples, bitsAllocated};
    if (!cdcm_decode_jpeg2000(bytes.data(), bytes.size(), target, buffer, error))
        return makeStatus(CDCM_ERROR, "cannot decode JPEG 2000 frame: " + error);
    if (color_model != nullptr && color_capacity > 0) {
        OFString photometric;
        dataset->findAndGetOFString(DCM_PhotometricInterpretation, photometric);
        // OpenJPEG undoes the component transform (YBR_ICT / YBR_RCT), giving RGB.
        if (photometric == "YBR_ICT" || photometric == "YBR_RCT") photometric = "RGB";
        std::snprintf(color_model, color_capacity, "%s", photometric.c_str());
    }
    return ok();
}

}  // namespace

extern "C" {

cdcm_status cdcm_open_file(const char *path, cdcm_file **out) {
    *out = nullptr;
    return guarded("open", [&] {
        setUpOnce();
        auto *file = new cdcm_file();
        OFCondition condition = file->format.loadFile(OFFilename(path));
        if (condition.bad()) {
            delete file;
            return fromCondition(condition, "cannot read DICOM");
        }
        *out = file;
        return ok();
    });
}

cdcm_status cdcm_open_memory(const void *bytes, size_t count, cdcm_file **out) {
    *out = nullptr;
    return guarded("open", [&] {
        setUpOnce();
        auto *file = new cdcm_file();
        DcmInputBufferStream stream;
        stream.setBuffer(bytes, static_cast<offile_off_t>(count));
        stream.setEos();
        file->format.transferInit();
        OFCondition condition = file->format.read(stream, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
        file->format.transferEnd();
        if (condition.bad()) {
            delete file;
            return fromCondition(condition, "cannot read DICOM from memory");
        }
        // The stream only borrows the bytes: load every value now so none is read later.
        file->format.loadAllDataIntoMemory();
        *out = file;
        return ok();
    });
}

void cdcm_close(cdcm_file *file) { delete file; }

cdcm_status cdcm_get_string(const cdcm_file *file, const cdcm_path_step *path, size_t depth,
                            char *buffer, size_t capacity, size_t *length) {
    *length = 0;
    return guarded("read attribute", [&] {
        DcmObject *object = resolve(file, path, depth);
        auto *element = dynamic_cast<DcmElement *>(object);
        if (element == nullptr || object->ident() == EVR_SQ) return makeStatus(CDCM_NOT_FOUND);
        OFString value;
        if (element->getLength() > 0) {
            OFCondition condition = element->getOFStringArray(value, OFTrue);
            if (condition.bad()) return fromCondition(condition, "cannot read attribute value");
        }
        *length = value.length();
        if (value.length() + 1 > capacity) return makeStatus(CDCM_BUFFER_TOO_SMALL);
        std::memcpy(buffer, value.c_str(), value.length() + 1);
        return ok();
    });
}

cdcm_status cdcm_get_bytes(const cdcm_file *file, const cdcm_path_step *path, size_t depth,
                           void *buffer, size_t capacity, size_t *length) {
    *length = 0;
    return guarded("read bytes", [&] {
        DcmObject *object = resolve(file, path, depth);
        auto *element = dynamic_cast<DcmElement *>(object);
        if (element == nullptr || object->ident() == EVR_SQ) return makeStatus(CDCM_NOT_FOUND);
        auto *pixels = dynamic_cast<DcmPixelData *>(element);
        if (pixels != nullptr) {
            DcmXfer xfer(const_cast<DcmFileFormat &>(file->format).getDataset()->getOriginalXfer());
            if (xfer.isEncapsulated()) return makeStatus(CDCM_UNSUPPORTED, "the pixel data is encapsulated (compressed)");
        }
        Uint8 *bytes = nullptr;
        OFCondition condition = element->getUint8Array(bytes);
        if (condition.bad()) return fromCondition(condition, "cannot read the value's bytes");
        *length = element->getLength();
        if (*length > capacity) return makeStatus(CDCM_BUFFER_TOO_SMALL);
        if (*length > 0) std::memcpy(buffer, bytes, *length);
        return ok();
    });
}

cdcm_status cdcm_count_items(const cdcm_file *file, const cdcm_path_step *path, size_t depth,
                             size_t *count) {
    *count = 0;
    return guarded("read sequence", [&] {
        auto *sequence = dynamic_cast<DcmSequenceOfItems *>(resolve(file, path, depth));
        if (sequence == nullptr) return makeStatus(CDCM_NOT_FOUND);
        *count = sequence->card();
        return ok();
    });
}

cdcm_status cdcm_get_pixel_info(const cdcm_file *file, cdcm_pixel_info *info) {
    std::memset(info, 0, sizeof *info);
    return guarded("read pixel data", [&] {
        auto *dataset = const_cast<DcmFileFormat &>(file->format).getDataset();
        DcmXfer xfer(dataset->getOriginalXfer());
        std::snprintf(info->transfer_syntax_uid, sizeof info->transfer_syntax_uid, "%s", xfer.getXferID());
        std::snprintf(info->transfer_syntax_name, sizeof info->transfer_syntax_name, "%s", xfer.getXferName());
        info->lossy = xfer.isLossy() ? 1 : 0;
        DcmPixelData *pixels = pixelData(file);
        if (pixels == nullptr) return ok();
        info->present = 1;
        DcmPixelSequence *sequence = nullptr;
        const DcmRepresentationParameter *parameter = nullptr;
        if (xfer.isEncapsulated()) {
            info->encapsulated = 1;
            if (pixels->getEncapsulatedRepresentation(xfer.getXfer(), parameter, sequence).good() &&
                sequence != nullptr) {
                // The first item is the basic offset table.
                unsigned long items = sequence->card();
                info->fragments = items > 0 ? static_cast<uint32_t>(items - 1) : 0;
            }
            info->decoder_available = canDecode(xfer) ? 1 : 0;
        } else {
            info->value_length = pixels->getLength();
            info->decoder_available = 1;
        }
        return ok();
    });
}

cdcm_status cdcm_decode_frame(cdcm_file *file, uint32_t frame, void *buffer, size_t capacity,
                              size_t *frame_bytes, char *color_model, size_t color_capacity) {
    *frame_bytes = 0;
    if (color_model != nullptr && color_capacity > 0) color_model[0] = '\0';
    return guarded("decode frame", [&] {
        DcmPixelData *pixels = pixelData(file);
        DcmDataset *dataset = file->format.getDataset();
        if (pixels == nullptr) return makeStatus(CDCM_NOT_FOUND, "no pixel data (7FE0,0010)");
        DcmXfer xfer(dataset->getOriginalXfer());
        if (!canDecode(xfer))
            return makeStatus(CDCM_UNSUPPORTED,
                              std::string("no decoder for transfer syntax ") + xfer.getXferName() + " (" +
                                  xfer.getXferID() + ")");
        Uint32 size = 0;
        OFCondition condition = pixels->getUncompressedFrameSize(dataset, size);
        if (condition.bad()) return fromCondition(condition, "cannot compute frame size");
        if (isJpeg2000(xfer.getXfer())) {
            *frame_bytes = size;
            if (capacity < size) return makeStatus(CDCM_BUFFER_TOO_SMALL, "frame buffer too small");
            return decodeJpeg2000Frame(dataset, pixels, xfer, frame, buffer, color_model, color_capacity);
        }
        OFString photometric;
        dataset->findAndGetOFString(DCM_PhotometricInterpretation, photometric);
        if (!xfer.isEncapsulated() && photometric == "YBR_FULL_422") {
            // Native 4:2:2 data stores two samples per pixel (Y Y Cb Cr per pixel pair), which
            // DCMTK's frame size does not know: read the frame's bytes as they are.
            Uint32 frameSize = size / 3 * 2;
            *frame_bytes = frameSize;
            if (capacity < frameSize) return makeStatus(CDCM_BUFFER_TOO_SMALL, "frame buffer too small");
            condition = pixels->getPartialValue(buffer, frame * frameSize, frameSize, nullptr);
            if (condition.bad()) return fromCondition(condition, "cannot read frame");
            if (color_model != nullptr && color_capacity > 0)
                std::snprintf(color_model, color_capacity, "%s", "YBR_FULL_422");
            return ok();
        }
        *frame_bytes = size;
        // DCMTK writes a pad byte for odd sizes, so ask for an even buffer.
        size_t needed = size + (size & 1u);
        if (capacity < needed) {
            *frame_bytes = needed;
            return makeStatus(CDCM_BUFFER_TOO_SMALL, "frame buffer too small");
        }
        Uint32 startFragment = 0;
        OFString decodedModel;
        condition = pixels->getUncompressedFrame(dataset, frame, startFragment, buffer,
                                                 static_cast<Uint32>(needed), decodedModel, nullptr);
        if (condition.bad()) return fromCondition(condition, "cannot decode frame");
        Uint16 bitsAllocated = 0;
        dataset->findAndGetUint16(DCM_BitsAllocated, bitsAllocated);
        if (!xfer.isEncapsulated() && xfer.isBigEndian() && bitsAllocated == 32 && pixels->getVR() == EVR_OW) {
            // DCMTK swaps OW big-endian data as 16-bit words; 32-bit samples then have their
            // halves in the wrong order.
            auto *words = static_cast<Uint16 *>(buffer);
            for (Uint32 index = 0; index + 1 < size / 2; index += 2) std::swap(words[index], words[index + 1]);
        }
        if (color_model != nullptr && color_capacity > 0)
            std::snprintf(color_model, color_capacity, "%s", decodedModel.c_str());
        // Free the decoded copy a codec may have cached, so memory stays one frame deep.
        pixels->compact();
        return ok();
    });
}

const char *cdcm_uid_name(const char *uid) {
    try {
        return dcmFindNameOfUID(uid, nullptr);
    } catch (...) {
        return nullptr;
    }
}

const char *cdcm_dcmtk_version(void) { return OFFIS_DCMTK_VERSION_STRING; }

}  // extern "C"
