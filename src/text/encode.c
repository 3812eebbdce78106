/* Text -> WordPiece ids, step by step as Hugging Face tokenizers runs
 * BertTokenizerFast: literal special tokens, BertNormalizer (clean, CJK,
 * strip accents, lower case), BertPreTokenizer (white space, punctuation),
 * WordPiece, truncation, [CLS] ... [SEP]. Each step works on an array of
 * code points; the only bytes compared are the vocabulary's. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "bert_unicode.h"
#include "tokenizer_internal.h"

typedef struct u32vec {
    uint32_t *v;
    size_t n, cap;
} u32vec;

static int vec_reserve(u32vec *a, size_t extra) {
    if (a->n + extra <= a->cap) return 0;
    size_t cap = a->cap ? a->cap : 64;
    while (cap < a->n + extra) cap *= 2;
    uint32_t *nv = realloc(a->v, cap * sizeof *nv);
    if (!nv) return -1;
    a->v = nv;
    a->cap = cap;
    return 0;
}

/* Scratch of one encode call (encode is reentrant: nothing global). */
typedef struct work {
    const levi_tokenizer *t;
    u32vec a, b;         /* code points between steps */
    char *word;          /* one word as UTF-8 */
    size_t *off;         /* byte offset of each character of the word, + end */
    size_t word_cap;     /* characters the two above hold */
    int32_t *out;        /* pieces (without [CLS]/[SEP]) */
    int n, limit;        /* pieces written, most pieces kept */
} work;

static levi_status oom(void) { return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory while tokenizing"); }

static void emit(work *w, int id) {
    if (w->n < w->limit) w->out[w->n] = id;
    w->n++;
}

/* WordPiece on one word (code points cp[0..n)): greedy longest match from
 * the left, "##" on every piece after the first; one [UNK] for the whole
 * word when a position has no match or the word is too long. */
static levi_status wordpiece(work *w, const uint32_t *cp, size_t n) {
    const levi_tokenizer *t = w->t;
    if (n > (size_t)t->opt.max_chars_per_word) {
        emit(w, t->unk_id);
        return LEVI_OK;
    }
    if (n + 1 > w->word_cap) {
        size_t cap = w->word_cap ? w->word_cap : 64;
        while (cap < n + 1) cap *= 2;
        char *nw = realloc(w->word, cap * 4);
        if (!nw) return oom();
        w->word = nw;
        size_t *no = realloc(w->off, (cap + 1) * sizeof *no);
        if (!no) return oom();
        w->off = no;
        w->word_cap = cap;
    }
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        w->off[i] = bytes;
        bytes += (size_t)utf8proc_encode_char((utf8proc_int32_t)cp[i], (utf8proc_uint8_t *)w->word + bytes);
    }
    w->off[n] = bytes;
    int first = w->n;
    for (size_t start = 0; start < n;) {
        size_t end = n;
        int id = -1;
        for (; end > start; end--) {
            id = tok_lookup(t, w->word + w->off[start], w->off[end] - w->off[start], start > 0);
            if (id >= 0) break;
        }
        if (id < 0) { /* no piece fits here: the whole word is unknown */
            w->n = first;
            emit(w, t->unk_id);
            return LEVI_OK;
        }
        emit(w, id);
        start = end;
    }
    return LEVI_OK;
}

/* Split normalized code points on white space and around punctuation, and
 * run WordPiece on every word. */
static levi_status pretokenize(work *w, const uint32_t *cp, size_t n) {
    size_t start = 0;
    for (size_t i = 0; i <= n && w->n < w->limit; i++) {
        int cut = i == n || bert_is_whitespace(cp[i]), punct = !cut && (bert_flags(cp[i]) & BERT_PUNCT);
        if (!cut && !punct) continue;
        if (i > start) LEVI_TRY(wordpiece(w, cp + start, i - start));
        if (punct && w->n < w->limit) LEVI_TRY(wordpiece(w, cp + i, 1));
        start = i + 1;
    }
    return LEVI_OK;
}

/* NFD's canonical ordering: marks (combining class > 0) in a run are
 * stably sorted by class. */
static void canonical_order(uint32_t *v, size_t n) {
    for (size_t i = 1; i < n; i++) {
        int cc = bert_combining_class(v[i]);
        if (cc == 0) continue;
        uint32_t c = v[i];
        size_t j = i;
        while (j > 0) {
            int pc = bert_combining_class(v[j - 1]);
            if (pc <= cc) break;
            v[j] = v[j - 1];
            j--;
        }
        v[j] = c;
    }
}

