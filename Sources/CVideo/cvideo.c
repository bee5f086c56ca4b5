// H.264 MP4 writer: see include/cvideo.h.
#include "cvideo.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <string.h>

struct cvid_writer {
    AVFormatContext *format;
    AVCodecContext *codec;
    AVStream *stream;
    struct SwsContext *scale;
    AVFrame *frame;
    AVPacket *packet;
    int64_t next;
};

static int fail(char *message, size_t capacity, const char *what, int code) {
    if (message != NULL && capacity > 0) {
        char reason[AV_ERROR_MAX_STRING_SIZE] = "";
        if (code < 0) av_strerror(code, reason, sizeof reason);
        snprintf(message, capacity, "%s%s%s", what, code < 0 ? ": " : "", reason);
    }
    return CVID_ERROR;
}

static void release(cvid_writer *w) {
    if (w == NULL) return;
    if (w->format != NULL && w->format->pb != NULL) avio_closep(&w->format->pb);
    avformat_free_context(w->format);
    avcodec_free_context(&w->codec);
    sws_freeContext(w->scale);
    av_frame_free(&w->frame);
    av_packet_free(&w->packet);
    av_free(w);
}

// Takes every packet the encoder has ready and writes it to the file.
static int drain(cvid_writer *w, char *message, size_t capacity) {
    for (;;) {
        int code = avcodec_receive_packet(w->codec, w->packet);
        if (code == AVERROR(EAGAIN) || code == AVERROR_EOF) return CVID_OK;
        if (code < 0) return fail(message, capacity, "H.264 encoder failed", code);
        av_packet_rescale_ts(w->packet, w->codec->time_base, w->stream->time_base);
        w->packet->stream_index = w->stream->index;
        code = av_interleaved_write_frame(w->format, w->packet);
        av_packet_unref(w->packet);
        if (code < 0) return fail(message, capacity, "cannot write the video", code);
    }
}

