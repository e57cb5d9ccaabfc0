// Unit tests for ouro.c: build with `make test_ouro`, run ./test_ouro.
// Expected values are worked out by hand (see the comments) or computed here in double
// precision by straightforward loops, never taken from the code under test.
#define TESTING
#include "ouro.c"

static int passed, failed;

static void check(int ok, const char *what) {
    if (ok) passed++;
    else { failed++; printf("FAIL %s\n", what); }
}

static int close_to(double a, double b, double tol) { return fabs(a - b) <= tol * (1.0 + fabs(b)); }

static uint64_t rng = 0x1234567ULL;
static float frand(void) { return random_f32(&rng) * 2.0f - 1.0f; } // [-1, 1)

static void test_rmsnorm_softmax(void) {
    // x = (3, 4): mean(x^2) = 12.5, so y = w * x / sqrt(12.5)
    float x[2] = {3, 4}, w[2] = {1, 2}, y[2];
    rmsnorm(y, x, w, 2, 0.0f);
    check(close_to(y[0], 3 / sqrt(12.5), 1e-6) && close_to(y[1], 8 / sqrt(12.5), 1e-6), "rmsnorm");
    // softmax(0, ln 3) = (1/4, 3/4)
    float s[2] = {0.0f, logf(3.0f)};
    softmax(s, 2);
    check(close_to(s[0], 0.25, 1e-6) && close_to(s[1], 0.75, 1e-6), "softmax");
}

static void test_rope(void) {
    // head_dim 4, theta 100: inv_freq = (1, 1/10). At position 2 the first pair turns by 2
    // radians and the second by 0.2; pairs are (x0, x2) and (x1, x3) in the rotate-half form.
    float v[4] = {1, 2, 3, 4}, cs[2] = {cosf(2.0f), cosf(0.2f)}, sn[2] = {sinf(2.0f), sinf(0.2f)};
    rope(v, 1, 4, cs, sn);
    check(close_to(v[0], 1 * cos(2.0) - 3 * sin(2.0), 1e-6) && close_to(v[2], 3 * cos(2.0) + 1 * sin(2.0), 1e-6) &&
          close_to(v[1], 2 * cos(0.2) - 4 * sin(0.2), 1e-6) && close_to(v[3], 4 * cos(0.2) + 2 * sin(0.2), 1e-6),
          "rope rotate-half pairs");
}

static void test_exit_step(void) {
    // gate logits 0: lambda = 1/2 each step, so p = (1/2, 1/4, 1/8, 1/8), cumulative
    // (0.5, 0.75, 0.875, 1.0)
    float g[4] = {0, 0, 0, 0};
    check(exit_step(g, 1, 4, 0.5f) == 0, "exit: threshold 0.5 -> step 0");
    check(exit_step(g, 1, 4, 0.6f) == 1, "exit: threshold 0.6 -> step 1");
    check(exit_step(g, 1, 4, 0.8f) == 2, "exit: threshold 0.8 -> step 2");
    check(exit_step(g, 1, 4, 0.9f) == 3, "exit: threshold 0.9 -> step 3");
    check(exit_step(g, 1, 4, INFINITY) == 3, "exit: no threshold -> last step");
    check(exit_step(g, 1, 4, 0.0f) == 0, "exit: threshold 0 -> first step");
    // lambda = sigmoid(ln 3) = 3/4 on step 0: cumulative 0.75 already
    float g2[6] = {logf(3.0f), 99, -5, 99, -5, 99}; // stride 2: steps read g2[0], g2[2], g2[4]
    check(exit_step(g2, 2, 3, 0.74f) == 0 && exit_step(g2, 2, 3, 0.76f) == 2, "exit: strided gates");
}

