// Checks shared by fuzz_tokenizer.c and fuzz_encode.c, written independently of ouro.c's own
// UTF-8 code so that the decoder is not checked against itself. Include after ouro.c.
#ifndef FUZZ_TOK_CHECK_H
#define FUZZ_TOK_CHECK_H

#include <stdint.h>

#define CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "fuzz: " __VA_ARGS__); fputc('\n', stderr); abort(); } } while (0)

// Length of the well-formed UTF-8 character at s (Unicode Table 3-7), 0 if there is none.
static size_t chk_utf8_char(const unsigned char *s, size_t n, uint32_t *cp) {
    static const struct { unsigned char lo, hi, len, b1lo, b1hi; } rows[] = {
        {0x00, 0x7F, 1, 0, 0},       {0xC2, 0xDF, 2, 0x80, 0xBF}, {0xE0, 0xE0, 3, 0xA0, 0xBF},
        {0xE1, 0xEC, 3, 0x80, 0xBF}, {0xED, 0xED, 3, 0x80, 0x9F}, {0xEE, 0xEF, 3, 0x80, 0xBF},
        {0xF0, 0xF0, 4, 0x90, 0xBF}, {0xF1, 0xF3, 4, 0x80, 0xBF}, {0xF4, 0xF4, 4, 0x80, 0x8F},
    };
    if (n == 0) return 0;
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        if (s[0] < rows[r].lo || s[0] > rows[r].hi) continue;
        size_t len = rows[r].len;
        if (len > n) return 0;
        uint32_t v = len == 1 ? s[0] : len == 2 ? s[0] & 0x1F : len == 3 ? s[0] & 0x0F : s[0] & 0x07;
        for (size_t k = 1; k < len; k++) {
            unsigned lo = k == 1 ? rows[r].b1lo : 0x80, hi = k == 1 ? rows[r].b1hi : 0xBF;
            if (s[k] < lo || s[k] > hi) return 0;
            v = v << 6 | (s[k] & 0x3F);
        }
        if (cp) *cp = v;
        return len;
    }
    return 0;
}

static int chk_printable(uint32_t cp) { // what the streaming printer lets through
    if (cp < 0x20) return cp == '\n' || cp == '\t';
    return !(cp >= 0x7F && cp <= 0x9F);
}

// The decoder's output must be well-formed UTF-8 without the control characters it drops.
static void chk_decoded_text(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0;
        size_t len = chk_utf8_char(s + i, n - i, &cp);
        CHECK(len > 0, "decoder wrote ill-formed UTF-8 at byte %zu of %zu", i, n);
        CHECK(chk_printable(cp), "decoder wrote control character U+%04X", cp);
        i += len;
    }
}

// Text whose decode(encode(.)) must be the text itself: well-formed UTF-8, only printable
// characters, and every byte has a token.
static int chk_round_trips(const Tokenizer *t, const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n; i++) if (t->byte_id[s[i]] < 0) return 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp = 0;
        size_t len = chk_utf8_char(s + i, n - i, &cp);
        if (len == 0 || !chk_printable(cp)) return 0;
        i += len;
    }
    return 1;
}

// Encodes text and checks everything that must hold for any valid tokenizer:
//  - the count-only call agrees with the full one, and a short ids array gets a prefix;
//  - there are at most as many tokens as bytes, each id is in the vocabulary;
//  - the tokens' bytes, concatenated, are the text minus the bytes that have no token;
//  - streaming the tokens prints well-formed, printable UTF-8, and exactly the text when the
//    text is printable UTF-8 made of bytes that all have tokens.
static void chk_encode_decode(const Tokenizer *t, const unsigned char *text, size_t len) {
    int *ids = malloc((len + 1) * sizeof(int));
    CHECK(ids, "out of memory");
    int n = encode(t, (const char *)text, len, ids, (int)len + 1);
    CHECK(n >= 0 && (size_t)n <= len, "%d tokens for %zu bytes", n, len);
    CHECK(encode(t, (const char *)text, len, NULL, 0) == n, "count-only encode disagrees");
    if (n > 1) {
        int *few = malloc((size_t)(n / 2) * sizeof(int));
        CHECK(few, "out of memory");
        CHECK(encode(t, (const char *)text, len, few, n / 2) == n, "truncated encode returns another count");
        CHECK(memcmp(few, ids, (size_t)(n / 2) * sizeof(int)) == 0, "truncated encode differs");
        free(few);
    }

    // Bytes inside added tokens are kept even when they have no single-byte token, so the
    // exact comparison needs added tokens made of bytes that have tokens (the real vocabulary);
    // otherwise the tokens' bytes must be the text with some token-less bytes skipped.
    int strict = 1;
    for (int a = 0; a < t->n_added; a++) {
        int alen;
        const char *ab = token_bytes(t, t->added[a], &alen);
        for (int j = 0; j < alen; j++) if (t->byte_id[(unsigned char)ab[j]] < 0) strict = 0;
    }
    size_t at = 0;
    for (int k = 0; k < n; k++) {
        CHECK(ids[k] >= 0 && ids[k] < t->vocab_size, "id %d outside the vocabulary of %d", ids[k], t->vocab_size);
        int blen;
        const unsigned char *b = (const unsigned char *)token_bytes(t, ids[k], &blen);
        CHECK(b && blen > 0, "token %d is empty", ids[k]);
        for (int j = 0; j < blen; j++) {
            while (at < len && t->byte_id[text[at]] < 0 && (strict || text[at] != b[j])) at++;
            CHECK(at < len && b[j] == text[at], "token %d (#%d of %d) does not match the text at byte %zu", ids[k], k, n, at);
            at++;
        }
    }
    for (; at < len; at++) CHECK(t->byte_id[text[at]] < 0, "byte %zu (0x%02x) was lost", at, text[at]);

    char *out = NULL;
    size_t out_len = 0;
    FILE *f = open_memstream(&out, &out_len);
    CHECK(f, "open_memstream");
    TokPrinter p = {0};
    for (int k = 0; k < n; k++) decode_token(&p, t, ids[k], f);
    decode_token(&p, t, -1, f);              // out-of-range ids print nothing
    decode_token(&p, t, t->vocab_size, f);
    decode_flush(&p, f);
    fclose(f);
    chk_decoded_text((const unsigned char *)out, out_len);
    if (chk_round_trips(t, text, len))
        CHECK(out_len == len && memcmp(out, text, len) == 0, "printable UTF-8 text did not come back (%zu bytes in, %zu out)", len, out_len);
    free(out);
    free(ids);
}

#endif