int cvid_open(const char *path, const cvid_options *o, cvid_writer **out, char *message, size_t capacity) {
    *out = NULL;
    if (o->width <= 0 || o->height <= 0 || o->width % 2 != 0 || o->height % 2 != 0)
        return fail(message, capacity, "H.264 (4:2:0) needs an even width and height", 0);
    if (o->width > 8192 || o->height > 4320) return fail(message, capacity, "video larger than 8192 x 4320", 0);
    if (o->fps < 1 || o->fps > 240) return fail(message, capacity, "frame rate outside 1 ... 240", 0);
    if (o->crf < 0 || o->crf > 51) return fail(message, capacity, "quality (crf) outside 0 ... 51", 0);

    // FFmpeg's and x264's banners and statistics go to stderr unless told otherwise; errors come back as messages.
    av_log_set_level(AV_LOG_ERROR);
    const AVCodec *encoder = avcodec_find_encoder_by_name("libx264");
    if (encoder == NULL) encoder = avcodec_find_encoder(AV_CODEC_ID_H264);
    if (encoder == NULL) return fail(message, capacity, "this FFmpeg has no H.264 encoder (libx264)", 0);

    cvid_writer *w = av_mallocz(sizeof *w);
    if (w == NULL) return fail(message, capacity, "out of memory", 0);
    int code = avformat_alloc_output_context2(&w->format, NULL, "mp4", path);
    if (code < 0 || w->format == NULL) { release(w); return fail(message, capacity, "cannot make an MP4 container", code); }

    w->codec = avcodec_alloc_context3(encoder);
    w->frame = av_frame_alloc();
    w->packet = av_packet_alloc();
    if (w->codec == NULL || w->frame == NULL || w->packet == NULL) { release(w); return fail(message, capacity, "out of memory", 0); }
    AVCodecContext *c = w->codec;
    c->width = o->width;
    c->height = o->height;
    c->time_base = (AVRational){1, o->fps};
    c->framerate = (AVRational){o->fps, 1};
    c->pix_fmt = AV_PIX_FMT_YUV420P;   // what every browser and phone decodes
    c->gop_size = 2 * o->fps;          // a key frame every 2 s: seeking in a player stays quick
    c->max_b_frames = 2;
    c->thread_count = 0;               // the encoder picks (one per core)
    // Tagged BT.709, limited range: the frames are converted so below, and players then convert back the same way.
    c->colorspace = AVCOL_SPC_BT709;
    c->color_primaries = AVCOL_PRI_BT709;
    c->color_trc = AVCOL_TRC_BT709;
    c->color_range = AVCOL_RANGE_MPEG;
    if (w->format->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    char crf[16];
    snprintf(crf, sizeof crf, "%d", o->crf);
    av_opt_set(c->priv_data, "preset", o->preset != NULL ? o->preset : "veryfast", 0);
    av_opt_set(c->priv_data, "crf", crf, 0);
    av_opt_set(c->priv_data, "profile", "high", 0);
    code = avcodec_open2(c, encoder, NULL);
    if (code < 0) { release(w); return fail(message, capacity, "cannot open the H.264 encoder", code); }

    w->stream = avformat_new_stream(w->format, NULL);
    if (w->stream == NULL) { release(w); return fail(message, capacity, "out of memory", 0); }
    w->stream->time_base = c->time_base;
    w->stream->avg_frame_rate = c->framerate;
    code = avcodec_parameters_from_context(w->stream->codecpar, c);
    if (code < 0) { release(w); return fail(message, capacity, "cannot describe the video stream", code); }

    w->frame->format = c->pix_fmt;
    w->frame->width = c->width;
    w->frame->height = c->height;
    code = av_frame_get_buffer(w->frame, 0);
    if (code < 0) { release(w); return fail(message, capacity, "out of memory", code); }

    w->scale = sws_getContext(o->width, o->height, AV_PIX_FMT_RGBA, o->width, o->height, AV_PIX_FMT_YUV420P,
                              SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP, NULL, NULL, NULL);
    if (w->scale == NULL) { release(w); return fail(message, capacity, "cannot set up the colour conversion", 0); }
    // Full-range RGB in, BT.709 limited-range YUV out (as tagged above).
    sws_setColorspaceDetails(w->scale, sws_getCoefficients(SWS_CS_ITU709), 1, sws_getCoefficients(SWS_CS_ITU709), 0,
                             0, 1 << 16, 1 << 16);

    code = avio_open(&w->format->pb, path, AVIO_FLAG_WRITE);
    if (code < 0) { release(w); return fail(message, capacity, "cannot create the file", code); }
    AVDictionary *muxer = NULL;
    av_dict_set(&muxer, "movflags", "+faststart", 0);   // the index first: a browser plays while it downloads
    code = avformat_write_header(w->format, &muxer);
    av_dict_free(&muxer);
    if (code < 0) { release(w); return fail(message, capacity, "cannot write the MP4 header", code); }
    *out = w;
    return CVID_OK;
}

int cvid_write_rgba(cvid_writer *w, const uint8_t *rgba, size_t stride, char *message, size_t capacity) {
    if (w == NULL || rgba == NULL) return fail(message, capacity, "no writer or no pixels", 0);
    if (stride < (size_t)w->codec->width * 4 || stride > INT32_MAX) return fail(message, capacity, "row stride shorter than a row", 0);
    int code = av_frame_make_writable(w->frame);
    if (code < 0) return fail(message, capacity, "out of memory", code);
    const uint8_t *planes[1] = {rgba};
    const int strides[1] = {(int)stride};
    sws_scale(w->scale, planes, strides, 0, w->codec->height, w->frame->data, w->frame->linesize);
    w->frame->pts = w->next++;
    code = avcodec_send_frame(w->codec, w->frame);
    if (code < 0) return fail(message, capacity, "H.264 encoder refused a frame", code);
    return drain(w, message, capacity);
}

int cvid_finish(cvid_writer *w, char *message, size_t capacity) {
    if (w == NULL) return fail(message, capacity, "no writer", 0);
    int status = CVID_OK;
    int code = avcodec_send_frame(w->codec, NULL);
    if (code < 0) status = fail(message, capacity, "H.264 encoder failed to flush", code);
    if (status == CVID_OK) status = drain(w, message, capacity);
    if (status == CVID_OK) {
        code = av_write_trailer(w->format);
        if (code < 0) status = fail(message, capacity, "cannot finish the MP4 file", code);
    }
    if (status == CVID_OK && w->format->pb != NULL) {
        code = avio_closep(&w->format->pb);
        if (code < 0) status = fail(message, capacity, "cannot close the file", code);
    }
    release(w);
    return status;
}

void cvid_abandon(cvid_writer *w) { release(w); }

const char *cvid_version(void) {
    static char text[96];
    const unsigned v = avcodec_version();
    const AVCodec *x264 = avcodec_find_encoder_by_name("libx264");
    snprintf(text, sizeof text, "libavcodec %u.%u.%u, %s", v >> 16, (v >> 8) & 0xFF, v & 0xFF,
             x264 != NULL ? "libx264" : "no libx264");
    return text;
}
