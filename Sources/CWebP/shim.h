// libwebp (Debian libwebp-dev): the advanced encoding API, and decoding (for the tests).
#include <webp/encode.h>
#include <webp/decode.h>
