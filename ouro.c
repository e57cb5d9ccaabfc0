/* ouro.c: inference for ByteDance's Ouro looped language models in one C file.

   Ouro ("LoopLM", a Universal Transformer) applies ONE stack of L decoder layers T times to
   every token, with the same weights each time. Each (loop step, layer) pair attends over its own
   keys and values, so the cache has T*L slots: kv[T][L][seq][kv_dim], preallocated here.

   The file reads top to bottom in the order data flows:
     config and weights (mmap) -> kernels -> forward pass -> tokenizer -> sampler
     -> generation -> CLI
   Model facts follow the Hugging Face reference code; see README.md for the file formats.

   Build: gcc -O2 -o ouro ouro.c -lm        (add -fopenmp -march=native for speed: make)
*/

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

// ----------------------------------------------------------------------------
// errors: one line on stderr, exit status 1

static void fatal(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("ouro: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

// The file parsers report a problem by writing it into err and returning -1, so that they can
// be tested and fuzzed on bytes in memory; the loaders turn that into fatal().
#define ERR_LEN 256
static int fail(char *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, ERR_LEN, fmt, ap);
    va_end(ap);
    return -1;
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) fatal("out of memory (%zu bytes)", n);
    return p;
}

static void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) fatal("out of memory (%zu x %zu bytes)", n, size);
    return p;
}

// ----------------------------------------------------------------------------
// config and weights

#define MODEL_MAGIC "OURO"
#define MODEL_VERSION 1
#define HEADER_SIZE 256
#define ALIGN 64 // every tensor in model.bin starts on a 64-byte boundary

enum { W_F32 = 0, W_BF16 = 1, W_Q8 = 2 };

typedef struct {
    int dim;          // hidden_size
    int hidden_dim;   // intermediate_size (SwiGLU)
    int n_layers;     // L: layers in the stack
    int n_heads;      // query heads
    int n_kv_heads;   // key/value heads (< n_heads for GQA)
    int head_dim;
    int vocab_size;
    int max_seq_len;  // max_position_embeddings
    int n_steps;      // T: total_ut_steps, how many times the stack is applied
    int tied;         // lm_head is the embedding
    int bos_id, eos_id;
    int weight_type;  // W_F32, W_BF16 or W_Q8
    int group_size;   // q8 only: values per scale
    float rope_theta;
    float rms_eps;
    float exit_threshold; // early_exit_threshold; +inf when the config has none
    int exit_step;        // early_exit_step; -1 when the config has none
} Config;

// A weight matrix inside the mmap: values in the file's weight type, plus q8 scales.
typedef struct {
    const void *data;
    const float *scale; // q8 only
} Mat;

typedef struct {
    Mat embed;           // [vocab, dim]
    const float *rms_att;      // input_layernorm            [L, dim]
    const float *rms_att_out;  // input_layernorm_2          [L, dim]
    const float *rms_ffn;      // post_attention_layernorm   [L, dim]
    const float *rms_ffn_out;  // post_attention_layernorm_2 [L, dim]
    Mat *wq, *wk, *wv, *wo;    // [L] each: q/k/v [out, dim], o [dim, n_heads*head_dim]
    Mat *w_gate, *w_up, *w_down;
    const float *rms_final;    // model.norm [dim]
    const float *gate_w;       // early_exit_gate.weight [dim]
    float gate_b;              // early_exit_gate.bias
    Mat lm_head;               // [vocab, dim]; the embedding when tied
} Weights;

enum { KV_F32 = 0, KV_BF16 = 1 };

// Activations are [B, ...] for a block of B consecutive positions: the prompt goes through in
// blocks of up to max_batch positions, a generated token is a block of one.
typedef struct {
    int max_batch;   // B: positions processed together
    int seq_len;     // positions the cache holds
    float *x;        // the residual stream [B, dim]
    float *xb;       // normed input / attention output [B, max(dim, q_dim)]
    float *xb2;      // [B, dim]
    float *hb, *hb2; // MLP [B, hidden_dim]
    float *q;        // [B, q_dim]
    float *att;      // attention scores [n_heads, seq_len]
    float *h;        // final-normed state after each loop step [T, B, dim]
    float *gate;     // exit gate logit of each loop step [T, B]
    float *hexit;    // the state each position exits with [B, dim]
    float *logits;   // [B, vocab]
    int8_t *xq;      // q8 weights only: activations as int8 groups [B, max(dim, q_dim, hidden)]
    float *xs;       // and their scales
    float *rope_cos, *rope_sin; // [B, head_dim/2] for the block's positions
    double *inv_freq;           // [head_dim/2]
    float *k, *v;       // the block's new keys and values [B, kv_dim]
    int kv_type;        // KV_F32 (exact, the default) or KV_BF16 (half the memory)
    void *key_cache;    // [T, L, seq_len, kv_dim]: slot (step, layer) is step*L + layer
    void *value_cache;  // same shape
} RunState;

typedef struct {
    Config c;
    Weights w;
    RunState s;
    void *map;   // the mmapped model.bin
    size_t size; // its size in bytes
} Transformer;

static int32_t rd_i32(const unsigned char *p) {
    return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

static float rd_f32(const unsigned char *p) {
    uint32_t u = (uint32_t)rd_i32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// Walks the tensors of model.bin in file order. With base == NULL it only measures, which is
// how the loader checks the file size before trusting any offset.
typedef struct {
    unsigned char *base;
    size_t off;
} Cursor;

static const void *take(Cursor *cur, size_t bytes) {
    cur->off = (cur->off + ALIGN - 1) / ALIGN * ALIGN;
    const void *p = cur->base ? cur->base + cur->off : NULL;
    cur->off += bytes;
    return p;
}

// A stack of L matrices [L, rows, cols]; for q8 the int8 values of all layers come first,
// then all their scales.
static void take_mats(Cursor *cur, const Config *c, Mat *out, size_t rows, size_t cols) {
    size_t n = rows * cols, L = (size_t)c->n_layers;
    if (c->weight_type == W_Q8) {
        const int8_t *q = take(cur, L * n);
        const float *s = take(cur, L * n / c->group_size * 4);
        for (size_t l = 0; out && l < L; l++) {
            out[l].data = q ? q + l * n : NULL;
            out[l].scale = s ? s + l * n / c->group_size : NULL;
        }
    } else {
        size_t esize = c->weight_type == W_F32 ? 4 : 2;
        const unsigned char *d = take(cur, L * n * esize);
        for (size_t l = 0; out && l < L; l++) {
            out[l].data = d ? d + l * n * esize : NULL;
            out[l].scale = NULL;
        }
    }
}

static Mat take_mat(Cursor *cur, const Config *c, size_t rows, size_t cols) {
    Mat m = {NULL, NULL};
    if (c->weight_type == W_Q8) {
        m.data = take(cur, rows * cols);
        m.scale = take(cur, rows * cols / c->group_size * 4);
    } else {
        m.data = take(cur, rows * cols * (c->weight_type == W_F32 ? 4 : 2));
    }
    return m;
}

// Lays out every tensor; returns the file size this config implies.
static size_t map_weights(Weights *w, const Config *c, unsigned char *base) {
    Cursor cur = {base, HEADER_SIZE};
    size_t L = c->n_layers, dim = c->dim, hid = c->hidden_dim;
    size_t q_dim = (size_t)c->n_heads * c->head_dim, kv_dim = (size_t)c->n_kv_heads * c->head_dim;
    w->embed = take_mat(&cur, c, c->vocab_size, dim);
    w->rms_att = take(&cur, L * dim * 4);
    w->rms_att_out = take(&cur, L * dim * 4);
    w->rms_ffn = take(&cur, L * dim * 4);
    w->rms_ffn_out = take(&cur, L * dim * 4);
    take_mats(&cur, c, w->wq, q_dim, dim);
    take_mats(&cur, c, w->wk, kv_dim, dim);
    take_mats(&cur, c, w->wv, kv_dim, dim);
    take_mats(&cur, c, w->wo, dim, q_dim);
    take_mats(&cur, c, w->w_gate, hid, dim);
    take_mats(&cur, c, w->w_up, hid, dim);
    take_mats(&cur, c, w->w_down, dim, hid);
    w->rms_final = take(&cur, dim * 4);
    w->gate_w = take(&cur, dim * 4);
    const float *gate_b = take(&cur, 4);
    if (base) memcpy(&w->gate_b, gate_b, 4);
    w->lm_head = c->tied ? w->embed : take_mat(&cur, c, c->vocab_size, dim);
    return cur.off;
}

// Reads and checks the header. Every size is bounded so that no product below can overflow:
// each dimension <= 2^20 and each matrix <= 2^34 elements.
static int read_config(Config *c, const unsigned char *h, char *err) {
    if (memcmp(h, MODEL_MAGIC, 4) != 0) return fail(err, "not an ouro model file (bad magic)");
    int version = rd_i32(h + 4);
    if (version != MODEL_VERSION) return fail(err, "model format version %d, this program reads version %d", version, MODEL_VERSION);
    c->dim = rd_i32(h + 8);
    c->hidden_dim = rd_i32(h + 12);
    c->n_layers = rd_i32(h + 16);
    c->n_heads = rd_i32(h + 20);
    c->n_kv_heads = rd_i32(h + 24);
    c->head_dim = rd_i32(h + 28);
    c->vocab_size = rd_i32(h + 32);
    c->max_seq_len = rd_i32(h + 36);
    c->n_steps = rd_i32(h + 40);
    c->tied = rd_i32(h + 44);
    c->bos_id = rd_i32(h + 48);
    c->eos_id = rd_i32(h + 52);
    c->weight_type = rd_i32(h + 56);
    c->group_size = rd_i32(h + 60);
    c->rope_theta = rd_f32(h + 64);
    c->rms_eps = rd_f32(h + 68);
    c->exit_threshold = rd_f32(h + 72);
    c->exit_step = rd_i32(h + 76);

    // long long: vocab_size - 1 and n_steps - 1 are computed before those fields are checked
    const struct { const char *name; long long value, lo, hi; } fields[] = {
        {"dim", c->dim, 1, 1 << 20},          {"hidden_dim", c->hidden_dim, 1, 1 << 20},
        {"n_layers", c->n_layers, 1, 1024},   {"n_heads", c->n_heads, 1, 4096},
        {"n_kv_heads", c->n_kv_heads, 1, 4096}, {"head_dim", c->head_dim, 2, 1 << 16},
        {"vocab_size", c->vocab_size, 1, 1 << 24}, {"max_seq_len", c->max_seq_len, 1, 1 << 24},
        {"n_steps", c->n_steps, 1, 64},       {"tied", c->tied, 0, 1},
        {"bos_id", c->bos_id, -1, c->vocab_size - 1LL}, {"eos_id", c->eos_id, -1, c->vocab_size - 1LL},
        {"weight_type", c->weight_type, W_F32, W_Q8}, {"exit_step", c->exit_step, -1, c->n_steps - 1LL},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (fields[i].value < fields[i].lo || fields[i].value > fields[i].hi)
            return fail(err, "header field %s = %lld is out of range [%lld, %lld]", fields[i].name, fields[i].value, fields[i].lo, fields[i].hi);
    if (c->head_dim % 2) return fail(err, "head_dim %d is odd (RoPE rotates pairs)", c->head_dim);
    if (c->n_heads % c->n_kv_heads) return fail(err, "n_heads %d is not a multiple of n_kv_heads %d", c->n_heads, c->n_kv_heads);
    if ((int64_t)c->n_heads * c->head_dim > (1 << 20)) return fail(err, "n_heads * head_dim is too large");
    if (c->weight_type == W_Q8) {
        if (c->group_size < 1 || c->dim % c->group_size || c->hidden_dim % c->group_size ||
            (c->n_heads * c->head_dim) % c->group_size)
            return fail(err, "q8 group_size %d does not divide every row length", c->group_size);
    }
    if (!(c->rope_theta > 1.0f) || !isfinite(c->rope_theta)) return fail(err, "rope_theta %g is not a number > 1", c->rope_theta);
    if (!(c->rms_eps >= 0.0f) || !isfinite(c->rms_eps)) return fail(err, "rms_norm_eps %g is not a number >= 0", c->rms_eps);
    if (isnan(c->exit_threshold)) return fail(err, "exit_threshold is NaN");
    return 0;
}

// Checks a whole model file in memory and points the weights into it.
static int parse_model(Transformer *t, unsigned char *data, size_t size, char *err) {
    if (size < HEADER_SIZE) return fail(err, "file is %zu bytes, too small for the %d-byte header", size, HEADER_SIZE);
    Config *c = &t->c;
    if (read_config(c, data, err)) return -1;
    Weights *w = &t->w;
    size_t expected = map_weights(w, c, NULL);
    if (size != expected) return fail(err, "file is %zu bytes but its header implies %zu (truncated or not a model of this shape)", size, expected);
    Mat **stacks[] = {&w->wq, &w->wk, &w->wv, &w->wo, &w->w_gate, &w->w_up, &w->w_down};
    for (size_t i = 0; i < sizeof(stacks) / sizeof(stacks[0]); i++) *stacks[i] = xcalloc(c->n_layers, sizeof(Mat));
    map_weights(w, c, data);
    return 0;
}

static void load_model(Transformer *t, const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) fatal("%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) fatal("%s: cannot stat: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) fatal("%s: not a regular file", path);
    if (st.st_size < HEADER_SIZE) fatal("%s: file is %lld bytes, too small for the %d-byte header", path, (long long)st.st_size, HEADER_SIZE);
    t->size = (size_t)st.st_size;
    t->map = mmap(NULL, t->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (t->map == MAP_FAILED) fatal("%s: mmap failed: %s", path, strerror(errno));
    close(fd);
    char err[ERR_LEN];
    if (parse_model(t, t->map, t->size, err)) fatal("%s: %s", path, err);
}

// The cache is sized by the context the user asks for, not by max_position_embeddings
// (65536 positions of 96 slots would be 96 GiB).
static size_t cache_bytes(const Config *c, int seq_len, int kv_type) {
    size_t esize = kv_type == KV_BF16 ? 2 : 4;
    return 2 * (size_t)c->n_steps * c->n_layers * seq_len * c->n_kv_heads * c->head_dim * esize;
}

static void malloc_run_state(RunState *s, const Config *c, int seq_len, int max_batch, int kv_type) {
    size_t B = max_batch, dim = c->dim, hid = c->hidden_dim;
    size_t q_dim = (size_t)c->n_heads * c->head_dim, kv_dim = (size_t)c->n_kv_heads * c->head_dim;
    size_t widest = q_dim > dim ? q_dim : dim, half = c->head_dim / 2;
    size_t slots = (size_t)c->n_steps * c->n_layers;
    s->max_batch = max_batch;
    s->seq_len = seq_len;
    s->x = xcalloc(B * dim, sizeof(float));
    s->xb = xcalloc(B * widest, sizeof(float));
    s->xb2 = xcalloc(B * dim, sizeof(float));
    s->hb = xcalloc(B * hid, sizeof(float));
    s->hb2 = xcalloc(B * hid, sizeof(float));
    s->q = xcalloc(B * q_dim, sizeof(float));
    s->att = xcalloc((size_t)c->n_heads * seq_len, sizeof(float));
    s->h = xcalloc((size_t)c->n_steps * B * dim, sizeof(float));
    s->gate = xcalloc((size_t)c->n_steps * B, sizeof(float));
    s->hexit = xcalloc(B * dim, sizeof(float));
    s->logits = xcalloc(B * c->vocab_size, sizeof(float));
    s->xq = xcalloc(B * (widest > hid ? widest : hid), 1);
    s->xs = xcalloc(B * (widest > hid ? widest : hid), sizeof(float));
    s->rope_cos = xcalloc(B * half, sizeof(float));
    s->rope_sin = xcalloc(B * half, sizeof(float));
    s->inv_freq = xcalloc(half, sizeof(double));
    for (size_t i = 0; i < half; i++) s->inv_freq[i] = pow((double)c->rope_theta, -2.0 * i / c->head_dim);
    s->k = xcalloc(B * kv_dim, sizeof(float));
    s->v = xcalloc(B * kv_dim, sizeof(float));
    s->kv_type = kv_type;
    s->key_cache = xcalloc(slots * seq_len * kv_dim, kv_type == KV_BF16 ? 2 : 4);
    s->value_cache = xcalloc(slots * seq_len * kv_dim, kv_type == KV_BF16 ? 2 : 4);
}

static void free_transformer(Transformer *t) {
    RunState *s = &t->s;
    void *bufs[] = {s->x, s->xb, s->xb2, s->hb, s->hb2, s->q, s->att, s->h, s->gate, s->hexit, s->logits,
                    s->xq, s->xs, s->rope_cos, s->rope_sin, s->inv_freq, s->k, s->v, s->key_cache, s->value_cache};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) free(bufs[i]);
    Weights *w = &t->w;
    Mat *stacks[] = {w->wq, w->wk, w->wv, w->wo, w->w_gate, w->w_up, w->w_down};
    for (size_t i = 0; i < sizeof(stacks) / sizeof(stacks[0]); i++) free(stacks[i]);
    if (t->map) munmap(t->map, t->size);
}

// ----------------------------------------------------------------------------
// kernels: the plain C versions are the reference every faster path is tested against

static inline float bf16_to_f32(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline uint16_t f32_to_bf16(float f) { // round to nearest even, as torch does
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7FFFFFFF) > 0x7F800000) return (uint16_t)(u >> 16 | 0x40); // NaN stays NaN
    return (uint16_t)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}

static void rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    float ss = 0.0f;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    float scale = 1.0f / sqrtf(ss / n + eps);
    for (int i = 0; i < n; i++) out[i] = w[i] * (x[i] * scale);
}

static void softmax(float *x, int n) {
    float max = x[0];
    for (int i = 1; i < n; i++) if (x[i] > max) max = x[i];
    float sum = 0.0f;
    for (int i = 0; i < n; i++) { x[i] = expf(x[i] - max); sum += x[i]; }
    for (int i = 0; i < n; i++) x[i] /= sum;
}

// Matrix products out[B, d] = x[B, n] W^T for a weight W[d, n] (PyTorch's Linear layout).
// Rows of W are split across threads; every row is read once for all B positions. A build with
// fast kernels may not call these: test_ouro.c still compares the two.
#define PLAIN_KERNEL __attribute__((unused)) static

PLAIN_KERNEL void matmul_f32_plain(float *out, const float *x, const float *w, int n, int d, int B) {
    int i;
#pragma omp parallel for private(i)
    for (i = 0; i < d; i++) {
        const float *row = w + (size_t)i * n;
        for (int b = 0; b < B; b++) {
            const float *xb = x + (size_t)b * n;
            float sum = 0.0f;
            for (int j = 0; j < n; j++) sum += row[j] * xb[j];
            out[(size_t)b * d + i] = sum;
        }
    }
}

PLAIN_KERNEL void matmul_bf16_plain(float *out, const float *x, const uint16_t *w, int n, int d, int B) {
    int i;
#pragma omp parallel for private(i)
    for (i = 0; i < d; i++) {
        const uint16_t *row = w + (size_t)i * n;
        for (int b = 0; b < B; b++) {
            const float *xb = x + (size_t)b * n;
            float sum = 0.0f;
            for (int j = 0; j < n; j++) sum += bf16_to_f32(row[j]) * xb[j];
            out[(size_t)b * d + i] = sum;
        }
    }
}

