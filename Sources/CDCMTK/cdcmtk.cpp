// Implementation of the C door over DCMTK. See include/CDCMTK.h for the contract.
#include "dcmtk/config/osconfig.h"  // must come first (C++17 guard)

#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcistrma.h"
#include "dcmtk/dcmdata/dcistrmf.h"
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
#include <algorithm>
#include <exception>
#include <limits>
#include <memory>
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

// Bytes held in memory, read the way DCMTK reads a file. DCMTK's own DcmInputBufferStream cannot
// be reopened at an offset (it has no stream factory), so DCMTK allocates every value of a memory
// stream at its declared length before reading it: a 4 GB length field in a 12-byte input made
// it allocate 4 GB (found by fuzzing: Tests/Fuzz/regressions/dicom_*/huge-length-*). With a
// factory, values longer than DCM_MaxReadLength are skipped while parsing, a length beyond the
// remaining bytes is an error ("larger than remaining bytes"), and a value is loaded from these
// bytes when it is used, exactly as for a file.
using SharedBytes = std::shared_ptr<const std::vector<Uint8>>;

class MemoryProducer : public DcmProducer {
public:
    MemoryProducer(SharedBytes bytes, offile_off_t offset)
        : bytes_(std::move(bytes)), position_(std::min(static_cast<size_t>(offset), bytes_->size())) {}
    OFBool good() const override { return status_.good(); }
    OFCondition status() const override { return status_; }
    OFBool eos() override { return position_ >= bytes_->size(); }
    offile_off_t avail() override { return static_cast<offile_off_t>(bytes_->size() - position_); }
    offile_off_t read(void *buffer, offile_off_t length) override {
        if (!status_.good() || buffer == nullptr || length <= 0) return 0;
        const size_t count = std::min(static_cast<size_t>(length), bytes_->size() - position_);
        std::memcpy(buffer, bytes_->data() + position_, count);
        position_ += count;
        return static_cast<offile_off_t>(count);
    }
    offile_off_t skip(offile_off_t length) override {
        if (!status_.good() || length <= 0) return 0;
        const size_t count = std::min(static_cast<size_t>(length), bytes_->size() - position_);
        position_ += count;
        return static_cast<offile_off_t>(count);
    }
    void putback(offile_off_t count) override {
        if (count < 0 || static_cast<size_t>(count) > position_) status_ = EC_PutbackFailed;
        else position_ -= static_cast<size_t>(count);
    }

private:
    SharedBytes bytes_;
    size_t position_;
    OFCondition status_ = EC_Normal;
};

class MemoryInputStream : public DcmInputStream {
public:
    MemoryInputStream(SharedBytes bytes, offile_off_t offset)
        : DcmInputStream(&producer_),  // safe: DcmInputStream only stores the pointer (as DcmInputFileStream)
          producer_(bytes, offset), bytes_(bytes), offset_(offset) {}
    DcmInputStreamFactory *newFactory() const override;

private:
    MemoryProducer producer_;
    SharedBytes bytes_;
    offile_off_t offset_;
};

class MemoryInputStreamFactory : public DcmInputStreamFactory {
public:
    MemoryInputStreamFactory(SharedBytes bytes, offile_off_t offset) : bytes_(std::move(bytes)), offset_(offset) {}
    DcmInputStream *create() const override { return new MemoryInputStream(bytes_, offset_); }
    DcmInputStreamFactory *clone() const override { return new MemoryInputStreamFactory(bytes_, offset_); }
    // DCMTK never asks a factory what it is; this is the kind it behaves like.
    DcmInputStreamFactoryType ident() const override { return DFT_DcmInputFileStreamFactory; }

private:
    SharedBytes bytes_;
    offile_off_t offset_;
};

DcmInputStreamFactory *MemoryInputStream::newFactory() const {
    // As DcmInputFileStream: no factory once a decompression filter (deflated syntax) sits between.
    if (currentProducer() != &producer_) return nullptr;
    return new MemoryInputStreamFactory(bytes_, offset_ + tell());
}

