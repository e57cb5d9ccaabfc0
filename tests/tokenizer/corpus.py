#!/usr/bin/env python3
"""Deterministic test corpus for the SmolLM2 / Ouro byte-level BPE tokenizer.

Standard library only. Every string is a sequence of Unicode scalar values
(no surrogates), so it has a well-defined UTF-8 encoding.

Usage:
  python3 corpus.py            # JSON lines {"cat": ..., "hex": <utf-8 hex>} on stdout
  python3 corpus.py --stats    # number of strings per category
  python3 corpus.py --show CAT # print the strings of one category (repr), for eyeballing

gen_expected.js runs this script and turns its output into expected.tsv.

The hand-written sections do not depend on the Python version. The
'random-category' section samples code points by Unicode general category
using unicodedata, so its strings depend on unicodedata.unidata_version
(14.0.0 for Python 3.11, which produced the committed expected.tsv).
"""

import json
import random
import sys
import unicodedata

SEED = 20240607

CORPUS = []  # list of (category, text)


def add(cat, *texts):
    for t in texts:
        CORPUS.append((cat, t))


# ---------------------------------------------------------------------------
# empty
add("empty", "")

# ---------------------------------------------------------------------------
# English prose
PROSE = [
    "Hello world",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "the quick brown fox jumps over the lazy dog",
    "It was a bright cold day in April, and the clocks were striking thirteen.",
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the sunshine.",
    "Machine learning models are trained on large datasets to recognize patterns.",
    "A looped language model reuses the same stack of layers several times per token.",
    "Please summarize the following paragraph in two sentences or fewer.",
    "What is the capital of France? The capital of France is Paris.",
    "Supercalifragilisticexpialidocious is a very long word.",
    "Pneumonoultramicroscopicsilicovolcanoconiosis",
    "antidisestablishmentarianism",
    "I think, therefore I am.",
    "To be, or not to be: that is the question.",
    "Mr. Smith went to Washington D.C. on Jan. 5th, 2021 at 3:30 p.m.",
    "e.g. i.e. etc. vs. Dr. Mrs. Ph.D. U.S.A.",
    "She said, \"I'll be there at noon,\" and then she left.",
    "He replied: 'No way!' -- and walked off.",
    "Email me at john.doe@example.com or visit https://example.com/path?query=1&x=y#frag.",
    "The temperature was -5 degrees Celsius (23 degrees Fahrenheit).",
    "The price is $19.99, or EUR 17.50, or 2,500 yen.",
    "Tokenization splits text into subword units called tokens.",
    "camelCaseIdentifier snake_case_identifier kebab-case-identifier SCREAMING_SNAKE_CASE",
    "HTTPServerError XMLHttpRequest getHTTPResponseCode iPhone eBay McDonald's",
    "The year 1999 was followed by 2000, then 2001.",
    "Chapter 1: Introduction\n\nThis chapter introduces the main ideas.\n\nChapter 2: Methods",
    "First line\nSecond line\nThird line",
    "Line with trailing spaces   \nNext line",
    "   Leading spaces on this sentence.",
    "Trailing spaces on this sentence.   ",
    "Multiple    spaces    between    words.",
    "Tabs\tbetween\twords\tin\tthis\tsentence.",
    "Question? Answer! Exclamation!! Ellipsis... Interrobang?!",
    "A list: apples, oranges, bananas; and also pears.",
    "Bullet points:\n- one\n- two\n- three\n* four\n+ five",
    "1. First item\n2. Second item\n3. Third item\n10. Tenth item",
    "# Heading\n\n## Subheading\n\nSome **bold** and _italic_ and `code` text.",
    "> A block quote\n> spanning two lines",
    "| col1 | col2 |\n|------|------|\n| a    | b    |",
    "ALL CAPS SENTENCE WITH NUMBERS 123 AND SYMBOLS #@!",
    "lowercase words only here",
    "MiXeD cAsE wOrDs ArE fUn",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z",
    "A B C D E F G H I J K L M N O P Q R S T U V W X Y Z",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "abababababababababababababab",
    "the the the the the the the the",
    " the",
    "the ",
    " the ",
    "  the  ",
    "Hello",
    " Hello",
    "hello",
    " hello",
    "HELLO",
    " HELLO",
    "user",
    "assistant",
    "system",
]
add("prose-en", *PROSE)

