/* Heap statistics for the benchmarks (glibc's mallinfo2, which Swift's Glibc module does not
 * import). Benchmarks only. */
#ifndef CHEAPSTATS_H
#define CHEAPSTATS_H

#include <stddef.h>

/* Bytes currently allocated with malloc (mallinfo2().uordblks + hblkhd: small blocks and mmap'd
 * large ones), over all arenas. */
size_t cheapstats_bytes_in_use(void);

#endif