// A deflated dataset (1.2.840.10008.1.2.1.99) is inflated while it is parsed, and DCMTK reads every
// value of an inflating stream at once (it cannot defer them: no stream factory behind a filter): a
// decompression bomb is taken in at open, before any limit of the caller applies. 100 kB inflating
// to a 100 MiB value held 100 MiB; 86 kB inflating to 7 million empty sequence items (8 bytes each,
// some 250 bytes of DCMTK objects each) held 1.8 GB and took 7 s (found by fuzzing: out-of-memory
// and slow deflated mutants; Tests/Fuzz/regressions/dicom_attributes/deflate-*). This stream stops
// once the inflated bytes pass 4 MiB plus 20 times the stream's size (image data rarely deflates by
// more than 10; each inflated byte may cost 30 bytes of DCMTK objects): DCMTK then fails with a
// premature end and the shim says why. DCMTK still reserves a value's declared length before
// reading it (up to 4 GiB of address space, untouched beyond what was inflated).
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
// Fuzzing (Tests/Fuzz): the same check with a smaller allowance, so that the many deflated mutants
// do not spend a second each parsing 4 MiB of inflated junk.
constexpr offile_off_t kInflateAllowance = offile_off_t(256) << 10;
#else
constexpr offile_off_t kInflateAllowance = offile_off_t(4) << 20;
#endif

template <typename Stream>
class InflateLimited : public Stream {
public:
    using Stream::Stream;
    OFCondition installCompressionFilter(E_StreamCompression type) override {
        OFCondition condition = Stream::installCompressionFilter(type);
        if (condition.good() && !inflating_) {
            inflating_ = true;
            start_ = this->tell();
            limit_ = kInflateAllowance + 20 * compressed_;
        }
        return condition;
    }
    OFBool eos() override { return clamp(1) == 0 || Stream::eos(); }
    offile_off_t avail() override {
        const offile_off_t available = Stream::avail(), allowed = left();
        if (available > allowed) limitReached_ = true;  // DCMTK gives up on a short avail() without reading
        return std::min(available, allowed);
    }
    offile_off_t read(void *buffer, offile_off_t length) override { return Stream::read(buffer, clamp(length)); }
    offile_off_t skip(offile_off_t length) override { return Stream::skip(clamp(length)); }
    /// Call before reading: the bytes the stream holds (compressed, if it turns out to be deflated).
    void setInputSize(offile_off_t bytes) { compressed_ = bytes; }
    /// Whether bytes were held back (DCMTK may have put some back since, so tell() cannot say).
    bool limitReached() const { return limitReached_; }

private:
    offile_off_t clamp(offile_off_t length) {
        const offile_off_t allowed = left();
        if (length > allowed && !limitReached_ && !Stream::eos()) limitReached_ = true;
        return std::min(length, allowed);
    }
    offile_off_t left() const {
        if (!inflating_) return std::numeric_limits<offile_off_t>::max();
        return std::max<offile_off_t>(0, limit_ - (this->tell() - start_));
    }
    bool inflating_ = false, limitReached_ = false;
    offile_off_t compressed_ = 0, start_ = 0, limit_ = 0;
};

