// FreeType 2 (Debian libfreetype-dev): glyphs of the labelled renders' text.
#include <ft2build.h>
#include FT_FREETYPE_H