// q8: symmetric int8 with one scale per group of gs values. Activations are quantized the same
// way, so each group's dot product is exact integer arithmetic.
PLAIN_KERNEL void quantize_q8_plain(int8_t *q, float *s, const float *x, size_t n, int gs) {
    for (size_t g = 0; g < n / gs; g++) {
        const float *xg = x + g * gs;
        float amax = 0.0f;
        for (int j = 0; j < gs; j++) amax = fmaxf(amax, fabsf(xg[j]));
        float scale = amax / 127.0f;
        s[g] = scale;
        for (int j = 0; j < gs; j++) {
            // clamped: NaN or infinite activations, or a subnormal scale, would make the cast
            // to int8 undefined (and amax / scale can exceed 127 when the scale is subnormal)
            float v = scale > 0.0f ? roundf(xg[j] / scale) : 0.0f;
            q[g * gs + j] = (int8_t)(v >= 127.0f ? 127.0f : v <= -127.0f ? -127.0f : v == v ? v : 0.0f);
        }
    }
}

PLAIN_KERNEL void matmul_q8_plain(float *out, const int8_t *xq, const float *xs, const int8_t *w, const float *ws,
                            int n, int d, int B, int gs) {
    int i;
#pragma omp parallel for private(i)
    for (i = 0; i < d; i++) {
        const int8_t *row = w + (size_t)i * n;
        const float *rs = ws + (size_t)i * (n / gs);
        for (int b = 0; b < B; b++) {
            const int8_t *xqb = xq + (size_t)b * n;
            const float *xsb = xs + (size_t)b * (n / gs);
            float sum = 0.0f;
            for (int g = 0; g < n / gs; g++) {
                int32_t isum = 0;
                for (int j = g * gs; j < (g + 1) * gs; j++) isum += (int32_t)row[j] * xqb[j];
                sum += (float)isum * rs[g] * xsb[g];
            }
            out[(size_t)b * d + i] = sum;
        }
    }
}

// Fast kernels, chosen at compile time: AVX-512 (F, and BW/VL/VNNI for q8), else AVX2+FMA,
// else the plain ones above. They compute the same sums in float32 (q8: the same exact integer
// group sums), only in another order. B = 1 is decoding: every weight is read once per token,
// so the speed is the memory bandwidth and the kernel only has to keep enough loads in flight.
// B > 1 is the prompt: each weight serves B positions, so a panel of W is widened to fp32 once
// and reused from L1 for every position (a small GEMM), bound by the FMA units instead.

// Below this many multiply-adds a product runs on one thread: waking the others costs more.
#define PAR_MIN (1 << 18)

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#define HAVE_SIMD 1
#define INLINE static inline __attribute__((always_inline))

// This thread's share [*lo, *hi) of d rows: contiguous, cut at multiples of `unit` rows.
static void thread_rows(int d, int unit, int *lo, int *hi) {
#ifdef _OPENMP
    int nt = omp_get_num_threads(), id = omp_get_thread_num();
#else
    int nt = 1, id = 0;
#endif
    long units = (d + unit - 1) / unit;
    long a = units * id / nt * unit, b = units * (id + 1) / nt * unit;
    *lo = a < d ? (int)a : d;
    *hi = b < d ? (int)b : d;
}

static void *xmalloc64(size_t bytes) { // 64-byte aligned scratch for the packed operands
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64)) fatal("out of memory (%zu bytes)", bytes);
    return p;
}


// A thin vector layer so one GEMV and one GEMM serve AVX-512 (16 floats) and AVX2 (8 floats).
#if defined(__AVX512F__)
#define VW 16
typedef __m512 vf;
INLINE vf v_zero(void) { return _mm512_setzero_ps(); }
INLINE vf v_load(const float *p) { return _mm512_loadu_ps(p); }
INLINE void v_store(float *p, vf v) { _mm512_storeu_ps(p, v); }
INLINE vf v_set1(float f) { return _mm512_set1_ps(f); }
INLINE vf v_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
INLINE float v_sum(vf v) { return _mm512_reduce_add_ps(v); }
INLINE vf v_add(vf a, vf b) { return _mm512_add_ps(a, b); }
INLINE vf v_div(vf a, vf b) { return _mm512_div_ps(a, b); }
INLINE vf v_max(vf a, vf b) { return _mm512_max_ps(a, b); }
INLINE vf v_abs(vf a) { return _mm512_abs_ps(a); }
INLINE float v_hmax(vf v) { return _mm512_reduce_max_ps(v); }
INLINE vf v_trunc(vf v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC); }
// +-1 (the sign of v) where |v - t| >= 0.5, else 0: roundf's step away from zero
INLINE vf v_round_step(vf v, vf t) {
    __mmask16 m = _mm512_cmp_ps_mask(v_abs(_mm512_sub_ps(v, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    vf one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));
    return _mm512_maskz_mov_ps(m, one);
}
INLINE void v_store_i8(int8_t *p, vf v) { _mm_storeu_si128((__m128i *)p, _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(v))); }
// bf16 is the top half of an fp32: widen to 32 bits and shift
INLINE vf v_load_bf16(const uint16_t *p) {
    __m512i u = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(u, 16));
}
// 16x16 transpose: r[i] holds row i; afterwards r[j] holds column j
INLINE void v_transpose(vf r[16]) {
    vf t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) { // within each 128-bit lane: r[i+j] = column j of rows i..i+3
        __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]);
        __m512d c = _mm512_castps_pd(t[i + 2]), e = _mm512_castps_pd(t[i + 3]);
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, e));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, e));
    }
    for (int j = 0; j < 4; j++) { // then gather the 128-bit lanes
        t[j] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);
        t[j + 4] = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xDD);
        t[j + 8] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
        t[j + 12] = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xDD);
    }
    for (int j = 0; j < 4; j++) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0x88);
        r[j + 8] = _mm512_shuffle_f32x4(t[j], t[j + 8], 0xDD);
        r[j + 4] = _mm512_shuffle_f32x4(t[j + 4], t[j + 12], 0x88);
        r[j + 12] = _mm512_shuffle_f32x4(t[j + 4], t[j + 12], 0xDD);
    }
}
#define GEMM_MR 8  // positions per micro-tile (the broadcast operand)
#define GEMM_NV 2  // vectors of rows per micro-tile: 8 x 32 outputs in 16 accumulators
#else
#define VW 8
typedef __m256 vf;
INLINE vf v_zero(void) { return _mm256_setzero_ps(); }
INLINE vf v_load(const float *p) { return _mm256_loadu_ps(p); }
INLINE void v_store(float *p, vf v) { _mm256_storeu_ps(p, v); }
INLINE vf v_set1(float f) { return _mm256_set1_ps(f); }
INLINE vf v_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
INLINE float v_sum(vf v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
INLINE vf v_add(vf a, vf b) { return _mm256_add_ps(a, b); }
INLINE vf v_div(vf a, vf b) { return _mm256_div_ps(a, b); }
INLINE vf v_max(vf a, vf b) { return _mm256_max_ps(a, b); }
INLINE vf v_abs(vf a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
INLINE float v_hmax(vf v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}
INLINE vf v_trunc(vf v) { return _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC); }
INLINE vf v_round_step(vf v, vf t) {
    vf m = _mm256_cmp_ps(v_abs(_mm256_sub_ps(v, t)), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    vf one = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(v, _mm256_set1_ps(-0.0f)));
    return _mm256_and_ps(m, one);
}
INLINE void v_store_i8(int8_t *p, vf v) {
    __m128i i = _mm_packs_epi32(_mm256_castsi256_si128(_mm256_cvttps_epi32(v)), _mm256_extracti128_si256(_mm256_cvttps_epi32(v), 1));
    _mm_storel_epi64((__m128i *)p, _mm_packs_epi16(i, i));
}
INLINE vf v_load_bf16(const uint16_t *p) {
    __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(u, 16));
}
INLINE void v_transpose(vf r[8]) {
    vf t[8], s[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        s[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int j = 0; j < 4; j++) {
        r[j] = _mm256_permute2f128_ps(s[j], s[j + 4], 0x20);
        r[j + 4] = _mm256_permute2f128_ps(s[j], s[j + 4], 0x31);
    }
}
#define GEMM_MR 6  // 6 x 16 outputs in 12 of the 16 registers
#define GEMM_NV 2
#endif
#define GEMM_NR (GEMM_NV * VW) // rows per panel
#define GEMM_KC 256            // columns per panel (at most): NR x KC floats = 32 KiB stays in L1

enum { WT_F32, WT_BF16 }; // the weight types the float kernels read (a constant in each caller)

INLINE vf load_w(const void *w, int wt, size_t i) {
    return wt == WT_BF16 ? v_load_bf16((const uint16_t *)w + i) : v_load((const float *)w + i);
}
INLINE float scalar_w(const void *w, int wt, size_t i) {
    return wt == WT_BF16 ? bf16_to_f32(((const uint16_t *)w)[i]) : ((const float *)w)[i];
}

// --- GEMV: few positions. R rows x T positions of dot products; each weight vector is loaded and
// widened once for the T positions. Leftover columns (n not a multiple of VW) are done in scalar.
// The R rows are `rs` rows apart: at B = 1 each of them is one of R sequential streams through its
// own part of the chunk (the pattern the bandwidth probe found fastest), prefetched GEMV_AHEAD
// bytes ahead.
#define GEMV_AHEAD 512 // prefetch distance in bytes of weights
INLINE void gemv_tile(float *out, int d, const float *x, const void *w, int wt, int n, int R, int T, int rs) {
    size_t esize = wt == WT_BF16 ? 2 : 4, ld = (size_t)rs * n; // elements between the R rows
    vf acc[4][4];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = v_zero();
    int k = 0;
    for (; k + VW <= n; k += VW) {
        if (k * esize % 64 == 0) // once per cache line
            for (int r = 0; r < R; r++) _mm_prefetch((const char *)w + (r * ld + k) * esize + GEMV_AHEAD, _MM_HINT_T0);
        vf wv[4];
        for (int r = 0; r < R; r++) wv[r] = load_w(w, wt, r * ld + k);
        for (int t = 0; t < T; t++) {
            vf xv = v_load(x + (size_t)t * n + k);
            for (int r = 0; r < R; r++) acc[r][t] = v_fma(wv[r], xv, acc[r][t]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) {
            float s = v_sum(acc[r][t]);
            for (int j = k; j < n; j++) s += scalar_w(w, wt, r * ld + j) * x[(size_t)t * n + j];
            out[(size_t)t * d + (size_t)r * rs] = s;
        }
}

#define GEMV_T 4 // positions per pass over the weights
#define GEMV_R1 4 // rows (streams) at B = 1: as many as the bandwidth probe's streams
#define GEMV_R(T) ((T) == 1 ? GEMV_R1 : VW == 16 ? 4 : 2) // keeps AVX2 within its 16 registers

// rows [i0, i1) against T positions
INLINE void gemv_tiles(float *out, int d, const float *x, const void *w, int wt, int n, int i0, int i1, int T) {
    const int R = GEMV_R(T);
    size_t esize = wt == WT_BF16 ? 2 : 4;
    const char *wb = (const char *)w;
    int m = (i1 - i0) / R, rs = T == 1 ? m : 1; // B = 1: R streams of m rows each
    for (int j = 0; j < m; j++) {
        int i = T == 1 ? i0 + j : i0 + j * R;
        gemv_tile(out + i, d, x, wb + (size_t)i * n * esize, wt, n, R, T, rs);
    }
    for (int i = i0 + m * R; i < i1; i++) gemv_tile(out + i, d, x, wb + (size_t)i * n * esize, wt, n, 1, T, 1);
}

// Rows go to threads in chunks of at most about GEMV_CHUNK bytes of weights, handed out
// dynamically (a thread slowed by another process then does fewer chunks instead of holding the
// others up), as many chunks as a multiple of the thread count so that none is left over at the end.
// Within a chunk the R streams each run through a quarter of it. For B > T the chunk also stays in
// L2 while every group of T positions passes over it, hence smaller chunks then.
#define GEMV_CHUNK (1024 * 1024)
static int gemv_chunk_rows(int n, int d, int esize, int B) {
#ifdef _OPENMP
    int nt = omp_get_max_threads();
#else
    int nt = 1;
#endif
    size_t limit = B > GEMV_T ? 256 * 1024 : GEMV_CHUNK, bytes = (size_t)n * d * esize;
    size_t chunks = (bytes + limit * nt - 1) / (limit * nt) * nt; // a multiple of nt
    int rows = (int)((d + chunks - 1) / chunks + 3) / 4 * 4;
    return rows < 4 ? 4 : rows;
}

// rows [i0, i1) for all B positions, T at a time
INLINE void gemv_rows(float *out, const float *x, const void *w, int wt, int n, int d, int B, int i0, int i1) {
    for (int b = 0; b < B; b += GEMV_T) {
        float *o = out + (size_t)b * d;
        const float *xb = x + (size_t)b * n;
        switch (B - b < GEMV_T ? B - b : GEMV_T) {
        case 1: gemv_tiles(o, d, xb, w, wt, n, i0, i1, 1); break;
        case 2: gemv_tiles(o, d, xb, w, wt, n, i0, i1, 2); break;
        case 3: gemv_tiles(o, d, xb, w, wt, n, i0, i1, 3); break;
        default: gemv_tiles(o, d, xb, w, wt, n, i0, i1, 4); break;
        }
    }
}

// --- GEMM: many positions. A panel of NR rows x KC columns of W is widened to fp32 and transposed
// ([k][NR]) once, then every group of MR positions runs over it: per column k, NV vector loads of
// the panel and MR broadcasts of x feed MR*NV FMAs into registers.

// The cache lines of the next panel's weights, fetched into L2 a few at a time while the current
// panel is in use: packing straight from DRAM would wait on 32 short strided reads at once, and a
// burst of prefetches would stall on the line fill buffers just as badly.
typedef struct {
    const char *p; // first row of the next panel
    size_t ld;     // row stride in bytes
    int lpr;       // lines per row (rounded up, allowing for misalignment)
    int next, end; // lines left to fetch: [next, end) of rows * lpr
} Prefetch;

INLINE void prefetch_some(Prefetch *pf, int count) {
    for (; count > 0 && pf->next < pf->end; count--, pf->next++)
        _mm_prefetch(pf->p + (size_t)(pf->next / pf->lpr) * pf->ld + (size_t)(pf->next % pf->lpr) * 64, _MM_HINT_T1);
}

// xp: the positions, packed [k][MR] (zero for missing ones); p: the panel [k][NR];
// c: the MR x NR tile of out with row stride ldc, accumulated into unless init.
static inline void gemm_micro(const float *xp, const float *p, int kc, float *c, int ldc, int init, Prefetch *pf,
                              int every) {
    vf acc[GEMM_MR][GEMM_NV];
    for (int i = 0; i < GEMM_MR; i++)
        for (int v = 0; v < GEMM_NV; v++) acc[i][v] = init ? v_zero() : v_load(c + (size_t)i * ldc + v * VW);
    for (int k = 0, left = every; k < kc; k++) {
        if (--left == 0) {
            left = every;
            prefetch_some(pf, 1);
        }
        vf wv[GEMM_NV];
        for (int v = 0; v < GEMM_NV; v++) wv[v] = v_load(p + (size_t)k * GEMM_NR + v * VW);
        for (int i = 0; i < GEMM_MR; i++) {
            vf xv = v_set1(xp[(size_t)k * GEMM_MR + i]);
            for (int v = 0; v < GEMM_NV; v++) acc[i][v] = v_fma(wv[v], xv, acc[i][v]);
        }
    }
    for (int i = 0; i < GEMM_MR; i++)
        for (int v = 0; v < GEMM_NV; v++) v_store(c + (size_t)i * ldc + v * VW, acc[i][v]);
}

// Panel of `rows` (<= NR; the rest zero) rows x kc columns starting at w, row stride n -> p[kc][NR].
INLINE void gemm_pack(float *p, const void *w, int wt, int n, int rows, int kc) {
    for (int h = 0; h < GEMM_NV; h++)
        for (int k = 0; k < kc; k += VW) {
            int kn = kc - k < VW ? kc - k : VW;
            vf r[VW];
            for (int j = 0; j < VW; j++) {
                int row = h * VW + j;
                size_t at = (size_t)row * n + k;
                if (row >= rows) r[j] = v_zero();
                else if (kn == VW) r[j] = load_w(w, wt, at);
                else { // the last columns: through a zero-padded buffer
                    float tmp[VW] = {0};
                    for (int e = 0; e < kn; e++) tmp[e] = scalar_w(w, wt, at + e);
                    r[j] = v_load(tmp);
                }
            }
            v_transpose(r);
            for (int j = 0; j < kn; j++) v_store(p + (size_t)(k + j) * GEMM_NR + h * VW, r[j]);
        }
}

INLINE void gemm(float *out, const float *x, const void *w, int wt, int n, int d, int B) {
    size_t esize = wt == WT_BF16 ? 2 : 4;
    int nb = (B + GEMM_MR - 1) / GEMM_MR;
    float *xp = xmalloc64((size_t)nb * n * GEMM_MR * sizeof(float)); // x as [block][k][MR]
    int nkbs = (n + GEMM_KC - 1) / GEMM_KC, kcb = ((n + nkbs - 1) / nkbs + 15) / 16 * 16; // equal blocks
#pragma omp parallel if ((double)n * d * B > PAR_MIN)
    {
        int tb;
#pragma omp for
        for (tb = 0; tb < nb; tb++)
            for (int i = 0; i < GEMM_MR; i++) {
                int b = tb * GEMM_MR + i;
                float *dst = xp + (size_t)tb * n * GEMM_MR + i;
                for (int k = 0; k < n; k++) dst[(size_t)k * GEMM_MR] = b < B ? x[(size_t)b * n + k] : 0.0f;
            }
        // (implicit barrier: every thread needs all of xp)
        float *panel = xmalloc64((size_t)kcb * GEMM_NR * sizeof(float));
        float tile[GEMM_MR * GEMM_NR] __attribute__((aligned(64)));
        int lo, hi;
        thread_rows(d, GEMM_NR, &lo, &hi);
        for (int kb = 0; kb < n; kb += kcb) {
            int kc = n - kb < kcb ? n - kb : kcb;
            for (int r0 = lo; r0 < hi; r0 += GEMM_NR) {
                int rows = hi - r0 < GEMM_NR ? hi - r0 : GEMM_NR;
                gemm_pack(panel, (const char *)w + ((size_t)r0 * n + kb) * esize, wt, n, rows, kc);
                int nr0 = r0 + GEMM_NR, nkb = kb; // the next panel
                if (nr0 >= hi) nr0 = lo, nkb = kb + kcb;
                int nrows = hi - nr0 < GEMM_NR ? hi - nr0 : GEMM_NR, nkc = n - nkb < kcb ? n - nkb : kcb;
                Prefetch pf = {(const char *)w + ((size_t)nr0 * n + nkb) * esize, (size_t)n * esize,
                               (int)(nkc * esize / 64) + 2, 0, nkb < n ? nrows * ((int)(nkc * esize / 64) + 2) : 0};
                int every = pf.end ? (int)((long)kc * nb / pf.end) : kc + 1; // k steps between prefetches
                if (every < 1) every = 1;
                for (tb = 0; tb < nb; tb++) {
                    int b0 = tb * GEMM_MR, mr = B - b0 < GEMM_MR ? B - b0 : GEMM_MR;
                    float *c = out + (size_t)b0 * d + r0;
                    const float *xt = xp + ((size_t)tb * n + kb) * GEMM_MR;
                    if (tb == nb - 1) prefetch_some(&pf, pf.end); // whatever is left
                    if (mr == GEMM_MR && rows == GEMM_NR) {
                        gemm_micro(xt, panel, kc, c, d, kb == 0, &pf, every);
                        continue;
                    }
                    // an edge tile (last positions or last rows): accumulate in a full-size copy
                    for (int i = 0; i < GEMM_MR; i++)
                        for (int j = 0; j < GEMM_NR; j++)
                            tile[i * GEMM_NR + j] = i < mr && j < rows && kb > 0 ? c[(size_t)i * d + j] : 0.0f;
                    gemm_micro(xt, panel, kc, tile, GEMM_NR, 0, &pf, every);
                    for (int i = 0; i < mr; i++)
                        for (int j = 0; j < rows; j++) c[(size_t)i * d + j] = tile[i * GEMM_NR + j];
                }
            }
        }
        free(panel);
    }
    free(xp);
}

// From this many positions on, packing the weights pays for itself (measured: below it the packing
// and transposing cost as much as the multiply-adds, and the GEMV is faster).
#ifndef GEMM_MIN_B
#define GEMM_MIN_B 32
#endif

#if defined(OURO_BF16_DOT) && defined(__AVX512BF16__)
// Opt-in (-DOURO_BF16_DOT): the positions are rounded to bf16 (nearest even) and vdpbf16ps
// multiplies bf16 pairs, accumulating in fp32; used for few positions only, since on the machines
// measured vdpbf16ps has half the throughput of fp32 FMA. Each x loses up to 2^-8 of itself.
INLINE void gemv_dot_tile(float *out, int d, const uint16_t *xh, const uint16_t *w, int n, int R, int T, int rs) {
    size_t ld = (size_t)rs * n;
    __m512 acc[4][4];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm512_setzero_ps();
    int k = 0;
    for (; k + 32 <= n; k += 32) {
        __m512i wv[4];
        for (int r = 0; r < R; r++) {
            _mm_prefetch((const char *)(w + r * ld + k) + GEMV_AHEAD, _MM_HINT_T0);
            wv[r] = _mm512_loadu_si512(w + r * ld + k);
        }
        for (int t = 0; t < T; t++) {
            __m512bh xv = (__m512bh)_mm512_loadu_si512(xh + (size_t)t * n + k);
            for (int r = 0; r < R; r++) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], (__m512bh)wv[r], xv);
        }
    }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) {
            float s = _mm512_reduce_add_ps(acc[r][t]);
            for (int j = k; j < n; j++) s += bf16_to_f32(w[r * ld + j]) * bf16_to_f32(xh[(size_t)t * n + j]);
            out[(size_t)t * d + (size_t)r * rs] = s;
        }
}