static void test_sampler(void) {
    float p[4] = {1, 3, 3, 2};
    check(argmax(p, 4) == 1, "argmax takes the first maximum");
    // probabilities (0.3, 0.5, 0.2): top-p 0.7 keeps {1, 0} (cumulative 0.8), so a coin of
    // 0.9 lands at 0.72 of 0.8 -> token 0, and a coin of 0.5 at 0.4 -> token 1
    float q[3] = {0.3f, 0.5f, 0.2f};
    ProbIndex pi[3];
    check(sample_topp(q, 3, 0.7f, pi, 0.9f) == 0 && sample_topp(q, 3, 0.7f, pi, 0.5f) == 1, "top-p sorts by probability");
    float q2[3] = {0.5f, 0.3f, 0.2f};
    check(sample_topp(q2, 3, 0.7f, pi, 0.9f) == 1 && sample_topp(q2, 3, 0.7f, pi, 0.5f) == 0, "top-p nucleus");
    check(sample_mult(q2, 3, 0.85f) == 2 && sample_mult(q2, 3, 0.1f) == 0, "multinomial cdf");
}

// every matmul kernel against a double-precision loop written here
static void test_matmul(void) {
    int shapes[][3] = {{1, 1, 1}, {7, 5, 1}, {64, 33, 3}, {96, 17, 16}, {130, 9, 5}, {256, 64, 70}};
    for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
        int n = shapes[k][0], d = shapes[k][1], B = shapes[k][2], gs = n % 32 == 0 ? 32 : 1;
        float *x = xcalloc((size_t)B * n, 4), *wf = xcalloc((size_t)d * n, 4), *out = xcalloc((size_t)B * d, 4);
        uint16_t *wb = xcalloc((size_t)d * n, 2);
        int8_t *wq = xcalloc((size_t)d * n, 1), *xq = xcalloc((size_t)B * n, 1);
        float *ws = xcalloc((size_t)d * n / gs, 4), *xs = xcalloc((size_t)B * n / gs, 4);
        for (int i = 0; i < B * n; i++) x[i] = frand();
        for (int i = 0; i < d * n; i++) {
            wb[i] = f32_to_bf16(frand());
            wf[i] = bf16_to_f32(wb[i]);
            wq[i] = (int8_t)(random_u32(&rng) % 255 - 127);
        }
        for (int i = 0; i < d * n / gs; i++) ws[i] = 0.01f + 0.01f * (i % 7);
        quantize_q8(xq, xs, x, (size_t)B * n, gs);
        double err_f = 0, err_b = 0, err_q = 0, scale = 0;
        for (int pass = 0; pass < 3; pass++) {
            if (pass == 0) matmul_f32(out, x, wf, n, d, B);
            if (pass == 1) matmul_bf16(out, x, wb, n, d, B);
            if (pass == 2) matmul_q8(out, xq, xs, wq, ws, n, d, B, gs);
            for (int b = 0; b < B; b++)
                for (int i = 0; i < d; i++) {
                    double ref = 0;
                    for (int j = 0; j < n; j++)
                        ref += pass < 2 ? (double)wf[(size_t)i * n + j] * x[(size_t)b * n + j]
                                        : (double)wq[(size_t)i * n + j] * ws[((size_t)i * n + j) / gs] *
                                              xq[(size_t)b * n + j] * xs[((size_t)b * n + j) / gs];
                    double e = fabs(out[(size_t)b * d + i] - ref);
                    if (pass == 0) { err_f = fmax(err_f, e); scale = fmax(scale, fabs(ref)); }
                    if (pass == 1) err_b = fmax(err_b, e);
                    if (pass == 2) err_q = fmax(err_q, e / (1 + fabs(ref)));
                }
        }
        // float32 sums of n terms of size ~1: error ~ n * 2^-24 * |terms|, far below 1e-4
        char what[96];
        snprintf(what, sizeof what, "matmul n=%d d=%d B=%d (f32 %.1e bf16 %.1e q8 %.1e)", n, d, B, err_f, err_b, err_q);
        check(err_f <= 1e-5 * (1 + scale) && err_b <= 1e-5 * (1 + scale) && err_q <= 1e-5, what);
        free(x); free(wf); free(out); free(wb); free(wq); free(xq); free(ws); free(xs);
    }
}


