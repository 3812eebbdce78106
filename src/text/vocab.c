/* The WordPiece vocabulary: vocab.txt parsed as Hugging Face tokenizers
 * reads it (one token per '\n'-ended line, id = line number, trailing white
 * space such as a '\r' dropped, a later duplicate wins), a hash table over
 * its bytes, the special tokens. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "bert_unicode.h"
#include "levi/log.h"
#include "tokenizer_internal.h"

/* Most tokens a vocab.txt may hold (ids fit int32 with room). */
#define VOCAB_MAX_TOKENS (1 << 24)

void levi_tokenizer_defaults(levi_tokenizer_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->lowercase = 1;
    opt->strip_accents = -1;
    opt->chinese_chars = 1;
    opt->max_length = 512;
    opt->max_chars_per_word = 100;
    opt->unk = "[UNK]";
    opt->sep = "[SEP]";
    opt->pad = "[PAD]";
    opt->cls = "[CLS]";
    opt->mask = "[MASK]";
}

static unsigned long long fnv_bytes(unsigned long long h, const char *p, size_t len) {
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
    return h;
}

#define FNV_OFFSET 0xcbf29ce484222325ULL

int tok_lookup(const levi_tokenizer *t, const char *bytes, size_t len, int continuation) {
    unsigned long long h = FNV_OFFSET;
    if (continuation) h = fnv_bytes(h, "##", 2);
    h = fnv_bytes(h, bytes, len);
    size_t want = len + (continuation ? 2 : 0);
    for (unsigned long long i = h & t->mask;; i = (i + 1) & t->mask) {
        int id = t->slots[i];
        if (id < 0) return -1;
        const char *tok = t->tokens[id];
        if (t->lens[id] != want) continue;
        if (continuation) {
            if (tok[0] == '#' && tok[1] == '#' && !memcmp(tok + 2, bytes, len)) return id;
        } else if (!memcmp(tok, bytes, len)) {
            return id;
        }
    }
}

/* Insert id; a token already present is replaced (the later line wins). */
static void insert(levi_tokenizer *t, int id) {
    unsigned long long h = fnv_bytes(FNV_OFFSET, t->tokens[id], t->lens[id]);
    for (unsigned long long i = h & t->mask;; i = (i + 1) & t->mask) {
        int old = t->slots[i];
        if (old < 0) {
            t->slots[i] = id;
            return;
        }
        if (t->lens[old] == t->lens[id] && !memcmp(t->tokens[old], t->tokens[id], t->lens[id])) {
            t->slots[i] = id;
            t->tokens[old] = NULL; /* no longer reachable by text; its id stays unused */
            return;
        }
    }
}

levi_status tok_add_literal(levi_tokenizer *t, const char *text, int id, const char *where) {
    if (!text || !*text) return LEVI_OK;
    for (int i = 0; i < t->nliterals; i++)
        if (!strcmp(t->literals[i].text, text)) {
            t->literals[i].id = id;
            return LEVI_OK;
        }
    if (t->nliterals == TOK_MAX_LITERALS)
        return levi_error(LEVI_ERR_UNSUPPORTED, "%s: more than %d special tokens", where, TOK_MAX_LITERALS);
    tok_literal *l = &t->literals[t->nliterals];
    l->text = strdup(text);
    if (!l->text) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    l->len = strlen(text);
    l->id = id;
    t->nliterals++;
    return LEVI_OK;
}

static levi_status parse_lines(levi_tokenizer *t, const char *vocab, size_t len, const char *name) {
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += vocab[i] == '\n';
    if (len > 0 && vocab[len - 1] != '\n') lines++;
    if (lines == 0) return levi_error(LEVI_ERR_FORMAT, "%s: the vocabulary is empty", name);
    if (lines > VOCAB_MAX_TOKENS)
        return levi_error(LEVI_ERR_FORMAT, "%s: more than %d tokens", name, VOCAB_MAX_TOKENS);
    t->n = (int)lines;
    t->blob = malloc(len + 1);
    t->tokens = calloc(lines, sizeof *t->tokens);
    t->lens = calloc(lines, sizeof *t->lens);
    size_t cap = 16;
    while (cap < 2 * lines) cap *= 2;
    t->slots = malloc(cap * sizeof *t->slots);
    if (!t->blob || !t->tokens || !t->lens || !t->slots)
        return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for the vocabulary '%s'", name);
    memset(t->slots, 0xff, cap * sizeof *t->slots);
    t->mask = cap - 1;
    size_t out = 0, start = 0;
    for (int id = 0; id < t->n; id++) {
        const char *nl = memchr(vocab + start, '\n', len - start);
        size_t n = nl ? (size_t)(nl - vocab) - start : len - start, keep = 0;
        /* the token ends at its last character that is not white space (Rust's trim_end) */
        for (size_t k = 0; k < n;) {
            utf8proc_int32_t cp;
            utf8proc_ssize_t r =
                utf8proc_iterate((const utf8proc_uint8_t *)vocab + start + k, (utf8proc_ssize_t)(n - k), &cp);
            if (r < 0)
                return levi_error(LEVI_ERR_FORMAT, "%s: line %d: invalid UTF-8 at byte %zu of the line", name, id + 1,
                                  k);
            k += (size_t)r;
            if (!bert_is_whitespace((uint32_t)cp)) keep = k;
        }
        memcpy(t->blob + out, vocab + start, keep);
        t->blob[out + keep] = '\0';
        t->tokens[id] = t->blob + out;
        t->lens[id] = (unsigned)keep;
        insert(t, id);
        out += keep + 1;
        start += n + 1;
    }
    return LEVI_OK;
}