# ---------------------------------------------------------------------------
# Code, with space and tab indentation
CODE = [
    "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
    "def f(x):\n\treturn x * 2\n",
    "class Foo:\n    def __init__(self, x: int = 0) -> None:\n        self.x = x\n\n    def __repr__(self):\n        return f\"Foo({self.x!r})\"\n",
    "import os, sys\nfrom typing import List, Dict\n\nif __name__ == \"__main__\":\n    main(sys.argv[1:])\n",
    "x = [i ** 2 for i in range(10) if i % 2 == 0]\nprint(x)  # [0, 4, 16, 36, 64]\n",
    "lambda x, y: x+y\n",
    "    \n    \n",
    "#include <stdio.h>\n\nint main(int argc, char **argv) {\n    printf(\"Hello, %s!\\n\", argv[0]);\n    return 0;\n}\n",
    "static inline float rmsnorm(float *o, const float *x, const float *w, int n) {\n\tfloat ss = 0.0f;\n\tfor (int j = 0; j < n; j++) {\n\t\tss += x[j] * x[j];\n\t}\n\treturn ss;\n}\n",
    "typedef struct {\n    int dim;\n    int n_layers;\n} Config;\n",
    "#define MAX(a,b) ((a)>(b)?(a):(b))\n#ifdef TESTING\n#endif\n",
    "if (x != NULL && *x == '\\0') { x++; } else if (y >= 0 || z <= -1) { y--; }",
    "a->b.c[0] = (int)*p++ << 3 | ~q & 0xFF ^ r >> 2;",
    "function add(a, b) {\n  return a + b;\n}\nconst sum = [1, 2, 3].reduce((acc, v) => acc + v, 0);\n",
    "const obj = { key: 'value', 'other-key': \"v2\", nested: { arr: [1, 2, 3] } };\nconsole.log(JSON.stringify(obj, null, 2));\n",
    "async function main() {\n\tconst res = await fetch(url);\n\tif (!res.ok) throw new Error(`HTTP ${res.status}`);\n}\n",
    "x === y && a !== b || c ?? d; a?.b?.c; i++; --j; a **= 2; b >>>= 1;",
    "fn main() {\n    let v: Vec<u32> = (0..10).map(|x| x * 2).collect();\n    println!(\"{:?}\", v);\n}\n",
    "impl<'a, T: Clone + Send> Foo<'a, T> where T: 'static {\n    pub fn new() -> Self { Self { } }\n}\n",
    "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfor i := 0; i < 3; i++ {\n\t\tfmt.Println(i)\n\t}\n}\n",
    "public class Main {\n    public static void main(String[] args) {\n        System.out.println(\"Hi\");\n    }\n}\n",
    "SELECT id, name, COUNT(*) AS n FROM users WHERE age >= 18 AND name LIKE 'A%' GROUP BY id ORDER BY n DESC LIMIT 10;",
    "#!/bin/bash\nset -euo pipefail\nfor f in *.txt; do\n  echo \"$f\" | tr 'a-z' 'A-Z' > \"${f%.txt}.out\"\ndone\n",
    "ls -la /tmp && cd ~/src && make -j4 2>&1 | tee build.log",
    "all: ouro\n\nouro: ouro.c\n\t$(CC) -O3 -o $@ $< -lm\n\nclean:\n\trm -f ouro\n",
    "<!DOCTYPE html>\n<html>\n  <head><title>Test</title></head>\n  <body>\n    <div class=\"main\" id='x'>Hello &amp; welcome</div>\n  </body>\n</html>\n",
    "{\"name\": \"ouro\", \"version\": \"1.0.0\", \"list\": [1, 2.5, -3e10, true, false, null], \"nested\": {\"a\": {}}}",
    "key: value\nlist:\n  - item1\n  - item2\nnested:\n  inner: 42\n",
    "[section]\nname = \"x\"\nvalue = 3.14\n",
    "\\begin{equation}\n  E = mc^2 \\quad \\frac{a}{b} \\sum_{i=0}^{n} x_i\n\\end{equation}",
    "^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+)@[a-z]+\\.[a-z]{2,}$",
    "<?php echo $x; ?>",
    "$ git commit -m \"fix: off-by-one in loop\"\n[main 1a2b3c4] fix: off-by-one in loop\n 1 file changed, 2 insertions(+), 1 deletion(-)",
    "diff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n@@ -1,3 +1,3 @@\n-int x = 1;\n+int x = 2;\n",
    "    def method(self):\n\t\tpass  # mixed tabs and spaces\n  \t  x = 1\n",
    "\t\t\tdeeply_tabbed()\n\t\t\t\t\tmore()\n",
    "                return value\n",
    "if x:\n\n\n    y()\n",
    "print('hello')\r\nprint('world')\r\n",
    "// comment\n/* block\n * comment\n */\n/** doc */",
    "-- SQL comment\n# shell comment\n; lisp comment\n% tex comment",
    "(defun square (x) (* x x))",
    "main = do\n  putStrLn \"Hello\"\n  let xs = [1..10] :: [Int]\n  print $ map (*2) xs\n",
    "a=1;b=2;c=a+b;d=c*2;e=d/3;f=e%4",
    "arr[i][j] += mat[k][l] * vec[m];",
    "0x1F 0b1010 0o777 1e-5 3.0f 10L 1_000_000 .5 5. 0.0",
    "__init__ __main__ _private __dunder__ ___",
    "self.assertEqual(foo(bar=1, *args, **kwargs), None)",
    "@decorator\ndef g(): ...\n",
    "x := <-ch; ch <- y; a &^= b",
    "std::vector<std::string> v{\"a\", \"b\"}; auto it = v.begin();",
    "template <typename T>\nT max(T a, T b) { return a > b ? a : b; }\n",
    "$$ \\int_0^1 x^2 \\, dx = \\frac{1}{3} $$",
]
add("code", *CODE)

# ---------------------------------------------------------------------------
# Whitespace of every kind and length
WS_CHARS = [
    ("sp", " "), ("tab", "\t"), ("lf", "\n"), ("cr", "\r"), ("crlf", "\r\n"),
    ("vt", "\x0b"), ("ff", "\x0c"), ("nbsp", "\u00a0"), ("ideo", "\u3000"),
    ("ls", "\u2028"), ("ps", "\u2029"), ("nel", "\u0085"), ("ogham", "\u1680"),
    ("emsp", "\u2003"), ("thin", "\u2009"), ("hair", "\u200a"), ("nnbsp", "\u202f"),
    ("mmsp", "\u205f"), ("enquad", "\u2000"),
]
for name, w in WS_CHARS:
    primary = name in ("sp", "tab", "lf")
    lengths = [1, 2, 3, 4, 5, 8, 16, 33] if primary else [1, 2]
    for n in lengths:
        r = w * n
        add("whitespace", r, "word" + r + "word", r + "word", "word" + r)
        if primary and n <= 3 or name in ("crlf", "nbsp", "ideo") and n <= 2:
            add("whitespace", "x" + r + "1", r + "42", "a" + r + "!", "a" + r + "<|im_end|>",
                "<|im_start|>" + r + "a", "1" + r + "2")