// rows [i0, i1) against T positions, laid out as in gemv_tiles
INLINE void gemv_dot_tiles(float *out, int d, const uint16_t *xh, const uint16_t *w, int n, int i0, int i1, int T) {
    const int R = 4;
    int m = (i1 - i0) / R, rs = T == 1 ? m : 1;
    for (int j = 0; j < m; j++) {
        int i = T == 1 ? i0 + j : i0 + j * R;
        gemv_dot_tile(out + i, d, xh, w + (size_t)i * n, n, R, T, rs);
    }
    for (int i = i0 + m * R; i < i1; i++) gemv_dot_tile(out + i, d, xh, w + (size_t)i * n, n, 1, T, 1);
}

static void gemv_bf16_dot(float *out, const float *x, const uint16_t *w, int n, int d, int B) {
    uint16_t *xh = xmalloc64((size_t)B * n * 2);
    size_t total = (size_t)B * n, whole = total / 32 * 32;
    for (size_t k = 0; k < whole; k += 32)
        _mm512_storeu_si512(xh + k, (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + k + 16), _mm512_loadu_ps(x + k)));
    for (size_t k = whole; k < total; k++) xh[k] = f32_to_bf16(x[k]);
    int rows = gemv_chunk_rows(n, d, 2, B), chunks = (d + rows - 1) / rows, c;
#pragma omp parallel for schedule(dynamic, 1) if ((double)n * d * B > PAR_MIN)
    for (c = 0; c < chunks; c++) {
        int lo = c * rows, hi = lo + rows < d ? lo + rows : d;
        for (int b = 0; b < B; b += 4) {
            float *o = out + (size_t)b * d;
            const uint16_t *xb = xh + (size_t)b * n;
            switch (B - b < 4 ? B - b : 4) {
            case 1: gemv_dot_tiles(o, d, xb, w, n, lo, hi, 1); break;
            case 2: gemv_dot_tiles(o, d, xb, w, n, lo, hi, 2); break;
            case 3: gemv_dot_tiles(o, d, xb, w, n, lo, hi, 3); break;
            default: gemv_dot_tiles(o, d, xb, w, n, lo, hi, 4); break;
            }
        }
    }
    free(xh);
}
#endif

INLINE void matmul_float(float *out, const float *x, const void *w, int wt, int n, int d, int B) {
    if (B >= GEMM_MIN_B) {
        gemm(out, x, w, wt, n, d, B);
        return;
    }
#if defined(OURO_BF16_DOT) && defined(__AVX512BF16__)
    if (wt == WT_BF16) {
        gemv_bf16_dot(out, x, w, n, d, B);
        return;
    }
#endif
    int rows = gemv_chunk_rows(n, d, wt == WT_BF16 ? 2 : 4, B), chunks = (d + rows - 1) / rows, c;
#pragma omp parallel for schedule(dynamic, 1) if ((double)n * d * B > PAR_MIN)
    for (c = 0; c < chunks; c++) gemv_rows(out, x, w, wt, n, d, B, c * rows, c * rows + rows < d ? c * rows + rows : d);
}

static void matmul_f32_fast(float *out, const float *x, const float *w, int n, int d, int B) {
    matmul_float(out, x, w, WT_F32, n, d, B);
}

static void matmul_bf16_fast(float *out, const float *x, const uint16_t *w, int n, int d, int B) {
    matmul_float(out, x, w, WT_BF16, n, d, B);
}

// --- q8. Each group's dot product is summed in int32 exactly as in the plain kernel; only the
// order in which the scaled group sums are added up differs.
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
#define HAVE_Q8_SIMD 1
#define Q8_GS_OK(gs) 1
// vpdpbusd multiplies unsigned by signed bytes: the weights are flipped to unsigned
// (w ^ 0x80 == w + 128) and 128 * sum(x) of the group is subtracted afterwards. Exact for any int8.
typedef __m512i qv;
INLINE qv q8_zero(void) { return _mm512_setzero_si512(); }
// int32 partial sums of one group (gs values at w and at x + t*xstride) for T positions
INLINE void q8_group(qv v[4], const int8_t *w, const int8_t *x, size_t xstride, int gs, int T) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (int t = 0; t < T; t++) v[t] = _mm512_setzero_si512();
    for (int c = 0; c < gs; c += 64) {
        __mmask64 m = gs - c >= 64 ? ~0ULL : ~0ULL >> (64 - (gs - c)); // masked bytes read as 0
        __m512i wv = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, w + c), flip);
        for (int t = 0; t < T; t++)
            v[t] = _mm512_dpbusd_epi32(v[t], wv, _mm512_maskz_loadu_epi8(m, x + t * xstride + c));
    }
}
INLINE int32_t q8_sum(qv v) { return _mm512_reduce_add_epi32(v); }
#define Q8_FLIP 128 // what q8_group adds per unit of sum(x)
#elif defined(__AVX2__)
#define HAVE_Q8_SIMD 1
#define Q8_GS_OK(gs) ((gs) % 16 == 0)
// bytes widened to int16 and multiplied pairwise into int32 (vpmaddwd): exact for any int8.
typedef __m256i qv;
INLINE qv q8_zero(void) { return _mm256_setzero_si256(); }
INLINE void q8_group(qv v[4], const int8_t *w, const int8_t *x, size_t xstride, int gs, int T) {
    for (int t = 0; t < T; t++) v[t] = _mm256_setzero_si256();
    for (int c = 0; c < gs; c += 16) {
        __m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + c)));
        for (int t = 0; t < T; t++) {
            __m256i xv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(x + t * xstride + c)));
            v[t] = _mm256_add_epi32(v[t], _mm256_madd_epi16(wv, xv));
        }
    }
}
INLINE int32_t q8_sum(qv v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    return _mm_cvtsi128_si32(_mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1)));
}
#define Q8_FLIP 0
#endif

#ifdef HAVE_Q8_SIMD
// [sum(a) sum(b) sum(c) sum(d)] of four int32 vectors: pairwise interleave-and-add (one shuffle per
// halving, cheaper than phaddd), then add the 128-bit lanes
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
INLINE __m128i hsum4_epi32(qv a, qv b, qv c, qv d) {
    __m512i ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
    __m512i cd = _mm512_add_epi32(_mm512_unpacklo_epi32(c, d), _mm512_unpackhi_epi32(c, d));
    __m512i s = _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
    __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}
#else
INLINE __m128i hsum4_epi32(qv a, qv b, qv c, qv d) {
    __m256i ab = _mm256_add_epi32(_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b));
    __m256i cd = _mm256_add_epi32(_mm256_unpacklo_epi32(c, d), _mm256_unpackhi_epi32(c, d));
    __m256i s = _mm256_add_epi32(_mm256_unpacklo_epi64(ab, cd), _mm256_unpackhi_epi64(ab, cd));
    return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}
#endif

// R rows (rs rows apart, as in gemv_tile) against T positions. Groups go four at a time, so the
// four group sums come out as one vector to convert and scale. corr[t][g] = Q8_FLIP * sum of x's
// group.
INLINE void gemv_q8_tile(float *out, int d, const int8_t *xq, const float *xs, const int32_t *corr,
                         const int8_t *w, const float *ws, int n, int gs, int R, int T, int rs) {
    int ng = n / gs, g = 0;
    __m128 acc[GEMV_R1][4];
    float tail[GEMV_R1][4];
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) acc[r][t] = _mm_setzero_ps(), tail[r][t] = 0.0f;
    for (; g + 4 <= ng; g += 4)
        for (int r = 0; r < R; r++) {
            const int8_t *wr = w + (size_t)r * rs * n + (size_t)g * gs;
            for (int l = 0; l < 4 * gs; l += 64) _mm_prefetch((const char *)wr + GEMV_AHEAD + l, _MM_HINT_T0);
            qv v[4][4]; // [group][position]
            for (int q = 0; q < 4; q++) q8_group(v[q], wr + (size_t)q * gs, xq + (size_t)(g + q) * gs, n, gs, T);
            __m128 sw = _mm_loadu_ps(ws + (size_t)r * rs * ng + g);
            for (int t = 0; t < T; t++) {
                __m128i s = hsum4_epi32(v[0][t], v[1][t], v[2][t], v[3][t]);
                s = _mm_sub_epi32(s, _mm_loadu_si128((const __m128i *)(corr + (size_t)t * ng + g)));
                __m128 f = _mm_mul_ps(_mm_mul_ps(_mm_cvtepi32_ps(s), sw), _mm_loadu_ps(xs + (size_t)t * ng + g));
                acc[r][t] = _mm_add_ps(acc[r][t], f);
            }
        }
    for (; g < ng; g++)
        for (int r = 0; r < R; r++) {
            qv v[4];
            q8_group(v, w + (size_t)r * rs * n + (size_t)g * gs, xq + (size_t)g * gs, n, gs, T);
            for (int t = 0; t < T; t++)
                tail[r][t] += (float)(q8_sum(v[t]) - corr[(size_t)t * ng + g]) * ws[(size_t)r * rs * ng + g] *
                              xs[(size_t)t * ng + g];
        }
    for (int r = 0; r < R; r++)
        for (int t = 0; t < T; t++) {
            __m128 s = _mm_add_ps(acc[r][t], _mm_movehl_ps(acc[r][t], acc[r][t]));
            out[(size_t)t * d + (size_t)r * rs] = _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s))) + tail[r][t];
        }
}

// rows [i0, i1) against T positions; the usual group sizes as constants (no masks, no chunk loop)
INLINE void gemv_q8_rows(float *out, const int8_t *xq, const float *xs, const int32_t *corr, const int8_t *w,
                         const float *ws, int n, int d, int gs, int i0, int i1, int T) {
    const int R = T == 1 ? GEMV_R1 : 1;
    int ng = n / gs, m = (i1 - i0) / R, rs = T == 1 ? m : 1;
    for (int j = 0; j < m; j++) {
        int i = T == 1 ? i0 + j : i0 + j * R;
        const int8_t *wi = w + (size_t)i * n;
        const float *si = ws + (size_t)i * ng;
        if (gs == 64) gemv_q8_tile(out + i, d, xq, xs, corr, wi, si, n, 64, R, T, rs);
        else if (gs == 32) gemv_q8_tile(out + i, d, xq, xs, corr, wi, si, n, 32, R, T, rs);
        else gemv_q8_tile(out + i, d, xq, xs, corr, wi, si, n, gs, R, T, rs);
    }
    for (int i = i0 + m * R; i < i1; i++)
        gemv_q8_tile(out + i, d, xq, xs, corr, w + (size_t)i * n, ws + (size_t)i * ng, n, gs, 1, T, 1);
}

static void gemv_q8(float *out, const int8_t *xq, const float *xs, const int8_t *w, const float *ws,
                    int n, int d, int B, int gs) {
    int ng = n / gs;
    int32_t corr_small[256]; // decoding needs a few, and allocates nothing per token
    int32_t *corr = (size_t)B * ng <= 256 ? corr_small : xmalloc64((size_t)B * ng * sizeof(int32_t));
    for (size_t g = 0; g < (size_t)B * ng; g++) {
        int32_t s = 0;
        for (int j = 0; j < gs; j++) s += xq[g * gs + j];
        corr[g] = Q8_FLIP * s;
    }
    int rows = gemv_chunk_rows(n, d, 1, B), chunks = (d + rows - 1) / rows, c;
#pragma omp parallel for schedule(dynamic, 1) if ((double)n * d * B > PAR_MIN)
    for (c = 0; c < chunks; c++) {
        int i0 = c * rows, i1 = i0 + rows < d ? i0 + rows : d;
        for (int b = 0; b < B; b += GEMV_T) {
            float *o = out + (size_t)b * d;
            const int8_t *xb = xq + (size_t)b * n;
            const float *sb = xs + (size_t)b * ng;
            const int32_t *cb = corr + (size_t)b * ng;
            switch (B - b < GEMV_T ? B - b : GEMV_T) {
            case 1: gemv_q8_rows(o, xb, sb, cb, w, ws, n, d, gs, i0, i1, 1); break;
            case 2: gemv_q8_rows(o, xb, sb, cb, w, ws, n, d, gs, i0, i1, 2); break;
            case 3: gemv_q8_rows(o, xb, sb, cb, w, ws, n, d, gs, i0, i1, 3); break;
            default: gemv_q8_rows(o, xb, sb, cb, w, ws, n, d, gs, i0, i1, 4); break;
            }
        }
    }
    if (corr != corr_small) free(corr);
}

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
// GEMM for q8 prompts: like the float GEMM, but the panel holds 4 consecutive int8 values of a
// row per 32-bit lane ([k/4][32 rows], flipped to unsigned) and each vpdpbusd does 64 multiply-
// adds. Every lane is one row's group sum, so no horizontal sums are needed; at the end of each
// group the int32 sums are scaled into float accumulators.
#define GEMMQ_MR 6  // positions: 6 x 2 int32 + 6 x 2 float accumulators
#define GEMMQ_NR 32 // rows per panel
#define GEMMQ_KC 1024 // bytes of a row per panel (rounded to whole groups): 32 KiB panel

// xp [k/4][MR] int32 (4 bytes of x), xsp/cp [group][MR] scales and corrections, p [k/4][NR],
// wsp [group][NR]; c is the MR x NR tile of out (row stride ldc), accumulated into unless init.
static inline void gemmq_micro(const int32_t *xp, const float *xsp, const int32_t *cp, const int32_t *p,
                               const float *wsp, int ngk, int gs4, float *c, int ldc, int init) {
    __m512 af[GEMMQ_MR][2];
    for (int i = 0; i < GEMMQ_MR; i++)
        for (int v = 0; v < 2; v++) af[i][v] = init ? _mm512_setzero_ps() : _mm512_loadu_ps(c + (size_t)i * ldc + 16 * v);
    for (int g = 0; g < ngk; g++) {
        __m512i ai[GEMMQ_MR][2];
        for (int i = 0; i < GEMMQ_MR; i++) ai[i][0] = ai[i][1] = _mm512_set1_epi32(-cp[g * GEMMQ_MR + i]);
        for (int k = 0; k < gs4; k++) {
            __m512i w0 = _mm512_load_si512(p), w1 = _mm512_load_si512(p + 16);
            for (int i = 0; i < GEMMQ_MR; i++) {
                __m512i xb = _mm512_set1_epi32(xp[i]);
                ai[i][0] = _mm512_dpbusd_epi32(ai[i][0], w0, xb);
                ai[i][1] = _mm512_dpbusd_epi32(ai[i][1], w1, xb);
            }
            p += GEMMQ_NR;
            xp += GEMMQ_MR;
        }
        __m512 s0 = _mm512_load_ps(wsp + g * GEMMQ_NR), s1 = _mm512_load_ps(wsp + g * GEMMQ_NR + 16);
        for (int i = 0; i < GEMMQ_MR; i++) {
            __m512 xv = _mm512_set1_ps(xsp[g * GEMMQ_MR + i]);
            af[i][0] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(ai[i][0]), s0), xv, af[i][0]);
            af[i][1] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(ai[i][1]), s1), xv, af[i][1]);
        }
    }
    for (int i = 0; i < GEMMQ_MR; i++)
        for (int v = 0; v < 2; v++) _mm512_storeu_ps(c + (size_t)i * ldc + 16 * v, af[i][v]);
}

// rows (<= NR) x kc bytes at w (row stride n) -> p[kc/4][NR] flipped; their scales -> wsp[kc/gs][NR]
static void gemmq_pack(int32_t *p, float *wsp, const int8_t *w, const float *ws, int n, int gs, int rows, int kc) {
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    for (int h = 0; h < 2; h++)
        for (int k = 0; k < kc; k += 64) {
            int kn = kc - k < 64 ? (kc - k) / 4 : 16; // 4-byte columns in this block
            __mmask64 m = kn == 16 ? ~0ULL : ~0ULL >> (64 - 4 * kn);
            vf r[16];
            for (int j = 0; j < 16; j++) {
                int row = h * 16 + j;
                __m512i v = row < rows ? _mm512_maskz_loadu_epi8(m, w + (size_t)row * n + k) : _mm512_setzero_si512();
                r[j] = _mm512_castsi512_ps(_mm512_xor_si512(v, flip));
            }
            v_transpose(r);
            for (int j = 0; j < kn; j++) _mm512_store_ps((float *)p + (size_t)(k / 4 + j) * GEMMQ_NR + h * 16, r[j]);
        }
    int ng = n / gs;
    for (int g = 0; g < kc / gs; g++)
        for (int r = 0; r < GEMMQ_NR; r++) wsp[g * GEMMQ_NR + r] = r < rows ? ws[(size_t)r * ng + g] : 0.0f;
}

