// libFuzzer target: arbitrary bytes as tokenizer.bin.
//
//   clang -g -O1 -fsanitize=fuzzer,address,undefined -o build/fuzz/fuzz_tokenizer fuzz/fuzz_tokenizer.c -lm
//
// parse_tokenizer gets a malloc'd copy (it takes ownership and frees it on failure). A file
// it rejects must come with a message and leave nothing allocated; a file it accepts must
// encode any text without crashing: fixed strings, the file's own bytes and every token's
// text, with the checks of fuzz_tok_check.h (ids in range, the bytes preserved, the
// decoder's output well-formed and equal to printable text).
//
// Most mutations of a tokenizer.bin break its exact size or an offset and are (rightly) refused
// early, so an input that does not start with "OTOK" is also read as a description of a
// tokenizer (build mode): the harness writes a valid tokenizer.bin from it (a few base tokens,
// merges whose results may repeat or reuse existing tokens, added tokens overlapping normal ones
// or holding bytes without tokens), which the parser must accept, and encodes the rest of the
// input with it. That reaches the encoder with vocabularies no real tokenizer has.
#define TESTING
#include "../ouro.c"
#include "fuzz_tok_check.h"

static const char *const texts[] = {
    "",
    "a",
    "hello world",
    "Hello, World! The quick brown fox jumps over the lazy dog.",
    " ",
    "   leading and trailing   ",
    "\n\n\t  \r\n x\t\ty",
    "I'm sure they'll've done it; it's 'quoted' and we'D",
    "x = 12345 + 0.5e-3; // 3 digits \xd9\xa3\xd9\xa4",
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n",
    "<|endoftext|><|endoftext|><|im_",
    "h\xc3\xa9llo w\xc3\xb6rld \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x99\x82 \xd0\xbf\xd1\x80\xd0\xb8",
    "\xff\xfe\xc3\x28 \xe2\x82 \xf0\x90\x80 \xed\xa0\x80 \xc0\xaf \xf1\x80\x80\x80",
    "\x01\x04\x06\x13\x7f \xc2\x80\xc2\x9f tab\tend",
};

// ---- build mode

typedef struct { const uint8_t *d; size_t n, at; } Reader;
static unsigned rd(Reader *r) { return r->at < r->n ? r->d[r->at++] : 0; }

#define B_MAX_TOK 200
#define B_MAX_LEN 24
typedef struct {
    int n;
    unsigned char text[B_MAX_TOK][B_MAX_LEN];
    int len[B_MAX_TOK];
} BVocab;

static int b_add(BVocab *v, const unsigned char *s, int len) {
    if (v->n == B_MAX_TOK || len > B_MAX_LEN) return -1;
    memcpy(v->text[v->n], s, (size_t)len);
    v->len[v->n] = len;
    return v->n++;
}

static void put32(unsigned char **p, uint32_t x) {
    for (int k = 0; k < 4; k++) *(*p)++ = (unsigned char)(x >> (8 * k));
}