MIXED_WS = [
    " \n ", "\n \n", " \n", "\n ", " \t", "\t ", " \t\n", "\n\t", "\t\n", "\r\n\r\n",
    "\n\n\n", "\n\n", " \n\n ", "  \n  ", "\t\t", "\t \t \t", " \r\n", "\r\n ",
    "a \nb", "a\n b", "a \n b", "a  \n  b", "a\n\n b", "a \n\n b", "a\t\n\tb",
    "foo \t bar", "foo\t \tbar", "foo  \t  bar", "x \u00a0 y", "x\u00a0 y", "x \u00a0y",
    "x \u3000y", "x\u3000 y", "end.\n", "end.\n\n", "end. ", "end.  ", " .", "  .",
    "   .", " ,", "  ,", "\n.", "\n\n.", "\t.", " (", "  (", " 'a", "  'a",
    " 's", "  's", "\n's", " \u00e9", "  \u00e9", " \u4e2d", "  \u4e2d",
    " \U0001F600", "  \U0001F600", "\u00a0\u00a0word", "word\u00a0\u00a0",
    " \u00a0word", "\u00a0 word", " \u2028 ", "\u2029\n", "\r\r\n\n",
    "   \t   \n   \r\n   ", "\n" * 10 + "x", "x" + "\n" * 10, " " * 100,
    "\t" * 40, "\n" * 64, " \n" * 20, "\r\n" * 20, "word " * 20,
]
add("whitespace", *MIXED_WS)

# zero-width and other invisible characters: not \s, not letters
ZW = [
    ("zwsp", "\u200b"), ("zwnj", "\u200c"), ("zwj", "\u200d"), ("wj", "\u2060"),
    ("bom", "\ufeff"), ("shy", "\u00ad"), ("lrm", "\u200e"), ("rlm", "\u200f"),
    ("mvs", "\u180e"), ("cgj", "\u034f"), ("fs", "\x1c"), ("gs", "\x1d"),
    ("rs", "\x1e"), ("us", "\x1f"), ("nul", "\x00"), ("del", "\x7f"),
]
for name, z in ZW:
    add("zero-width", z, "a" + z + "b", z + z + "word", "word" + z + z, " " + z + " ",
        "1" + z + "2", z + " word")

# ---------------------------------------------------------------------------
# Numbers
NUMBERS = [
    "0", "1", "9", "10", "42", "100", "123", "1234", "12345", "123456789",
    "0000000000", "3141592653589793238462643383279502884197169399375105820974944592",
    "1" * 200, "9876543210" * 10,
    "3.14", "3.14159", "-42", "+7", "-0.001", "1e10", "6.022e23", "1.5E-9",
    "1,000", "1,000,000", "1.000.000,50", "10'000'000", "1 000 000",
    "$100", "$1,234.56", "50%", "99.9%", "#1", "No. 5", "5th", "21st", "2nd", "3rd",
    "abc123def", "123abc", "abc123", "a1b2c3d4", "x86_64", "v1.2.3", "GPT4", "COVID-19",
    "2024-01-01", "12:30:45", "2024-01-01T12:30:45Z", "192.168.0.1", "+1 (555) 123-4567",
    "1/2", "3/4", "10/10", "1:1", "1-2", "1+1=2", "2*3=6", "7^2=49", "10**3",
    " 1", "  1", " 12", "  12", "a 1", "a  1", "1 a", "1  a", "1 ", "1  ",
    "x 123 y", "(1)", "[42]", "{7}", "'1'", "\"2\"", "1.", ".1", "1..2", "1...",
    "\u00b2", "\u00b3", "\u00b9", "x\u00b2", "x\u00b2+y\u00b2=z\u00b2", "m\u00b2", " \u00b2",
    "10\u00b3", "\u2070\u2074\u2075\u2076\u2077\u2078\u2079",
    "H\u2082O", "CO\u2082", "\u2080\u2081\u2082",
    "\u00bd", "\u00bc", "\u00be", "1\u00bd", "2 \u00bd cups", "\u2153\u2154\u215b",
    "\u2160", "\u2161", "\u216b", "\u2170\u2171\u2172", "Chapter \u2163", "Louis XIV", "\u216bth",
    "\u2460\u2461\u2462", "\u2776\u2777", "\u24ea", "\u2474",
    "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669", "\u0663",
    "\u06f0\u06f1\u06f2\u06f3\u06f4", "\u0967\u0968\u0969", "\u0e51\u0e52\u0e53",
    "\u09e6\u09e7", "\u0be7\u0bf0\u0bf1", "\u1369\u136a", "\u17e0\u17e1",
    "\uff11\uff12\uff13", "\uff10", "abc\uff11\uff12\uff13",
    "\u3007", "\u4e00\u4e8c\u4e09", "\u3021\u3022", "\U0001D7CE\U0001D7CF", "\U0001D7D8",
    "\U00010107", "\U0001F100", "\U0001F101", "\u2189", "\u2150",
    "1\ufe0f\u20e3", "#\ufe0f\u20e3", "3\u20e3",
    "\u00b2\u00b2\u00b2", "\u00bd\u00bd", "a\u00b2b", "\u00b2a",
    "\u0661\u0662 abc", "12\u0663", "\uff11a",
]
add("numbers", *NUMBERS)

# ---------------------------------------------------------------------------
# Punctuation clusters
PUNCT = [
    "!", "?", ".", ",", ";", ":", "!!!", "???", "!!!???", "?!?!", "...", "..", "....",
    "......", "\u2026", "--", "---", "--->", "<---", "<-->", "=>", "->", "<=", ">=",
    "==", "===", "!==", "!=", "''", "'", "\"", "\"\"", "\"\"\"", "'''", "``", "```",
    "```python\nprint(1)\n```", "(", ")", "()", "[]", "{}", "<>", "[[", "]]", "{{", "}}",
    "((()))", "@@", "##", "###", "####", "$$", "%%", "^^", "&&", "||", "**", "__",
    "~~", "//", "\\\\", "/*", "*/", "<!--", "-->", "<|", "|>", "<||>", "::", ";;",
    "?.", "!.", ".,", ",.", "\u2014", "\u2013", "\u2014\u2014", "\u201cquoted\u201d",
    "\u2018single\u2019", "\u00abguillemets\u00bb", "\u300c\u300d", "\u3001\u3002",
    "\u00bf\u00a1", "\u00bfQu\u00e9?", "\u00a1Hola!", "\u00b7", "\u2022", "\u00a7\u00b6",
    "\u2020\u2021", "\u2030", "#$%&*+-/<=>@^_`|~", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "a.b", "a,b", "a!b", "a-b", "a_b", "a/b", "a\\b", "a|b", "a:b", "a;b", " !", " !!",
    "  !!", "word!!!", "word...", "word?!", "(word)", "[word]", "\"word\"", "'word'",
    " 'word'", "`word`", "*word*", "**word**", "_word_", "<word>", "</word>", "<|word|>",
    "...word", "word.", " - ", " -- ", " --- ", "\u00a9 2024", "\u00ae\u2122",
    "\u20ac\u00a3\u00a5\u20b9\u20bd\u20a9", "+-\u00d7\u00f7=\u2260\u2264\u2265\u00b1",
    "\u2200x\u2203y: x\u2208A \u2227 y\u2209B \u21d2 \u00acP", "\u2192\u2190\u2191\u2193\u21d4",
]
add("punctuation", *PUNCT)

