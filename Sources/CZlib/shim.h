#ifndef TRAILSCAN_CZLIB_SHIM_H
#define TRAILSCAN_CZLIB_SHIM_H

#include <zlib.h>

/// `inflateInit2` is a macro (it passes the library version and the struct size for an ABI check),
/// so Swift cannot call it. This is the one thing the shim adds.
static inline int trailscan_inflateInit2(z_streamp strm, int windowBits) {
    return inflateInit2(strm, windowBits);
}

/// The same for `deflateInit2`, used by tests and the benchmarks' corpus writer to make gzip members.
static inline int trailscan_deflateInit2(z_streamp strm, int level, int windowBits) {
    return deflateInit2(strm, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY);
}

#endif
