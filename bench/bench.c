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
#define DECODE 8 // tokens timed at each position

// GB/s of reading a buffer much larger than the caches, every core reading its share
static double read_bandwidth(size_t bytes) {
    size_t n = bytes / sizeof(uint64_t);
    uint64_t *buf = xmalloc(n * sizeof(uint64_t));
    long i;
#pragma omp parallel for private(i)
    for (i = 0; i < (long)n; i++) buf[i] = (uint64_t)i; // fault the pages in on their own core
    double best = 0.0;
    uint64_t sink = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_seconds();
        uint64_t acc = 0;
#pragma omp parallel for private(i) reduction(^ : acc)
        for (i = 0; i < (long)n; i += 8) // one 64-byte line per iteration, 8 independent loads
            acc ^= buf[i] + buf[i + 1] + buf[i + 2] + buf[i + 3] + buf[i + 4] + buf[i + 5] + buf[i + 6] + buf[i + 7];
        double dt = now_seconds() - t0;
        sink ^= acc;
        best = fmax(best, bytes / dt / 1e9);
    }
    free(buf);
    if (sink == 42) fputc(' ', stderr); // keep the loads
    return best;
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
    double bw = read_bandwidth((size_t)1 << 30); // after the RSS reading: its buffer is not the model's

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
