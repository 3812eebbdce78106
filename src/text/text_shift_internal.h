/* Pieces of the text-shift generator (internal; tested on their own). */
#ifndef LEVI_TEXT_SHIFT_INTERNAL_H
#define LEVI_TEXT_SHIFT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "levi/text.h"

#ifndef TEXT_HIDDEN
#define TEXT_HIDDEN __attribute__((visibility("hidden")))
#endif

typedef struct sha256_ctx {
    uint32_t h[8];
    uint64_t len;
    unsigned char buf[64];
    size_t fill;
} sha256_ctx;

TEXT_HIDDEN void sha256_init(sha256_ctx *c);
TEXT_HIDDEN void sha256_update(sha256_ctx *c, const void *data, size_t len);
/* Finish and write 64 hex digits + NUL; c is spent. */
TEXT_HIDDEN void sha256_hex(sha256_ctx *c, char out[65]);

/* One binary package of a Debian Packages file (pointers into owned copies). */
typedef struct deb_package {
    char *name, *section, *description, *source;
    int seq; /* position in the file (duplicates: the first wins) */
} deb_package;

/* Every stanza with Package, Section and Description of `data` (the output
 * of `apt-cache dumpavail` or any Packages file), sorted by name, the first
 * of duplicate names kept, the Section's area ("contrib/") dropped, the
 * Description's first line only, Source's first word (the package's own name
 * when absent). Stanzas with invalid UTF-8 are counted in *skipped. */
TEXT_HIDDEN levi_status deb_packages_parse(const char *data, size_t len, deb_package **out, int *count, int *skipped);
TEXT_HIDDEN void deb_packages_free(deb_package *p, int count);

#endif
