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

typedef struct {
    float *x;        // the residual stream [dim]
    float *xb;       // normed input / attention output [max(dim, q_dim)]
    float *xb2;      // [dim]
    float *hb, *hb2; // MLP [hidden_dim]
    float *q;        // [n_heads*head_dim]
    float *att;      // attention scores [n_heads, seq_len]
    float *h;        // final-normed state after each loop step [T, dim]
    float *gate;     // exit gate logit of each loop step [T]
    float *logits;   // [vocab]
    float *rope_cos, *rope_sin; // [head_dim/2] for the current position
    double *inv_freq;           // [head_dim/2]
    float *key_cache;   // [T, L, seq_len, kv_dim]: slot (step, layer) is step*L + layer
    float *value_cache; // same shape
    int seq_len;        // positions the cache holds
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
static size_t cache_bytes(const Config *c, int seq_len) {
    return 2 * (size_t)c->n_steps * c->n_layers * seq_len * c->n_kv_heads * c->head_dim * sizeof(float);
}

static void malloc_run_state(RunState *s, const Config *c, int seq_len) {
    size_t q_dim = (size_t)c->n_heads * c->head_dim, kv_dim = (size_t)c->n_kv_heads * c->head_dim;
    size_t slots = (size_t)c->n_steps * c->n_layers;
    s->seq_len = seq_len;
    s->x = xcalloc(c->dim, sizeof(float));
    s->xb = xcalloc(q_dim > (size_t)c->dim ? q_dim : (size_t)c->dim, sizeof(float));
    s->xb2 = xcalloc(c->dim, sizeof(float));
    s->hb = xcalloc(c->hidden_dim, sizeof(float));
    s->hb2 = xcalloc(c->hidden_dim, sizeof(float));
    s->q = xcalloc(q_dim, sizeof(float));
    s->att = xcalloc((size_t)c->n_heads * seq_len, sizeof(float));
    s->h = xcalloc((size_t)c->n_steps * c->dim, sizeof(float));
    s->gate = xcalloc(c->n_steps, sizeof(float));
    s->logits = xcalloc(c->vocab_size, sizeof(float));
    s->rope_cos = xcalloc(c->head_dim / 2, sizeof(float));
    s->rope_sin = xcalloc(c->head_dim / 2, sizeof(float));
    s->inv_freq = xcalloc(c->head_dim / 2, sizeof(double));
    for (int i = 0; i < c->head_dim / 2; i++) s->inv_freq[i] = pow((double)c->rope_theta, -2.0 * i / c->head_dim);
    s->key_cache = xcalloc(slots * seq_len * kv_dim, sizeof(float));
    s->value_cache = xcalloc(slots * seq_len * kv_dim, sizeof(float));
}

static void free_transformer(Transformer *t) {
    RunState *s = &t->s;
    float *bufs[] = {s->x, s->xb, s->xb2, s->hb, s->hb2, s->q, s->att, s->h, s->gate, s->logits,
                     s->rope_cos, s->rope_sin, s->key_cache, s->value_cache};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) free(bufs[i]);
    free(s->inv_freq);
    Weights *w = &t->w;
    Mat *stacks[] = {w->wq, w->wk, w->wv, w->wo, w->w_gate, w->w_up, w->w_down};
    for (size_t i = 0; i < sizeof(stacks) / sizeof(stacks[0]); i++) free(stacks[i]);
    if (t->map) munmap(t->map, t->size);
}

// ----------------------------------------------------------------------------
// kernels: the plain C versions, the reference every faster path is tested against

