// A small H.264 MP4 writer over Debian's FFmpeg libraries (libavformat, libavcodec with libx264,
// libswscale): RGBA frames in, an MP4 that browsers and phones play out. One writer per file;
// not thread-safe (one caller at a time).
#ifndef CVIDEO_H
#define CVIDEO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cvid_writer cvid_writer;

enum { CVID_OK = 0, CVID_ERROR = 1 };

typedef struct cvid_options {
    int width, height;   // pixels; both even (H.264 4:2:0)
    int fps;             // frames per second, 1 ... 240
    int crf;             // x264 constant rate factor, 0 ... 51 (18: visually lossless)
    const char *preset;  // x264 preset ("veryfast", "medium", ...); NULL: "veryfast"
} cvid_options;

// Opens `path` for writing. On failure returns CVID_ERROR, *out is NULL and `message` (of
// `capacity` bytes, NUL-terminated) says why.
int cvid_open(const char *path, const cvid_options *options, cvid_writer **out, char *message, size_t capacity);

// Appends one frame: `rgba` holds height rows of width RGBA pixels (8 bits each), `stride` bytes
// apart, top row first.
int cvid_write_rgba(cvid_writer *writer, const uint8_t *rgba, size_t stride, char *message, size_t capacity);

// Flushes the encoder, writes the file's index (moved to the front: playback starts before the
// download ends) and closes. Frees the writer whatever happens.
int cvid_finish(cvid_writer *writer, char *message, size_t capacity);

// Frees the writer without finishing the file (after an error; the caller removes the file).
void cvid_abandon(cvid_writer *writer);

// "libavcodec 59.37.100, libx264" or similar: what encodes.
const char *cvid_version(void);

#ifdef __cplusplus
}
#endif

#endif