static levi_status special_id(levi_tokenizer *t, const char *token, const char *what, const char *name, int *id) {
    *id = token ? tok_lookup(t, token, strlen(token), 0) : -1;
    if (*id < 0)
        return levi_error(LEVI_ERR_FORMAT, "%s: the %s token '%s' is not in the vocabulary", name, what,
                          token ? token : "(none)");
    return tok_add_literal(t, token, *id, name);
}

levi_status levi_tokenizer_create(levi_tokenizer **out, const char *vocab, size_t len, const char *name,
                                  const levi_tokenizer_options *opt) {
    if (!out || (!vocab && len)) return levi_error(LEVI_ERR_INVALID_ARG, "levi_tokenizer_create: NULL argument");
    *out = NULL;
    if (!name) name = "vocab.txt";
    levi_tokenizer_options o;
    if (opt) o = *opt;
    else levi_tokenizer_defaults(&o);
    if (o.max_length < 2)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: max_length must be at least 2 ([CLS] and [SEP]), got %d", name,
                          o.max_length);
    if (o.max_chars_per_word < 1)
        return levi_error(LEVI_ERR_INVALID_ARG, "%s: max_chars_per_word must be positive, got %d", name,
                          o.max_chars_per_word);
    levi_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
    t->opt = o;
    const char *src[5] = {o.unk, o.sep, o.pad, o.cls, o.mask};
    const char **dst[5] = {&t->opt.unk, &t->opt.sep, &t->opt.pad, &t->opt.cls, &t->opt.mask};
    levi_status st = LEVI_OK;
    for (int i = 0; i < 5; i++) {
        t->names[i] = src[i] ? strdup(src[i]) : NULL;
        if (src[i] && !t->names[i]) st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory");
        *dst[i] = t->names[i];
    }
    if (st == LEVI_OK && !(t->vocab = malloc(len + 1)))
        st = levi_error(LEVI_ERR_HOST_MEMORY, "out of host memory for the vocabulary '%s'", name);
    if (st == LEVI_OK) {
        if (len) memcpy(t->vocab, vocab, len);
        t->vocab[len] = '\0';
        t->vocab_len = len;
        st = parse_lines(t, vocab, len, name);
    }
    if (st == LEVI_OK) st = special_id(t, t->opt.unk, "unknown", name, &t->unk_id);
    if (st == LEVI_OK) st = special_id(t, t->opt.sep, "separator", name, &t->sep_id);
    if (st == LEVI_OK) st = special_id(t, t->opt.pad, "padding", name, &t->pad_id);
    if (st == LEVI_OK) st = special_id(t, t->opt.cls, "classifier", name, &t->cls_id);
    if (st == LEVI_OK && t->opt.mask) {
        int id = tok_lookup(t, t->opt.mask, strlen(t->opt.mask), 0);
        if (id >= 0) st = tok_add_literal(t, t->opt.mask, id, name);
    }
    if (st != LEVI_OK) {
        levi_tokenizer_free(t);
        return st;
    }
    const char *linked;
    if (!bert_unicode_version_matches(&linked))
        LEVI_WARN("tokenizer: utf8proc has Unicode %s, levi-cl's compatibility tables were made for %s; "
                  "text with characters new in either version may tokenize differently from transformers",
                  linked, bert_compat_unicode_version);
    *out = t;
    return LEVI_OK;
}

void levi_tokenizer_free(levi_tokenizer *t) {
    if (!t) return;
    for (int i = 0; i < 5; i++) free(t->names[i]);
    for (int i = 0; i < t->nliterals; i++) free(t->literals[i].text);
    free(t->vocab);
    free(t->blob);
    free(t->tokens);
    free(t->lens);
    free(t->slots);
    free(t);
}

int levi_tokenizer_vocab_size(const levi_tokenizer *t) { return t->n; }
int levi_tokenizer_max_length(const levi_tokenizer *t) { return t->opt.max_length; }
int levi_tokenizer_pad_id(const levi_tokenizer *t) { return t->pad_id; }
int levi_tokenizer_cls_id(const levi_tokenizer *t) { return t->cls_id; }
int levi_tokenizer_sep_id(const levi_tokenizer *t) { return t->sep_id; }
int levi_tokenizer_unk_id(const levi_tokenizer *t) { return t->unk_id; }
const levi_tokenizer_options *levi_tokenizer_get_options(const levi_tokenizer *t) { return &t->opt; }

int levi_tokenizer_token_id(const levi_tokenizer *t, const char *token) {
    return token ? tok_lookup(t, token, strlen(token), 0) : -1;
}

const char *levi_tokenizer_token(const levi_tokenizer *t, int id) {
    return id >= 0 && id < t->n ? t->tokens[id] : NULL;
}
