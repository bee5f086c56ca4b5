// De-identified copies of DICOM files (PS3.15 Annex E): the rules come from the caller (the
// profile's table lives in Swift, DICOM/ConfidentialityProfile.swift); this file walks the dataset,
// nested sequences included, applies them, removes private attributes, and writes the copy.
#include "dcmtk/config/osconfig.h"  // must come first

#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpls/djdecode.h"

#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "CDCMTK.h"

namespace {

cdcm_status deidStatus(int code, const std::string &message = std::string()) {
    cdcm_status status;
    status.code = code;
    std::snprintf(status.message, sizeof status.message, "%s", message.c_str());
    return status;
}

/// Decoders, for a file whose frames are partly replaced (registering twice is harmless in DCMTK).
void registerDecoders() {
    static std::once_flag once;
    std::call_once(once, [] {
        DJDecoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
        DcmRLEDecoderRegistration::registerCodecs();
    });
}

uint32_t tagOf(const DcmObject *object) {
    const DcmTag &tag = object->getTag();
    return (static_cast<uint32_t>(tag.getGTag()) << 16) | tag.getETag();
}

// Days since 1970-01-01 of a civil date, and back (Howard Hinnant's algorithms, proleptic Gregorian).
long daysFromCivil(long y, unsigned m, unsigned d) {
    y -= m <= 2;
    const long era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<long>(doe) - 719468;
}

void civilFromDays(long z, long &y, unsigned &m, unsigned &d) {
    z += 719468;
    const long era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = static_cast<long>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp + (mp < 10 ? 3 : -9);
    y += m <= 2;
}

/// "YYYYMMDD" (and the rest of a DT value, kept) moved by `days`; false when it is not a full date.
bool shiftDate(const std::string &value, long days, std::string &shifted) {
    if (value.size() < 8) return false;
    for (int i = 0; i < 8; ++i)
        if (value[i] < '0' || value[i] > '9') return false;
    const long y = std::stol(value.substr(0, 4));
    const unsigned m = static_cast<unsigned>(std::stoul(value.substr(4, 2))), d = static_cast<unsigned>(std::stoul(value.substr(6, 2)));
    if (m < 1 || m > 12 || d < 1 || d > 31) return false;
    long ny;
    unsigned nm, nd;
    civilFromDays(daysFromCivil(y, m, d) + days, ny, nm, nd);
    if (ny < 1 || ny > 9999) return false;
    char text[16];
    std::snprintf(text, sizeof text, "%04ld%02u%02u", ny, nm, nd);
    shifted = std::string(text) + value.substr(8);
    return true;
}

/// A neutral value for a VR (D), or "" when the VR holds no text that could carry one.
const char *dummyFor(DcmEVR vr) {
    switch (vr) {
    case EVR_PN: case EVR_LO: case EVR_SH: case EVR_LT: case EVR_ST: case EVR_UT: case EVR_UC: case EVR_CS: case EVR_AE:
        return "ANONYMOUS";
    case EVR_DA: return "19000101";
    case EVR_DT: return "19000101000000";
    case EVR_TM: return "000000";
    case EVR_DS: case EVR_IS: case EVR_US: case EVR_SS: case EVR_UL: case EVR_SL: case EVR_FL: case EVR_FD:
        return "0";
    case EVR_AS: return "000D";
    default: return "";
    }
}

struct Walker {
    const cdcm_deid_settings *settings;
    std::string error;

    const cdcm_deid_rule *ruleFor(uint32_t tag) const {
        for (size_t i = 0; i < settings->rule_count; ++i) {
            const cdcm_deid_rule &rule = settings->rules[i];
            if ((tag & rule.mask) == rule.tag) return &rule;
        }
        return nullptr;
    }

    bool neverShifted(uint32_t tag) const {
        for (size_t i = 0; i < settings->never_shifted_count; ++i)
            if (settings->never_shifted[i] == tag) return true;
        return false;
    }

    bool replaceUIDs(DcmElement *element) {
        OFString values;
        if (element->getOFStringArray(values).bad() || values.empty()) return true;
        std::string text(values.c_str()), result;
        size_t start = 0;
        while (start <= text.size()) {
            size_t end = text.find('\\', start);
            if (end == std::string::npos) end = text.size();
            std::string uid = text.substr(start, end - start);
            while (!uid.empty() && (uid.back() == ' ' || uid.back() == '\0')) uid.pop_back();
            char replaced[72] = {0};
            if (!uid.empty()) {
                if (!settings->replace_uid || !settings->replace_uid(settings->context, uid.c_str(), replaced, sizeof replaced)) {
                    error = "cannot replace a UID of " + std::string(DcmTag(element->getTag()).getTagName());
                    return false;
                }
            }
            if (!result.empty() || start > 0) result += '\\';
            result += replaced;
            start = end + 1;
        }
        return element->putString(result.c_str()).good();
    }