static void gemm_q8(float *out, const int8_t *xq, const float *xs, const int8_t *w, const float *ws,
                    int n, int d, int B, int gs) {
    int ng = n / gs, n4 = n / 4, nb = (B + GEMMQ_MR - 1) / GEMMQ_MR;
    int kcq = GEMMQ_KC / gs * gs;
    if (kcq < gs) kcq = gs;
    size_t xbytes = (size_t)nb * GEMMQ_MR * (n4 * 4 + ng * 8);
    int32_t *xp = xmalloc64(xbytes); // [block][k/4][MR], then scales and corrections [block][g][MR]
    float *xsp = (float *)(xp + (size_t)nb * n4 * GEMMQ_MR);
    int32_t *cp = (int32_t *)(xsp + (size_t)nb * ng * GEMMQ_MR);
#pragma omp parallel if ((double)n * d * B > PAR_MIN)
    {
        int tb;
#pragma omp for
        for (tb = 0; tb < nb; tb++)
            for (int i = 0; i < GEMMQ_MR; i++) {
                int b = tb * GEMMQ_MR + i;
                for (int k = 0; k < n4; k++) {
                    int32_t v = 0;
                    if (b < B) memcpy(&v, xq + (size_t)b * n + 4 * k, 4);
                    xp[((size_t)tb * n4 + k) * GEMMQ_MR + i] = v;
                }
                for (int g = 0; g < ng; g++) {
                    int32_t s = 0;
                    for (int j = 0; b < B && j < gs; j++) s += xq[(size_t)b * n + (size_t)g * gs + j];
                    xsp[((size_t)tb * ng + g) * GEMMQ_MR + i] = b < B ? xs[(size_t)b * ng + g] : 0.0f;
                    cp[((size_t)tb * ng + g) * GEMMQ_MR + i] = Q8_FLIP * s;
                }
            }
        int32_t *panel = xmalloc64((size_t)kcq / 4 * GEMMQ_NR * 4 + (size_t)kcq / gs * GEMMQ_NR * 4);
        float *wsp = (float *)(panel + (size_t)kcq / 4 * GEMMQ_NR);
        float tile[GEMMQ_MR * GEMMQ_NR] __attribute__((aligned(64)));
        int lo, hi;
        thread_rows(d, GEMMQ_NR, &lo, &hi);
        for (int kb = 0; kb < n; kb += kcq) {
            int kc = n - kb < kcq ? n - kb : kcq, g0 = kb / gs;
            for (int r0 = lo; r0 < hi; r0 += GEMMQ_NR) {
                int rows = hi - r0 < GEMMQ_NR ? hi - r0 : GEMMQ_NR;
                gemmq_pack(panel, wsp, w + (size_t)r0 * n + kb, ws + (size_t)r0 * ng + g0, n, gs, rows, kc);
                for (tb = 0; tb < nb; tb++) {
                    int b0 = tb * GEMMQ_MR, mr = B - b0 < GEMMQ_MR ? B - b0 : GEMMQ_MR;
                    float *c = out + (size_t)b0 * d + r0;
                    const int32_t *xt = xp + ((size_t)tb * n4 + kb / 4) * GEMMQ_MR;
                    const float *st = xsp + ((size_t)tb * ng + g0) * GEMMQ_MR;
                    const int32_t *ct = cp + ((size_t)tb * ng + g0) * GEMMQ_MR;
                    if (mr == GEMMQ_MR && rows == GEMMQ_NR) {
                        gemmq_micro(xt, st, ct, panel, wsp, kc / gs, gs / 4, c, d, kb == 0);
                        continue;
                    }
                    for (int i = 0; i < GEMMQ_MR; i++)
                        for (int j = 0; j < GEMMQ_NR; j++)
                            tile[i * GEMMQ_NR + j] = i < mr && j < rows && kb > 0 ? c[(size_t)i * d + j] : 0.0f;
                    gemmq_micro(xt, st, ct, panel, wsp, kc / gs, gs / 4, tile, GEMMQ_NR, 0);
                    for (int i = 0; i < mr; i++)
                        for (int j = 0; j < rows; j++) c[(size_t)i * d + j] = tile[i * GEMMQ_NR + j];
                }
            }
        }
        free(panel);
    }
    free(xp);
}
#define HAVE_GEMMQ 1
#ifndef GEMMQ_MIN_B
#define GEMMQ_MIN_B 8 // (vpdpbusd does 4x the work of an FMA, so packing pays off sooner)
#endif
#endif

// quantize_q8 with vectors; bit-identical to the plain one (same division, and roundf's
// half-away-from-zero rounding rebuilt from truncation: v - trunc(v) is exact).
static void quantize_q8_fast(int8_t *q, float *s, const float *x, size_t n, int gs) {
    if (gs % VW) {
        quantize_q8_plain(q, s, x, n, gs);
        return;
    }
    for (size_t g = 0; g < n / gs; g++) {
        const float *xg = x + g * gs;
        vf amax = v_zero();
        for (int j = 0; j < gs; j += VW) amax = v_max(amax, v_abs(v_load(xg + j)));
        float scale = v_hmax(amax) / 127.0f;
        s[g] = scale;
        if (!(scale > 0.0f)) {
            memset(q + g * gs, 0, (size_t)gs);
            continue;
        }
        vf vs = v_set1(scale);
        for (int j = 0; j < gs; j += VW) {
            vf v = v_div(v_load(xg + j), vs), t = v_trunc(v);
            v_store_i8(q + g * gs + j, v_add(t, v_round_step(v, t)));
        }
    }
}

static void matmul_q8_fast(float *out, const int8_t *xq, const float *xs, const int8_t *w, const float *ws,
                           int n, int d, int B, int gs) {
    if (!Q8_GS_OK(gs)) {
        matmul_q8_plain(out, xq, xs, w, ws, n, d, B, gs);
        return;
    }
#ifdef HAVE_GEMMQ
    if (B >= GEMMQ_MIN_B && gs % 4 == 0) {
        gemm_q8(out, xq, xs, w, ws, n, d, B, gs);
        return;
    }
#endif
    gemv_q8(out, xq, xs, w, ws, n, d, B, gs);
}
#define matmul_q8 matmul_q8_fast
#define quantize_q8 quantize_q8_fast
#endif // HAVE_Q8_SIMD

#define matmul_f32 matmul_f32_fast
#define matmul_bf16 matmul_bf16_fast
#else
#define matmul_f32 matmul_f32_plain
#define matmul_bf16 matmul_bf16_plain
#endif // HAVE_SIMD

#ifndef matmul_q8
#define matmul_q8 matmul_q8_plain
#define quantize_q8 quantize_q8_plain
#endif

// out[B, d] = x[B, n] W^T in the model's weight type
static void matmul(RunState *s, const Config *c, float *out, const float *x, const Mat *w, int n, int d, int B) {
    switch (c->weight_type) {
    case W_F32: matmul_f32(out, x, w->data, n, d, B); break;
    case W_BF16: matmul_bf16(out, x, w->data, n, d, B); break;
    default:
        quantize_q8(s->xq, s->xs, x, (size_t)n * B, c->group_size);
        matmul_q8(out, s->xq, s->xs, w->data, w->scale, n, d, B, c->group_size);
    }
}

// one row of a weight matrix as floats (the embedding lookup)
static void read_row(float *out, const Mat *w, int type, int group_size, int row, int n) {
    for (int j = 0; j < n; j++) {
        size_t k = (size_t)row * n + j;
        if (type == W_F32) out[j] = ((const float *)w->data)[k];
        else if (type == W_BF16) out[j] = bf16_to_f32(((const uint16_t *)w->data)[k]);
        else out[j] = ((const int8_t *)w->data)[k] * w->scale[k / group_size];
    }
}

// RoPE, "rotate half" form: each head's first half pairs with its second half
static void rope(float *v, int n_heads, int head_dim, const float *cos_, const float *sin_) {
    int half = head_dim / 2;
    for (int h = 0; h < n_heads; h++) {
        float *x = v + (size_t)h * head_dim;
        for (int i = 0; i < half; i++) {
            float a = x[i], b = x[i + half];
            x[i] = a * cos_[i] - b * sin_[i];
            x[i + half] = b * cos_[i] + a * sin_[i];
        }
    }
}

// ----------------------------------------------------------------------------
// the forward pass: T loop steps over the same L layers

// Which loop step's state produces the logits (Hugging Face's exit_at_step / exit_threshold).
// "-u N" is {N, +inf}: run N steps, exit at the last of them, skip the work of the rest.
typedef struct {
    int steps;       // loop steps to run (T unless the exit step is fixed)
    float threshold; // exit at the first step whose cumulative exit probability >= threshold
} ExitRule;

// Exit distribution of the gate: p_t = lambda_t * prod_{j<t}(1 - lambda_j), the rest on the
// last step. Returns the first step whose cumulative probability reaches the threshold.
// gate[t * stride] is step t's gate logit.
static int exit_step(const float *gate, int stride, int n_steps, float threshold) {
    double remaining = 1.0, cumulative = 0.0;
    for (int t = 0; t < n_steps; t++) {
        double lambda = 1.0 / (1.0 + exp(-(double)gate[(size_t)t * stride]));
        double p = t < n_steps - 1 ? lambda * remaining : remaining;
        remaining *= 1.0 - lambda;
        cumulative += p;
        if (cumulative >= threshold) return t;
    }
    return n_steps - 1;
}

// The cache holds float32 or bf16 values; these read and write rows of either.
static void kv_store(void *cache, size_t at, const float *x, int n, int kv_type) {
    if (kv_type == KV_F32) { memcpy((float *)cache + at, x, n * sizeof(float)); return; }
    uint16_t *dst = (uint16_t *)cache + at;
    for (int i = 0; i < n; i++) dst[i] = f32_to_bf16(x[i]);
}

static float kv_dot(const float *q, const void *cache, size_t at, int n, int kv_type) {
    float sum = 0.0f;
    int i = 0;
#ifdef HAVE_SIMD // at long contexts this is the attention's inner loop: vectorise it
    vf acc = v_zero();
    for (; i + VW <= n; i += VW)
        acc = v_fma(v_load(q + i), kv_type == KV_F32 ? v_load((const float *)cache + at + i)
                                                     : v_load_bf16((const uint16_t *)cache + at + i), acc);
    sum = v_sum(acc);
#endif
    if (kv_type == KV_F32) {
        const float *k = (const float *)cache + at;
        for (; i < n; i++) sum += q[i] * k[i];
    } else {
        const uint16_t *k = (const uint16_t *)cache + at;
        for (; i < n; i++) sum += q[i] * bf16_to_f32(k[i]);
    }
    return sum;
}

static void kv_axpy(float *out, float a, const void *cache, size_t at, int n, int kv_type) {
    int i = 0;
#ifdef HAVE_SIMD
    vf av = v_set1(a);
    for (; i + VW <= n; i += VW)
        v_store(out + i, v_fma(av, kv_type == KV_F32 ? v_load((const float *)cache + at + i)
                                                     : v_load_bf16((const uint16_t *)cache + at + i), v_load(out + i)));
#endif
    if (kv_type == KV_F32) {
        const float *v = (const float *)cache + at;
        for (; i < n; i++) out[i] += a * v[i];
    } else {
        const uint16_t *v = (const uint16_t *)cache + at;
        for (; i < n; i++) out[i] += a * bf16_to_f32(v[i]);
    }
}

// Causal attention of B new positions (pos..pos+B-1) over the cache slot that starts at
// element `slot_at`, heads in parallel.
static void attention(RunState *s, const Config *c, size_t slot_at, int pos, int B) {
    int hd = c->head_dim, q_dim = c->n_heads * hd, kv_dim = c->n_kv_heads * hd;
    int group = c->n_heads / c->n_kv_heads; // query heads per kv head (GQA)
    float scale = 1.0f / sqrtf((float)hd);
    int h;
#pragma omp parallel for private(h) if ((double)c->n_heads * (pos + B) * hd * B > PAR_MIN) // small: one thread
    for (h = 0; h < c->n_heads; h++) {
        float *att = s->att + (size_t)h * s->seq_len;
        size_t kv_at = slot_at + (size_t)(h / group) * hd;
        for (int b = 0; b < B; b++) {
            const float *q = s->q + (size_t)b * q_dim + (size_t)h * hd;
            int n_keys = pos + b + 1; // this position and every one before it
            for (int p = 0; p < n_keys; p++)
                att[p] = kv_dot(q, s->key_cache, kv_at + (size_t)p * kv_dim, hd, s->kv_type) * scale;
            softmax(att, n_keys);
            float *out = s->xb + (size_t)b * q_dim + (size_t)h * hd;
            memset(out, 0, hd * sizeof(float));
            for (int p = 0; p < n_keys; p++) kv_axpy(out, att[p], s->value_cache, kv_at + (size_t)p * kv_dim, hd, s->kv_type);
        }
    }
}

// One decoder layer at loop step `step` for B positions starting at `pos`; updates s->x.
static void layer_forward(Transformer *t, int step, int l, int pos, int B) {
    const Config *c = &t->c;
    const Weights *w = &t->w;
    RunState *s = &t->s;
    int dim = c->dim, hid = c->hidden_dim, half = c->head_dim / 2;
    int q_dim = c->n_heads * c->head_dim, kv_dim = c->n_kv_heads * c->head_dim;
    const float *norm_att = w->rms_att + (size_t)l * dim, *norm_att_out = w->rms_att_out + (size_t)l * dim;
    const float *norm_ffn = w->rms_ffn + (size_t)l * dim, *norm_ffn_out = w->rms_ffn_out + (size_t)l * dim;

    // this (step, layer) pair's slot in the cache: T*L slots, one per pass through a layer
    size_t slot = (size_t)step * c->n_layers + l;
    size_t slot_at = slot * s->seq_len * kv_dim; // first element of the slot

    // attention: q, k, v from the normed stream; the new keys and values join the cache
    for (int b = 0; b < B; b++) rmsnorm(s->xb + (size_t)b * dim, s->x + (size_t)b * dim, norm_att, dim, c->rms_eps);
    matmul(s, c, s->q, s->xb, &w->wq[l], dim, q_dim, B);
    matmul(s, c, s->k, s->xb, &w->wk[l], dim, kv_dim, B);
    matmul(s, c, s->v, s->xb, &w->wv[l], dim, kv_dim, B);
    for (int b = 0; b < B; b++) {
        rope(s->q + (size_t)b * q_dim, c->n_heads, c->head_dim, s->rope_cos + b * half, s->rope_sin + b * half);
        rope(s->k + (size_t)b * kv_dim, c->n_kv_heads, c->head_dim, s->rope_cos + b * half, s->rope_sin + b * half);
    }
    size_t at = slot_at + (size_t)pos * kv_dim;
    kv_store(s->key_cache, at, s->k, B * kv_dim, s->kv_type);
    kv_store(s->value_cache, at, s->v, B * kv_dim, s->kv_type);
    attention(s, c, slot_at, pos, B);

    // sandwich norm: the attention output is normed before it joins the residual
    matmul(s, c, s->xb2, s->xb, &w->wo[l], q_dim, dim, B);
    for (int b = 0; b < B; b++) {
        float *x = s->x + (size_t)b * dim, *y = s->xb2 + (size_t)b * dim;
        rmsnorm(y, y, norm_att_out, dim, c->rms_eps);
        for (int i = 0; i < dim; i++) x[i] += y[i];
    }

    // SwiGLU MLP, normed before and after
    for (int b = 0; b < B; b++) rmsnorm(s->xb + (size_t)b * dim, s->x + (size_t)b * dim, norm_ffn, dim, c->rms_eps);
    matmul(s, c, s->hb, s->xb, &w->w_gate[l], dim, hid, B);
    matmul(s, c, s->hb2, s->xb, &w->w_up[l], dim, hid, B);
    for (size_t i = 0; i < (size_t)B * hid; i++) {
        float g = s->hb[i];
        s->hb[i] = g / (1.0f + expf(-g)) * s->hb2[i];
    }
    matmul(s, c, s->xb2, s->hb, &w->w_down[l], hid, dim, B);
    for (int b = 0; b < B; b++) {
        float *x = s->x + (size_t)b * dim, *y = s->xb2 + (size_t)b * dim;
        rmsnorm(y, y, norm_ffn_out, dim, c->rms_eps);
        for (int i = 0; i < dim; i++) x[i] += y[i];
    }
}

enum { LOGITS_NONE, LOGITS_LAST, LOGITS_ALL };

// Runs B tokens at positions pos..pos+B-1 (B <= max_batch) through the loop and fills their
// cache entries. Returns logits [B, vocab] (LOGITS_ALL), the last position's [vocab]
// (LOGITS_LAST), or NULL: prompt positions whose logits nobody reads skip the lm_head.
static float *forward(Transformer *t, const int *tokens, int B, int pos, ExitRule rule, int want) {
    const Config *c = &t->c;
    const Weights *w = &t->w;
    RunState *s = &t->s;
    int dim = c->dim, half = c->head_dim / 2;

    for (int b = 0; b < B; b++) {
        // the rotation depends only on the position: the same for every step and layer
        for (int i = 0; i < half; i++) {
            double angle = (double)(pos + b) * s->inv_freq[i];
            s->rope_cos[b * half + i] = (float)cos(angle);
            s->rope_sin[b * half + i] = (float)sin(angle);
        }
        read_row(s->x + (size_t)b * dim, &w->embed, c->weight_type, c->group_size, tokens[b], dim);
    }

    for (int step = 0; step < rule.steps; step++) {    // the loop: the same layers every step
        for (int l = 0; l < c->n_layers; l++) layer_forward(t, step, l, pos, B);
        for (int b = 0; b < B; b++) {
            float *x = s->x + (size_t)b * dim;
            rmsnorm(x, x, w->rms_final, dim, c->rms_eps); // final norm after EVERY step
            memcpy(s->h + ((size_t)step * B + b) * dim, x, dim * sizeof(float));
            float g = w->gate_b;
            for (int i = 0; i < dim; i++) g += w->gate_w[i] * x[i];
            s->gate[step * B + b] = g;
        }
    }
    if (want == LOGITS_NONE) return NULL;

    // each position exits at its own step; gather those states and apply the lm_head once
    int first = want == LOGITS_ALL ? 0 : B - 1;
    for (int b = first; b < B; b++) {
        int e = exit_step(s->gate + b, B, rule.steps, rule.threshold);
        memcpy(s->hexit + (size_t)(b - first) * dim, s->h + ((size_t)e * B + b) * dim, dim * sizeof(float));
    }
    matmul(s, c, s->logits, s->hexit, &w->lm_head, dim, c->vocab_size, B - first);
    return s->logits;
}

// ----------------------------------------------------------------------------
// tokenizer: byte-level BPE, identical to Hugging Face `tokenizers` on the Ouro (SmolLM2)
// tokenizer.json: added tokens are matched as whole strings first, then every numeric
// character becomes its own piece (Digits), then the GPT-2 split pattern runs on the pieces in
// between, then BPE by merge rank. tokenizer.bin's layout is in README.md.

