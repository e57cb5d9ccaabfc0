// make bench: speed of ouro.c on a model file, one table row per run.
//   bench/bench [--header] <model.bin> [kv type f32|bf16]
// load time, prefill tok/s on a 128-token prompt, decode tok/s near positions 128 and 2048,
// peak RSS, the machine's memory read bandwidth (measured here), the roofline
// (bandwidth / bytes read per decoded token) and decode as a fraction of it.
#define TESTING
#include "../ouro.c"
#include <sys/resource.h>

#define PROMPT 128
#define FAR 2048
#define DECODE 16 // tokens timed at each position

#ifndef HAVE_SIMD
#error "bench needs the fast kernels: build with -march=native (make bench)"
#endif

// Reads a buffer of `bytes` (make it much larger than the last-level cache) with all threads,
// a few times; returns the best rate in GB/s (1e9 bytes per second).
static double measure_read_bandwidth(size_t bytes) {
    size_t words = bytes / sizeof(uint64_t);
    uint64_t *buf = xmalloc64(words * sizeof(uint64_t));
    long i;
#pragma omp parallel for schedule(static)
    for (i = 0; i < (long)words; i++) buf[i] = (uint64_t)i; // touch every page, each thread its own
    double best = 0.0;
    uint64_t sink = 0;
    for (int rep = 0; rep < 5; rep++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
#pragma omp parallel reduction(^ : sink)
        {
            int lo, hi; // the same static split as the fill, in 64-byte lines
            thread_rows((int)(words / 8), 1, &lo, &hi);
            const uint64_t *p = buf + (size_t)lo * 8;
            size_t cnt = (size_t)(hi - lo) * 8;
#if defined(__AVX512F__)
            __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
            size_t j = 0;
            for (; j + 32 <= cnt; j += 32) {
                a0 = _mm512_xor_si512(a0, _mm512_load_si512(p + j));
                a1 = _mm512_xor_si512(a1, _mm512_load_si512(p + j + 8));
                a2 = _mm512_xor_si512(a2, _mm512_load_si512(p + j + 16));
                a3 = _mm512_xor_si512(a3, _mm512_load_si512(p + j + 24));
            }
            __m512i a = _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3));
            uint64_t lanes[8];
            _mm512_storeu_si512(lanes, a);
            uint64_t s = 0;
            for (int e = 0; e < 8; e++) s ^= lanes[e];
#elif defined(__AVX2__)
            __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
            size_t j = 0;
            for (; j + 16 <= cnt; j += 16) {
                a0 = _mm256_xor_si256(a0, _mm256_load_si256((const __m256i *)(p + j)));
                a1 = _mm256_xor_si256(a1, _mm256_load_si256((const __m256i *)(p + j + 4)));
                a2 = _mm256_xor_si256(a2, _mm256_load_si256((const __m256i *)(p + j + 8)));
                a3 = _mm256_xor_si256(a3, _mm256_load_si256((const __m256i *)(p + j + 12)));
            }
            __m256i a = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
            uint64_t lanes[4];
            _mm256_storeu_si256((__m256i *)lanes, a);
            uint64_t s = lanes[0] ^ lanes[1] ^ lanes[2] ^ lanes[3];
#else
            uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            size_t j = 0;
            for (; j + 4 <= cnt; j += 4) { s0 ^= p[j]; s1 ^= p[j + 1]; s2 ^= p[j + 2]; s3 ^= p[j + 3]; }
            uint64_t s = s0 ^ s1 ^ s2 ^ s3;
#endif
            for (; j < cnt; j++) s ^= p[j];
            sink ^= s;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        double gbs = (double)(words / 8 * 64) / sec / 1e9;
        if (gbs > best) best = gbs;
    }
    free(buf);
    return sink == 42 ? best + 1e-12 : best; // (uses sink so the reads are not optimized away)
}