cdcm_status inflateLimitStatus() {
    const std::string allowance = kInflateAllowance >= (1 << 20) ? std::to_string(kInflateAllowance >> 20) + " MiB"
                                                                 : std::to_string(kInflateAllowance >> 10) + " KiB";
    return makeStatus(CDCM_ERROR, "deflated dataset inflates to more than " + allowance + " + 20 times its size");
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
    // A frame past the last would read an offset table entry past the table (found by fuzzing:
    // Tests/Fuzz/regressions/dicom_frames/j2k-offset-table-frame-past-end.dcm).
    if (frame >= frames) return makeOFCondition(0, 7, OF_error, "frame number beyond NumberOfFrames");
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
    // 4 bytes per frame, counted in 64 bits: with NumberOfFrames 1073741825, 4 * frames wrapped to 4 and a
    // 4-byte table passed (found by fuzzing: .../j2k-offset-table-frames-overflow.dcm).
    if (sequence->getItem(table, 0).bad() || table->getLength() < 4 * static_cast<uint64_t>(frames) ||
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

// DCMTK's IJG decoders (dcmjpeg libijg8/12/16, jdshuff.c, jdphuff.c, jdlhuff.c) index 16-entry
// tables (extend_test, extend_offset) with the DC difference category, a symbol of the stream's DC
// Huffman table. DCMTK 3.6.7 no longer refuses DC symbols over 15 (commit deeda9adb only traces
// them unless DCMTK_ENABLE_STRICT_HUFFMAN_TABLE_CHECK; still so upstream in 2026), so a table with
// symbols up to 255 makes the decoder read far past those tables (found by fuzzing: global-buffer-
// overflow in decode_mcu, Tests/Fuzz/regressions/dicom_frames/jpeg-dc-huffman-symbol-over-15*).
// Here the frame's JPEG stream (from its first fragment on, as DCMTK feeds it, up to EOI) is
// walked marker by marker first and refused when a DC table holds a symbol over 15 (over 16 for
// lossless JPEG, whose category 16 is decoded without the tables).
class JpegTableCheck {
public:
    enum Result { done, needMore, bad };
    /// Walks `bytes` from where the last call stopped; call again with more bytes after needMore.
    Result scan(const std::vector<Uint8> &bytes) {
        while (true) {
            if (inScan_) {  // entropy-coded data up to the next marker (FF then not 00, RSTn, FF)
                while (pos_ + 1 < bytes.size() &&
                       !(bytes[pos_] == 0xFF && bytes[pos_ + 1] != 0x00 && bytes[pos_ + 1] != 0xFF &&
                         (bytes[pos_ + 1] < 0xD0 || bytes[pos_ + 1] > 0xD7)))
                    ++pos_;
                if (pos_ + 1 >= bytes.size()) return needMore;
                inScan_ = false;
            }
            while (pos_ < bytes.size() && bytes[pos_] != 0xFF) ++pos_;  // junk before a marker
            while (pos_ + 1 < bytes.size() && bytes[pos_ + 1] == 0xFF) ++pos_;  // fill bytes
            if (pos_ + 1 >= bytes.size()) return needMore;
            const Uint8 marker = bytes[pos_ + 1];
            if (marker == 0xD9) return done;  // EOI: the decoder stops here
            if (marker == 0xD8 || marker == 0x01 || marker == 0x00 || (marker >= 0xD0 && marker <= 0xD7)) {
                pos_ += 2;  // no length
                continue;
            }
            if (pos_ + 4 > bytes.size()) return needMore;
            const size_t length = size_t(bytes[pos_ + 2]) << 8 | bytes[pos_ + 3];
            if (length < 2) return done;  // the decoder stops with an error
            const size_t begin = pos_ + 4, end = pos_ + 2 + length;
            if (end > bytes.size()) return needMore;
            if (marker == 0xC4) {
                for (size_t p = begin; p + 17 <= end;) {  // DHT: class and index, 16 counts, symbols
                    size_t count = 0;
                    for (size_t i = 1; i <= 16; ++i) count += bytes[p + i];
                    if (p + 17 + count > end) break;
                    if ((bytes[p] & 0x10) == 0)
                        for (size_t i = 0; i < count; ++i) maxDcSymbol_ = std::max<int>(maxDcSymbol_, bytes[p + 17 + i]);
                    p += 17 + count;
                }
            } else if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC8 && marker != 0xCC) {
                lossless_ = (marker & 0x03) == 0x03;  // SOF3, 7, 11, 15
            }
            pos_ = end;
            if (marker == 0xDA) inScan_ = true;
            if (maxDcSymbol_ > 16) return bad;
        }
    }
    bool tablesFit() const { return maxDcSymbol_ <= (lossless_ ? 16 : 15); }

private:
    size_t pos_ = 0;
    bool inScan_ = false, lossless_ = false;
    int maxDcSymbol_ = -1;
};

bool isJpeg(E_TransferSyntax xfer) {  // 1.2.840.10008.1.2.4.50 to .70: DCMTK's dcmjpeg decoders
    const char *id = DcmXfer(xfer).getXferID();
    const char *prefix = "1.2.840.10008.1.2.4.";
    if (std::strncmp(id, prefix, std::strlen(prefix)) != 0) return false;
    const int process = std::atoi(id + std::strlen(prefix));
    return process >= 50 && process <= 70;
}

OFCondition checkJpegFrame(DcmPixelSequence *sequence, Uint32 item) {
    JpegTableCheck check;
    std::vector<Uint8> bytes;
    for (unsigned long index = item; index < sequence->card(); ++index) {
        DcmPixelItem *fragment = nullptr;
        Uint8 *data = nullptr;
        if (sequence->getItem(fragment, index).bad() || fragment->getUint8Array(data).bad() || data == nullptr) break;
        bytes.insert(bytes.end(), data, data + fragment->getLength());
        const JpegTableCheck::Result result = check.scan(bytes);
        if (result == JpegTableCheck::bad) break;
        if (result == JpegTableCheck::done) break;
    }
    if (!check.tablesFit())
        return makeOFCondition(0, 8, OF_error, "JPEG DC Huffman table with a symbol over 15");
    return EC_Normal;
}

// DCMTK 3.6.7's RLE decoder (DcmRLECodecDecoder::decodeFrame) trusts the RLE header of the frame's
// fragment: it copies 64 header bytes from a fragment of any length and feeds the decoder from the
// segment offsets the header gives, unchecked, so a damaged header makes it read far outside the
// fragment (a crash; found by fuzzing, Tests/Fuzz/regressions/dicom_frames/rle-*). Fixed upstream
// after 3.6.7 (DCMTK commits f93cf77f1 "Fixed segmentation fault when decoding invalid RLE", 3.6.9;
// 92fc86e9e "Fixed bug in RLE decoder", 3.7.0; 45469f3c3 "Fixed RLE decodeFrame() heap-OOB read",
// after 3.7.0), not in Debian 12's 3.6.7. Here the fragment DCMTK will decode is found as DCMTK
// finds it and its header checked first: at least 64 bytes, 1 to 15 segments, each segment inside
// the fragment. `item` receives the fragment, to be passed on as getUncompressedFrame's start
// fragment so that DCMTK decodes the one checked.
// JPEG pixel data goes to checkJpegFrame (above) from here, with the same start fragment. Nothing is
// checked (and `item` stays 0) when DCMTK will use neither its RLE nor its JPEG decoders.
OFCondition checkCompressedFrame(DcmDataset *dataset, DcmPixelData *pixels, Uint32 frame, Uint32 &item) {
    E_TransferSyntax original = EXS_Unknown;
    const DcmRepresentationParameter *parameter = nullptr;
    pixels->getOriginalRepresentationKey(original, parameter);
    const bool jpeg = isJpeg(original);
    if (original != EXS_RLELossless && !jpeg) return EC_Normal;
    DcmPixelSequence *sequence = nullptr;
    OFCondition condition = pixels->getEncapsulatedRepresentation(original, parameter, sequence);
    if (condition.bad() || sequence == nullptr) return condition.bad() ? condition : EC_CorruptedData;
    Sint32 frames = 1;
    dataset->findAndGetSint32(DCM_NumberOfFrames, frames);
    if (frames < 1) frames = 1;  // as the decoder does
    condition = DcmCodec::determineStartFragment(frame, frames, sequence, item);
    if (condition.bad()) return condition;
    if (jpeg) return checkJpegFrame(sequence, item);
    DcmPixelItem *fragment = nullptr;
    Uint8 *data = nullptr;
    condition = sequence->getItem(fragment, item);
    if (condition.bad()) return condition;
    const Uint32 length = fragment->getLength();
    if (length < 64) return makeOFCondition(0, 4, OF_error, "RLE fragment shorter than its 64-byte header");
    condition = fragment->getUint8Array(data);
    if (condition.bad() || data == nullptr) return condition.bad() ? condition : EC_CorruptedData;
    auto header = [data](Uint32 index) {  // little endian, whatever the machine
        const Uint8 *p = data + 4 * index;
        return static_cast<Uint32>(p[0] | p[1] << 8 | p[2] << 16 | static_cast<Uint32>(p[3]) << 24);
    };
    const Uint32 segments = header(0);
    if (segments < 1 || segments > 15) return makeOFCondition(0, 5, OF_error, "RLE header with a wrong number of segments");
    for (Uint32 segment = 0; segment < segments; ++segment) {
        const Uint32 begin = header(segment + 1);
        const Uint32 end = segment + 1 < segments ? header(segment + 2) : length;
        if (begin > end || end > length) return makeOFCondition(0, 6, OF_error, "RLE segment offsets outside the fragment");
    }
    return EC_Normal;
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
        // Owned until handed out: DCMTK may throw while parsing (e.g. std::out_of_range from
        // DcmByteString::verify on an over-long DICOMDIR record type, DCMTK bug fixed in 3.6.9 by
        // be8c39556), and the half-read object must not leak (found by fuzzing: LeakSanitizer,
        // Tests/Fuzz/regressions/dicom_attributes/dicomdir-record-type-too-long-throws.dcm).
        auto file = std::make_unique<cdcm_file>();
        // DcmFileFormat::loadFile, with a stream that limits inflation (see InflateLimited).
        InflateLimited<DcmInputFileStream> stream{OFFilename(path)};
        OFCondition condition = stream.status();
        if (condition.good()) {
            stream.setInputSize(stream.avail());
            file->format.transferInit();
            condition = file->format.read(stream, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
            file->format.transferEnd();
        }
        if (condition.bad()) {
            if (stream.limitReached()) return inflateLimitStatus();
            return fromCondition(condition, "cannot read DICOM");
        }
        *out = file.release();
        return ok();
    });
}