// the fast kernels (when this build has them) against the plain ones, on shapes that hit every
// edge: rows and columns that are not multiples of the vector width or tile, odd row lengths
// (bf16 rows then start at odd 2-byte offsets), one position up to several GEMM blocks
static void test_fast_vs_plain(void) {
    int shapes[][4] = {{1, 1, 1, 1}, {17, 3, 1, 1}, {64, 40, 1, 64}, {2048, 96, 1, 64}, {96, 33, 2, 32},
                       {130, 77, 3, 2}, {256, 70, 7, 64}, {512, 64, 8, 64}, {333, 45, 9, 1}, {128, 100, 16, 16},
                       {1024, 97, 64, 64}, {200, 65, 128, 8}, {5632, 40, 5, 64}};
    for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
        int n = shapes[k][0], d = shapes[k][1], B = shapes[k][2], gs = shapes[k][3];
        float *x = xcalloc((size_t)B * n, 4), *wf = xcalloc((size_t)d * n, 4);
        float *fast = xcalloc((size_t)B * d, 4), *plain = xcalloc((size_t)B * d, 4);
        uint16_t *wb = xcalloc((size_t)d * n + 1, 2);
        int8_t *wq = xcalloc((size_t)d * n, 1), *xq = xcalloc((size_t)B * n, 1);
        float *ws = xcalloc((size_t)d * n / gs, 4), *xs = xcalloc((size_t)B * n / gs, 4);
        for (int i = 0; i < B * n; i++) x[i] = frand();
        for (int i = 0; i < d * n; i++) {
            wf[i] = frand();
            wb[i + 1] = f32_to_bf16(frand()); // +1: rows at an odd 2-byte offset
            wq[i] = (int8_t)(random_u32(&rng) % 255 - 127);
        }
        for (int i = 0; i < d * n / gs; i++) ws[i] = 0.001f * (1 + i % 5);
        quantize_q8(xq, xs, x, (size_t)B * n, gs);
        double worst[3] = {0, 0, 0};
        for (int kind = 0; kind < 3; kind++) {
            if (kind == 0) { matmul_f32(fast, x, wf, n, d, B); matmul_f32_plain(plain, x, wf, n, d, B); }
            if (kind == 1) { matmul_bf16(fast, x, wb + 1, n, d, B); matmul_bf16_plain(plain, x, wb + 1, n, d, B); }
            if (kind == 2) { matmul_q8(fast, xq, xs, wq, ws, n, d, B, gs); matmul_q8_plain(plain, xq, xs, wq, ws, n, d, B, gs); }
            double scale = 0;
            for (int i = 0; i < B * d; i++) scale = fmax(scale, fabs(plain[i]));
            for (int i = 0; i < B * d; i++) worst[kind] = fmax(worst[kind], fabs(fast[i] - plain[i]) / (scale + 1e-30));
        }
        // the same float32 sums in another order: a few ulps of the largest terms
        char what[128];
        snprintf(what, sizeof what, "fast == plain n=%d d=%d B=%d gs=%d (f32 %.1e bf16 %.1e q8 %.1e)", n, d, B, gs,
                 worst[0], worst[1], worst[2]);
        check(worst[0] <= 1e-5 && worst[1] <= 1e-5 && worst[2] <= 1e-5, what);
        free(x); free(wf); free(fast); free(plain); free(wb); free(wq); free(xq); free(ws); free(xs);
    }
}

