// libFuzzer target: the real tokenizer (tokenizer.bin from the shared tokenizer.json, path in
// $OURO_TOKENIZER_BIN) encoding arbitrary bytes.
//
//   clang -g -O1 -fsanitize=fuzzer,address,undefined -o build/fuzz/fuzz_encode fuzz/fuzz_encode.c -lm
//   OURO_TOKENIZER_BIN=build/tokenizer.bin build/fuzz/fuzz_encode fuzz/corpus/encode
//
// Every id must be in range, the tokens' bytes concatenated must be the input minus the 21
// bytes that have no token, and streaming the tokens out must print well-formed UTF-8 without
// control characters: the input itself when it is printable UTF-8 made of bytes with tokens.
#define TESTING
#include "../ouro.c"
#include "fuzz_tok_check.h"

static Tokenizer tok;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    const char *path = getenv("OURO_TOKENIZER_BIN");
    if (!path || !*path) {
        fprintf(stderr, "fuzz_encode: set OURO_TOKENIZER_BIN to the real tokenizer.bin "
                        "(python3 export.py --tokenizer ../shared/tokenizer/tokenizer.json build/tokenizer.bin)\n");
        exit(2);
    }
    load_tokenizer(&tok, path);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > (1u << 20)) return 0;
    chk_encode_decode(&tok, data, size);
    return 0;
}