/* BertNormalizer on raw bytes s[0..len) (valid UTF-8), then pre-tokenizer
 * and WordPiece. */
static levi_status segment(work *w, const char *s, size_t len) {
    const levi_tokenizer_options *o = &w->t->opt;
    u32vec *a = &w->a, *b = &w->b;
    a->n = 0;
    if (vec_reserve(a, 3 * len)) return oom();
    for (size_t i = 0; i < len;) { /* clean_text, then CJK spacing */
        utf8proc_int32_t c;
        i += (size_t)utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &c);
        uint32_t u = (uint32_t)c;
        if (u == 0 || u == 0xFFFD || (bert_flags(u) & BERT_CTRL)) continue;
        if (bert_is_whitespace(u)) u = ' ';
        if (o->chinese_chars && bert_is_chinese(u)) {
            a->v[a->n++] = ' ';
            a->v[a->n++] = u;
            a->v[a->n++] = ' ';
        } else {
            a->v[a->n++] = u;
        }
    }
    int strip = o->strip_accents < 0 ? o->lowercase : o->strip_accents;
    if (strip) { /* NFD, then drop non-spacing marks */
        b->n = 0;
        uint32_t d[32];
        for (size_t i = 0; i < a->n; i++) {
            int k = bert_decompose(a->v[i], d);
            if (vec_reserve(b, (size_t)k)) return oom();
            memcpy(b->v + b->n, d, (size_t)k * sizeof *d);
            b->n += (size_t)k;
        }
        canonical_order(b->v, b->n);
        size_t k = 0;
        for (size_t i = 0; i < b->n; i++)
            if (!(bert_flags(b->v[i]) & BERT_MN)) b->v[k++] = b->v[i];
        b->n = k;
        u32vec tmp = *a;
        *a = *b;
        *b = tmp;
    }
    if (o->lowercase) {
        b->n = 0;
        if (vec_reserve(b, 4 * a->n)) return oom();
        for (size_t i = 0; i < a->n; i++) b->n += (size_t)bert_lower(a->v[i], b->v + b->n);
        u32vec tmp = *a;
        *a = *b;
        *b = tmp;
    }
    return pretokenize(w, a->v, a->n);
}

levi_status levi_tokenizer_encode(const levi_tokenizer *t, const char *text, size_t len, int max_length,
                                  int32_t *ids, int *count) {
    if (!t || !ids || !count || (!text && len))
        return levi_error(LEVI_ERR_INVALID_ARG, "levi_tokenizer_encode: NULL argument");
    *count = 0;
    if (max_length <= 0) max_length = t->opt.max_length;
    if (max_length < 2)
        return levi_error(LEVI_ERR_INVALID_ARG, "max_length must be at least 2 ([CLS] and [SEP]), got %d", max_length);
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t r = utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(len - i), &c);
        if (r < 0) return levi_error(LEVI_ERR_FORMAT, "invalid UTF-8 at byte %zu", i);
        i += (size_t)r;
    }
    work w = {.t = t, .out = ids + 1, .limit = max_length - 2};
    levi_status st = LEVI_OK;
    size_t pos = 0;
    while (pos < len && st == LEVI_OK && w.n < w.limit) {
        /* the leftmost literal special token, the longest at that position */
        size_t at = len, mlen = 0;
        int mid = -1;
        for (size_t i = pos; i < len && mid < 0; i++)
            for (int k = 0; k < t->nliterals; k++) {
                const tok_literal *l = &t->literals[k];
                if (l->len > mlen && l->len <= len - i && !memcmp(text + i, l->text, l->len)) {
                    at = i;
                    mlen = l->len;
                    mid = l->id;
                }
            }
        if (at > pos) st = segment(&w, text + pos, at - pos);
        if (st == LEVI_OK && mid >= 0) emit(&w, mid);
        pos = at + mlen;
    }
    free(w.a.v);
    free(w.b.v);
    free(w.word);
    free(w.off);
    if (st != LEVI_OK) return st;
    int n = w.n < w.limit ? w.n : w.limit;
    ids[0] = t->cls_id;
    ids[n + 1] = t->sep_id;
    *count = n + 2;
    return LEVI_OK;
}
