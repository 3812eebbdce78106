#!/usr/bin/env python3
"""Write src/text/bert_unicode_compat.c: where Hugging Face `tokenizers`'
BertNormalizer / BertPreTokenizer disagree with utf8proc, code point by code
point.

levi-cl's WordPiece tokenizer takes every Unicode property from utf8proc
(general category, canonical decomposition, lower case). The Rust crate that
`tokenizers` uses for categories (unicode_categories 0.1.1) carries tables
from 2016, and its NFD and lower case come from other crates and the Rust
standard library, so a few hundred code points behave differently from what
utf8proc's Unicode 15 data says. This script probes the installed
`tokenizers` for every code point (one character at a time, in big batches),
computes what levi-cl's rules give from utf8proc (through ctypes), and writes
the differences as small tables:

  class overrides  ranges whose flags (removed as control / punctuation /
                   non-spacing mark) differ from utf8proc's categories
  strip overrides  code points whose NFD-then-drop-marks result differs
  lower overrides  code points whose lower case differs

Needs: pip install tokenizers (any recent version; the output records it),
and Debian's libutf8proc2 (the -dev package pulls it in).

  python3 tools/bert_unicode_compat.py --out src/text/bert_unicode_compat.c
"""
import argparse
import ctypes
import ctypes.util
import sys

import tokenizers
from tokenizers.normalizers import BertNormalizer
from tokenizers.pre_tokenizers import BertPreTokenizer

F_CTRL, F_PUNCT, F_MN = 1, 2, 4
CAT_MN, CAT_CC, CAT_CF, CAT_CO = 6, 26, 27, 29
CAT_P = range(12, 19)  # Pc Pd Ps Pe Pi Pf Po
DECOMPOSE = 1 << 4
WHITESPACE = {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029,
              0x202F, 0x205F, 0x3000}


def load_utf8proc():
    lib = ctypes.CDLL(ctypes.util.find_library("utf8proc") or "libutf8proc.so.2")
    lib.utf8proc_category.restype = ctypes.c_int
    lib.utf8proc_category.argtypes = [ctypes.c_int32]
    lib.utf8proc_tolower.restype = ctypes.c_int32
    lib.utf8proc_tolower.argtypes = [ctypes.c_int32]
    lib.utf8proc_decompose_char.restype = ctypes.c_ssize_t
    lib.utf8proc_decompose_char.argtypes = [ctypes.c_int32, ctypes.POINTER(ctypes.c_int32), ctypes.c_ssize_t,
                                            ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.utf8proc_unicode_version.restype = ctypes.c_char_p
    lib.utf8proc_version.restype = ctypes.c_char_p
    return lib


def utf8proc_flags(lib, c):
    """What levi-cl's rules give before overrides (src/text/bert_unicode.c)."""
    cat = lib.utf8proc_category(c)
    f = 0
    if cat in (CAT_CC, CAT_CF, CAT_CO) and c not in (0x09, 0x0A, 0x0D):
        f |= F_CTRL
    if cat in CAT_P or (c < 0x80 and chr(c) in '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'):
        f |= F_PUNCT
    if cat == CAT_MN:
        f |= F_MN
    return f


def utf8proc_nfd(lib, c):
    buf = (ctypes.c_int32 * 32)()
    last = ctypes.c_int(0)
    n = lib.utf8proc_decompose_char(c, buf, 32, DECOMPOSE, ctypes.byref(last))
    assert 0 < n <= 32, (c, n)
    return [buf[i] for i in range(n)]


def utf8proc_lower(lib, c):
    return [0x69, 0x307] if c == 0x130 else [lib.utf8proc_tolower(c)]


def code_points():
    return [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]


def batched_map(normalizer, cps, sep="|"):
    """normalize_str of every single code point; returns {c: output string}."""
    out = {}
    todo = [c for c in cps if chr(c) != sep]
    for i in range(0, len(todo), 50000):
        chunk = todo[i:i + 50000]
        pieces = normalizer.normalize_str(sep + sep.join(chr(c) for c in chunk) + sep).split(sep)
        assert len(pieces) == len(chunk) + 2, "a separator was changed"
        for c, p in zip(chunk, pieces[1:-1]):
            out[c] = p
    out[ord(sep)] = normalizer.normalize_str(sep)
    return out


def probe(cps):
    clean = batched_map(BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False,
                                       lowercase=False), cps)
    strip = batched_map(BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True,
                                       lowercase=False), cps)
    lower = batched_map(BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=False,
                                       lowercase=True), cps)
    # punctuation and white space: "a" c "a" for each c, 3 chars apart
    pre = BertPreTokenizer()
    punct, space = set(), set()
    for i in range(0, len(cps), 30000):
        chunk = cps[i:i + 30000]
        s = "".join("a" + chr(c) + "a" for c in chunk)
        spans = [off for _, off in pre.pre_tokenize_str(s)]
        isolated = set(spans)
        covered = set()
        for a, b in spans:
            covered.update(range(a, b))
        for j, c in enumerate(chunk):
            p = 3 * j + 1
            if (p, p + 1) in isolated:
                punct.add(c)
            elif p not in covered:
                space.add(c)
    return clean, strip, lower, punct, space