# ---------------------------------------------------------------------------
# Contractions, both cases, and apostrophes in odd places
CONTR = [
    "don't", "Don't", "DON'T", "doN'T", "I'm", "I'M", "i'm", "we'll", "we'LL", "We'Ll",
    "they're", "THEY'RE", "they'Re", "you've", "YOU'VE", "he'd", "HE'D", "it's", "IT'S",
    "it'S", "can't", "won't", "shouldn't've", "y'all", "o'clock", "rock'n'roll",
    "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'VE", "'M", "'LL",
    "'D", "'x", "'", "''s", "'''s", " 's", " 'll", "'sa", "'ss", "'tis", "'twas",
    "John's book", "JOHN'S BOOK", "the dogs' toys", "rock 'n' roll", "'quoted'",
    "it\u2019s", "don\u2019t", "I\u2019M", "\u2018s", "a's b't c're d've e'm f'll g'd",
    "1's", "90's", "'90s", "x'sy", "l'homme", "aujourd'hui", "can'tn't",
    "'s's's", "s''", "I'd've", "'d've",
]
add("contractions", *CONTR)

# ---------------------------------------------------------------------------
# Scripts
SCRIPTS = [
    # Latin with diacritics (NFC and NFD)
    "caf\u00e9", "cafe\u0301", "na\u00efve r\u00e9sum\u00e9 fa\u00e7ade co\u00f6perate",
    "\u00c0 bient\u00f4t, \u00e7a va tr\u00e8s bien!", "Stra\u00dfe \u00fcber \u00c4rger \u00d6l",
    "\u1e9e", "\u0141\u00f3d\u017a \u017c\u00f3\u0142\u0107 \u0119\u0105",
    "\u010ce\u0161tina: p\u0159\u00edli\u0161 \u017elu\u0165ou\u010dk\u00fd k\u016f\u0148",
    "Ti\u1ebfng Vi\u1ec7t c\u00f3 d\u1ea5u", "Ti\u00ea\u0301ng Vi\u00ea\u0323t",
    "\u00c5ngstr\u00f6m", "A\u030angstro\u0308m", "\u00f1 \u00d1 n\u0303",
    "\u0131 \u0130 i\u0307", "\ufb01\ufb02 \ufb00", "\u01c4\u01c5\u01c6",
    "\u00e6\u00f8\u00e5 \u00c6\u00d8\u00c5", "\u0111\u0110 \u0127\u0126",
    # Greek
    "\u039a\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1 \u03ba\u03cc\u03c3\u03bc\u03b5",
    "\u0391\u0392\u0393\u0394 \u03b1\u03b2\u03b3\u03b4 \u03c3\u03c2",
    "\u1f08\u03b8\u03ae\u03bd\u03b1\u03b9", "\u03b1\u0301\u03b2",
    # Cyrillic
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!",
    "\u0421\u044a\u0435\u0448\u044c \u0436\u0435 \u0435\u0449\u0451 \u044d\u0442\u0438\u0445 \u043c\u044f\u0433\u043a\u0438\u0445 \u0444\u0440\u0430\u043d\u0446\u0443\u0437\u0441\u043a\u0438\u0445 \u0431\u0443\u043b\u043e\u043a",
    "\u0423\u043a\u0440\u0430\u0457\u043d\u0430 \u0491\u0454\u0456",
    "\u0439 \u0438\u0306",
    # Arabic / Hebrew / Persian (RTL)
    "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "\u0627\u0644\u0633\u064e\u0651\u0644\u064e\u0627\u0645\u064f \u0639\u064e\u0644\u064e\u064a\u0652\u0643\u064f\u0645\u0652",
    "\u0627\u0644\u0639\u062f\u062f \u0664\u0665 \u0648 45",
    "\u0634\u0644\u0627\u0645 \u062f\u0646\u06cc\u0627",
    "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd",
    "\u05e9\u05b8\u05c1\u05dc\u05d5\u05b9\u05dd",
    "\u0645\u0631\u062d\u0628\u0627 hello \u05e9\u05dc\u05d5\u05dd",
    # Indic: combining marks everywhere
    "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",
    "\u0939\u093f\u0928\u094d\u0926\u0940 \u092d\u093e\u0937\u093e",
    "\u0915\u094d\u0937\u0924\u094d\u0930\u093f\u092f",
    "\u0905\u0902\u0917\u094d\u0930\u0947\u091c\u093c\u0940",
    "\u09ac\u09be\u0982\u09b2\u09be \u09ad\u09be\u09b7\u09be",
    "\u0ba4\u0bae\u0bbf\u0bb4\u0bcd",
    "\u0c24\u0c46\u0c32\u0c41\u0c17\u0c41",
    "\u0a2a\u0a70\u0a1c\u0a3e\u0a2c\u0a40",
    "\u0d2e\u0d32\u0d2f\u0d3e\u0d33\u0d02",
    # Thai / Lao / Khmer / Myanmar
    "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a",
    "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22\u0e44\u0e21\u0e48\u0e21\u0e35\u0e0a\u0e48\u0e2d\u0e07\u0e27\u0e48\u0e32\u0e07",
    "\u0ea5\u0eb2\u0ea7", "\u1781\u17d2\u1798\u17c2\u179a", "\u1019\u103c\u1014\u103a\u1019\u102c",
    # CJK
    "\u4f60\u597d\uff0c\u4e16\u754c\uff01",
    "\u4eca\u5929\u5929\u6c14\u5f88\u597d\u3002\u6211\u4eec\u53bb\u516c\u56ed\u5427\u3002",
    "\u4e2d\u6587 English \u6df7\u5408 mixed",
    "\u6f22\u5b57\u3068\u4eee\u540d",
    "\U00020000\U0002a6d6\U0002b740",
    # Japanese
    "\u3053\u3093\u306b\u3061\u306f\u4e16\u754c",
    "\u30ab\u30bf\u30ab\u30ca\u3068\u3072\u3089\u304c\u306a",
    "\u6771\u4eac\u306f\u65e5\u672c\u306e\u9996\u90fd\u3067\u3059\u3002",
    "\uff76\uff80\uff76\uff85 \u30fc\u30fc",
    "\u304b\u3099 \u304c",
    # Korean (precomposed and conjoining jamo)
    "\uc548\ub155\ud558\uc138\uc694 \uc138\uacc4",
    "\ud55c\uad6d\uc5b4\ub294 \uc7ac\ubbf8\uc788\uc5b4\uc694!",
    "\u1112\u1161\u11ab\u1100\u1173\u11af",
    # Others
    "\u10e5\u10d0\u10e0\u10d7\u10e3\u10da\u10d8",
    "\u0540\u0561\u0575\u0565\u0580\u0565\u0576",
    "\u12a0\u121b\u122d\u129b",
    "\u0f56\u0f7c\u0f51\u0f0b\u0f61\u0f72\u0f42",
    "\u13e3\u13b3\u13a9",
    "\u1403\u14c4\u1483\u144e\u1450\u1466",
    "\u16a0\u16a2\u16a6\u16ab\u16b1\u16b2",
    "\u0d9c\u0dd2\u0d82\u0dc4\u0dbd",
    "\U00010330\U00010331\U00010332",
    "\U00013000\U00013001",
    "\U0001d11e \U0001d400\U0001d401",
    "\u1820\u1821\u1822",
    "\u07ca\u07cb\u07cc",
]
add("scripts", *SCRIPTS)

