/* BERT's Unicode rules on top of utf8proc, with the generated exceptions. */
#include <string.h>
#include <utf8proc.h>

#include "bert_unicode.h"

int bert_is_whitespace(uint32_t c) {
    switch (c) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
        return 1;
    default:
        return c >= 0x2000 && c <= 0x200A;
    }
}

int bert_is_chinese(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static const bert_class_range *find_range(uint32_t c) {
    int lo = 0, hi = bert_compat_class_count - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (c < bert_compat_class[mid].lo) hi = mid - 1;
        else if (c > bert_compat_class[mid].hi) lo = mid + 1;
        else return &bert_compat_class[mid];
    }
    return NULL;
}

static const bert_map_entry *find_entry(const bert_map_entry *table, int count, uint32_t c) {
    int lo = 0, hi = count - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (c < table[mid].cp) hi = mid - 1;
        else if (c > table[mid].cp) lo = mid + 1;
        else return &table[mid];
    }
    return NULL;
}

int bert_flags(uint32_t c) {
    if (c < 0x80) { /* the hot path: ASCII */
        if (c < 0x20 || c == 0x7F) return c == '\t' || c == '\n' || c == '\r' ? 0 : BERT_CTRL;
        return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') || (c >= '[' && c <= '`') || (c >= '{' && c <= '~')
                   ? BERT_PUNCT
                   : 0;
    }
    const bert_class_range *r = find_range(c);
    if (r) return r->flags;
    int f = 0;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CO:
        f = BERT_CTRL;
        break;
    case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS: case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF: case UTF8PROC_CATEGORY_PO:
        f = BERT_PUNCT;
        break;
    case UTF8PROC_CATEGORY_MN:
        f = BERT_MN;
        break;
    default:
        break;
    }
    return f;
}

int bert_decompose(uint32_t c, uint32_t *out) {
    const bert_map_entry *e = find_entry(bert_compat_strip, bert_compat_strip_count, c);
    if (e) {
        memcpy(out, e->out, (size_t)e->n * sizeof *out);
        return e->n;
    }
    if (c < 0xC0) { /* nothing below U+00C0 decomposes canonically */
        out[0] = c;
        return 1;
    }
    utf8proc_int32_t buf[32];
    int last = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char((utf8proc_int32_t)c, buf, 32, UTF8PROC_DECOMPOSE, &last);
    if (n <= 0 || n > 32) { /* cannot happen for a valid scalar value; keep the character */
        out[0] = c;
        return 1;
    }
    for (utf8proc_ssize_t i = 0; i < n; i++) out[i] = (uint32_t)buf[i];
    return (int)n;
}

int bert_combining_class(uint32_t c) {
    return c < 0x300 ? 0 : utf8proc_get_property((utf8proc_int32_t)c)->combining_class;
}

int bert_lower(uint32_t c, uint32_t *out) {
    if (c < 0x80) {
        out[0] = c >= 'A' && c <= 'Z' ? c + 32 : c;
        return 1;
    }
    if (c == 0x130) { /* the one unconditional multi-character lower case (SpecialCasing.txt) */
        out[0] = 0x69;
        out[1] = 0x307;
        return 2;
    }
    const bert_map_entry *e = find_entry(bert_compat_lower, bert_compat_lower_count, c);
    if (e) {
        memcpy(out, e->out, (size_t)e->n * sizeof *out);
        return e->n;
    }
    out[0] = (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
    return 1;
}

int bert_unicode_version_matches(const char **linked) {
    *linked = utf8proc_unicode_version();
    return strcmp(*linked, bert_compat_unicode_version) == 0;
}