static void test_quantize(void) {
    // group (1, -2, 0.5, 0): scale 2/127, values round(x * 63.5) = (64, -127, 32, 0)
    float x[8] = {1, -2, 0.5f, 0, 0, 0, 0, 0};
    int8_t q[8];
    float s[2];
    quantize_q8(q, s, x, 8, 4);
    check(close_to(s[0], 2.0 / 127, 1e-7) && q[0] == 64 && q[1] == -127 && q[2] == 32 && q[3] == 0, "quantize_q8 values");
    check(s[1] == 0.0f && q[4] == 0 && q[7] == 0, "quantize_q8 all-zero group");
}

// A random model written to a temporary model.bin (version 1 layout from README), used to
// check that the batched prompt path equals running the tokens one at a time.
static const char *write_random_model(char *path, int weight_type) {
    int dim = 32, hid = 48, L = 2, heads = 4, kvh = 2, hd = 8, vocab = 40, T = 3, gs = 8;
    unsigned char hdr[HEADER_SIZE] = {0};
    int32_t ints[] = {MODEL_VERSION, dim, hid, L, heads, kvh, hd, vocab, 512, T, 0, 0, 1, weight_type, weight_type == W_Q8 ? gs : 0};
    memcpy(hdr, MODEL_MAGIC, 4);
    memcpy(hdr + 4, ints, sizeof ints);
    float floats[] = {10000.0f, 1e-6f, 0.6f};
    int32_t exit_none = -1;
    memcpy(hdr + 64, floats, sizeof floats);
    memcpy(hdr + 76, &exit_none, 4);
    FILE *f = fdopen(mkstemp(path), "wb");
    fwrite(hdr, 1, HEADER_SIZE, f);
    long off = HEADER_SIZE;
    // matrices in file order: embed, 4 norms, q k v o gate up down, final norm, gate w, gate b, lm_head
    size_t sizes[][2] = {{vocab, dim}, {0, L * dim}, {0, L * dim}, {0, L * dim}, {0, L * dim},
                         {(size_t)L * heads * hd, dim}, {(size_t)L * kvh * hd, dim}, {(size_t)L * kvh * hd, dim},
                         {(size_t)L * dim, heads * hd}, {(size_t)L * hid, dim}, {(size_t)L * hid, dim},
                         {(size_t)L * dim, hid}, {0, dim}, {0, dim}, {0, 1}, {vocab, dim}};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        int is_norm = sizes[k][0] == 0;
        size_t n = is_norm ? sizes[k][1] : sizes[k][0] * sizes[k][1];
        int parts = !is_norm && weight_type == W_Q8 ? 2 : 1;
        for (int part = 0; part < parts; part++) {
            while (off % ALIGN) { fputc(0, f); off++; }
            for (size_t i = 0; i < (part ? n / gs : n); i++) {
                float v = is_norm ? 1.0f + 0.2f * frand() : frand() / sqrtf((float)sizes[k][1]);
                if (is_norm || weight_type == W_F32 || part == 1) { fwrite(&v, 4, 1, f); off += 4; }
                else if (weight_type == W_BF16) { uint16_t b = f32_to_bf16(v); fwrite(&b, 2, 1, f); off += 2; }
                else { int8_t q = (int8_t)(random_u32(&rng) % 255 - 127); fwrite(&q, 1, 1, f); off += 1; }
            }
        }
    }
    fclose(f);
    return path;
}

