#!/usr/bin/env bash
# Valgrind (memcheck): no invalid reads or writes, no use of uninitialised values and no leaks
# (of any kind, "still reachable" included) in the runs a user makes: generate, ids, logits,
# ppl, encode and chat, on a tiny random checkpoint with the real 49152-token vocabulary and
# tokenizer, in bf16 and q8.
#
#   tests/test_valgrind.sh
#
# ./ouro is built here with plain `gcc -O1 -g` (no OpenMP: its thread pool confuses valgrind),
# and again with -mavx2 -mfma when the CPU has them, for the AVX2 kernels (valgrind cannot run
# AVX-512 code, so -march=native is out on machines that have it).
# valgrind is installed with apt-get when it is missing and we are root (CI); otherwise the test
# is skipped, or fails when CI=true. The tokenizer comes from $OURO_TOKENIZER_BIN (default
# build/tokenizer.bin), exported from ../shared/tokenizer/tokenizer.json or
# $OURO_TOKENIZER_JSON when missing.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=build/valgrind
mkdir -p "$OUT"

skip_or_fail() {
    if [ "${CI:-}" = true ]; then echo "FAIL valgrind: $1"; echo "0 passed, 1 failed"; exit 1; fi
    echo "SKIP valgrind: $1"; echo "0 passed, 0 failed, 1 skipped"; exit 0
}

if ! command -v valgrind >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
    fi
    command -v valgrind >/dev/null || skip_or_fail "valgrind is not installed"
fi

tok=${OURO_TOKENIZER_BIN:-build/tokenizer.bin}
tok_json=${OURO_TOKENIZER_JSON:-../shared/tokenizer/tokenizer.json}
if [ ! -f "$tok" ]; then
    [ -f "$tok_json" ] || skip_or_fail "no tokenizer.json at $tok_json"
    python3 export.py --tokenizer "$tok_json" "$tok" >/dev/null || skip_or_fail "tokenizer export failed"
fi

gcc -O1 -g -Wall -Wextra -Wno-unknown-pragmas -o "$OUT/ouro" ouro.c -lm || { echo "FAIL build"; exit 1; }
builds=(plain)
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
    gcc -O1 -g -mavx2 -mfma -Wall -Wextra -Wno-unknown-pragmas -o "$OUT/ouro_avx2" ouro.c -lm || { echo "FAIL build avx2"; exit 1; }
    builds+=(avx2)
fi

# 49152 tokens x 16 dims: small, but every token id the tokenizer can give is a row
if [ ! -f "$OUT/model.bin" ] || [ ! -f "$OUT/model-q8.bin" ]; then
    rm -rf "$OUT/ckpt"
    python3 tests/make_checkpoint.py "$OUT/ckpt" --seed 11 --hidden 16 --inter 32 --layers 2 --heads 4 \
        --kv-heads 2 --vocab 49152 --steps 3 --max-pos 64 --eos 0 >/dev/null 2>&1 &&
    python3 export.py "$OUT/ckpt" "$OUT/model.bin" --dtype bf16 >/dev/null &&
    python3 export.py "$OUT/ckpt" "$OUT/model-q8.bin" --dtype q8 >/dev/null || { echo "FAIL export"; exit 1; }
fi
m="$OUT/model.bin" q="$OUT/model-q8.bin"

VG=(valgrind --tool=memcheck --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all
    --track-origins=yes --error-exitcode=9 --quiet)
passed=0 failed=0

# run NAME STDIN-TEXT ARGS...: valgrind must report nothing and ouro must exit 0
run() {
    local name=$1 input=$2
    shift 2
    local log="$OUT/$name-$build.log"
    printf '%s' "$input" | "${VG[@]}" --log-file="$log.vg" "$ouro" "$@" >"$log.out" 2>"$log.err"
    local rc=$?
    if [ $rc -eq 0 ] && [ ! -s "$log.vg" ]; then
        echo "PASS $name ($build)"
        passed=$((passed + 1))
    else
        echo "FAIL $name ($build): exit status $rc (9: valgrind found errors); $log.vg, $log.err"
        head -30 "$log.vg" | sed 's/^/    /'
        head -3 "$log.err" | sed 's/^/    /'
        failed=$((failed + 1))
    fi
}

for build in "${builds[@]}"; do
    ouro="$OUT/ouro"
    [ "$build" = avx2 ] && ouro="$OUT/ouro_avx2"
    # prompts of 8 tokens and more go through the packed GEMM kernels, shorter ones the GEMV
    run generate "" "$m" -z "$tok" -i "The loop is a Universal Transformer: one stack of layers, applied again and again." -n 8 -t 1 -p 0.9 -s 7 -c 40
    run generate-q8-bf16cache "" "$q" -z "$tok" -i "Ouro applies one stack" -n 6 -t 0.8 -p 0 -s 3 -k bf16 -u 2
    run generate-empty-prompt "" "$m" -z "$tok" -i "" -n 4 -t 0 -x 0.5
    run ids "" "$m" -m ids -I 1,2,3,400,49151 -n 4 -t 0 -c 16
    run logits "" "$m" -m logits -I 5,6,7,8,9,10,11,12,13,14,15,16,17 -o "$OUT/logits.out"
    run ppl "" "$q" -z "$tok" -m ppl -i "Perplexity is scored in chunks of the context, each from an empty cache." -c 8
    run encode "" -m encode -z "$tok" -i $'h\xc3\xa9llo <|im_start|>user\n12345 \xf0\x9f\x99\x82 \xff'
    run chat $'Hi there!\nWhat is 17*23?\n' "$m" -z "$tok" -m chat -y "Be brief." -r -n 6 -t 0 -c 64
    run chat-sampled $'one\ntwo\n' "$q" -z "$tok" -m chat -i "zero" -n 5 -t 1 -p 0.7 -s 5 -c 64
    run chat-context-full $'a much longer second turn that cannot fit in the context\n' "$m" -z "$tok" -m chat -i "hi" -n 4 -t 0 -c 24
done

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