static inline float bf16_to_f32(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
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

// out[d] = W[d, n] x[n], W in the model's weight type; rows split across threads
static void matmul(float *out, const float *x, const Mat *w, int type, int group_size, int n, int d) {
    int i;
#pragma omp parallel for private(i)
    for (i = 0; i < d; i++) {
        float sum = 0.0f;
        if (type == W_F32) {
            const float *row = (const float *)w->data + (size_t)i * n;
            for (int j = 0; j < n; j++) sum += row[j] * x[j];
        } else if (type == W_BF16) {
            const uint16_t *row = (const uint16_t *)w->data + (size_t)i * n;
            for (int j = 0; j < n; j++) sum += bf16_to_f32(row[j]) * x[j];
        } else { // q8: one scale per group of group_size values
            const int8_t *row = (const int8_t *)w->data + (size_t)i * n;
            const float *scale = w->scale + (size_t)i * n / group_size;
            for (int g = 0; g < n / group_size; g++) {
                float gsum = 0.0f;
                for (int j = g * group_size; j < (g + 1) * group_size; j++) gsum += row[j] * x[j];
                sum += gsum * scale[g];
            }
        }
        out[i] = sum;
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
typedef struct {
    int steps;       // loop steps to run: T, or N for "-u N" (exit at step N-1, skip the rest)
    float threshold; // with all T steps: first step whose cumulative exit probability >= threshold
} ExitRule;

// Exit distribution of the gate: p_t = lambda_t * prod_{j<t}(1 - lambda_j), the rest on the
// last step. Returns the first step whose cumulative probability reaches the threshold.
static int exit_step(const float *gate, int n_steps, float threshold) {
    double remaining = 1.0, cumulative = 0.0;
    for (int t = 0; t < n_steps; t++) {
        double lambda = 1.0 / (1.0 + exp(-(double)gate[t]));
        double p = t < n_steps - 1 ? lambda * remaining : remaining;
        remaining *= 1.0 - lambda;
        cumulative += p;
        if (cumulative >= threshold) return t;
    }
    return n_steps - 1;
}

// One decoder layer at loop step `step` for the token at `pos`; updates s->x in place.
static void layer_forward(Transformer *t, int step, int l, int pos) {
    const Config *c = &t->c;
    const Weights *w = &t->w;
    RunState *s = &t->s;
    int dim = c->dim, hd = c->head_dim, type = c->weight_type, gs = c->group_size;
    int q_dim = c->n_heads * hd, kv_dim = c->n_kv_heads * hd;
    int group = c->n_heads / c->n_kv_heads; // query heads per kv head (GQA)

    // this (step, layer) pair's slot in the cache: T*L slots, one per pass through a layer
    size_t slot = (size_t)step * c->n_layers + l;
    float *k_slot = s->key_cache + slot * s->seq_len * kv_dim;
    float *v_slot = s->value_cache + slot * s->seq_len * kv_dim;
    float *k = k_slot + (size_t)pos * kv_dim, *v = v_slot + (size_t)pos * kv_dim;

    // attention: q, k, v from the normed stream; k and v go straight into the cache
    rmsnorm(s->xb, s->x, w->rms_att + (size_t)l * dim, dim, c->rms_eps);
    matmul(s->q, s->xb, &w->wq[l], type, gs, dim, q_dim);
    matmul(k, s->xb, &w->wk[l], type, gs, dim, kv_dim);
    matmul(v, s->xb, &w->wv[l], type, gs, dim, kv_dim);
    rope(s->q, c->n_heads, hd, s->rope_cos, s->rope_sin);
    rope(k, c->n_kv_heads, hd, s->rope_cos, s->rope_sin);

    int h;
#pragma omp parallel for private(h)
    for (h = 0; h < c->n_heads; h++) {
        const float *q = s->q + (size_t)h * hd;
        float *att = s->att + (size_t)h * s->seq_len;
        size_t kv_off = (size_t)(h / group) * hd;
        float scale = 1.0f / sqrtf((float)hd);
        for (int p = 0; p <= pos; p++) {
            const float *kp = k_slot + (size_t)p * kv_dim + kv_off;
            float score = 0.0f;
            for (int i = 0; i < hd; i++) score += q[i] * kp[i];
            att[p] = score * scale;
        }
        softmax(att, pos + 1);
        float *out = s->xb + (size_t)h * hd;
        memset(out, 0, hd * sizeof(float));
        for (int p = 0; p <= pos; p++) {
            const float *vp = v_slot + (size_t)p * kv_dim + kv_off;
            for (int i = 0; i < hd; i++) out[i] += att[p] * vp[i];
        }
    }
    // sandwich norm: the attention output is normed before it joins the residual
    matmul(s->xb2, s->xb, &w->wo[l], type, gs, q_dim, dim);
    rmsnorm(s->xb2, s->xb2, w->rms_att_out + (size_t)l * dim, dim, c->rms_eps);
    for (int i = 0; i < dim; i++) s->x[i] += s->xb2[i];

    // SwiGLU MLP, normed before and after
    rmsnorm(s->xb, s->x, w->rms_ffn + (size_t)l * dim, dim, c->rms_eps);
    matmul(s->hb, s->xb, &w->w_gate[l], type, gs, dim, c->hidden_dim);
    matmul(s->hb2, s->xb, &w->w_up[l], type, gs, dim, c->hidden_dim);
    for (int i = 0; i < c->hidden_dim; i++) {
        float g = s->hb[i];
        s->hb[i] = g / (1.0f + expf(-g)) * s->hb2[i];
    }
    matmul(s->xb2, s->hb, &w->w_down[l], type, gs, c->hidden_dim, dim);
    rmsnorm(s->xb2, s->xb2, w->rms_ffn_out + (size_t)l * dim, dim, c->rms_eps);
    for (int i = 0; i < dim; i++) s->x[i] += s->xb2[i];
}

// Runs the token at `pos` through the loop. Returns the logits of the exit step, or NULL when
// want_logits is 0 (prompt tokens whose logits nobody reads skip the lm_head).
static float *forward(Transformer *t, int token, int pos, ExitRule rule, int want_logits) {
    const Config *c = &t->c;
    const Weights *w = &t->w;
    RunState *s = &t->s;
    int dim = c->dim;

    // the rotation depends only on the position: the same for every step and layer
    for (int i = 0; i < c->head_dim / 2; i++) {
        double angle = pos * s->inv_freq[i];
        s->rope_cos[i] = (float)cos(angle);
        s->rope_sin[i] = (float)sin(angle);
    }
    read_row(s->x, &w->embed, c->weight_type, c->group_size, token, dim);

    for (int step = 0; step < rule.steps; step++) {   // the loop: same layers every step
        for (int l = 0; l < c->n_layers; l++) layer_forward(t, step, l, pos);
        rmsnorm(s->x, s->x, w->rms_final, dim, c->rms_eps); // final norm after EVERY step
        memcpy(s->h + (size_t)step * dim, s->x, dim * sizeof(float));
        float g = w->gate_b;
        for (int i = 0; i < dim; i++) g += w->gate_w[i] * s->x[i];
        s->gate[step] = g;
    }
    if (!want_logits) return NULL;

    int e = rule.steps < c->n_steps ? rule.steps - 1 : exit_step(s->gate, c->n_steps, rule.threshold);
    matmul(s->logits, s->h + (size_t)e * dim, &w->lm_head, c->weight_type, c->group_size, dim, c->vocab_size);
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

// Runs the prompt, then samples up to `steps` new tokens, stopping at the model's eos or at the
// end of the context. With a tokenizer the text streams to `out`; without one the ids are
// printed on one line.
static void generate(Transformer *t, const Tokenizer *tok, Sampler *sampler, const int *prompt,
                     int n_prompt, int steps, ExitRule rule, FILE *out) {
    const Config *c = &t->c;
    int token = n_prompt > 0 ? prompt[0] : (c->bos_id >= 0 ? c->bos_id : 0); // empty prompt: bos
    int n_in = n_prompt > 0 ? n_prompt : 1;
    Decoder dec = {0};
    int generated = 0, decoded = 0; // tokens sampled; forward passes after the prompt
    double t0 = now_seconds(), t1 = t0;
    for (int pos = 0; pos < t->s.seq_len && generated < steps; pos++) {
        float *logits = forward(t, token, pos, rule, pos >= n_in - 1);
        if (pos < n_in - 1) { token = prompt[pos + 1]; continue; }
        if (pos == n_in - 1) t1 = now_seconds(); else decoded++;
        int next = sample(sampler, logits);
        if (next == c->eos_id) break;
        if (tok) {
            decode_token(tok, &dec, next, out);
            fflush(out);
        } else {
            fprintf(out, generated ? " %d" : "%d", next);
        }
        generated++;
        token = next;
    }
    if (tok) decode_flush(&dec, out);
    fputc('\n', out);
    fflush(out);
    double t2 = now_seconds();
    if (tok)
        fprintf(stderr, "prompt: %d tokens, %.2f tok/s; generated: %d tokens, %.2f tok/s\n", n_in,
                n_in / fmax(t1 - t0, 1e-9), generated, decoded / fmax(t2 - t1, 1e-9));
}

// Writes the logits of every prompt position: float32 little-endian [n_prompt, vocab].
static void write_logits(Transformer *t, const int *prompt, int n_prompt, ExitRule rule, FILE *out, const char *out_name) {
    for (int pos = 0; pos < n_prompt; pos++) {
        float *logits = forward(t, prompt[pos], pos, rule, 1);
        if (fwrite(logits, sizeof(float), t->c.vocab_size, out) != (size_t)t->c.vocab_size)
            fatal("%s: write failed: %s", out_name, strerror(errno));
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
            "  -m <mode>   generate | ids | logits | encode\n"
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
    const char *tokenizer_path = NULL, *mode = "generate", *out_path = NULL;
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
        if (seq_len) fprintf(stderr, "kv cache: %d positions x %d slots = %.1f MiB\n", ctx, c->n_steps * c->n_layers, cache_bytes(c, ctx) / 1048576.0);
        malloc_run_state(&t.s, c, ctx);

        // -u N exits at step N-1 and skips the rest; else the model's own exit rule, as in HF
        ExitRule rule = {c->n_steps, isnan(threshold) ? c->exit_threshold : threshold};
        if (loop_steps) rule.steps = (int)loop_steps;
        else if (c->exit_step >= 0 && isnan(threshold)) rule.steps = c->exit_step + 1;

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