/* BEGIN unicode tables: generated by tools/gen_unicode.py, do not edit.
 * UC_L \p{L}, UC_N \p{N}: Unicode 16.0.0 (the tokenizers split regex, Oniguruma)
 * UC_S \s = White_Space property
 * UC_D Rust char::is_numeric: Unicode 17.0.0 (the Digits pre-tokenizer)
 * Entry = (first code point << 8) | class bits, valid up to the next entry. */
enum { UC_L = 1, UC_N = 2, UC_S = 4, UC_D = 8 };
static const uint32_t uc_runs[1614] = {
  0x00000000, 0x00000904, 0x00000e00, 0x00002004, 0x00002100, 0x0000300a, 0x00003a00, 0x00004101,
  0x00005b00, 0x00006101, 0x00007b00, 0x00008504, 0x00008600, 0x0000a004, 0x0000a100, 0x0000aa01,
  0x0000ab00, 0x0000b20a, 0x0000b400, 0x0000b501, 0x0000b600, 0x0000b90a, 0x0000ba01, 0x0000bb00,
  0x0000bc0a, 0x0000bf00, 0x0000c001, 0x0000d700, 0x0000d801, 0x0000f700, 0x0000f801, 0x0002c200,
  0x0002c601, 0x0002d200, 0x0002e001, 0x0002e500, 0x0002ec01, 0x0002ed00, 0x0002ee01, 0x0002ef00,
  0x00037001, 0x00037500, 0x00037601, 0x00037800, 0x00037a01, 0x00037e00, 0x00037f01, 0x00038000,
  0x00038601, 0x00038700, 0x00038801, 0x00038b00, 0x00038c01, 0x00038d00, 0x00038e01, 0x0003a200,
  0x0003a301, 0x0003f600, 0x0003f701, 0x00048200, 0x00048a01, 0x00053000, 0x00053101, 0x00055700,
  0x00055901, 0x00055a00, 0x00056001, 0x00058900, 0x0005d001, 0x0005eb00, 0x0005ef01, 0x0005f300,
  0x00062001, 0x00064b00, 0x0006600a, 0x00066a00, 0x00066e01, 0x00067000, 0x00067101, 0x0006d400,
  0x0006d501, 0x0006d600, 0x0006e501, 0x0006e700, 0x0006ee01, 0x0006f00a, 0x0006fa01, 0x0006fd00,
  0x0006ff01, 0x00070000, 0x00071001, 0x00071100, 0x00071201, 0x00073000, 0x00074d01, 0x0007a600,
  0x0007b101, 0x0007b200, 0x0007c00a, 0x0007ca01, 0x0007eb00, 0x0007f401, 0x0007f600, 0x0007fa01,
  0x0007fb00, 0x00080001, 0x00081600, 0x00081a01, 0x00081b00, 0x00082401, 0x00082500, 0x00082801,
  0x00082900, 0x00084001, 0x00085900, 0x00086001, 0x00086b00, 0x00087001, 0x00088800, 0x00088901,
  0x00088f00, 0x0008a001, 0x0008ca00, 0x00090401, 0x00093a00, 0x00093d01, 0x00093e00, 0x00095001,
  0x00095100, 0x00095801, 0x00096200, 0x0009660a, 0x00097000, 0x00097101, 0x00098100, 0x00098501,
  0x00098d00, 0x00098f01, 0x00099100, 0x00099301, 0x0009a900, 0x0009aa01, 0x0009b100, 0x0009b201,
  0x0009b300, 0x0009b601, 0x0009ba00, 0x0009bd01, 0x0009be00, 0x0009ce01, 0x0009cf00, 0x0009dc01,
  0x0009de00, 0x0009df01, 0x0009e200, 0x0009e60a, 0x0009f001, 0x0009f200, 0x0009f40a, 0x0009fa00,
  0x0009fc01, 0x0009fd00, 0x000a0501, 0x000a0b00, 0x000a0f01, 0x000a1100, 0x000a1301, 0x000a2900,
  0x000a2a01, 0x000a3100, 0x000a3201, 0x000a3400, 0x000a3501, 0x000a3700, 0x000a3801, 0x000a3a00,
  0x000a5901, 0x000a5d00, 0x000a5e01, 0x000a5f00, 0x000a660a, 0x000a7000, 0x000a7201, 0x000a7500,
  0x000a8501, 0x000a8e00, 0x000a8f01, 0x000a9200, 0x000a9301, 0x000aa900, 0x000aaa01, 0x000ab100,
  0x000ab201, 0x000ab400, 0x000ab501, 0x000aba00, 0x000abd01, 0x000abe00, 0x000ad001, 0x000ad100,
  0x000ae001, 0x000ae200, 0x000ae60a, 0x000af000, 0x000af901, 0x000afa00, 0x000b0501, 0x000b0d00,
  0x000b0f01, 0x000b1100, 0x000b1301, 0x000b2900, 0x000b2a01, 0x000b3100, 0x000b3201, 0x000b3400,
  0x000b3501, 0x000b3a00, 0x000b3d01, 0x000b3e00, 0x000b5c01, 0x000b5e00, 0x000b5f01, 0x000b6200,
  0x000b660a, 0x000b7000, 0x000b7101, 0x000b720a, 0x000b7800, 0x000b8301, 0x000b8400, 0x000b8501,
  0x000b8b00, 0x000b8e01, 0x000b9100, 0x000b9201, 0x000b9600, 0x000b9901, 0x000b9b00, 0x000b9c01,
  0x000b9d00, 0x000b9e01, 0x000ba000, 0x000ba301, 0x000ba500, 0x000ba801, 0x000bab00, 0x000bae01,
  0x000bba00, 0x000bd001, 0x000bd100, 0x000be60a, 0x000bf300, 0x000c0501, 0x000c0d00, 0x000c0e01,
  0x000c1100, 0x000c1201, 0x000c2900, 0x000c2a01, 0x000c3a00, 0x000c3d01, 0x000c3e00, 0x000c5801,
  0x000c5b00, 0x000c5d01, 0x000c5e00, 0x000c6001, 0x000c6200, 0x000c660a, 0x000c7000, 0x000c780a,
  0x000c7f00, 0x000c8001, 0x000c8100, 0x000c8501, 0x000c8d00, 0x000c8e01, 0x000c9100, 0x000c9201,
  0x000ca900, 0x000caa01, 0x000cb400, 0x000cb501, 0x000cba00, 0x000cbd01, 0x000cbe00, 0x000cdd01,
  0x000cdf00, 0x000ce001, 0x000ce200, 0x000ce60a, 0x000cf000, 0x000cf101, 0x000cf300, 0x000d0401,
  0x000d0d00, 0x000d0e01, 0x000d1100, 0x000d1201, 0x000d3b00, 0x000d3d01, 0x000d3e00, 0x000d4e01,
  0x000d4f00, 0x000d5401, 0x000d5700, 0x000d580a, 0x000d5f01, 0x000d6200, 0x000d660a, 0x000d7900,
  0x000d7a01, 0x000d8000, 0x000d8501, 0x000d9700, 0x000d9a01, 0x000db200, 0x000db301, 0x000dbc00,
  0x000dbd01, 0x000dbe00, 0x000dc001, 0x000dc700, 0x000de60a, 0x000df000, 0x000e0101, 0x000e3100,
  0x000e3201, 0x000e3400, 0x000e4001, 0x000e4700, 0x000e500a, 0x000e5a00, 0x000e8101, 0x000e8300,
  0x000e8401, 0x000e8500, 0x000e8601, 0x000e8b00, 0x000e8c01, 0x000ea400, 0x000ea501, 0x000ea600,
  0x000ea701, 0x000eb100, 0x000eb201, 0x000eb400, 0x000ebd01, 0x000ebe00, 0x000ec001, 0x000ec500,
  0x000ec601, 0x000ec700, 0x000ed00a, 0x000eda00, 0x000edc01, 0x000ee000, 0x000f0001, 0x000f0100,
  0x000f200a, 0x000f3400, 0x000f4001, 0x000f4800, 0x000f4901, 0x000f6d00, 0x000f8801, 0x000f8d00,
  0x00100001, 0x00102b00, 0x00103f01, 0x0010400a, 0x00104a00, 0x00105001, 0x00105600, 0x00105a01,
  0x00105e00, 0x00106101, 0x00106200, 0x00106501, 0x00106700, 0x00106e01, 0x00107100, 0x00107501,
  0x00108200, 0x00108e01, 0x00108f00, 0x0010900a, 0x00109a00, 0x0010a001, 0x0010c600, 0x0010c701,
  0x0010c800, 0x0010cd01, 0x0010ce00, 0x0010d001, 0x0010fb00, 0x0010fc01, 0x00124900, 0x00124a01,
  0x00124e00, 0x00125001, 0x00125700, 0x00125801, 0x00125900, 0x00125a01, 0x00125e00, 0x00126001,
  0x00128900, 0x00128a01, 0x00128e00, 0x00129001, 0x0012b100, 0x0012b201, 0x0012b600, 0x0012b801,
  0x0012bf00, 0x0012c001, 0x0012c100, 0x0012c201, 0x0012c600, 0x0012c801, 0x0012d700, 0x0012d801,
  0x00131100, 0x00131201, 0x00131600, 0x00131801, 0x00135b00, 0x0013690a, 0x00137d00, 0x00138001,
  0x00139000, 0x0013a001, 0x0013f600, 0x0013f801, 0x0013fe00, 0x00140101, 0x00166d00, 0x00166f01,
  0x00168004, 0x00168101, 0x00169b00, 0x0016a001, 0x0016eb00, 0x0016ee0a, 0x0016f101, 0x0016f900,
  0x00170001, 0x00171200, 0x00171f01, 0x00173200, 0x00174001, 0x00175200, 0x00176001, 0x00176d00,
  0x00176e01, 0x00177100, 0x00178001, 0x0017b400, 0x0017d701, 0x0017d800, 0x0017dc01, 0x0017dd00,
  0x0017e00a, 0x0017ea00, 0x0017f00a, 0x0017fa00, 0x0018100a, 0x00181a00, 0x00182001, 0x00187900,
  0x00188001, 0x00188500, 0x00188701, 0x0018a900, 0x0018aa01, 0x0018ab00, 0x0018b001, 0x0018f600,
  0x00190001, 0x00191f00, 0x0019460a, 0x00195001, 0x00196e00, 0x00197001, 0x00197500, 0x00198001,
  0x0019ac00, 0x0019b001, 0x0019ca00, 0x0019d00a, 0x0019db00, 0x001a0001, 0x001a1700, 0x001a2001,
  0x001a5500, 0x001a800a, 0x001a8a00, 0x001a900a, 0x001a9a00, 0x001aa701, 0x001aa800, 0x001b0501,
  0x001b3400, 0x001b4501, 0x001b4d00, 0x001b500a, 0x001b5a00, 0x001b8301, 0x001ba100, 0x001bae01,
  0x001bb00a, 0x001bba01, 0x001be600, 0x001c0001, 0x001c2400, 0x001c400a, 0x001c4a00, 0x001c4d01,
  0x001c500a, 0x001c5a01, 0x001c7e00, 0x001c8001, 0x001c8b00, 0x001c9001, 0x001cbb00, 0x001cbd01,
  0x001cc000, 0x001ce901, 0x001ced00, 0x001cee01, 0x001cf400, 0x001cf501, 0x001cf700, 0x001cfa01,
  0x001cfb00, 0x001d0001, 0x001dc000, 0x001e0001, 0x001f1600, 0x001f1801, 0x001f1e00, 0x001f2001,
  0x001f4600, 0x001f4801, 0x001f4e00, 0x001f5001, 0x001f5800, 0x001f5901, 0x001f5a00, 0x001f5b01,
  0x001f5c00, 0x001f5d01, 0x001f5e00, 0x001f5f01, 0x001f7e00, 0x001f8001, 0x001fb500, 0x001fb601,
  0x001fbd00, 0x001fbe01, 0x001fbf00, 0x001fc201, 0x001fc500, 0x001fc601, 0x001fcd00, 0x001fd001,
  0x001fd400, 0x001fd601, 0x001fdc00, 0x001fe001, 0x001fed00, 0x001ff201, 0x001ff500, 0x001ff601,
  0x001ffd00, 0x00200004, 0x00200b00, 0x00202804, 0x00202a00, 0x00202f04, 0x00203000, 0x00205f04,
  0x00206000, 0x0020700a, 0x00207101, 0x00207200, 0x0020740a, 0x00207a00, 0x00207f01, 0x0020800a,
  0x00208a00, 0x00209001, 0x00209d00, 0x00210201, 0x00210300, 0x00210701, 0x00210800, 0x00210a01,
  0x00211400, 0x00211501, 0x00211600, 0x00211901, 0x00211e00, 0x00212401, 0x00212500, 0x00212601,
  0x00212700, 0x00212801, 0x00212900, 0x00212a01, 0x00212e00, 0x00212f01, 0x00213a00, 0x00213c01,
  0x00214000, 0x00214501, 0x00214a00, 0x00214e01, 0x00214f00, 0x0021500a, 0x00218301, 0x0021850a,
  0x00218a00, 0x0024600a, 0x00249c00, 0x0024ea0a, 0x00250000, 0x0027760a, 0x00279400, 0x002c0001,
  0x002ce500, 0x002ceb01, 0x002cef00, 0x002cf201, 0x002cf400, 0x002cfd0a, 0x002cfe00, 0x002d0001,
  0x002d2600, 0x002d2701, 0x002d2800, 0x002d2d01, 0x002d2e00, 0x002d3001, 0x002d6800, 0x002d6f01,
  0x002d7000, 0x002d8001, 0x002d9700, 0x002da001, 0x002da700, 0x002da801, 0x002daf00, 0x002db001,
  0x002db700, 0x002db801, 0x002dbf00, 0x002dc001, 0x002dc700, 0x002dc801, 0x002dcf00, 0x002dd001,
  0x002dd700, 0x002dd801, 0x002ddf00, 0x002e2f01, 0x002e3000, 0x00300004, 0x00300100, 0x00300501,
  0x0030070a, 0x00300800, 0x0030210a, 0x00302a00, 0x00303101, 0x00303600, 0x0030380a, 0x00303b01,
  0x00303d00, 0x00304101, 0x00309700, 0x00309d01, 0x0030a000, 0x0030a101, 0x0030fb00, 0x0030fc01,
  0x00310000, 0x00310501, 0x00313000, 0x00313101, 0x00318f00, 0x0031920a, 0x00319600, 0x0031a001,
  0x0031c000, 0x0031f001, 0x00320000, 0x0032200a, 0x00322a00, 0x0032480a, 0x00325000, 0x0032510a,
  0x00326000, 0x0032800a, 0x00328a00, 0x0032b10a, 0x0032c000, 0x00340001, 0x004dc000, 0x004e0001,
  0x00a48d00, 0x00a4d001, 0x00a4fe00, 0x00a50001, 0x00a60d00, 0x00a61001, 0x00a6200a, 0x00a62a01,
  0x00a62c00, 0x00a64001, 0x00a66f00, 0x00a67f01, 0x00a69e00, 0x00a6a001, 0x00a6e60a, 0x00a6f000,
  0x00a71701, 0x00a72000, 0x00a72201, 0x00a78900, 0x00a78b01, 0x00a7ce00, 0x00a7d001, 0x00a7d200,
  0x00a7d301, 0x00a7d400, 0x00a7d501, 0x00a7dd00, 0x00a7f201, 0x00a80200, 0x00a80301, 0x00a80600,
  0x00a80701, 0x00a80b00, 0x00a80c01, 0x00a82300, 0x00a8300a, 0x00a83600, 0x00a84001, 0x00a87400,
  0x00a88201, 0x00a8b400, 0x00a8d00a, 0x00a8da00, 0x00a8f201, 0x00a8f800, 0x00a8fb01, 0x00a8fc00,
  0x00a8fd01, 0x00a8ff00, 0x00a9000a, 0x00a90a01, 0x00a92600, 0x00a93001, 0x00a94700, 0x00a96001,
  0x00a97d00, 0x00a98401, 0x00a9b300, 0x00a9cf01, 0x00a9d00a, 0x00a9da00, 0x00a9e001, 0x00a9e500,
  0x00a9e601, 0x00a9f00a, 0x00a9fa01, 0x00a9ff00, 0x00aa0001, 0x00aa2900, 0x00aa4001, 0x00aa4300,
  0x00aa4401, 0x00aa4c00, 0x00aa500a, 0x00aa5a00, 0x00aa6001, 0x00aa7700, 0x00aa7a01, 0x00aa7b00,
  0x00aa7e01, 0x00aab000, 0x00aab101, 0x00aab200, 0x00aab501, 0x00aab700, 0x00aab901, 0x00aabe00,
  0x00aac001, 0x00aac100, 0x00aac201, 0x00aac300, 0x00aadb01, 0x00aade00, 0x00aae001, 0x00aaeb00,
  0x00aaf201, 0x00aaf500, 0x00ab0101, 0x00ab0700, 0x00ab0901, 0x00ab0f00, 0x00ab1101, 0x00ab1700,
  0x00ab2001, 0x00ab2700, 0x00ab2801, 0x00ab2f00, 0x00ab3001, 0x00ab5b00, 0x00ab5c01, 0x00ab6a00,
  0x00ab7001, 0x00abe300, 0x00abf00a, 0x00abfa00, 0x00ac0001, 0x00d7a400, 0x00d7b001, 0x00d7c700,
  0x00d7cb01, 0x00d7fc00, 0x00f90001, 0x00fa6e00, 0x00fa7001, 0x00fada00, 0x00fb0001, 0x00fb0700,
  0x00fb1301, 0x00fb1800, 0x00fb1d01, 0x00fb1e00, 0x00fb1f01, 0x00fb2900, 0x00fb2a01, 0x00fb3700,
  0x00fb3801, 0x00fb3d00, 0x00fb3e01, 0x00fb3f00, 0x00fb4001, 0x00fb4200, 0x00fb4301, 0x00fb4500,
  0x00fb4601, 0x00fbb200, 0x00fbd301, 0x00fd3e00, 0x00fd5001, 0x00fd9000, 0x00fd9201, 0x00fdc800,
  0x00fdf001, 0x00fdfc00, 0x00fe7001, 0x00fe7500, 0x00fe7601, 0x00fefd00, 0x00ff100a, 0x00ff1a00,
  0x00ff2101, 0x00ff3b00, 0x00ff4101, 0x00ff5b00, 0x00ff6601, 0x00ffbf00, 0x00ffc201, 0x00ffc800,
  0x00ffca01, 0x00ffd000, 0x00ffd201, 0x00ffd800, 0x00ffda01, 0x00ffdd00, 0x01000001, 0x01000c00,
  0x01000d01, 0x01002700, 0x01002801, 0x01003b00, 0x01003c01, 0x01003e00, 0x01003f01, 0x01004e00,
  0x01005001, 0x01005e00, 0x01008001, 0x0100fb00, 0x0101070a, 0x01013400, 0x0101400a, 0x01017900,
  0x01018a0a, 0x01018c00, 0x01028001, 0x01029d00, 0x0102a001, 0x0102d100, 0x0102e10a, 0x0102fc00,
  0x01030001, 0x0103200a, 0x01032400, 0x01032d01, 0x0103410a, 0x01034201, 0x01034a0a, 0x01034b00,
  0x01035001, 0x01037600, 0x01038001, 0x01039e00, 0x0103a001, 0x0103c400, 0x0103c801, 0x0103d000,
  0x0103d10a, 0x0103d600, 0x01040001, 0x01049e00, 0x0104a00a, 0x0104aa00, 0x0104b001, 0x0104d400,
  0x0104d801, 0x0104fc00, 0x01050001, 0x01052800, 0x01053001, 0x01056400, 0x01057001, 0x01057b00,
  0x01057c01, 0x01058b00, 0x01058c01, 0x01059300, 0x01059401, 0x01059600, 0x01059701, 0x0105a200,
  0x0105a301, 0x0105b200, 0x0105b301, 0x0105ba00, 0x0105bb01, 0x0105bd00, 0x0105c001, 0x0105f400,
  0x01060001, 0x01073700, 0x01074001, 0x01075600, 0x01076001, 0x01076800, 0x01078001, 0x01078600,
  0x01078701, 0x0107b100, 0x0107b201, 0x0107bb00, 0x01080001, 0x01080600, 0x01080801, 0x01080900,
  0x01080a01, 0x01083600, 0x01083701, 0x01083900, 0x01083c01, 0x01083d00, 0x01083f01, 0x01085600,
  0x0108580a, 0x01086001, 0x01087700, 0x0108790a, 0x01088001, 0x01089f00, 0x0108a70a, 0x0108b000,
  0x0108e001, 0x0108f300, 0x0108f401, 0x0108f600, 0x0108fb0a, 0x01090001, 0x0109160a, 0x01091c00,
  0x01092001, 0x01093a00, 0x01098001, 0x0109b800, 0x0109bc0a, 0x0109be01, 0x0109c00a, 0x0109d000,
  0x0109d20a, 0x010a0001, 0x010a0100, 0x010a1001, 0x010a1400, 0x010a1501, 0x010a1800, 0x010a1901,
  0x010a3600, 0x010a400a, 0x010a4900, 0x010a6001, 0x010a7d0a, 0x010a7f00, 0x010a8001, 0x010a9d0a,
  0x010aa000, 0x010ac001, 0x010ac800, 0x010ac901, 0x010ae500, 0x010aeb0a, 0x010af000, 0x010b0001,
  0x010b3600, 0x010b4001, 0x010b5600, 0x010b580a, 0x010b6001, 0x010b7300, 0x010b780a, 0x010b8001,
  0x010b9200, 0x010ba90a, 0x010bb000, 0x010c0001, 0x010c4900, 0x010c8001, 0x010cb300, 0x010cc001,
  0x010cf300, 0x010cfa0a, 0x010d0001, 0x010d2400, 0x010d300a, 0x010d3a00, 0x010d400a, 0x010d4a01,
  0x010d6600, 0x010d6f01, 0x010d8600, 0x010e600a, 0x010e7f00, 0x010e8001, 0x010eaa00, 0x010eb001,
  0x010eb200, 0x010ec201, 0x010ec500, 0x010f0001, 0x010f1d0a, 0x010f2701, 0x010f2800, 0x010f3001,
  0x010f4600, 0x010f510a, 0x010f5500, 0x010f7001, 0x010f8200, 0x010fb001, 0x010fc50a, 0x010fcc00,
  0x010fe001, 0x010ff700, 0x01100301, 0x01103800, 0x0110520a, 0x01107000, 0x01107101, 0x01107300,
  0x01107501, 0x01107600, 0x01108301, 0x0110b000, 0x0110d001, 0x0110e900, 0x0110f00a, 0x0110fa00,
  0x01110301, 0x01112700, 0x0111360a, 0x01114000, 0x01114401, 0x01114500, 0x01114701, 0x01114800,
  0x01115001, 0x01117300, 0x01117601, 0x01117700, 0x01118301, 0x0111b300, 0x0111c101, 0x0111c500,
  0x0111d00a, 0x0111da01, 0x0111db00, 0x0111dc01, 0x0111dd00, 0x0111e10a, 0x0111f500, 0x01120001,
  0x01121200, 0x01121301, 0x01122c00, 0x01123f01, 0x01124100, 0x01128001, 0x01128700, 0x01128801,
  0x01128900, 0x01128a01, 0x01128e00, 0x01128f01, 0x01129e00, 0x01129f01, 0x0112a900, 0x0112b001,
  0x0112df00, 0x0112f00a, 0x0112fa00, 0x01130501, 0x01130d00, 0x01130f01, 0x01131100, 0x01131301,
  0x01132900, 0x01132a01, 0x01133100, 0x01133201, 0x01133400, 0x01133501, 0x01133a00, 0x01133d01,
  0x01133e00, 0x01135001, 0x01135100, 0x01135d01, 0x01136200, 0x01138001, 0x01138a00, 0x01138b01,
  0x01138c00, 0x01138e01, 0x01138f00, 0x01139001, 0x0113b600, 0x0113b701, 0x0113b800, 0x0113d101,
  0x0113d200, 0x0113d301, 0x0113d400, 0x01140001, 0x01143500, 0x01144701, 0x01144b00, 0x0114500a,
  0x01145a00, 0x01145f01, 0x01146200, 0x01148001, 0x0114b000, 0x0114c401, 0x0114c600, 0x0114c701,
  0x0114c800, 0x0114d00a, 0x0114da00, 0x01158001, 0x0115af00, 0x0115d801, 0x0115dc00, 0x01160001,
  0x01163000, 0x01164401, 0x01164500, 0x0116500a, 0x01165a00, 0x01168001, 0x0116ab00, 0x0116b801,
  0x0116b900, 0x0116c00a, 0x0116ca00, 0x0116d00a, 0x0116e400, 0x01170001, 0x01171b00, 0x0117300a,
  0x01173c00, 0x01174001, 0x01174700, 0x01180001, 0x01182c00, 0x0118a001, 0x0118e00a, 0x0118f300,
  0x0118ff01, 0x01190700, 0x01190901, 0x01190a00, 0x01190c01, 0x01191400, 0x01191501, 0x01191700,
  0x01191801, 0x01193000, 0x01193f01, 0x01194000, 0x01194101, 0x01194200, 0x0119500a, 0x01195a00,
  0x0119a001, 0x0119a800, 0x0119aa01, 0x0119d100, 0x0119e101, 0x0119e200, 0x0119e301, 0x0119e400,
  0x011a0001, 0x011a0100, 0x011a0b01, 0x011a3300, 0x011a3a01, 0x011a3b00, 0x011a5001, 0x011a5100,
  0x011a5c01, 0x011a8a00, 0x011a9d01, 0x011a9e00, 0x011ab001, 0x011af900, 0x011bc001, 0x011be100,
  0x011bf00a, 0x011bfa00, 0x011c0001, 0x011c0900, 0x011c0a01, 0x011c2f00, 0x011c4001, 0x011c4100,
  0x011c500a, 0x011c6d00, 0x011c7201, 0x011c9000, 0x011d0001, 0x011d0700, 0x011d0801, 0x011d0a00,
  0x011d0b01, 0x011d3100, 0x011d4601, 0x011d4700, 0x011d500a, 0x011d5a00, 0x011d6001, 0x011d6600,
  0x011d6701, 0x011d6900, 0x011d6a01, 0x011d8a00, 0x011d9801, 0x011d9900, 0x011da00a, 0x011daa00,
  0x011de008, 0x011dea00, 0x011ee001, 0x011ef300, 0x011f0201, 0x011f0300, 0x011f0401, 0x011f1100,
  0x011f1201, 0x011f3400, 0x011f500a, 0x011f5a00, 0x011fb001, 0x011fb100, 0x011fc00a, 0x011fd500,
  0x01200001, 0x01239a00, 0x0124000a, 0x01246f00, 0x01248001, 0x01254400, 0x012f9001, 0x012ff100,
  0x01300001, 0x01343000, 0x01344101, 0x01344700, 0x01346001, 0x0143fb00, 0x01440001, 0x01464700,
  0x01610001, 0x01611e00, 0x0161300a, 0x01613a00, 0x01680001, 0x016a3900, 0x016a4001, 0x016a5f00,
  0x016a600a, 0x016a6a00, 0x016a7001, 0x016abf00, 0x016ac00a, 0x016aca00, 0x016ad001, 0x016aee00,
  0x016b0001, 0x016b3000, 0x016b4001, 0x016b4400, 0x016b500a, 0x016b5a00, 0x016b5b0a, 0x016b6200,
  0x016b6301, 0x016b7800, 0x016b7d01, 0x016b9000, 0x016d4001, 0x016d6d00, 0x016d700a, 0x016d7a00,
  0x016e4001, 0x016e800a, 0x016e9700, 0x016f0001, 0x016f4b00, 0x016f5001, 0x016f5100, 0x016f9301,
  0x016fa000, 0x016fe001, 0x016fe200, 0x016fe301, 0x016fe400, 0x016ff408, 0x016ff700, 0x01700001,
  0x0187f800, 0x01880001, 0x018cd600, 0x018cff01, 0x018d0900, 0x01aff001, 0x01aff400, 0x01aff501,
  0x01affc00, 0x01affd01, 0x01afff00, 0x01b00001, 0x01b12300, 0x01b13201, 0x01b13300, 0x01b15001,
  0x01b15300, 0x01b15501, 0x01b15600, 0x01b16401, 0x01b16800, 0x01b17001, 0x01b2fc00, 0x01bc0001,
  0x01bc6b00, 0x01bc7001, 0x01bc7d00, 0x01bc8001, 0x01bc8900, 0x01bc9001, 0x01bc9a00, 0x01ccf00a,
  0x01ccfa00, 0x01d2c00a, 0x01d2d400, 0x01d2e00a, 0x01d2f400, 0x01d3600a, 0x01d37900, 0x01d40001,
  0x01d45500, 0x01d45601, 0x01d49d00, 0x01d49e01, 0x01d4a000, 0x01d4a201, 0x01d4a300, 0x01d4a501,
  0x01d4a700, 0x01d4a901, 0x01d4ad00, 0x01d4ae01, 0x01d4ba00, 0x01d4bb01, 0x01d4bc00, 0x01d4bd01,
  0x01d4c400, 0x01d4c501, 0x01d50600, 0x01d50701, 0x01d50b00, 0x01d50d01, 0x01d51500, 0x01d51601,
  0x01d51d00, 0x01d51e01, 0x01d53a00, 0x01d53b01, 0x01d53f00, 0x01d54001, 0x01d54500, 0x01d54601,
  0x01d54700, 0x01d54a01, 0x01d55100, 0x01d55201, 0x01d6a600, 0x01d6a801, 0x01d6c100, 0x01d6c201,
  0x01d6db00, 0x01d6dc01, 0x01d6fb00, 0x01d6fc01, 0x01d71500, 0x01d71601, 0x01d73500, 0x01d73601,
  0x01d74f00, 0x01d75001, 0x01d76f00, 0x01d77001, 0x01d78900, 0x01d78a01, 0x01d7a900, 0x01d7aa01,
  0x01d7c300, 0x01d7c401, 0x01d7cc00, 0x01d7ce0a, 0x01d80000, 0x01df0001, 0x01df1f00, 0x01df2501,
  0x01df2b00, 0x01e03001, 0x01e06e00, 0x01e10001, 0x01e12d00, 0x01e13701, 0x01e13e00, 0x01e1400a,
  0x01e14a00, 0x01e14e01, 0x01e14f00, 0x01e29001, 0x01e2ae00, 0x01e2c001, 0x01e2ec00, 0x01e2f00a,
  0x01e2fa00, 0x01e4d001, 0x01e4ec00, 0x01e4f00a, 0x01e4fa00, 0x01e5d001, 0x01e5ee00, 0x01e5f001,
  0x01e5f10a, 0x01e5fb00, 0x01e7e001, 0x01e7e700, 0x01e7e801, 0x01e7ec00, 0x01e7ed01, 0x01e7ef00,
  0x01e7f001, 0x01e7ff00, 0x01e80001, 0x01e8c500, 0x01e8c70a, 0x01e8d000, 0x01e90001, 0x01e94400,
  0x01e94b01, 0x01e94c00, 0x01e9500a, 0x01e95a00, 0x01ec710a, 0x01ecac00, 0x01ecad0a, 0x01ecb000,
  0x01ecb10a, 0x01ecb500, 0x01ed010a, 0x01ed2e00, 0x01ed2f0a, 0x01ed3e00, 0x01ee0001, 0x01ee0400,
  0x01ee0501, 0x01ee2000, 0x01ee2101, 0x01ee2300, 0x01ee2401, 0x01ee2500, 0x01ee2701, 0x01ee2800,
  0x01ee2901, 0x01ee3300, 0x01ee3401, 0x01ee3800, 0x01ee3901, 0x01ee3a00, 0x01ee3b01, 0x01ee3c00,
  0x01ee4201, 0x01ee4300, 0x01ee4701, 0x01ee4800, 0x01ee4901, 0x01ee4a00, 0x01ee4b01, 0x01ee4c00,
  0x01ee4d01, 0x01ee5000, 0x01ee5101, 0x01ee5300, 0x01ee5401, 0x01ee5500, 0x01ee5701, 0x01ee5800,
  0x01ee5901, 0x01ee5a00, 0x01ee5b01, 0x01ee5c00, 0x01ee5d01, 0x01ee5e00, 0x01ee5f01, 0x01ee6000,
  0x01ee6101, 0x01ee6300, 0x01ee6401, 0x01ee6500, 0x01ee6701, 0x01ee6b00, 0x01ee6c01, 0x01ee7300,
  0x01ee7401, 0x01ee7800, 0x01ee7901, 0x01ee7d00, 0x01ee7e01, 0x01ee7f00, 0x01ee8001, 0x01ee8a00,
  0x01ee8b01, 0x01ee9c00, 0x01eea101, 0x01eea400, 0x01eea501, 0x01eeaa00, 0x01eeab01, 0x01eebc00,
  0x01f1000a, 0x01f10d00, 0x01fbf00a, 0x01fbfa00, 0x02000001, 0x02a6e000, 0x02a70001, 0x02b73a00,
  0x02b74001, 0x02b81e00, 0x02b82001, 0x02cea200, 0x02ceb001, 0x02ebe100, 0x02ebf001, 0x02ee5e00,
  0x02f80001, 0x02fa1e00, 0x03000001, 0x03134b00, 0x03135001, 0x0323b000,
};
/* END unicode tables */