# ---------------------------------------------------------------------------
# Emoji
EMOJI = [
    "\U0001F600", "\U0001F600\U0001F601\U0001F602", "Hello \U0001F44B world",
    "\U0001F44B", "\U0001F44B\U0001F3FB", "\U0001F44B\U0001F3FF", "\U0001F44D\U0001F3FD",
    "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466",
    "\U0001F468\U0001F3FE\u200d\U0001F4BB", "\U0001F3F3\ufe0f\u200d\U0001F308",
    "\U0001F3F4\u200d\u2620\ufe0f", "\u2764\ufe0f", "\u2764", "\u2764\ufe0f\u200d\U0001F525",
    "\U0001F1FA\U0001F1F8", "\U0001F1EF\U0001F1F5\U0001F1EB\U0001F1F7", "\U0001F1FA",
    "\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F",
    "\u263a", "\u263a\ufe0f", "\u2600\ufe0e", "\u00a9\ufe0f",
    "\U0001F9D1\u200d\U0001F91d\u200d\U0001F9D1", "\U0001FAE0", "\U0001FAF6\U0001F3FC",
    "I \u2764\ufe0f NY", "great job!\U0001F389\U0001F389", "\U0001F525\U0001F525\U0001F525 fire",
    "\U0001F914 hmm... \U0001F937\u200d\u2642\ufe0f", "emoji\U0001F600word", "123\U0001F600456",
    " \U0001F600", "\U0001F600 ", "\u2728\u2b50\U0001F31F", "\u231a\u231b\u23f0",
    "\U0001F0CF\U0001F004", "\U0001F170\ufe0f", "\U0001F4AF",
]
add("emoji", *EMOJI)

# ---------------------------------------------------------------------------
# Mixed scripts
MIXED = [
    "Hello \u4e16\u754c \u041f\u0440\u0438\u0432\u0435\u0442 \u0645\u0631\u062d\u0628\u0627 \U0001F30D",
    "abc\u4e2d\u6587def", "\u4e2d\u6587abc\u65e5\u672c\u8a9e", "Tokyo\u6771\u4eac2024\u5e74",
    "\u0445\u0435\u043b\u043b\u043eworld", "caf\u00e9\u041c\u041e\u0421\u041a\u0412\u0410",
    "x\u0301y\u0302z", "\u0928\u092eabc\u0938\u094d\u0924\u0947", "abc\u0e44\u0e17\u0e22",
    "\u03b1\u03b2\u03b3abc\u0391\u0392\u0393", "I said \u201c\u3053\u3093\u306b\u3061\u306f\u201d to \u00c9lodie.",
    "Price: \u00a5500 / \u20ac4.50 / \u20b9350", "\uac00\u00e9a\u3042\u0430",
    "The word \u05e9\u05dc\u05d5\u05dd means peace", "\U0001F600\u4e2d\U0001F600a\U0001F600",
    "R\u00e9sum\u00e9:\t\u65e5\u672c\u8a9e\u30ec\u30d9\u30eb N1\n\u2022 Python, C++",
]
add("mixed-scripts", *MIXED)

