/* Helpers shared inside src/data (not part of the public API). */
#ifndef LEVI_DATA_INTERNAL_H
#define LEVI_DATA_INTERNAL_H

#include "levi/data.h"

#define LEVI_DATA_HIDDEN __attribute__((visibility("hidden")))

/* The .png file names in `dir`, sorted; *names (count strings) is freed with
 * levi_class_names_free. `others` (may be NULL) counts other regular files. */
LEVI_DATA_HIDDEN levi_status data_list_pngs(const char *dir, char ***names, int *count, int *others);

#endif