typedef struct {
    int vocab_size;            /* number of tokens */
    int n_merges;              /* merge rank = index */
    int n_added;               /* added tokens, matched as whole strings before splitting */
    int max_token_len;         /* longest token, in bytes */
    unsigned char *data;       /* the whole file; token bytes point into it */
    const unsigned char *text; /* token bytes, token i = text[off[i] .. off[i+1]) */
    uint32_t *off;             /* [vocab_size + 1] */
    int *merge;                /* [n_merges][3]: left id, right id, merged id */
    uint64_t *mkey;            /* merge hash table: key (left << 32 | right), empty = ~0 */
    int *mrank;                /* rank stored with each key */
    uint64_t mmask;            /* table size - 1 (power of two) */
    int byte_id[256];          /* token of each single byte, -1: none (the byte is dropped) */
    int *added;                /* [n_added] token ids of the added tokens */
    unsigned char *kind;       /* [vocab_size] 0 normal, 1 special added token, 2 other added */
    unsigned char added_first[256]; /* 1 if an added token starts with this byte */
} Tokenizer;

static uint32_t tok_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t tok_hash(uint64_t key) {
    key ^= key >> 29;
    key *= 0x9E3779B97F4A7C15ull;
    return key ^ (key >> 32);
}

/* rank of the merge (left, right), or -1 */
// fail() for the tokenizer parser: frees what it has built so far
#define tok_fail(t, err, ...) (fail(err, __VA_ARGS__), free_tokenizer(t), -1)

static int tok_merge_rank(const Tokenizer *t, int left, int right) {
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    for (uint64_t h = tok_hash(key) & t->mmask;; h = (h + 1) & t->mmask) {
        if (t->mkey[h] == key) return t->mrank[h];
        if (t->mkey[h] == ~(uint64_t)0) return -1;
    }
}

static void free_tokenizer(Tokenizer *t);

// Checks a whole tokenizer.bin in memory (malloc'd; the Tokenizer owns it from here on) and
// builds the lookup tables. On failure everything is freed.
static int parse_tokenizer(Tokenizer *t, unsigned char *data, size_t size, char *err) {
    memset(t, 0, sizeof(*t));
    t->data = data;
    unsigned char *d = data;
    if (size < 32) return tok_fail(t, err, "file too short for a tokenizer header (%zu bytes)", size);
    if (memcmp(d, "OTOK", 4) != 0) return tok_fail(t, err, "not a tokenizer.bin (bad magic)");
    uint32_t version = tok_u32(d + 4), nv = tok_u32(d + 8), nm = tok_u32(d + 12),
             na = tok_u32(d + 16), tb = tok_u32(d + 20), maxlen = tok_u32(d + 24),
             resv = tok_u32(d + 28);
    if (version != 1) return tok_fail(t, err, "unsupported tokenizer version %u (expected 1)", version);
    if (nv == 0 || nv > (1u << 24)) return tok_fail(t, err, "bad vocab size %u", nv);
    if (nm > (1u << 24)) return tok_fail(t, err, "bad merge count %u", nm);
    if (na > nv) return tok_fail(t, err, "bad added-token count %u", na);
    if (resv != 0) return tok_fail(t, err, "reserved header field is not zero");
    uint64_t want = 32 + 4 * ((uint64_t)nv + 1) + 12 * (uint64_t)nm + 8 * (uint64_t)na + tb;
    if (want != size)
        return tok_fail(t, err, "size is %zu bytes but the header implies %llu", size, (unsigned long long)want);
    t->vocab_size = (int)nv; t->n_merges = (int)nm; t->n_added = (int)na;
    t->max_token_len = (int)maxlen;

    const unsigned char *p = d + 32;
    t->off = xmalloc(((size_t)nv + 1) * sizeof(uint32_t));
    uint32_t longest = 0;
    for (uint32_t i = 0; i <= nv; i++) {
        t->off[i] = tok_u32(p + 4 * (size_t)i);
        if (i == 0 ? t->off[0] != 0 : t->off[i] < t->off[i - 1] || t->off[i] > tb)
            return tok_fail(t, err, "bad offset of token %u", i);
        if (i > 0 && t->off[i] - t->off[i - 1] > longest) longest = t->off[i] - t->off[i - 1];
    }
    if (t->off[nv] != tb) return tok_fail(t, err, "token bytes end at %u, header says %u", t->off[nv], tb);
    if (longest != maxlen) return tok_fail(t, err, "longest token is %u bytes, header says %u", longest, maxlen);
    p += 4 * ((size_t)nv + 1);
    const unsigned char *mp = p;
    p += 12 * (size_t)nm;
    const unsigned char *ap = p;
    p += 8 * (size_t)na;
    t->text = p;

    /* added tokens */
    t->kind = xmalloc(nv);
    memset(t->kind, 0, nv);
    t->added = xmalloc((na ? na : 1) * sizeof(int));
    for (uint32_t i = 0; i < na; i++) {
        uint32_t id = tok_u32(ap + 8 * (size_t)i), flags = tok_u32(ap + 8 * (size_t)i + 4);
        if (id >= nv) return tok_fail(t, err, "added token %u has id %u >= vocab size %u", i, id, nv);
        if (flags > 1) return tok_fail(t, err, "added token %u has bad flags %u", i, flags);
        if (t->kind[id]) return tok_fail(t, err, "token %u is listed twice as an added token", id);
        if (t->off[id + 1] == t->off[id]) return tok_fail(t, err, "added token %u is empty", id);
        t->kind[id] = flags ? 1 : 2;
        t->added[i] = (int)id;
        t->added_first[t->text[t->off[id]]] = 1;
    }

    /* single-byte tokens (the first non-added token of each byte value) */
    for (int b = 0; b < 256; b++) t->byte_id[b] = -1;
    for (uint32_t i = 0; i < nv; i++)
        if (t->off[i + 1] - t->off[i] == 1 && !t->kind[i] && t->byte_id[t->text[t->off[i]]] < 0)
            t->byte_id[t->text[t->off[i]]] = (int)i;

    /* merges + hash table (a repeated pair keeps its last rank, like tokenizers) */
    t->merge = xmalloc(((size_t)nm * 3 + 1) * sizeof(int));
    uint64_t tsize = 16;
    while (tsize < 2 * (uint64_t)nm) tsize *= 2;
    t->mmask = tsize - 1;
    t->mkey = xmalloc(tsize * sizeof(uint64_t));
    t->mrank = xmalloc(tsize * sizeof(int));
    memset(t->mkey, 0xff, tsize * sizeof(uint64_t));
    for (uint32_t r = 0; r < nm; r++) {
        uint32_t a = tok_u32(mp + 12 * (size_t)r), b = tok_u32(mp + 12 * (size_t)r + 4),
                 c = tok_u32(mp + 12 * (size_t)r + 8);
        if (a >= nv || b >= nv || c >= nv) return tok_fail(t, err, "merge %u has a token id >= %u", r, nv);
        uint32_t la = t->off[a + 1] - t->off[a], lb = t->off[b + 1] - t->off[b];
        if (t->off[c + 1] - t->off[c] != la + lb ||
            memcmp(t->text + t->off[c], t->text + t->off[a], la) != 0 ||
            memcmp(t->text + t->off[c] + la, t->text + t->off[b], lb) != 0)
            return tok_fail(t, err, "merge %u: token %u is not token %u + token %u", r, c, a, b);
        t->merge[3 * r] = (int)a; t->merge[3 * r + 1] = (int)b; t->merge[3 * r + 2] = (int)c;
        uint64_t key = (uint64_t)a << 32 | b, h = tok_hash(key) & t->mmask;
        while (t->mkey[h] != ~(uint64_t)0 && t->mkey[h] != key) h = (h + 1) & t->mmask;
        t->mkey[h] = key;
        t->mrank[h] = (int)r;
    }
    return 0;
}