# ---------------------------------------------------------------------------
# Special tokens inside text
SPECIALS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<repo_name>", "<reponame>",
    "<file_sep>", "<filename>", "<gh_stars>", "<issue_start>", "<issue_comment>",
    "<issue_closed>", "<jupyter_start>", "<jupyter_text>", "<jupyter_code>",
    "<jupyter_output>", "<jupyter_script>", "<empty_output>",
]
add("specials", *SPECIALS)
add("specials",
    "<|im_start|>user\nhi<|im_end|>",
    "hello<|endoftext|>world", "hello <|endoftext|> world", "hello  <|endoftext|>  world",
    "<|endoftext|><|endoftext|>", "<|endoftext|> <|endoftext|>", "<|endoftext|>\n<|endoftext|>",
    "word<|im_end|>", "word <|im_end|>", "<|im_end|>word", "<|im_end|> word", "<|im_end|>\n",
    "<|im_start|>", "<|im_start", "im_start|>", "<|im_start|", "|im_start|>", "<|im_end",
    "<|endoftext", "<|endoftext|", "endoftext", "<|im_start|>>", "<<|im_start|>",
    "<|<|im_start|>|>", "<|IM_START|>", "<|Im_Start|>", "< |im_start|>", "<| im_start |>",
    "<|im_start |>", "<|im_sta rt|>", "<|im-start|>", "<im_start>", "<|im_start|>\u200b",
    "x<|im_start|>y<|im_end|>z", "1<|endoftext|>2", "!<|endoftext|>!",
    "\U0001F600<|endoftext|>\U0001F600", "\u4e2d<|im_end|>\u6587",
    "<filename>src/main.c<file_sep>int main(){}", "<reponame>user/repo<gh_stars>100",
    "<jupyter_code>print(1)<jupyter_output>1<empty_output>",
    "<issue_start>Bug: crash<issue_comment>Fixed.<issue_closed>",
    "<repo_name> <reponame> <filename>", "<repo_name><reponame>", "<repo_name",
    "<|im_end|><|im_start|>", "<|endoftext|>" * 5, "  <|im_start|>  ",
    "\n<|im_start|>\n", "\t<|im_end|>\t", "don't<|im_end|>'s", "<|im_end|>'s",
    "123<|im_end|>456", "<|im_start|>system\n", "<|im_start|>assistant\n",
    "</s>", "<s>", "[INST]", "<unk>", "<pad>", "<|begin_of_text|>", "<|eot_id|>",
    "<|endoftext|>" + "a" * 10, "<<<|endoftext|>>>",
)

# ---------------------------------------------------------------------------
# Chat-formatted strings (ChatML)
def chat(msgs, gen=False):
    s = "".join("<|im_start|>%s\n%s<|im_end|>\n" % (r, c) for r, c in msgs)
    if gen:
        s += "<|im_start|>assistant\n"
    return s


CHATS = [
    chat([("user", "Hello!")], True),
    chat([("system", "You are a helpful assistant."), ("user", "What is 2+2?")], True),
    chat([("system", "You are a helpful assistant."), ("user", "What is 2+2?"),
          ("assistant", "2 + 2 = 4.")]),
    chat([("user", "Translate to French: I love cheese."),
          ("assistant", "J'adore le fromage."), ("user", "And to German?")], True),
    chat([("user", "Write a Python function that reverses a string."),
          ("assistant", "```python\ndef reverse(s: str) -> str:\n    return s[::-1]\n```")]),
    chat([("user", "\u4f60\u597d\uff01\u4f60\u662f\u8c01\uff1f"),
          ("assistant", "\u6211\u662f\u4e00\u4e2a\u4eba\u5de5\u667a\u80fd\u52a9\u624b\u3002")]),
    chat([("user", "  leading and trailing spaces  ")], True),
    chat([("user", "")], True),
    chat([("user", "Tell me a joke \U0001F602")], True),
    chat([("user", "List three colors.\n"), ("assistant", "1. Red\n2. Green\n3. Blue")], True),
    chat([("system", "Answer briefly."), ("user", "Why is the sky blue?"),
          ("assistant", "Rayleigh scattering: shorter wavelengths scatter more."),
          ("user", "And sunsets?"),
          ("assistant", "Light travels through more air, so blues scatter out, leaving reds."),
          ("user", "Thanks!")], True),
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nHello! How can I help you today?<|im_end|>",
    "<|im_start|>user\nWhat's   the weather?\n\n\n<|im_end|>",
]
add("chat", *CHATS)

# ---------------------------------------------------------------------------
# Long strings (a few KB)
rng_long = random.Random(SEED + 1)
LONG = [
    " ".join(PROSE) * 3,
    "\n".join(CODE),
    "".join(MIXED) * 4,
    "x" * 3000,
    "ab" * 1500,
    "7" * 3000,
    " " * 2000,
    "\n" * 1000 + "end",
    "\U0001F600" * 800,
    "\u4e2d\u6587" * 700,
    "\u0928\u092e\u0938\u094d\u0924\u0947 " * 300,
    chat([("user", " ".join(PROSE)), ("assistant", "\n".join(CODE))]) * 2,
    "".join(rng_long.choice(["the ", "a ", "cat ", "sat ", "on ", "mat. ", "\n", "42 ", "!", "don't "])
            for _ in range(1200)),
]
add("long", *LONG)

# ---------------------------------------------------------------------------
# Single characters: every code point U+0000..U+00FF, then one or more of
# each general category and UTF-8 length.
for c in range(0x100):
    add("single-latin1", chr(c))