static void test_batched_prefill(int weight_type) {
    char path[] = "/tmp/ouro_test_XXXXXX";
    write_random_model(path, weight_type);
    int tokens[13] = {1, 5, 9, 33, 2, 2, 17, 39, 0, 8, 21, 3, 30}, n = 13;
    Transformer a = {0}, b = {0};
    load_model(&a, path);
    load_model(&b, path);
    unlink(path);
    malloc_run_state(&a.s, &a.c, 20, 16, KV_F32);
    malloc_run_state(&b.s, &b.c, 20, 1, KV_F32);
    ExitRule rules[] = {{3, INFINITY}, {3, 0.6f}, {1, INFINITY}, {2, INFINITY}, {3, 0.0f}};
    for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]); r++) {
        // a: positions 0..4 as one block, then 5..12 as another; b: one position at a time
        float *la = xcalloc((size_t)n * a.c.vocab_size, 4);
        memcpy(la, forward(&a, tokens, 5, 0, rules[r], LOGITS_ALL), 5 * sizeof(float) * a.c.vocab_size);
        memcpy(la + 5 * a.c.vocab_size, forward(&a, tokens + 5, 8, 5, rules[r], LOGITS_ALL), 8 * sizeof(float) * a.c.vocab_size);
        double err = 0, scale = 0;
        for (int p = 0; p < n; p++) {
            float *lb = forward(&b, tokens + p, 1, p, rules[r], LOGITS_LAST);
            for (int i = 0; i < b.c.vocab_size; i++) {
                err = fmax(err, fabs(lb[i] - la[(size_t)p * a.c.vocab_size + i]));
                scale = fmax(scale, fabs(lb[i]));
            }
        }
        char what[96];
        snprintf(what, sizeof what, "batched prefill == one by one (type %d, rule %zu, err %.1e)", weight_type, r, err);
        check(err <= 1e-5 * scale, what);
        free(la);
    }
    free_transformer(&a);
    free_transformer(&b);
}


// ----------------------------------------------------------------------------
// tokenizer: ids from Hugging Face tokenizers (tests/tokenizer/expected.tsv, regenerated by
// tests/tokenizer/gen_expected.js), on tokenizer.bin made from the real tokenizer.json

static int hexval(int ch) { return ch <= '9' ? ch - '0' : (ch | 32) - 'a' + 10; }

// the bytes a list of tokens stands for, concatenated
static size_t token_text(const Tokenizer *t, const int *ids, int n, char *buf) {
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        int l;
        const char *b = token_bytes(t, ids[i], &l);
        memcpy(buf + len, b, l);
        len += l;
    }
    return len;
}