static void load_tokenizer(Tokenizer *t, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) fatal("%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) fatal("%s: not a regular file", path);
    if (st.st_size > (1 << 30)) fatal("%s: file too large for a tokenizer", path);
    unsigned char *data = xmalloc((size_t)st.st_size);
    size_t size = fread(data, 1, (size_t)st.st_size, f);
    if (ferror(f) || size != (size_t)st.st_size) fatal("%s: read error", path);
    fclose(f);
    char err[ERR_LEN];
    if (parse_tokenizer(t, data, size, err)) fatal("%s: %s", path, err);
}

static void free_tokenizer(Tokenizer *t) {
    free(t->data); free(t->off); free(t->merge); free(t->mkey); free(t->mrank);
    free(t->added); free(t->kind);
    memset(t, 0, sizeof(*t));
}

/* raw bytes of a token (not NUL-terminated), NULL if id is out of range */
static const char *token_bytes(const Tokenizer *t, int id, int *len) {
    if (id < 0 || id >= t->vocab_size) { if (len) *len = 0; return NULL; }
    if (len) *len = (int)(t->off[id + 1] - t->off[id]);
    return (const char *)t->text + t->off[id];
}

/* ---- encoding ---- */

/* Decode one UTF-8 character (strict: no overlongs, surrogates or > U+10FFFF).  Returns its
 * length; an invalid byte is a 1-byte character with cp = 0xFFFFFFFF (class: other). */
static int tok_utf8(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0];
    if (c < 0x80) { *cp = c; return 1; }
    int len; unsigned lo = 0x80, hi = 0xBF; uint32_t v;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; v = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3; v = c & 0x0F;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4; v = c & 0x07;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else { *cp = 0xFFFFFFFFu; return 1; }
    if ((size_t)len > n) { *cp = 0xFFFFFFFFu; return 1; }
    for (int k = 1; k < len; k++) {
        unsigned b = s[k];
        if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) { *cp = 0xFFFFFFFFu; return 1; }
        v = v << 6 | (b & 0x3F);
    }
    *cp = v;
    return len;
}

/* UC_* class bits of a code point (invalid -> 0, i.e. "other") */
static int tok_class(uint32_t cp) {
    if (cp < 0x80) {
        if ((cp | 32) - 'a' < 26) return UC_L;
        if (cp - '0' < 10) return UC_N | UC_D;
        if (cp == ' ' || cp - 9 < 5) return UC_S;
        return 0;
    }
    if (cp > 0x10FFFF) return 0;
    int lo = 0, hi = (int)(sizeof(uc_runs) / sizeof(uc_runs[0])) - 1;
    while (lo < hi) { /* last run starting at or before cp */
        int mid = (lo + hi + 1) / 2;
        if ((uc_runs[mid] >> 8) <= cp) lo = mid; else hi = mid - 1;
    }
    return (int)(uc_runs[lo] & 0xff);
}

typedef struct {
    int *ids; int max_ids; int n;            /* output */
    int cap;                                 /* scratch capacity (symbols) */
    int *sym, *prev, *next; uint64_t *heap;  /* BPE scratch */
} TokEnc;

static void tok_emit(TokEnc *e, int id) {
    if (e->n < e->max_ids) e->ids[e->n] = id;
    if (e->n < INT_MAX) e->n++;
}

static void tok_heap_push(uint64_t *h, int *n, uint64_t v) {
    int i = (*n)++;
    while (i > 0 && h[(i - 1) / 2] > v) { h[i] = h[(i - 1) / 2]; i = (i - 1) / 2; }
    h[i] = v;
}

static uint64_t tok_heap_pop(uint64_t *h, int *n) {
    uint64_t top = h[0], v = h[--(*n)];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && h[c + 1] < h[c]) c++;
        if (h[c] >= v) break;
        h[i] = h[c]; i = c;
    }
    h[i] = v;
    return top;
}

/* BPE of one pre-token, the tokenizers way: a heap of (rank, position) over a linked list of
 * symbols; an entry is stale unless the pair now at its position merges to the same token. */
static void tok_bpe(const Tokenizer *t, TokEnc *e, const unsigned char *s, size_t len) {
    if (len == 1) { if (t->byte_id[s[0]] >= 0) tok_emit(e, t->byte_id[s[0]]); return; }
    if ((size_t)e->cap < len) {
        free(e->sym); free(e->prev); free(e->next); free(e->heap);
        size_t cap = len < 256 ? 256 : len;
        e->cap = (int)cap;
        e->sym = xmalloc(cap * sizeof(int));
        e->prev = xmalloc(cap * sizeof(int));
        e->next = xmalloc(cap * sizeof(int));
        e->heap = xmalloc(3 * cap * sizeof(uint64_t));
    }
    int n = 0;
    for (size_t i = 0; i < len; i++) /* bytes without a token are dropped (no unk token) */
        if (t->byte_id[s[i]] >= 0) e->sym[n++] = t->byte_id[s[i]];
    if (n == 0) return;
    int *sym = e->sym, *prev = e->prev, *next = e->next, nh = 0;
    uint64_t *heap = e->heap;
    for (int i = 0; i < n; i++) { prev[i] = i - 1; next[i] = i + 1 < n ? i + 1 : -1; }
    for (int i = 0; i + 1 < n; i++) {
        int r = tok_merge_rank(t, sym[i], sym[i + 1]);
        if (r >= 0) tok_heap_push(heap, &nh, (uint64_t)r << 32 | (uint32_t)i);
    }
    while (nh > 0) {
        uint64_t top = tok_heap_pop(heap, &nh);
        int rank = (int)(top >> 32), pos = (int)(uint32_t)top;
        if (sym[pos] < 0 || next[pos] < 0) continue;      /* removed, or last symbol */
        int nx = next[pos], new_id = t->merge[3 * rank + 2];
        int r = tok_merge_rank(t, sym[pos], sym[nx]);
        if (r < 0 || t->merge[3 * r + 2] != new_id) continue; /* stale entry */
        sym[pos] = new_id;
        sym[nx] = -1;
        next[pos] = next[nx];
        if (next[nx] >= 0) prev[next[nx]] = pos;
        if (prev[pos] >= 0) {
            r = tok_merge_rank(t, sym[prev[pos]], new_id);
            if (r >= 0) tok_heap_push(heap, &nh, (uint64_t)r << 32 | (uint32_t)prev[pos]);
        }
        if (next[pos] >= 0) {
            r = tok_merge_rank(t, new_id, sym[next[pos]]);
            if (r >= 0) tok_heap_push(heap, &nh, (uint64_t)r << 32 | (uint32_t)pos);
        }
    }
    for (int i = 0; i >= 0; i = next[i]) tok_emit(e, sym[i]);
}

/* The ByteLevel split regex on a chunk that holds no UC_D character:
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * (the chunk is the whole subject: its end is the end of the string for (?!\S)). */
static void tok_split(const Tokenizer *t, TokEnc *e, const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t start = i, k;
        uint32_t cp;
        if (s[i] == '\'' && i + 1 < n) {
            unsigned c1 = s[i + 1], c2 = i + 2 < n ? s[i + 2] : 0;
            if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') { tok_bpe(t, e, s + i, 2); i += 2; continue; }
            if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
                tok_bpe(t, e, s + i, 3); i += 3; continue;
            }
        }
        k = (s[i] == ' ' && i + 1 < n) ? i + 1 : i; /* the optional space of " ?X+" */
        tok_utf8(s + k, n - k, &cp);
        int cls = tok_class(cp) & (UC_L | UC_N | UC_S);
        if (cls != UC_S) {                          /* " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+" */
            while (k < n) {
                int len = tok_utf8(s + k, n - k, &cp);
                if ((tok_class(cp) & (UC_L | UC_N | UC_S)) != cls) break;
                k += (size_t)len;
            }
            tok_bpe(t, e, s + start, k - start);
            i = k;
            continue;
        }
        /* whitespace run from i: "\s+(?!\S)" takes it all at the end of the chunk, else all but
         * its last character; a single space before a non-space is "\s+" */
        size_t last = i; int nchars = 0;
        k = i;
        while (k < n) {
            int len = tok_utf8(s + k, n - k, &cp);
            if (!(tok_class(cp) & UC_S)) break;
            last = k; k += (size_t)len; nchars++;
        }
        if (k < n && nchars >= 2) k = last;
        tok_bpe(t, e, s + start, k - start);
        i = k;
    }
}

/* text without added tokens: Digits(individual_digits) isolates every UC_D character, the
 * split regex runs on each chunk in between */
static void tok_segment(const Tokenizer *t, TokEnc *e, const unsigned char *s, size_t n) {
    size_t chunk = 0, i = 0;
    while (i < n) {
        uint32_t cp;
        int len = tok_utf8(s + i, n - i, &cp);
        if (tok_class(cp) & UC_D) {
            if (i > chunk) tok_split(t, e, s + chunk, i - chunk);
            tok_bpe(t, e, s + i, (size_t)len);
            chunk = i + (size_t)len;
        }
        i += (size_t)len;
    }
    if (n > chunk) tok_split(t, e, s + chunk, n - chunk);
}

/* Encode len bytes of text (any bytes; invalid UTF-8 is fine) into token ids; no BOS/EOS is
 * added.  Returns the number of tokens of the whole text and stores the first
 * min(that, max_ids) of them in ids.  One token never covers less than one byte, so
 * max_ids >= len always suffices.  ids may be NULL when max_ids is 0 (count only). */
static int encode(const Tokenizer *t, const char *text, size_t len, int *ids, int max_ids) {
    const unsigned char *s = (const unsigned char *)text;
    TokEnc e;
    memset(&e, 0, sizeof(e));
    e.ids = ids; e.max_ids = ids ? max_ids : 0;
    size_t seg = 0, i = 0;
    while (i < len) {
        if (t->added_first[s[i]]) { /* leftmost-longest match of an added token */
            int best = -1; size_t best_len = 0;
            for (int a = 0; a < t->n_added; a++) {
                int id = t->added[a];
                size_t l = t->off[id + 1] - t->off[id];
                if (l > best_len && l <= len - i && memcmp(s + i, t->text + t->off[id], l) == 0) {
                    best = id; best_len = l;
                }
            }
            if (best >= 0) {
                if (i > seg) tok_segment(t, &e, s + seg, i - seg);
                tok_emit(&e, best);
                i += best_len;
                seg = i;
                continue;
            }
        }
        i++;
    }
    if (len > seg) tok_segment(t, &e, s + seg, len - seg);
    free(e.sym); free(e.prev); free(e.next); free(e.heap);
    return e.n;
}

/* ---- streaming decoder: prints whole characters only ---- */

typedef struct {
    unsigned char buf[4]; /* bytes of an incomplete UTF-8 character */
    int n;                /* how many are pending */
    int need;             /* its full length */
} TokPrinter;             /* zero-initialize before use */

static void tok_put_char(const unsigned char *c, int n, FILE *out) {
    uint32_t cp;
    tok_utf8(c, (size_t)n, &cp);
    /* C0 controls (except \n and \t), DEL and C1 controls are not printed */
    if (cp < 0x20 ? (cp != '\n' && cp != '\t') : (cp >= 0x7F && cp <= 0x9F)) return;
    fwrite(c, 1, (size_t)n, out);
}

static void tok_put_byte(TokPrinter *p, unsigned b, FILE *out) {
    static const unsigned char fffd[3] = {0xEF, 0xBF, 0xBD};
    if (p->n > 0) {
        unsigned lead = p->buf[0], lo = 0x80, hi = 0xBF;
        if (p->n == 1) {
            if (lead == 0xE0) lo = 0xA0;
            if (lead == 0xED) hi = 0x9F;
            if (lead == 0xF0) lo = 0x90;
            if (lead == 0xF4) hi = 0x8F;
        }
        if (b >= lo && b <= hi) {
            p->buf[p->n++] = (unsigned char)b;
            if (p->n == p->need) { tok_put_char(p->buf, p->n, out); p->n = 0; }
            return;
        }
        fwrite(fffd, 1, 3, out); /* truncated character: one U+FFFD, then b afresh */
        p->n = 0;
    }
    if (b < 0x80) { unsigned char c = (unsigned char)b; tok_put_char(&c, 1, out); return; }
    if (b >= 0xC2 && b <= 0xF4) { p->buf[0] = (unsigned char)b; p->n = 1; p->need = b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; return; }
    fwrite(fffd, 1, 3, out);     /* byte that cannot start a character */
}

/* print the bytes of token id (its text, for added tokens too) */
static void decode_token(TokPrinter *p, const Tokenizer *t, int id, FILE *out) {
    int len;
    const char *b = token_bytes(t, id, &len);
    for (int i = 0; i < len; i++) tok_put_byte(p, (unsigned char)b[i], out);
}

/* at the end of the output: an incomplete character becomes U+FFFD */
static void decode_flush(TokPrinter *p, FILE *out) {
    if (p->n > 0) fputs("\xEF\xBF\xBD", out);
    p->n = 0;
}

// ----------------------------------------------------------------------------
// sampler: greedy, temperature, top-p

typedef struct {
    float prob;
    int index;
} ProbIndex;

typedef struct {
    int vocab_size;
    ProbIndex *probindex; // scratch for top-p
    float temperature;
    float topp;
    uint64_t rng_state;
} Sampler;

static uint32_t random_u32(uint64_t *state) { // xorshift64*
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (uint32_t)((*state * 0x2545F4914F6CDD1DULL) >> 32);
}

static float random_f32(uint64_t *state) { return (random_u32(state) >> 8) / 16777216.0f; } // [0, 1)

static int argmax(const float *p, int n) { // first index of the maximum, like torch.argmax
    int best = 0;
    for (int i = 1; i < n; i++) if (p[i] > p[best]) best = i;
    return best;
}

static int sample_mult(const float *p, int n, float coin) {
    float cdf = 0.0f;
    for (int i = 0; i < n; i++) {
        cdf += p[i];
        if (coin < cdf) return i;
    }
    return n - 1; // rounding
}

static int compare_prob_desc(const void *a, const void *b) {
    float pa = ((const ProbIndex *)a)->prob, pb = ((const ProbIndex *)b)->prob;
    return pa > pb ? -1 : pa < pb ? 1 : 0;
}

// Nucleus sampling: the smallest set of tokens whose probability reaches topp. Tokens below
// (1 - topp) / (n - 1) cannot be in it, so they are dropped before the sort.
static int sample_topp(const float *p, int n, float topp, ProbIndex *pi, float coin) {
    int n0 = 0;
    float cutoff = (1.0f - topp) / (n - 1 > 0 ? n - 1 : 1);
    for (int i = 0; i < n; i++)
        if (p[i] >= cutoff) { pi[n0].index = i; pi[n0].prob = p[i]; n0++; }
    if (n0 == 0) return argmax(p, n); // NaN probabilities (NaN or infinite logits): no nucleus
    qsort(pi, n0, sizeof(ProbIndex), compare_prob_desc);
    float cum = 0.0f;
    int last = n0 - 1;
    for (int i = 0; i < n0; i++) {
        cum += pi[i].prob;
        if (cum > topp) { last = i; break; }
    }
    float r = coin * cum, cdf = 0.0f;
    for (int i = 0; i <= last; i++) {
        cdf += pi[i].prob;
        if (r < cdf) return pi[i].index;
    }
    return pi[last].index;
}

static void build_sampler(Sampler *s, int vocab_size, float temperature, float topp, uint64_t seed) {
    s->vocab_size = vocab_size;
    s->temperature = temperature;
    s->topp = topp;
    s->rng_state = seed ? seed : 0x9E3779B97F4A7C15ULL; // xorshift needs a non-zero state
    s->probindex = xcalloc(vocab_size, sizeof(ProbIndex));
}

static void free_sampler(Sampler *s) { free(s->probindex); }

// Picks the next token; scales the logits in place.
static int sample(Sampler *s, float *logits) {
    int best = argmax(logits, s->vocab_size);
    if (s->temperature == 0.0f) return best;
    // (x - max) / T <= 0: a tiny temperature gives -inf and 0, never inf - inf = NaN
    float max = logits[best];
    for (int i = 0; i < s->vocab_size; i++) logits[i] = (logits[i] - max) / s->temperature;
    softmax(logits, s->vocab_size);
    float coin = random_f32(&s->rng_state);
    if (s->topp <= 0.0f || s->topp >= 1.0f) return sample_mult(logits, s->vocab_size, coin);
    return sample_topp(logits, s->vocab_size, s->topp, s->probindex, coin);
}