    bool shiftDates(DcmElement *element) {
        OFString values;
        if (element->getOFStringArray(values).bad() || values.empty()) return true;
        std::string text(values.c_str()), result;
        size_t start = 0;
        bool first = true;
        while (start <= text.size()) {
            size_t end = text.find('\\', start);
            if (end == std::string::npos) end = text.size();
            std::string shifted;
            // A value that is not a full date (a partial DT, a range) cannot be moved: it goes.
            if (!shiftDate(text.substr(start, end - start), settings->shift_days, shifted)) return element->clear().good();
            if (!first) result += '\\';
            result += shifted;
            first = false;
            start = end + 1;
        }
        return element->putString(result.c_str()).good();
    }

    /// Applies the rules to every attribute of `item`, and to the items of its sequences.
    bool clean(DcmItem *item) {
        for (unsigned long i = 0; i < item->card();) {
            DcmElement *element = item->getElement(i);
            const uint32_t tag = tagOf(element);
            const DcmEVR vr = element->ident();
            // Private attributes (odd groups, their creators included) go, whatever they hold.
            if ((tag >> 16) & 1) {
                delete item->remove(i);
                continue;
            }
            const cdcm_deid_rule *rule = ruleFor(tag);
            int action = rule ? rule->action : CDCM_DEID_KEEP;
            const bool temporal = vr == EVR_DA || vr == EVR_DT || vr == EVR_TM;
            if (settings->shift_dates && temporal && !neverShifted(tag)) {
                // Retain Longitudinal Temporal Information with Modified Dates: dates moved, times kept.
                if (vr != EVR_TM && !shiftDates(element)) return false;
                ++i;
                continue;
            }
            if (action == CDCM_DEID_REMOVE) {
                delete item->remove(i);
                continue;
            }
            if (vr == EVR_SQ) {
                DcmSequenceOfItems *sequence = OFstatic_cast(DcmSequenceOfItems *, element);
                if (action == CDCM_DEID_EMPTY) {
                    sequence->clear();
                } else {
                    for (unsigned long k = 0; k < sequence->card(); ++k)
                        if (!clean(sequence->getItem(k))) return false;
                }
                ++i;
                continue;
            }
            switch (action) {
            case CDCM_DEID_EMPTY:
                element->clear();
                break;
            case CDCM_DEID_EMPTY_OR_UID:
                if (vr == EVR_UI) {
                    if (!replaceUIDs(element)) return false;
                } else {
                    element->clear();
                }
                break;
            case CDCM_DEID_UID:
                if (!replaceUIDs(element)) return false;
                break;
            case CDCM_DEID_DUMMY:
                if (vr == EVR_UI) {
                    if (!replaceUIDs(element)) return false;
                } else {
                    const char *value = rule->value ? rule->value : dummyFor(vr);
                    if (*value == '\0' || element->putString(value).bad()) element->clear();
                }
                break;
            default:
                break;
            }
            ++i;
        }
        return true;
    }
};

#define DEID_CHECK(call, what)                                                                     \
    do {                                                                                           \
        OFCondition condition_ = (call);                                                           \
        if (condition_.bad()) return deidStatus(CDCM_ERROR, std::string(what) + ": " + condition_.text()); \
    } while (0)

/// Puts the given frames into the pixel data, as native samples; the others decoded from the file.
cdcm_status replaceFrames(DcmDataset *dataset, const cdcm_deid_frame *frames, size_t count) {
    Uint16 rows = 0, columns = 0, bitsAllocated = 0, samples = 1;
    DEID_CHECK(dataset->findAndGetUint16(DCM_Rows, rows), "Rows");
    DEID_CHECK(dataset->findAndGetUint16(DCM_Columns, columns), "Columns");
    DEID_CHECK(dataset->findAndGetUint16(DCM_BitsAllocated, bitsAllocated), "BitsAllocated");
    dataset->findAndGetUint16(DCM_SamplesPerPixel, samples);
    if (samples != 1 || (bitsAllocated != 8 && bitsAllocated != 16 && bitsAllocated != 32))
        return deidStatus(CDCM_UNSUPPORTED, "only single-sample pixel data of 8, 16 or 32 bits can be replaced");
    Sint32 frameCount = 1;
    if (dataset->findAndGetSint32(DCM_NumberOfFrames, frameCount).bad() || frameCount < 1) frameCount = 1;
    const size_t frameBytes = static_cast<size_t>(rows) * columns * (bitsAllocated / 8);
    std::vector<bool> given(static_cast<size_t>(frameCount), false);
    for (size_t i = 0; i < count; ++i) {
        if (frames[i].frame >= static_cast<uint32_t>(frameCount) || frames[i].bytes != frameBytes)
            return deidStatus(CDCM_ERROR, "a replaced frame does not fit the file (frame " + std::to_string(frames[i].frame) +
                                              ", " + std::to_string(frames[i].bytes) + " bytes, " + std::to_string(frameBytes) + " expected)");
        given[frames[i].frame] = true;
    }
    std::vector<Uint8> pixels(frameBytes * static_cast<size_t>(frameCount), 0);
    bool all = true;
    for (bool g : given) all = all && g;
    if (!all) {
        // Frames of the file that are not replaced: decoded, then kept as they are.
        registerDecoders();
        DEID_CHECK(dataset->chooseRepresentation(EXS_LittleEndianExplicit, NULL), "decoding the pixel data of the frames kept");
        DcmElement *element = NULL;
        DEID_CHECK(dataset->findAndGetElement(DCM_PixelData, element), "PixelData");
        Uint8 *bytes = NULL;
        DEID_CHECK(element->getUint8Array(bytes), "PixelData");
        if (element->getLength() < pixels.size()) return deidStatus(CDCM_ERROR, "the decoded pixel data is shorter than its frames");
        std::memcpy(pixels.data(), bytes, pixels.size());
    }
    for (size_t i = 0; i < count; ++i) std::memcpy(pixels.data() + frames[i].frame * frameBytes, frames[i].samples, frameBytes);
    DcmPixelData *data = new DcmPixelData(DcmTag(DCM_PixelData, bitsAllocated > 8 ? EVR_OW : EVR_OB));
    if (bitsAllocated > 8) {
        DEID_CHECK(data->putUint16Array(reinterpret_cast<const Uint16 *>(pixels.data()), static_cast<unsigned long>(pixels.size() / 2)),
                   "writing the pixel data");
    } else {
        DEID_CHECK(data->putUint8Array(pixels.data(), static_cast<unsigned long>(pixels.size())), "writing the pixel data");
    }
    DEID_CHECK(dataset->insert(data, OFTrue), "writing the pixel data");
    return deidStatus(CDCM_OK);
}

cdcm_status deidentify(const char *inPath, const char *outPath, const cdcm_deid_settings *settings, const cdcm_deid_frame *frames,
                       size_t frameCount) {
    DcmFileFormat file;
    DEID_CHECK(file.loadFile(inPath), std::string("cannot read ") + inPath);
    DcmDataset *dataset = file.getDataset();
    E_TransferSyntax xfer = dataset->getOriginalXfer();
    if (frameCount > 0) {
        cdcm_status replaced = replaceFrames(dataset, frames, frameCount);
        if (replaced.code != CDCM_OK) return replaced;
        xfer = EXS_LittleEndianExplicit;
    } else {
        // Loaded fully now, so that nothing is read from the source after it is written elsewhere.
        dataset->loadAllDataIntoMemory();
    }
    Walker walker{settings, std::string()};
    if (!walker.clean(dataset)) return deidStatus(CDCM_ERROR, walker.error.empty() ? "cannot de-identify an attribute" : walker.error);
    // Who made it so, and how (PS3.15 E.1.1): the profile and its options, after any earlier ones.
    DEID_CHECK(dataset->putAndInsertString(DCM_PatientIdentityRemoved, "YES"), "PatientIdentityRemoved");
    if (settings->method) {
        OFString earlier;
        std::string method = settings->method;
        if (dataset->findAndGetOFStringArray(DCM_DeidentificationMethod, earlier).good() && !earlier.empty())
            method = std::string(earlier.c_str()) + "\\" + method;
        DEID_CHECK(dataset->putAndInsertString(DCM_DeidentificationMethod, method.c_str()), "DeidentificationMethod");
    }
    for (size_t i = 0; i < settings->code_count; ++i) {
        DcmItem *code = NULL;
        DEID_CHECK(dataset->findOrCreateSequenceItem(DCM_DeidentificationMethodCodeSequence, code, -2), "DeidentificationMethodCodeSequence");
        DEID_CHECK(code->putAndInsertString(DCM_CodeValue, settings->codes[i].value), "CodeValue");
        DEID_CHECK(code->putAndInsertString(DCM_CodingSchemeDesignator, settings->codes[i].scheme), "CodingSchemeDesignator");
        DEID_CHECK(code->putAndInsertString(DCM_CodeMeaning, settings->codes[i].meaning), "CodeMeaning");
    }
    DEID_CHECK(dataset->putAndInsertString(DCM_LongitudinalTemporalInformationModified, settings->shift_dates ? "MODIFIED" : "REMOVED"),
               "LongitudinalTemporalInformationModified");
    // The meta information is made anew from the dataset (its SOP instance, transfer syntax and DCMTK's own
    // implementation), so that nothing of the source's (its source AE title, private creator) remains.
    file.getMetaInfo()->clear();
    DEID_CHECK(file.saveFile(outPath, xfer, EET_ExplicitLength, EGL_recalcGL, EPD_noChange, 0, 0, EWM_fileformat),
               std::string("cannot write ") + outPath);
    return deidStatus(CDCM_OK);
}

}  // namespace

extern "C" cdcm_status cdcm_deidentify_file(const char *in_path, const char *out_path, const cdcm_deid_settings *settings,
                                            const cdcm_deid_frame *frames, size_t frame_count) {
    try {
        if (!in_path || !out_path || !settings) return deidStatus(CDCM_ERROR, "missing argument");
        return deidentify(in_path, out_path, settings, frames, frame_count);
    } catch (const std::bad_alloc &) {
        return deidStatus(CDCM_ERROR, "de-identifying: out of memory");
    } catch (const std::exception &error) {
        return deidStatus(CDCM_ERROR, std::string("de-identifying: ") + error.what());
    } catch (...) {
        return deidStatus(CDCM_ERROR, "de-identifying: unknown C++ exception");
    }
}