static void test_tokenizer(void) {
    const char *bin = getenv("OURO_TOKENIZER_BIN");
    int in_ci = getenv("CI") && !strcmp(getenv("CI"), "true");
    if (!bin || access(bin, R_OK) != 0) {
        printf("%s tokenizer: no tokenizer.bin (make builds it from ../shared/tokenizer/tokenizer.json or $OURO_TOKENIZER_JSON)\n", in_ci ? "FAIL" : "SKIP");
        if (in_ci) failed++;
        return;
    }
    Tokenizer tok;
    load_tokenizer(&tok, bin);
    FILE *f = fopen("tests/tokenizer/expected.tsv", "r");
    check(f != NULL, "tests/tokenizer/expected.tsv opens");
    if (!f) return;
    char *line = NULL;
    size_t cap = 0;
    int lines = 0, id_ok = 0, text_ok = 0, stream_ok = 0, streamed = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n') line[--n] = 0;
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        lines++;
        size_t len = (size_t)(tab - line) / 2;
        char *text = xcalloc(len + 1, 1), *back = xcalloc(len + 1, 1);
        for (size_t i = 0; i < len; i++) text[i] = (char)(hexval(line[2 * i]) * 16 + hexval(line[2 * i + 1]));
        int *want = xcalloc(len + 1, sizeof(int)), n_want = 0;
        for (char *p = tab + 1; *p;) {
            want[n_want++] = (int)strtol(p, &p, 10);
            while (*p == ' ') p++;
        }
        int *got = xcalloc(len + 1, sizeof(int));
        int n_got = encode(&tok, text, len, got, (int)len + 1);
        int same = n_got == n_want && !memcmp(got, want, n_want * sizeof(int));
        id_ok += same;
        if (!same && lines - id_ok <= 5) printf("  tokenizer mismatch on line %d (%d ids, expected %d)\n", lines, n_got, n_want);
        // decode(encode(s)) == s, less the 21 bytes that have no token in this vocabulary
        // and that Hugging Face drops as well
        char *kept = xcalloc(len + 1, 1);
        size_t n_kept = 0;
        for (size_t i = 0; i < len; i++) if (tok.byte_id[(unsigned char)text[i]] >= 0) kept[n_kept++] = text[i];
        size_t n_back = token_text(&tok, got, n_got, back);
        text_ok += n_back == n_kept && !memcmp(back, kept, n_kept);
        // the streaming printer gives back valid UTF-8 text without control characters exactly
        int plain = n_kept == len;
        for (size_t i = 0; i < len; i++) {
            unsigned char ch = (unsigned char)text[i];
            if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f || (ch == 0xc2 && i + 1 < len && (unsigned char)text[i + 1] < 0xa0)) plain = 0;
        }
        uint32_t cp;
        for (size_t i = 0; plain && i < len; i += tok_utf8((const unsigned char *)text + i, len - i, &cp))
            if (tok_utf8((const unsigned char *)text + i, len - i, &cp) == 1 && (unsigned char)text[i] >= 0x80) plain = 0;
        if (plain) {
            char *mem = NULL;
            size_t mem_len = 0;
            FILE *ms = open_memstream(&mem, &mem_len);
            TokPrinter pr = {0};
            for (int i = 0; i < n_got; i++) decode_token(&pr, &tok, got[i], ms);
            decode_flush(&pr, ms);
            fclose(ms);
            streamed++;
            stream_ok += mem_len == len && !memcmp(mem, text, len);
            free(mem);
        }
        free(text); free(back); free(want); free(got); free(kept);
    }
    free(line);
    fclose(f);
    char what[128];
    snprintf(what, sizeof what, "tokenizer: %d/%d corpus strings give Hugging Face's ids", id_ok, lines);
    check(lines >= 500 && id_ok == lines, what);
    snprintf(what, sizeof what, "tokenizer: %d/%d decode back to their bytes", text_ok, lines);
    check(text_ok == lines, what);
    snprintf(what, sizeof what, "tokenizer: %d/%d print back exactly through the streaming decoder", stream_ok, streamed);
    check(streamed > 300 && stream_ok == streamed, what);
    printf("tokenizer: %d strings checked against Hugging Face, %d of them printed back by the streaming decoder\n", lines, streamed);

    // a token may end inside a character: nothing is printed until the character is whole
    char *mem = NULL;
    size_t mem_len = 0;
    FILE *ms = open_memstream(&mem, &mem_len);
    int ids[8], n_ids = encode(&tok, "\xe4\xbd\xa0", 3, ids, 8); // one CJK character
    TokPrinter pr = {0};
    int early = 0;
    for (int i = 0; i < n_ids; i++) {
        decode_token(&pr, &tok, ids[i], ms);
        fflush(ms);
        if (i + 1 < n_ids && mem_len > 0) early = 1;
    }
    decode_flush(&pr, ms);
    fclose(ms);
    check(!early && mem_len == 3 && !memcmp(mem, "\xe4\xbd\xa0", 3), "decoder holds back a partial character");
    free(mem);
    // invalid UTF-8 and bytes without a token encode without trouble
    char junk[256];
    for (int i = 0; i < 256; i++) junk[i] = (char)(255 - i);
    int jids[257];
    int nj = encode(&tok, junk, 256, jids, 257);
    int in_range = nj > 0;
    for (int i = 0; i < nj; i++) in_range &= jids[i] >= 0 && jids[i] < tok.vocab_size;
    check(in_range, "tokenizer: every byte value encodes to valid ids");
    free_tokenizer(&tok);
}

int main(void) {
    test_rmsnorm_softmax();
    test_rope();
    test_exit_step();
    test_sampler();
    test_quantize();
    test_matmul();
    test_fast_vs_plain();
    test_batched_prefill(W_F32);
    test_batched_prefill(W_BF16);
    test_batched_prefill(W_Q8);
    test_tokenizer();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