SINGLES = [
    0x0100, 0x017F, 0x0180, 0x01C5, 0x0250, 0x02B0, 0x02C6, 0x0300, 0x0301, 0x0345,
    0x0370, 0x0378, 0x037E, 0x0391, 0x0400, 0x0483, 0x0488, 0x0531, 0x05BE, 0x05D0,
    0x0600, 0x0610, 0x0620, 0x064B, 0x06DD, 0x0700, 0x07FF, 0x0800, 0x0903, 0x093C,
    0x0966, 0x0E01, 0x0E3F, 0x0F00, 0x10A0, 0x1100, 0x1160, 0x11A8, 0x1200, 0x13A0,
    0x16EE, 0x1800, 0x1AB0, 0x1D00, 0x1E00, 0x1F00, 0x1FBC, 0x2000, 0x200B, 0x2010,
    0x2028, 0x2030, 0x203C, 0x2044, 0x2066, 0x2070, 0x20A0, 0x20AC, 0x20D0, 0x20DD,
    0x2100, 0x2102, 0x2122, 0x2135, 0x2150, 0x2160, 0x2190, 0x2200, 0x2300, 0x2460,
    0x2500, 0x25A0, 0x2600, 0x2700, 0x27E6, 0x2800, 0x2C00, 0x2E80, 0x3000, 0x3001,
    0x3005, 0x3006, 0x3007, 0x3021, 0x3031, 0x3041, 0x3099, 0x30A1, 0x30FC, 0x3131,
    0x3190, 0x3200, 0x3220, 0x3280, 0x3400, 0x4DC0, 0x4E00, 0x9FFF, 0xA000, 0xA4D0,
    0xA640, 0xA830, 0xAC00, 0xD7A3, 0xD7FF, 0xE000, 0xF8FF, 0xF900, 0xFB1D, 0xFB50,
    0xFDFA, 0xFDD0, 0xFE00, 0xFE0F, 0xFE30, 0xFE50, 0xFEFF, 0xFF01, 0xFF10, 0xFF21,
    0xFF41, 0xFF5F, 0xFF61, 0xFF65, 0xFFE0, 0xFFF9, 0xFFFC, 0xFFFD, 0xFFFE, 0xFFFF,
    0x10000, 0x10100, 0x10140, 0x10300, 0x10400, 0x1047F, 0x10A40, 0x11000, 0x12000,
    0x12400, 0x13000, 0x16800, 0x1B000, 0x1D100, 0x1D165, 0x1D400, 0x1D7CE, 0x1E800,
    0x1EE00, 0x1F000, 0x1F100, 0x1F1E6, 0x1F300, 0x1F3FB, 0x1F600, 0x1F900, 0x1FA70,
    0x1FBF0, 0x1FFFF, 0x20000, 0x2A6DF, 0x2F800, 0x30000, 0x3134A, 0x3FFFD, 0xE0001,
    0xE0020, 0xE0100, 0xEFFFF, 0xF0000, 0xFFFFD, 0x100000, 0x10FFFD, 0x10FFFF,
]
for c in SINGLES:
    add("single-other", chr(c))

# ---------------------------------------------------------------------------
# Characters added in Unicode 15.0, 15.1, 16.0 and 17.0. In the reference
# library the split regex (Oniguruma) follows Unicode 16.0 for \p{L} and
# \p{N}, while the Digits pre-tokenizer (Rust char::is_numeric) follows
# Unicode 17.0; Python 3.11's unicodedata is 14.0. Each one is shown alone, between letters, doubled and
# after a space, since letters join words, digits split one by one, and the
# rest groups as punctuation.
NEW = [
    0x11F04,  # KAWI LETTER A (15.0, Lo)
    0x11F50,  # KAWI DIGIT ZERO (15.0, Nd)
    0x1E4D0,  # NAG MUNDARI LETTER O (15.0, Lo)
    0x1E4F0,  # NAG MUNDARI DIGIT ZERO (15.0, Nd)
    0x1D2C0,  # KAKTOVIK NUMERAL ZERO (15.0, No)
    0x31350,  # CJK EXT H (15.0, Lo)
    0x1F6DC,  # WIRELESS (15.0, So)
    0x0CF3,   # KANNADA SIGN COMBINING ANUSVARA ABOVE RIGHT (15.0, Mc)
    0x2EBF0,  # CJK EXT I (15.1, Lo)
    0x2FFC,   # IDEOGRAPHIC DESCRIPTION CHARACTER (15.1, So)
    0x10D50,  # GARAY CAPITAL LETTER A (16.0, Lu)
    0x10D40,  # GARAY DIGIT ZERO (16.0, Nd)
    0x1E5D0,  # OL ONAL LETTER O (16.0, Lo)
    0x1E5F1,  # OL ONAL DIGIT ZERO (16.0, Nd)
    0x11BC0,  # SUNUWAR LETTER DEVI (16.0, Lo)
    0x11BF0,  # SUNUWAR DIGIT ZERO (16.0, Nd)
    0x16D70,  # KIRAT RAI DIGIT ZERO (16.0, Nd)
    0x1CCF0,  # OUTLINED DIGIT ZERO (16.0, Nd)
    0x116D0,  # MYANMAR PAO DIGIT ZERO (16.0, Nd)
    0x1C89,   # CYRILLIC CAPITAL LETTER TJE (16.0, Lu)
    0xA7CB,   # LATIN CAPITAL LETTER RAMS HORN (16.0, Lu)
    0x18D00,  # TANGUT IDEOGRAPH SUPPLEMENT (13.0, Lo)
    0x11DE0,  # TOLONG SIKI DIGIT ZERO (17.0, Nd): a number to char::is_numeric
    0x11DE9,  # TOLONG SIKI DIGIT NINE (17.0)
    0x16FF4,  # YANGQIN SIGN SLOW ONE BEAT (17.0, Nl)
    0x10940,  # SIDETIC LETTER N01 (17.0, Lo; unassigned in 16.0)
    0x323B0,  # CJK EXT J (17.0, Lo; unassigned in 16.0)
    0x16EA0,  # BERIA ERFE CAPITAL LETTER ARKAB (17.0, Lu; unassigned in 16.0)
    0x0378,   # unassigned
]
for c in NEW:
    ch = chr(c)
    add("unicode-new", ch, "a" + ch + "b", ch + ch, " " + ch + ch, "1" + ch + "2")

