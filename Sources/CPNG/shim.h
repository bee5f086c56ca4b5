// libpng (Debian libpng-dev): the simplified write API.
#include <png.h>