// ----------------------------------------------------------------------------
// generation

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Runs tokens[0..n) from position pos in blocks of up to max_batch positions; returns the
// logits of the last one.
static float *prefill(Transformer *t, const int *tokens, int n, int pos, ExitRule rule) {
    float *logits = NULL;
    for (int done = 0; done < n;) {
        int B = n - done < t->s.max_batch ? n - done : t->s.max_batch;
        logits = forward(t, tokens + done, B, pos + done, rule, done + B == n ? LOGITS_LAST : LOGITS_NONE);
        done += B;
    }
    return logits;
}

// Runs the prompt, then samples up to `steps` new tokens, stopping at the model's eos or at the
// end of the context. With a tokenizer the text streams to `out`; without one the ids are
// printed on one line.
static void generate(Transformer *t, const Tokenizer *tok, Sampler *sampler, const int *prompt,
                     int n_prompt, int steps, ExitRule rule, FILE *out) {
    const Config *c = &t->c;
    int start = c->bos_id >= 0 ? c->bos_id : 0;
    if (n_prompt == 0) { prompt = &start; n_prompt = 1; } // an empty prompt starts from bos
    TokPrinter dec = {0};
    int generated = 0, pos = n_prompt;
    double t0 = now_seconds();
    float *logits = steps > 0 ? prefill(t, prompt, n_prompt, 0, rule) : NULL;
    double t1 = now_seconds();
    while (generated < steps) {
        int next = sample(sampler, logits);
        if (next == c->eos_id) break;
        if (tok) {
            decode_token(&dec, tok, next, out);
            fflush(out);
        } else {
            fprintf(out, generated ? " %d" : "%d", next);
        }
        generated++;
        if (generated == steps || pos == t->s.seq_len) break; // done, or the context is full
        logits = forward(t, &next, 1, pos++, rule, LOGITS_LAST);
    }
    if (tok) decode_flush(&dec, out);
    fputc('\n', out);
    fflush(out);
    double t2 = now_seconds();
    int decoded = pos - n_prompt; // forward passes after the prompt
    if (tok)
        fprintf(stderr, "prompt: %d tokens, %.2f tok/s; generated: %d tokens, %.2f tok/s\n", n_prompt,
                n_prompt / fmax(t1 - t0, 1e-9), generated, decoded / fmax(t2 - t1, 1e-9));
}

// The id of a token given its exact text, or -1.
static int find_token(const Tokenizer *t, const char *text) {
    int len;
    for (int id = 0; id < t->vocab_size; id++) {
        const char *b = token_bytes(t, id, &len);
        if ((size_t)len == strlen(text) && !memcmp(b, text, len)) return id;
    }
    return -1;
}

// Multi-turn ChatML: one user turn per line of `in` (the first may come from -i), each answer
// streamed until <|im_end|> or <|endoftext|>. The cache persists across turns, so a turn only
// runs its own new tokens. An answer's closing <|im_end|> opens the next turn's text, which
// keeps the conversation well formed when an answer is cut off by -n.
static void chat(Transformer *t, const Tokenizer *tok, Sampler *sampler, const char *system, const char *first,
                 int think, int steps, ExitRule rule, FILE *in, FILE *out) {
    int im_end = find_token(tok, "<|im_end|>"), eot = find_token(tok, "<|endoftext|>");
    if (im_end < 0 || find_token(tok, "<|im_start|>") < 0) fatal("-m chat: the tokenizer has no <|im_start|>/<|im_end|> tokens");
    char *line = NULL;
    size_t line_cap = 0;
    int pos = 0, interactive = isatty(fileno(in));
    for (int turn = 0;; turn++) {
        const char *msg = first;
        if (turn > 0 || !first) {
            if (interactive) fputs("> ", stderr);
            ssize_t n = getline(&line, &line_cap, in);
            if (n < 0) break; // EOF ends the chat
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
            msg = line;
        }
        const char *sys = turn == 0 && system ? system : "";
        size_t len = strlen(sys) + strlen(msg) + 128;
        char *text = xmalloc(len);
        snprintf(text, len, "%s%s%s%s<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n%s",
                 turn > 0 ? "<|im_end|>\n" : "", *sys ? "<|im_start|>system\n" : "", sys,
                 *sys ? "<|im_end|>\n" : "", msg, think ? "<think>\n" : "");
        int *ids = xcalloc(strlen(text) + 1, sizeof(int));
        int n_ids = encode(tok, text, strlen(text), ids, (int)strlen(text) + 1);
        free(text);
        for (int k = 0; k < n_ids; k++) // a tokenizer with more tokens than the model
            if (ids[k] >= t->c.vocab_size) fatal("prompt token %d is not in the model's vocabulary of %d", ids[k], t->c.vocab_size);
        if (pos + n_ids >= t->s.seq_len) {
            free(ids);
            fprintf(stderr, "ouro: the context of %d positions is full; ending the chat (a larger -c gives more)\n", t->s.seq_len);
            break;
        }
        float *logits = prefill(t, ids, n_ids, pos, rule);
        pos += n_ids;
        free(ids);
        TokPrinter dec = {0};
        for (int generated = 0; generated < steps; generated++) {
            int next = sample(sampler, logits);
            if (next == im_end || next == eot) break;
            decode_token(&dec, tok, next, out);
            fflush(out);
            if (pos == t->s.seq_len) break; // full: the check above ends the chat at the next turn
            logits = forward(t, &next, 1, pos++, rule, LOGITS_LAST);
        }
        decode_flush(&dec, out);
        fputc('\n', out);
        fflush(out);
    }
    free(line);
}

// Perplexity of a text after each loop step, and with the exit rule. The tokens are scored in
// chunks of the context length, each from an empty cache: every token after the first of its
// chunk is predicted from the ones before it.
static void perplexity(Transformer *t, const int *tokens, int n, float threshold, FILE *out) {
    const Config *c = &t->c;
    RunState *s = &t->s;
    int T = c->n_steps, V = c->vocab_size, dim = c->dim;
    double *nll = xcalloc(T + 1, sizeof(double)); // summed per step; [T]: the exit rule
    long scored = 0;
    for (int start = 0; start < n; start += s->seq_len) {
        int len = n - start < s->seq_len ? n - start : s->seq_len;
        for (int done = 0; done < len;) {
            int B = len - done < s->max_batch ? len - done : s->max_batch;
            const int *chunk = tokens + start;
            forward(t, chunk + done, B, done, (ExitRule){T, threshold}, LOGITS_NONE);
            for (int step = 0; step < T; step++) {
                matmul(s, c, s->logits, s->h + (size_t)step * B * dim, &t->w.lm_head, dim, V, B);
                for (int b = 0; b < B; b++) {
                    if (done + b + 1 >= len) continue; // the chunk's last token predicts nothing
                    const float *lg = s->logits + (size_t)b * V;
                    double max = lg[0], sum = 0.0;
                    for (int i = 1; i < V; i++) max = fmax(max, lg[i]);
                    for (int i = 0; i < V; i++) sum += exp(lg[i] - max);
                    double loss = max + log(sum) - lg[chunk[done + b + 1]];
                    nll[step] += loss;
                    if (exit_step(s->gate + b, B, T, threshold) == step) nll[T] += loss;
                    if (step == 0) scored++;
                }
            }
            done += B;
        }
    }
    if (scored == 0) fatal("-m ppl: the text needs at least two tokens");
    for (int step = 0; step < T; step++) fprintf(out, "step %d: ppl %.4f\n", step + 1, exp(nll[step] / scored));
    fprintf(out, "exit: ppl %.4f\n", exp(nll[T] / scored));
    free(nll);
}

// Writes the logits of every prompt position: float32 little-endian [n_prompt, vocab].
static void write_logits(Transformer *t, const int *prompt, int n_prompt, ExitRule rule, FILE *out, const char *out_name) {
    for (int pos = 0; pos < n_prompt;) {
        int B = n_prompt - pos < t->s.max_batch ? n_prompt - pos : t->s.max_batch;
        float *logits = forward(t, prompt + pos, B, pos, rule, LOGITS_ALL);
        size_t n = (size_t)B * t->c.vocab_size;
        if (fwrite(logits, sizeof(float), n, out) != n) fatal("%s: write failed: %s", out_name, strerror(errno));
        pos += B;
    }
}

// ----------------------------------------------------------------------------
// CLI

#ifndef TESTING

static void usage(void) {
    fprintf(stderr,
            "Usage:   ./ouro <model.bin> [options]\n"
            "Example: ./ouro model.bin -i \"The loop is\" -n 64\n"
            "Options:\n"
            "  -i <text>   prompt (chat: the first user turn)\n"
            "  -I <ids>    prompt as comma-separated token ids\n"
            "  -f <path>   read the prompt from a file\n"
            "  -z <path>   tokenizer.bin (default: the one next to model.bin)\n"
            "  -n <int>    tokens to generate (chat: per answer), default 256\n"
            "  -t <float>  temperature, 0 = greedy; default 1.0\n"
            "  -p <float>  top-p (nucleus) sampling, default 0.9; 0 or 1 = off\n"
            "  -s <int>    random seed, default: the time\n"
            "  -c <int>    context length to allocate, default min(max_position_embeddings, 4096)\n"
            "  -k <type>   kv cache values: f32 (default, exact) or bf16 (half the memory)\n"
            "  -u <int>    loop steps to run, 1..T: exit after step u, skip the rest\n"
            "  -x <float>  exit threshold on the gate's cumulative exit probability (default: the model's)\n"
            "  -m <mode>   generate (default) | ids | logits | encode | chat | ppl\n"
            "  -y <text>   chat: system prompt\n"
            "  -r          chat: open every answer with <think> (Thinking models)\n"
            "  -o <path>   output file, default stdout\n");
    exit(1);
}

static long parse_int(const char *flag, const char *s, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end) fatal("%s: '%s' is not an integer", flag, s);
    if (v < lo || v > hi) fatal("%s: %ld is out of range [%ld, %ld]", flag, v, lo, hi);
    return v;
}

static float parse_float(const char *flag, const char *s, float lo, float hi) {
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end || isnan(v)) fatal("%s: '%s' is not a number", flag, s);
    if (v < lo || v > hi) fatal("%s: %g is out of range [%g, %g]", flag, v, lo, hi);
    return v;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) fatal("%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) fatal("%s: not a regular file", path);
    char *buf = xcalloc((size_t)st.st_size + 1, 1);
    *len = fread(buf, 1, (size_t)st.st_size, f);
    if (ferror(f)) fatal("%s: read failed", path);
    fclose(f);
    return buf;
}

// "1, 2,3" -> ids; every id must be a token of the model
static int parse_ids(const char *s, int **ids, int vocab_size) {
    int n = 0, cap = 16;
    *ids = xcalloc(cap, sizeof(int));
    const char *p = s;
    while (*p) {
        while (isspace((unsigned char)*p)) p++;
        if (!*p) break;
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno) fatal("-I: '%s' is not a comma-separated list of token ids", s);
        if (v < 0 || v >= vocab_size) fatal("-I: token id %ld is out of range [0, %d)", v, vocab_size);
        if (n == cap) {
            cap *= 2;
            int *grown = realloc(*ids, cap * sizeof(int));
            if (!grown) fatal("out of memory");
            *ids = grown;
        }
        (*ids)[n++] = (int)v;
        p = end;
        while (isspace((unsigned char)*p)) p++;
        if (*p == ',') {
            p++;
            while (isspace((unsigned char)*p)) p++;
            if (!*p) fatal("-I: '%s' ends with a comma", s);
        } else if (*p) {
            fatal("-I: '%s' is not a comma-separated list of token ids", s);
        }
    }
    return n;
}

// tokenizer.bin beside model.bin, as export.py writes it
static char *default_tokenizer_path(const char *model_path) {
    const char *slash = strrchr(model_path, '/');
    size_t dir = slash ? (size_t)(slash - model_path + 1) : 0;
    char *path = xcalloc(dir + sizeof("tokenizer.bin"), 1);
    memcpy(path, model_path, dir);
    strcpy(path + dir, "tokenizer.bin");
    return path;
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *text = NULL, *ids_arg = NULL, *prompt_file = NULL;
    const char *tokenizer_path = NULL, *mode = "generate", *out_path = NULL, *kv_arg = "f32", *system = NULL;
    int think = 0;
    float temperature = 1.0f, topp = 0.9f, threshold = NAN;
    long steps = 256, seq_len = 0, loop_steps = 0;
    uint64_t seed = 0;

    if (argc < 2) usage();
    int i = 1;
    if (argv[1][0] != '-') model_path = argv[i++];
    for (; i < argc; i += 2) {
        const char *flag = argv[i];
        if (flag[0] != '-' || strlen(flag) != 2) fatal("%s: unknown argument (flags look like -n 64)", flag);
        if (flag[1] == 'r') { think = 1; i--; continue; } // the one flag without a value
        if (i + 1 >= argc) fatal("%s: missing value", flag);
        const char *val = argv[i + 1];
        switch (flag[1]) {
        case 'i': text = val; break;
        case 'I': ids_arg = val; break;
        case 'f': prompt_file = val; break;
        case 'z': tokenizer_path = val; break;
        case 'm': mode = val; break;
        case 'o': out_path = val; break;
        case 'k': kv_arg = val; break;
        case 'y': system = val; break;
        case 'n': steps = parse_int(flag, val, 0, INT32_MAX); break;
        case 'c': seq_len = parse_int(flag, val, 1, INT32_MAX); break;
        case 'u': loop_steps = parse_int(flag, val, 1, INT32_MAX); break;
        case 's': seed = (uint64_t)parse_int(flag, val, 0, INT64_MAX); break;
        case 't': temperature = parse_float(flag, val, 0.0f, INFINITY); break;
        case 'p': topp = parse_float(flag, val, 0.0f, 1.0f); break;
        case 'x': threshold = parse_float(flag, val, -INFINITY, INFINITY); break;
        default: fatal("%s: unknown flag", flag);
        }
    }
    int m_generate = !strcmp(mode, "generate"), m_ids = !strcmp(mode, "ids");
    int m_logits = !strcmp(mode, "logits"), m_encode = !strcmp(mode, "encode"), m_chat = !strcmp(mode, "chat");
    int m_ppl = !strcmp(mode, "ppl");
    if (!m_generate && !m_ids && !m_logits && !m_encode && !m_chat && !m_ppl)
        fatal("-m: unknown mode '%s' (generate, ids, logits, encode, chat, ppl)", mode);
    if (m_chat && ids_arg) fatal("-m chat: takes text, not ids (-I)");
    int kv_type = !strcmp(kv_arg, "f32") ? KV_F32 : !strcmp(kv_arg, "bf16") ? KV_BF16 : -1;
    if (kv_type < 0) fatal("-k: unknown cache type '%s' (f32, bf16)", kv_arg);
    if ((text != NULL) + (ids_arg != NULL) + (prompt_file != NULL) > 1) fatal("-i, -I and -f: give only one prompt");
    if (!model_path && !m_encode) fatal("no model file given (usage: ./ouro <model.bin> [options])");
    if (m_encode && ids_arg) fatal("-m encode: takes text (-i or -f), not ids");

    size_t text_len = text ? strlen(text) : 0;
    char *file_text = prompt_file ? read_file(prompt_file, &text_len) : NULL;
    if (file_text) text = file_text;

    FILE *out = stdout;
    if (out_path && !(out = fopen(out_path, m_logits ? "wb" : "w"))) fatal("%s: cannot open for writing: %s", out_path, strerror(errno));
    if (m_logits && !out_path && isatty(fileno(stdout))) fatal("-m logits: the logits are binary; give -o <path>");

    // the tokenizer is needed to read text or to print it
    Tokenizer tok;
    int have_tok = 0;
    char *default_tok = NULL;
    if (!tokenizer_path && model_path) {
        default_tok = default_tokenizer_path(model_path);
        // generating from ids prints text when a tokenizer is at hand, else the ids
        if (!(m_generate && ids_arg && !text && access(default_tok, R_OK) != 0)) tokenizer_path = default_tok;
    }
    if (text || m_encode || m_chat || (m_generate && tokenizer_path)) {
        if (!tokenizer_path) fatal("-m encode: give the tokenizer with -z <tokenizer.bin>");
        load_tokenizer(&tok, tokenizer_path);
        have_tok = 1;
    }

    int *prompt = NULL, n_prompt = 0;
    if (text && !m_chat) {
        prompt = xcalloc(text_len + 1, sizeof(int)); // byte-level BPE: at most one token per byte
        n_prompt = encode(&tok, text, text_len, prompt, (int)text_len + 1);
    }
    if (m_encode) {
        for (int k = 0; k < n_prompt; k++) fprintf(out, k ? " %d" : "%d", prompt[k]);
        fputc('\n', out);
    } else {
        Transformer t = {0};
        load_model(&t, model_path);
        const Config *c = &t.c;
        if (ids_arg) n_prompt = parse_ids(ids_arg, &prompt, c->vocab_size);
        for (int k = 0; k < n_prompt; k++)
            if (prompt[k] >= c->vocab_size) fatal("prompt token %d is not in the model's vocabulary of %d", prompt[k], c->vocab_size);
        if (seq_len > c->max_seq_len) fatal("-c: %ld exceeds the model's max_position_embeddings %d", seq_len, c->max_seq_len);
        int ctx = seq_len ? (int)seq_len : (c->max_seq_len < 4096 ? c->max_seq_len : 4096);
        if (n_prompt > ctx && !m_ppl) fatal("the prompt is %d tokens, longer than the context of %d (-c)", n_prompt, ctx);
        if (loop_steps > c->n_steps) fatal("-u: %ld is more than the model's %d loop steps", loop_steps, c->n_steps);
        if (seq_len) fprintf(stderr, "kv cache: %d positions x %d slots = %.1f MiB\n", ctx, c->n_steps * c->n_layers, cache_bytes(c, ctx, kv_type) / 1048576.0);
        malloc_run_state(&t.s, c, ctx, ctx < 64 ? ctx : 64, kv_type);

        // -u N exits at step N-1 and skips the rest; else the model's own exit rule, as in HF
        ExitRule rule = {c->n_steps, isnan(threshold) ? c->exit_threshold : threshold};
        if (loop_steps) rule = (ExitRule){(int)loop_steps, INFINITY};
        else if (c->exit_step >= 0 && isnan(threshold)) rule = (ExitRule){c->exit_step + 1, INFINITY};

        Sampler sampler;
        build_sampler(&sampler, c->vocab_size, temperature, topp, seed ? seed : (uint64_t)time(NULL));
        if (m_logits) write_logits(&t, prompt, n_prompt, rule, out, out_path ? out_path : "stdout");
        else if (m_ppl) perplexity(&t, prompt, n_prompt, rule.steps == c->n_steps ? rule.threshold : c->exit_threshold, out);
        else if (m_chat) chat(&t, &tok, &sampler, system, text, think, (int)steps, rule, stdin, out);
        else generate(&t, m_generate && have_tok ? &tok : NULL, &sampler, prompt, n_prompt, (int)steps, rule, out);
        free_sampler(&sampler);
        free_transformer(&t);
    }
    if (out != stdout && fclose(out) != 0) fatal("%s: write failed: %s", out_path, strerror(errno));
    if (have_tok) free_tokenizer(&tok);
    free(prompt);
    free(file_text);
    free(default_tok);
    return 0;
}
#endif