# ---------------------------------------------------------------------------
# UTF-8 length boundaries and byte-level oddities
BOUND = [
    "\x7f\x80", "\u07ff\u0800", "\uffff\U00010000", "\U0010ffff",
    "\x00", "\x00\x00", "a\x00b", "\x01\x02\x03\x04\x05\x06\x07\x08",
    "\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b",
    "\x1b[31mred\x1b[0m", "\x80\x81\x9f", "\u00ff\u0100",
    "\ufffd", "\ufffd\ufffd", "a\ufffdb", "\ufeffHello",
    "\u0100\u0101\u0102\u0103\u0104\u0105\u0106\u0107\u0108\u0109\u010a\u010b\u010c\u010d\u010e\u010f"
    "\u0110\u0111\u0112\u0113\u0114\u0115\u0116\u0117\u0118\u0119\u011a\u011b\u011c\u011d\u011e\u011f"
    "\u0120\u0121\u0122\u0123",
    "\u0120\u010a", "\u0120hello", "\u010a\u0109",
    "e\u0301\u0301\u0301\u0301", "\u0301", "\u0301a", " \u0301", "\u0301\u0302\u0303",
    "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u036b",
    "\u20dd", "a\u20dd", "\u0488\u0489",
]
add("bytes-edge", *BOUND)

# A few byte values have no token of their own in this vocabulary; the BPE
# model drops them before merging, so their neighbours can merge. Control
# characters among U+0000..U+001F and 4-byte characters in planes 4..11
# (UTF-8 lead bytes F1, F2) exercise that; planes 12..16 (lead bytes F3, F4)
# and planes 1..3 (F0) are the contrast.
UNMAPPED = []
for c in "\x04\x06\x13\x14\x16\x1d\x05\x15":
    UNMAPPED += ["!" + c + "!", "." + c + ".", c + c, "a" + c + "b", " " + c + "x",
                 "\n" + c + "\n", "ab" + c + "cd"]
for c in (0x40000, 0x4FFFD, 0x7FFFF, 0x80000, 0xABCDE, 0xBFFFF, 0xC0000, 0xE0000,
          0x100000, 0x30000, 0x3FFFF):
    ch = chr(c)
    UNMAPPED += [ch, ch + ch, "a" + ch + "b", " " + ch]
add("unmapped-bytes", *UNMAPPED)

# ---------------------------------------------------------------------------
# Seeded random strings mixing everything above
rng = random.Random(SEED)
FRAGS = [
    "the", " the", "The", " quick", " brown", "fox", "don't", " I'M", " we'LL", "'s",
    " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\u00a0", "\u3000", "\u2028",
    "\u200b", "\u200d", "0", "7", "42", "3.14", "1,000", "\u00b2", "\u00bd", "\u2167",
    "\u0663", "\uff15", "!", "?", "...", "--->", "''", "\"", "(", ")", "{", "}", ";",
    "caf\u00e9", "e\u0301", "\u03b1\u03b2\u03b3", "\u043f\u0440\u0438", "\u0645\u0631",
    "\u05e9\u05dc", "\u0928\u092e\u0938\u094d", "\u093f", "\u0e44\u0e17\u0e22",
    "\u4e2d\u6587", "\u3042\u30a2", "\ud55c\uae00", "\U0001F600", "\U0001F44B\U0001F3FD",
    "\U0001F468\u200d\U0001F469\u200d\U0001F467", "\U0001F1FA\U0001F1F8", "\u2764\ufe0f",
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<filename>", "<|im_", "|>",
    "def", " return", "    ", "\t\t", "x=1;", "==", "->", "abc123", "\U00020000",
    "\U0001D7CE", "\U00011F04", "\U00010D40", "\x00", "\x1c", "\u0085",
]
for i in range(120):
    n = rng.randint(1, 40)
    add("random-mix", "".join(rng.choice(FRAGS) for _ in range(n)))

# ---------------------------------------------------------------------------
# Random code points per general category, and uniformly over all scalar values
rngc = random.Random(SEED + 2)
POOLS = {}
for c in range(0x110000):
    if 0xD800 <= c <= 0xDFFF:
        continue
    POOLS.setdefault(unicodedata.category(chr(c)), []).append(c)
SEPS = [" ", "a", "1", "!", "\n", "  ", "Z", "\u00e9"]
for cat in sorted(POOLS):
    pool = POOLS[cat]
    for k in range(4):
        n = rngc.randint(1, 12)
        cps = [rngc.choice(pool) for _ in range(n)]
        if k >= 2:  # sprinkle separators to exercise boundaries
            out = []
            for cp in cps:
                out.append(chr(cp))
                if rngc.random() < 0.5:
                    out.append(rngc.choice(SEPS))
            s = "".join(out)
        else:
            s = "".join(map(chr, cps))
        add("random-category", s)


def rand_scalar(r, lo, hi):
    while True:
        c = r.randint(lo, hi)
        if not (0xD800 <= c <= 0xDFFF):
            return c


for lo, hi, count in [(0, 0x7F, 8), (0x80, 0x7FF, 8), (0x800, 0xFFFF, 12),
                      (0x10000, 0x10FFFF, 12), (0, 0x10FFFF, 20), (0, 0x2FFFF, 12)]:
    for _ in range(count):
        n = rngc.randint(1, 24)
        add("random-range", "".join(chr(rand_scalar(rngc, lo, hi)) for _ in range(n)))

# ---------------------------------------------------------------------------
# Deduplicate (first occurrence wins), check validity


def corpus():
    seen = set()
    out = []
    for cat, t in CORPUS:
        if t in seen:
            continue
        seen.add(t)
        for ch in t:
            assert not (0xD800 <= ord(ch) <= 0xDFFF), (cat, t)
        out.append((cat, t))
    return out


def main(argv):
    items = corpus()
    if len(argv) > 1 and argv[1] == "--stats":
        counts = {}
        for cat, _ in items:
            counts[cat] = counts.get(cat, 0) + 1
        for cat, n in counts.items():
            print("%-16s %5d" % (cat, n))
        print("%-16s %5d" % ("total", len(items)))
        print("unicodedata %s" % unicodedata.unidata_version)
        return
    if len(argv) > 2 and argv[1] == "--show":
        for cat, t in items:
            if cat == argv[2]:
                print(repr(t))
        return
    w = sys.stdout
    for cat, t in items:
        w.write(json.dumps({"cat": cat, "hex": t.encode("utf-8").hex()}) + "\n")


if __name__ == "__main__":
    main(sys.argv)