// a valid tokenizer.bin described by the input; the bytes left over are returned as text
static unsigned char *build_tokenizer(Reader *r, size_t *size) {
    static BVocab v;
    v.n = 0;
    int n_base = 1 + (int)(rd(r) % 48);
    for (int i = 0; i < n_base; i++) {
        unsigned char s[3];
        unsigned x = rd(r);
        int len = x < 200 ? 1 : x < 250 ? 2 : 3; // mostly single bytes, some longer base tokens
        for (int k = 0; k < len; k++) s[k] = (unsigned char)rd(r);
        b_add(&v, s, len);
    }
    int merges[256][3], n_merges = 0, want = (int)(rd(r) % 128);
    for (int i = 0; i < want && n_merges < 256; i++) {
        int a = (int)(rd(r) % (unsigned)v.n), b = (int)(rd(r) % (unsigned)v.n), how = (int)rd(r);
        unsigned char s[2 * B_MAX_LEN];
        int len = v.len[a] + v.len[b];
        if (len > B_MAX_LEN) continue;
        memcpy(s, v.text[a], (size_t)v.len[a]);
        memcpy(s + v.len[a], v.text[b], (size_t)v.len[b]);
        int c = -1;
        if (how & 1) // reuse a token with this text if there is one (the same pair can merge twice)
            for (int k = 0; k < v.n && c < 0; k++) if (v.len[k] == len && !memcmp(v.text[k], s, (size_t)len)) c = k;
        if (c < 0 && (c = b_add(&v, s, len)) < 0) continue;
        merges[n_merges][0] = a; merges[n_merges][1] = b; merges[n_merges][2] = c;
        n_merges++;
    }
    int added[8][2], n_added = 0, want_added = (int)(rd(r) % 6);
    for (int i = 0; i < want_added; i++) {
        unsigned x = rd(r);
        int id;
        if (x & 1) { // an existing token becomes an added one
            id = (int)(rd(r) % (unsigned)v.n);
        } else {     // a new token: 1..8 bytes, often '<', '|' and letters like the real ones
            unsigned char s[8];
            int len = 1 + (int)(rd(r) % 8);
            for (int k = 0; k < len; k++) { unsigned y = rd(r); s[k] = (unsigned char)(y < 128 ? "<|>ab_ \n"[y % 8] : y); }
            if ((id = b_add(&v, s, len)) < 0) continue;
        }
        int dup = 0;
        for (int k = 0; k < n_added; k++) dup |= added[k][0] == id;
        if (dup) continue;
        added[n_added][0] = id; added[n_added][1] = (int)(x >> 1) & 1;
        n_added++;
    }
    size_t text_bytes = 0, longest = 0;
    for (int i = 0; i < v.n; i++) { text_bytes += (size_t)v.len[i]; if ((size_t)v.len[i] > longest) longest = (size_t)v.len[i]; }
    *size = 32 + 4 * ((size_t)v.n + 1) + 12 * (size_t)n_merges + 8 * (size_t)n_added + text_bytes;
    unsigned char *out = malloc(*size), *p = out;
    if (!out) abort();
    memcpy(p, "OTOK", 4); p += 4;
    put32(&p, 1); put32(&p, (uint32_t)v.n); put32(&p, (uint32_t)n_merges); put32(&p, (uint32_t)n_added);
    put32(&p, (uint32_t)text_bytes); put32(&p, (uint32_t)longest); put32(&p, 0);
    uint32_t off = 0;
    for (int i = 0; i <= v.n; i++) { put32(&p, off); if (i < v.n) off += (uint32_t)v.len[i]; }
    for (int i = 0; i < n_merges; i++) for (int k = 0; k < 3; k++) put32(&p, (uint32_t)merges[i][k]);
    for (int i = 0; i < n_added; i++) { put32(&p, (uint32_t)added[i][0]); put32(&p, (uint32_t)added[i][1]); }
    for (int i = 0; i < v.n; i++) { memcpy(p, v.text[i], (size_t)v.len[i]); p += v.len[i]; }
    if ((size_t)(p - out) != *size) abort();
    return out;
}

static void build_mode(const uint8_t *data, size_t size) {
    Reader r = {data, size, 0};
    size_t tsize;
    unsigned char *bin = build_tokenizer(&r, &tsize);
    Tokenizer t;
    char err[ERR_LEN];
    CHECK(parse_tokenizer(&t, bin, tsize, err) == 0, "a valid tokenizer.bin was refused: %s", err);
    size_t rest = r.at < size ? size - r.at : 0;
    chk_encode_decode(&t, data + (size - rest), rest);
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        chk_encode_decode(&t, (const unsigned char *)texts[i], strlen(texts[i]));
    size_t all = t.off[t.vocab_size];
    chk_encode_decode(&t, t.text, all);
    free_tokenizer(&t);
}

// ---- raw mode: the bytes are the file

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (4u << 20)) return 0;
    if (size < 4 || memcmp(data, "OTOK", 4) != 0) build_mode(data, size);
    unsigned char *copy = malloc(size ? size : 1);
    if (!copy) abort();
    if (size) memcpy(copy, data, size);
    Tokenizer t;
    char err[ERR_LEN];
    memset(err, 'x', sizeof(err));
    if (parse_tokenizer(&t, copy, size, err) != 0) { // copy is freed by the parser
        CHECK(memchr(err, 0, sizeof(err)) != NULL && err[0] != 0, "rejected without a message");
        CHECK(t.data == NULL && t.off == NULL && t.merge == NULL && t.mkey == NULL && t.added == NULL && t.kind == NULL,
              "rejected but the tokenizer still holds memory");
        return 0;
    }
    CHECK(t.vocab_size > 0, "accepted an empty vocabulary");
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        chk_encode_decode(&t, (const unsigned char *)texts[i], strlen(texts[i]));
    chk_encode_decode(&t, data, size < 4096 ? size : 4096);
    // all token texts in a row: every merge and added token gets a chance to apply
    size_t all = t.off[t.vocab_size];
    chk_encode_decode(&t, t.text, all < 8192 ? all : 8192);
    free_tokenizer(&t);
    return 0;
}