cdcm_status cdcm_open_memory(const void *bytes, size_t count, cdcm_file **out) {
    *out = nullptr;
    return guarded("open", [&] {
        setUpOnce();
        // A copy, shared by the stream factories of the values left unread (see MemoryProducer).
        auto copy = std::make_shared<const std::vector<Uint8>>(static_cast<const Uint8 *>(bytes),
                                                               static_cast<const Uint8 *>(bytes) + count);
        auto file = std::make_unique<cdcm_file>();  // owned until handed out, as in cdcm_open_file
        InflateLimited<MemoryInputStream> stream(copy, 0);
        stream.setInputSize(static_cast<offile_off_t>(count));
        file->format.transferInit();
        OFCondition condition = file->format.read(stream, EXS_Unknown, EGL_noChange, DCM_MaxReadLength);
        file->format.transferEnd();
        if (condition.bad()) {
            if (stream.limitReached()) return inflateLimitStatus();
            return fromCondition(condition, "cannot read DICOM from memory");
        }
        *out = file.release();
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
        // DCMTK 3.6.7 computes that size in 32 bits (DcmElement::getUncompressedFrameSize: "TODO: check for
        // 32-bit integer overflow"; checked upstream since 99dade341, 2024), while the decoders (its RLE
        // decoder, jpeg2000.cpp) write what Rows x Columns x SamplesPerPixel x BitsAllocated say: a size
        // that wraps (e.g. 65535 x 32769 x 16 bits to 65534 bytes) lets a small buffer pass and the
        // decoder write gigabytes past it. Found reviewing the shim while fuzzing (the fuzz targets'
        // size caps keep such frames out of reach); Tests/Fuzz/regressions/dicom_frames/frame-size-wraps-32-bits.dcm.
        Uint16 rows = 0, columns = 0, samples = 1, bitsAllocated = 0;
        dataset->findAndGetUint16(DCM_Rows, rows);
        dataset->findAndGetUint16(DCM_Columns, columns);
        dataset->findAndGetUint16(DCM_SamplesPerPixel, samples);
        dataset->findAndGetUint16(DCM_BitsAllocated, bitsAllocated);
        const uint64_t exactSize = (uint64_t(rows) * columns * samples * bitsAllocated + 7) / 8;
        if (exactSize != size)
            return makeStatus(CDCM_ERROR, "frame of " + std::to_string(exactSize) +
                                              " bytes (Rows x Columns x SamplesPerPixel x BitsAllocated) "
                                              "overflows DCMTK's 32-bit frame size");
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
            // The offset in 64 bits: frame * frameSize must not wrap round to an earlier frame.
            const uint64_t offset = static_cast<uint64_t>(frame) * frameSize;
            if (offset > UINT32_MAX) return makeStatus(CDCM_ERROR, "cannot read frame: beyond the pixel data");
            condition = pixels->getPartialValue(buffer, static_cast<Uint32>(offset), frameSize, nullptr);
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
        Uint32 startFragment = 0;  // 0: DCMTK finds the frame's first fragment
        condition = checkCompressedFrame(dataset, pixels, frame, startFragment);
        if (condition.bad()) return fromCondition(condition, "cannot decode frame");
        OFString decodedModel;
        condition = pixels->getUncompressedFrame(dataset, frame, startFragment, buffer,
                                                 static_cast<Uint32>(needed), decodedModel, nullptr);
        if (condition.bad()) return fromCondition(condition, "cannot decode frame");
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