def ranges(items):
    """[(lo, hi, value)] from a sorted list of (code point, value)."""
    out = []
    for c, v in items:
        if out and out[-1][1] == c - 1 and out[-1][2] == v:
            out[-1][1] = c
        else:
            out.append([c, c, v])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    lib = load_utf8proc()
    cps = code_points()
    clean, strip, lower, punct, space = probe(cps)

    bad_space = sorted(c for c in space if c not in WHITESPACE) + sorted(c for c in WHITESPACE if c not in space)
    if bad_space:
        sys.exit("white space differs from levi-cl's fixed list at %s" % ", ".join("U+%04X" % c for c in bad_space))

    class_diff, strip_diff, lower_diff = [], [], []
    ref_flags = {}
    for c in cps:
        f = 0
        if clean[c] == "" and c not in (0, 0xFFFD):
            f |= F_CTRL
        if c in punct:
            f |= F_PUNCT
        if strip[c] == "" and utf8proc_nfd(lib, c) == [c]:
            f |= F_MN
        ref_flags[c] = f
    for c in cps:
        if c in (0, 0xFFFD):
            continue  # dropped before any category test
        # F_MN matters only for code points that NFD leaves alone; others are covered by strip_diff
        mine = utf8proc_flags(lib, c)
        if utf8proc_nfd(lib, c) != [c]:
            mine = (mine & ~F_MN) | (ref_flags[c] & F_MN)
        if mine != ref_flags[c]:
            class_diff.append((c, ref_flags[c]))
    diff_map = dict(class_diff)
    for c in cps:
        want = [ord(x) for x in strip[c]]
        nfd = utf8proc_nfd(lib, c)
        mine = []
        for d in nfd:
            f = diff_map.get(d, utf8proc_flags(lib, d))
            if not f & F_MN:
                mine.append(d)
        if mine != want:
            strip_diff.append((c, want))
        want = [ord(x) for x in lower[c]]
        if utf8proc_lower(lib, c) != want:
            lower_diff.append((c, want))
    for c, w in strip_diff + lower_diff:
        assert len(w) <= 4, (c, w)
    for c, w in strip_diff:  # levi-cl uses these as decompositions, then drops marks: none may be one
        assert not any(diff_map.get(d, utf8proc_flags(lib, d)) & F_MN for d in w), (c, w)

    cr = ranges(class_diff)
    with open(args.out, "w", encoding="ascii") as f:
        f.write("/* Generated by tools/bert_unicode_compat.py from tokenizers %s and utf8proc %s\n"
                " * (Unicode %s); do not edit. Where Hugging Face tokenizers' BertNormalizer and\n"
                " * BertPreTokenizer disagree with utf8proc, code point by code point: %d class ranges,\n"
                " * %d accent-stripping and %d lower-case exceptions. */\n"
                % (tokenizers.__version__, lib.utf8proc_version().decode(),
                   lib.utf8proc_unicode_version().decode(), len(cr), len(strip_diff), len(lower_diff)))
        f.write('#include "bert_unicode.h"\n\n')
        f.write('const char bert_compat_unicode_version[] = "%s";\n\n' % lib.utf8proc_unicode_version().decode())
        f.write("const bert_class_range bert_compat_class[] = {\n")
        for lo, hi, v in cr:
            f.write("    {0x%05X, 0x%05X, %d},\n" % (lo, hi, v))
        f.write("};\nconst int bert_compat_class_count = %d;\n\n" % len(cr))
        for name, diff in (("strip", strip_diff), ("lower", lower_diff)):
            f.write("const bert_map_entry bert_compat_%s[] = {\n" % name)
            for c, w in diff:
                f.write("    {0x%05X, %d, {%s}},\n" % (c, len(w), ", ".join("0x%05X" % x for x in w) or "0"))
            f.write("};\nconst int bert_compat_%s_count = %d;\n\n" % (name, len(diff)))
    print("wrote %s: %d class ranges (%d code points), %d strip, %d lower exceptions"
          % (args.out, len(cr), len(class_diff), len(strip_diff), len(lower_diff)))


if __name__ == "__main__":
    main()
