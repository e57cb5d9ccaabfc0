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
static void read_config(Config *c, const unsigned char *h, const char *path) {
    if (memcmp(h, MODEL_MAGIC, 4) != 0) fatal("%s: not an ouro model file (bad magic)", path);
    int version = rd_i32(h + 4);
    if (version != MODEL_VERSION) fatal("%s: model format version %d, this program reads version %d", path, version, MODEL_VERSION);
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

    const struct { const char *name; int value, lo, hi; } fields[] = {
        {"dim", c->dim, 1, 1 << 20},          {"hidden_dim", c->hidden_dim, 1, 1 << 20},
        {"n_layers", c->n_layers, 1, 1024},   {"n_heads", c->n_heads, 1, 4096},
        {"n_kv_heads", c->n_kv_heads, 1, 4096}, {"head_dim", c->head_dim, 2, 1 << 16},
        {"vocab_size", c->vocab_size, 1, 1 << 24}, {"max_seq_len", c->max_seq_len, 1, 1 << 24},
        {"n_steps", c->n_steps, 1, 64},       {"tied", c->tied, 0, 1},
        {"bos_id", c->bos_id, -1, c->vocab_size - 1}, {"eos_id", c->eos_id, -1, c->vocab_size - 1},
        {"weight_type", c->weight_type, W_F32, W_Q8}, {"exit_step", c->exit_step, -1, c->n_steps - 1},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (fields[i].value < fields[i].lo || fields[i].value > fields[i].hi)
            fatal("%s: header field %s = %d is out of range [%d, %d]", path, fields[i].name, fields[i].value, fields[i].lo, fields[i].hi);
    if (c->head_dim % 2) fatal("%s: head_dim %d is odd (RoPE rotates pairs)", path, c->head_dim);
    if (c->n_heads % c->n_kv_heads) fatal("%s: n_heads %d is not a multiple of n_kv_heads %d", path, c->n_heads, c->n_kv_heads);
    if ((int64_t)c->n_heads * c->head_dim > (1 << 20)) fatal("%s: n_heads * head_dim is too large", path);
    if (c->weight_type == W_Q8) {
        if (c->group_size < 1 || c->dim % c->group_size || c->hidden_dim % c->group_size ||
            (c->n_heads * c->head_dim) % c->group_size)
            fatal("%s: q8 group_size %d does not divide every row length", path, c->group_size);
    }
    if (!(c->rope_theta > 1.0f) || !isfinite(c->rope_theta)) fatal("%s: rope_theta %g is not a number > 1", path, c->rope_theta);
    if (!(c->rms_eps >= 0.0f) || !isfinite(c->rms_eps)) fatal("%s: rms_norm_eps %g is not a number >= 0", path, c->rms_eps);
    if (isnan(c->exit_threshold)) fatal("%s: exit_threshold is NaN", path);
}

static void load_model(Transformer *t, const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) fatal("%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) fatal("%s: cannot stat: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) fatal("%s: not a regular file", path);
    if (st.st_size < HEADER_SIZE) fatal("%s: file is %lld bytes, too small for the %d-byte header", path, (long long)st.st_size, HEADER_SIZE);
    unsigned char header[HEADER_SIZE];
    if (pread(fd, header, HEADER_SIZE, 0) != HEADER_SIZE) fatal("%s: cannot read the header", path);
    Config *c = &t->c;
    read_config(c, header, path);

    Weights *w = &t->w;
    Mat **stacks[] = {&w->wq, &w->wk, &w->wv, &w->wo, &w->w_gate, &w->w_up, &w->w_down};
    for (size_t i = 0; i < sizeof(stacks) / sizeof(stacks[0]); i++) *stacks[i] = xcalloc(c->n_layers, sizeof(Mat));
    size_t expected = map_weights(w, c, NULL);
    if ((uint64_t)st.st_size != expected)
        fatal("%s: file is %lld bytes but its header implies %zu (truncated or not a model of this shape)", path, (long long)st.st_size, expected);
    t->size = expected;
    t->map = mmap(NULL, t->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (t->map == MAP_FAILED) fatal("%s: mmap failed: %s", path, strerror(errno));
    close(fd);
    map_weights(w, c, t->map);
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
// Rows of W are split across threads; every row is read once for all B positions.

static void matmul_f32_plain(float *out, const float *x, const float *w, int n, int d, int B) {
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

static void matmul_bf16_plain(float *out, const float *x, const uint16_t *w, int n, int d, int B) {
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
static void quantize_q8(int8_t *q, float *s, const float *x, size_t n, int gs) {
    for (size_t g = 0; g < n / gs; g++) {
        const float *xg = x + g * gs;
        float amax = 0.0f;
        for (int j = 0; j < gs; j++) amax = fmaxf(amax, fabsf(xg[j]));
        float scale = amax / 127.0f;
        s[g] = scale;
        for (int j = 0; j < gs; j++) q[g * gs + j] = scale > 0.0f ? (int8_t)roundf(xg[j] / scale) : 0;
    }
}

static void matmul_q8_plain(float *out, const int8_t *xq, const float *xs, const int8_t *w, const float *ws,
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

// FAST KERNELS GO HERE
#define matmul_f32 matmul_f32_plain
#define matmul_bf16 matmul_bf16_plain
#define matmul_q8 matmul_q8_plain

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
    if (kv_type == KV_F32) {
        const float *k = (const float *)cache + at;
        for (int i = 0; i < n; i++) sum += q[i] * k[i];
    } else {
        const uint16_t *k = (const uint16_t *)cache + at;
        for (int i = 0; i < n; i++) sum += q[i] * bf16_to_f32(k[i]);
    }
    return sum;
}

static void kv_axpy(float *out, float a, const void *cache, size_t at, int n, int kv_type) {
    if (kv_type == KV_F32) {
        const float *v = (const float *)cache + at;
        for (int i = 0; i < n; i++) out[i] += a * v[i];
    } else {
        const uint16_t *v = (const uint16_t *)cache + at;
        for (int i = 0; i < n; i++) out[i] += a * bf16_to_f32(v[i]);
    }
}

// Causal attention of B new positions (pos..pos+B-1) over the cache slot that starts at
// element `slot_at`, heads in parallel.
static void attention(RunState *s, const Config *c, size_t slot_at, int pos, int B) {
    int hd = c->head_dim, q_dim = c->n_heads * hd, kv_dim = c->n_kv_heads * hd;
    int group = c->n_heads / c->n_kv_heads; // query heads per kv head (GQA)
    float scale = 1.0f / sqrtf((float)hd);
    int h;
#pragma omp parallel for private(h)
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
// tokenizer: byte-level BPE (TOKENIZER SECTION PLACEHOLDER)

typedef struct {
    int vocab_size;
} Tokenizer;

static void load_tokenizer(Tokenizer *t, const char *path) {
    (void)t;
    fatal("%s: tokenizer not implemented yet", path);
}
static void free_tokenizer(Tokenizer *t) { (void)t; }
static int encode(const Tokenizer *t, const char *text, size_t len, int *ids, int max_ids) {
    (void)t; (void)text; (void)len; (void)ids; (void)max_ids;
    return 0;
}
typedef struct { int n; } Decoder;
static void decode_token(const Tokenizer *t, Decoder *d, int id, FILE *out) { (void)t; (void)d; fprintf(out, "[%d]", id); }
static void decode_flush(Decoder *d, FILE *out) { (void)d; (void)out; }

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
    if (s->temperature == 0.0f) return argmax(logits, s->vocab_size);
    for (int i = 0; i < s->vocab_size; i++) logits[i] /= s->temperature;
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
    Decoder dec = {0};
    int generated = 0, pos = n_prompt;
    double t0 = now_seconds();
    float *logits = steps > 0 ? prefill(t, prompt, n_prompt, 0, rule) : NULL;
    double t1 = now_seconds();
    while (generated < steps) {
        int next = sample(sampler, logits);
        if (next == c->eos_id) break;
        if (tok) {
            decode_token(tok, &dec, next, out);
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
            "  -i <text>   prompt                        -I <ids>   prompt as comma-separated token ids\n"
            "  -f <path>   read the prompt from a file   -z <path>  tokenizer.bin (default: next to model.bin)\n"
            "  -n <int>    tokens to generate (256)      -c <int>   context length to allocate\n"
            "  -t <float>  temperature, 0 = greedy (1.0) -p <float> top-p (0.9)    -s <int> seed (time)\n"
            "  -u <int>    loop steps to run, 1..T       -x <float> exit threshold (model's default)\n"
            "  -k <type>   kv cache: f32 (exact) | bf16  -m <mode>  generate | ids | logits | encode\n"
            "  -o <path>   output file (stdout)\n");
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
    const char *tokenizer_path = NULL, *mode = "generate", *out_path = NULL, *kv_arg = "f32";
    float temperature = 1.0f, topp = 0.9f, threshold = NAN;
    long steps = 256, seq_len = 0, loop_steps = 0;
    uint64_t seed = 0;

    if (argc < 2) usage();
    int i = 1;
    if (argv[1][0] != '-') model_path = argv[i++];
    for (; i < argc; i += 2) {
        const char *flag = argv[i];
        if (flag[0] != '-' || strlen(flag) != 2) fatal("%s: unknown argument (flags look like -n 64)", flag);
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
    int m_logits = !strcmp(mode, "logits"), m_encode = !strcmp(mode, "encode");
    if (!m_generate && !m_ids && !m_logits && !m_encode)
        fatal("-m: unknown mode '%s' (generate, ids, logits, encode)", mode);
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
    if (text || m_encode || (m_generate && tokenizer_path)) {
        if (!tokenizer_path) fatal("-m encode: give the tokenizer with -z <tokenizer.bin>");
        load_tokenizer(&tok, tokenizer_path);
        have_tok = 1;
    }

    int *prompt = NULL, n_prompt = 0;
    if (text) {
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
        if (n_prompt > ctx) fatal("the prompt is %d tokens, longer than the context of %d (-c)", n_prompt, ctx);
        if (loop_steps > c->n_steps) fatal("-u: %ld is more than the model's %d loop steps", loop_steps, c->n_steps);
        if (seq_len) fprintf(stderr, "kv cache: %d positions x %d slots = %.1f MiB\n", ctx, c->n_steps * c->n_layers, cache_bytes(c, ctx, kv_type) / 1048576.0);
        malloc_run_state(&t.s, c, ctx, ctx < 64 ? ctx : 64, kv_type);

        // -u N exits at step N-1 and skips the rest; else the model's own exit rule, as in HF
        ExitRule rule = {c->n_steps, isnan(threshold) ? c->exit_threshold : threshold};
        if (loop_steps) rule = (ExitRule){(int)loop_steps, INFINITY};
        else if (c->exit_step >= 0 && isnan(threshold)) rule = (ExitRule){c->exit_step + 1, INFINITY};

        if (m_logits) {
            write_logits(&t, prompt, n_prompt, rule, out, out_path ? out_path : "stdout");
        } else {
            Sampler sampler;
            build_sampler(&sampler, c->vocab_size, temperature, topp, seed ? seed : (uint64_t)time(NULL));
            generate(&t, m_generate && have_tok ? &tok : NULL, &sampler, prompt, n_prompt, (int)steps, rule, out);
            free_sampler(&sampler);
        }
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
