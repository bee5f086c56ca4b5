// meshoptimizer (Debian libmeshoptimizer-dev): simplification and GPU cache/fetch optimisation.
#include <meshoptimizer.h>