// bytes one decoded token reads: every layer matrix T times, the lm_head, one embedding row,
// and the cache of every (step, layer) slot up to its position
static double bytes_per_token(const Transformer *t, int pos) {
    const Config *c = &t->c;
    double esize = c->weight_type == W_F32 ? 4 : c->weight_type == W_BF16 ? 2 : 1 + 4.0 / c->group_size;
    double q_dim = (double)c->n_heads * c->head_dim, kv_dim = (double)c->n_kv_heads * c->head_dim;
    double layer = c->dim * (2 * q_dim + 2 * kv_dim) + 3.0 * c->dim * c->hidden_dim;
    double weights = (c->n_steps * c->n_layers * layer + (double)c->vocab_size * c->dim + c->dim) * esize;
    double kv = 2.0 * c->n_steps * c->n_layers * (pos + 1) * kv_dim * (t->s.kv_type == KV_BF16 ? 2 : 4);
    return weights + kv;
}

static double decode_rate(Transformer *t, int pos, ExitRule rule) {
    int token = 1;
    double t0 = now_seconds();
    for (int k = 0; k < DECODE; k++) {
        float *logits = forward(t, &token, 1, pos + k, rule, LOGITS_LAST);
        token = argmax(logits, t->c.vocab_size);
    }
    return DECODE / (now_seconds() - t0);
}

int main(int argc, char **argv) {
    int header = argc > 1 && !strcmp(argv[1], "--header");
    if (argc < 2 + header) fatal("usage: bench/bench [--header] <model.bin> [f32|bf16]");
    const char *path = argv[1 + header];
    int kv_type = argc > 2 + header && !strcmp(argv[2 + header], "bf16") ? KV_BF16 : KV_F32;

    Transformer t = {0};
    double t0 = now_seconds();
    load_model(&t, path);
    malloc_run_state(&t.s, &t.c, FAR + DECODE, PROMPT, kv_type);
    double load = now_seconds() - t0;
    ExitRule rule = {t.c.n_steps, INFINITY};

    // the weights come from disk once; time them warm, as every later token finds them
    int prompt[PROMPT];
    for (int i = 0; i < PROMPT; i++) prompt[i] = (i * 7919 + 17) % t.c.vocab_size;
    prefill(&t, prompt, 8, 0, rule);
    t0 = now_seconds();
    prefill(&t, prompt, PROMPT, 0, rule);
    double prefill_rate = PROMPT / (now_seconds() - t0);
    double near = decode_rate(&t, PROMPT, rule);
    // positions up to FAR: their cache entries only need to be real memory, not meaningful
    size_t slot = (size_t)t.s.seq_len * t.c.n_kv_heads * t.c.head_dim * (kv_type == KV_BF16 ? 2 : 4);
    for (size_t s = 0; s < (size_t)t.c.n_steps * t.c.n_layers; s++) {
        memset((char *)t.s.key_cache + s * slot, 0, slot);
        memset((char *)t.s.value_cache + s * slot, 0, slot);
    }
    double far = decode_rate(&t, FAR, rule);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double bw = measure_read_bandwidth((size_t)1 << 30); // after the RSS reading: its buffer is not the model's

    double roof_near = bw * 1e9 / bytes_per_token(&t, PROMPT), roof_far = bw * 1e9 / bytes_per_token(&t, FAR);
    const char *wt = t.c.weight_type == W_F32 ? "f32" : t.c.weight_type == W_BF16 ? "bf16" : "q8";
    if (header) {
        printf("| weights | kv | file GiB | load s | prefill tok/s (128) | decode tok/s @128 | decode tok/s @2048 "
               "| peak RSS GiB | read GB/s | roofline @128 | of roofline | roofline @2048 | of roofline |\n");
        printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    }
    printf("| %s | %s | %.2f | %.3f | %.2f | %.3f | %.3f | %.2f | %.1f | %.3f | %.0f%% | %.3f | %.0f%% |\n", wt,
           kv_type == KV_BF16 ? "bf16" : "f32", t.size / 1073741824.0, load, prefill_rate, near, far,
           ru.ru_maxrss / 1048576.0, bw, roof_near, 100 * near / roof_near, roof_far, 100 * far / roof_far);
    fflush(stdout);
    free_transformer(&t);
    return 0;
}
