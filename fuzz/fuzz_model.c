// libFuzzer target: arbitrary bytes as model.bin.
//
//   clang -g -O1 -fsanitize=fuzzer,address,undefined -o build/fuzz/fuzz_model fuzz/fuzz_model.c -lm
//
// The bytes go through parse_model exactly as an mmapped file would (copied into a 64-byte
// aligned buffer, as mmap gives a page-aligned one). A file the parser accepts is run: the
// generation path (prefill in blocks, sampling, single positions) and, now and then, the
// perplexity path. Parsing must never crash, leak or read outside the buffer, a rejected file
// must come with a message, and a sampled token must always be a token of the model.
//
// Build it with -march=native too (fuzz/run.sh does): the fast kernels exist only then, and
// the long mode below gives them blocks of 12 positions (the packed GEMM paths start at 8) with
// edge tiles, besides the GEMV paths of blocks of 1..7.
//
// model.bin's header has 256 bytes of which the loader reads 80; the harness takes its own
// choices from the last byte (which the loader ignores), so the fuzzer can steer them:
//   bit 0: kv cache bf16 instead of f32      bits 1-2: exit rule (see below)
//   bit 3: long mode: a context of up to 20 positions in prompt blocks of 12, else up to 4 in
//          blocks of 2 (of 1 when bit 4 is set too)
//   bit 4: greedy instead of temperature + top-p
//   bit 5: also run -m ppl                   bits 6-7: prompt token choice
#define TESTING
#include "../ouro.c"

#include <stdint.h>

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    devnull = fopen("/dev/null", "w");
    if (!devnull) { perror("/dev/null"); abort(); }
    return 0;
}

// fail loudly in a way libFuzzer records as a crash
#define CHECK(cond, ...) do { if (!(cond)) { fprintf(stderr, "fuzz_model: " __VA_ARGS__); fputc('\n', stderr); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (8u << 20)) return 0; // larger inputs only slow the fuzzer down
    size_t cap = (size + ALIGN - 1) / ALIGN * ALIGN;
    unsigned char *buf = aligned_alloc(ALIGN, cap ? cap : ALIGN);
    if (!buf) abort();
    if (size) memcpy(buf, data, size);

    Transformer t;
    memset(&t, 0, sizeof(t)); // t.map stays NULL: free_transformer must not munmap our buffer
    char err[ERR_LEN];
    memset(err, 'x', sizeof(err));
    if (parse_model(&t, buf, size, err) != 0) {
        CHECK(memchr(err, 0, sizeof(err)) != NULL && err[0] != 0, "rejected without a message");
        free_transformer(&t);
        free(buf);
        return 0;
    }
    const Config *c = &t.c;
    CHECK(t.w.wq && t.w.w_down, "accepted but the layer stacks are missing");

    unsigned opt = size > HEADER_SIZE - 1 ? buf[HEADER_SIZE - 1] : 0;
    int kv_type = opt & 1 ? KV_BF16 : KV_F32;
    int longer = (opt & 8) != 0, ctx = longer ? 20 : 4;
    int seq_len = c->max_seq_len < ctx ? c->max_seq_len : ctx;
    int max_batch = longer ? 12 : (opt & 16) ? 1 : 2;
    malloc_run_state(&t.s, c, seq_len, max_batch, kv_type);

    // the exit rules main() can build: the model's own, -u N, -x q, the config's exit step
    ExitRule rule = {c->n_steps, c->exit_threshold};
    switch ((opt >> 1) & 3) {
    case 1: rule = (ExitRule){1 + (int)(opt >> 4) % c->n_steps, INFINITY}; break;
    case 2: rule = (ExitRule){c->n_steps, (opt & 16) ? 0.5f : 0.0f}; break;
    case 3: if (c->exit_step >= 0) rule = (ExitRule){c->exit_step + 1, INFINITY}; break;
    }

    // a prompt of up to seq_len - 1 tokens (empty: generate starts from bos)
    int prompt[20] = {0}, n_prompt = seq_len - 1;
    for (int i = 0; i < n_prompt; i++) {
        switch (opt >> 6) {
        case 0: prompt[i] = i % c->vocab_size; break;
        case 1: prompt[i] = c->vocab_size - 1; break;
        case 2: prompt[i] = buf[HEADER_SIZE - 2 - i] % c->vocab_size; break; // header bytes 235..254
        default: prompt[i] = c->eos_id >= 0 ? c->eos_id : 0; break;
        }
    }

    Sampler sampler;
    build_sampler(&sampler, c->vocab_size, opt & 16 ? 0.0f : 1.0f, 0.9f, 1234);
    generate(&t, NULL, &sampler, prompt, n_prompt, seq_len, rule, devnull);

    // a direct check that sampling stays in the vocabulary whatever the logits hold
    float *logits = forward(&t, prompt, 1, 0, rule, LOGITS_LAST);
    int next = sample(&sampler, logits);
    CHECK(next >= 0 && next < c->vocab_size, "sampled token %d outside the vocabulary of %d", next, c->vocab_size);

    if ((opt & 32) && seq_len >= 2) {
        int text[24], n_text = longer ? 24 : 6; // chunks of seq_len, blocks of max_batch
        for (int i = 0; i < n_text; i++) text[i] = (i * 7 + 3) % c->vocab_size;
        perplexity(&t, text, n_text, rule.steps == c->n_steps ? rule.threshold : c->exit_threshold, devnull);
    }

    free_sampler(&sampler);
    free_transformer(&t);
    free(buf);
    return 0;
}
