/* UTF-8 validation through utf8proc (shared by the text readers). */
#include <utf8proc.h>

#include "text_data_internal.h"

long text_utf8_invalid_at(const char *s, size_t len) {
    for (size_t i = 0; i < len;) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        utf8proc_int32_t c;
        utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &c);
        if (r < 0) return (long)i;
        i += (size_t)r;
    }
    return -1;
}
