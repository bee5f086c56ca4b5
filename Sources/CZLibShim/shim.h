// zlib (Debian zlib1g-dev, pulled in by libpng-dev): gzip for .nii.gz.
#include <zlib.h>
