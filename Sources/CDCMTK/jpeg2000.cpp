// JPEG 2000 frame decoding through OpenJPEG (libopenjp2), which open-source DCMTK lacks.
// Used by cdcm_decode_frame for the transfer syntaxes 1.2.840.10008.1.2.4.90 and .91.
#include "jpeg2000.h"

// Debian installs the header in a versioned folder; its own includes are relative to it.
#include <openjpeg-2.5/openjpeg.h>

#include <algorithm>
#include <cstring>

namespace {

struct MemoryStream {
    const uint8_t *data;
    size_t size;
    size_t position;
};

OPJ_SIZE_T readBytes(void *buffer, OPJ_SIZE_T count, void *user) {
    auto *stream = static_cast<MemoryStream *>(user);
    size_t left = stream->size - stream->position;
    if (left == 0) return static_cast<OPJ_SIZE_T>(-1);
    size_t n = std::min(static_cast<size_t>(count), left);
    std::memcpy(buffer, stream->data + stream->position, n);
    stream->position += n;
    return n;
}

OPJ_OFF_T skipBytes(OPJ_OFF_T count, void *user) {
    auto *stream = static_cast<MemoryStream *>(user);
    if (count < 0) {
        size_t back = std::min(static_cast<size_t>(-count), stream->position);
        stream->position -= back;
        return -static_cast<OPJ_OFF_T>(back);
    }
    size_t forward = std::min(static_cast<size_t>(count), stream->size - stream->position);
    stream->position += forward;
    return static_cast<OPJ_OFF_T>(forward);
}

OPJ_BOOL seekTo(OPJ_OFF_T offset, void *user) {
    auto *stream = static_cast<MemoryStream *>(user);
    if (offset < 0 || static_cast<size_t>(offset) > stream->size) return OPJ_FALSE;
    stream->position = static_cast<size_t>(offset);
    return OPJ_TRUE;
}

void keepError(const char *message, void *user) {
    auto *text = static_cast<std::string *>(user);
    if (text->empty()) {
        *text = message;
        while (!text->empty() && (text->back() == '\n' || text->back() == ' ')) text->pop_back();
    }
}

void ignore(const char *, void *) {}

}  // namespace

bool cdcm_decode_jpeg2000(const uint8_t *data, size_t size, const Jpeg2000Target &target, void *buffer,
                          std::string &error) {
    // A raw codestream starts with SOC+SIZ (FF 4F FF 51); a JP2 file with its signature box.
    static const uint8_t jp2Signature[] = {0, 0, 0, 0x0C, 0x6A, 0x50, 0x20, 0x20};
    OPJ_CODEC_FORMAT format = OPJ_CODEC_J2K;
    if (size >= 8 && std::memcmp(data, jp2Signature, 8) == 0) format = OPJ_CODEC_JP2;

    MemoryStream memory{data, size, 0};
    opj_stream_t *stream = opj_stream_create(OPJ_J2K_STREAM_CHUNK_SIZE, OPJ_TRUE);
    opj_codec_t *codec = opj_create_decompress(format);
    opj_image_t *image = nullptr;
    bool good = false;
    if (stream != nullptr && codec != nullptr) {
        opj_stream_set_read_function(stream, readBytes);
        opj_stream_set_skip_function(stream, skipBytes);
        opj_stream_set_seek_function(stream, seekTo);
        opj_stream_set_user_data(stream, &memory, nullptr);
        opj_stream_set_user_data_length(stream, size);
        opj_set_error_handler(codec, keepError, &error);
        opj_set_warning_handler(codec, ignore, nullptr);
        opj_set_info_handler(codec, ignore, nullptr);
        opj_dparameters_t parameters;
        opj_set_default_decoder_parameters(&parameters);
        good = opj_setup_decoder(codec, &parameters) && opj_read_header(stream, codec, &image) &&
               opj_decode(codec, stream, image) && opj_end_decompress(codec, stream);
    }
    if (good) {
        const size_t pixels = target.rows * target.columns;
        if (image->numcomps < target.samples) {
            error = "JPEG 2000 stream has " + std::to_string(image->numcomps) + " component(s), header says " +
                    std::to_string(target.samples);
            good = false;
        }
        for (unsigned c = 0; good && c < target.samples; ++c) {
            const opj_image_comp_t &component = image->comps[c];
            if (static_cast<size_t>(component.w) * component.h != pixels || component.data == nullptr) {
                error = "JPEG 2000 component size " + std::to_string(component.w) + "x" +
                        std::to_string(component.h) + " does not match the header";
                good = false;
                break;
            }
            for (size_t p = 0; p < pixels; ++p) {
                const OPJ_INT32 value = component.data[p];
                const size_t index = p * target.samples + c;
                switch (target.bitsAllocated) {
                case 8: static_cast<uint8_t *>(buffer)[index] = static_cast<uint8_t>(value); break;
                case 16: static_cast<uint16_t *>(buffer)[index] = static_cast<uint16_t>(value); break;
                default: static_cast<uint32_t *>(buffer)[index] = static_cast<uint32_t>(value); break;
                }
            }
        }
    } else if (error.empty()) {
        error = "OpenJPEG could not decode the JPEG 2000 stream";
    }
    if (image != nullptr) opj_image_destroy(image);
    if (codec != nullptr) opj_destroy_codec(codec);
    if (stream != nullptr) opj_stream_destroy(stream);
    return good;
}
