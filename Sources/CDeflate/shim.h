#ifndef TRAILSCAN_CDEFLATE_SHIM_H
#define TRAILSCAN_CDEFLATE_SHIM_H

/// libdeflate's API is plain functions: nothing to wrap.
#include <libdeflate.h>

#endif
