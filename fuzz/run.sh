#!/usr/bin/env bash
# Build the libFuzzer targets and run each for a bounded time.
#
#   fuzz/run.sh [SECONDS] [TARGET...]     TARGET: model tokenizer encode (default: all three)
#   fuzz/run.sh --build-only
#
# CI runs a short bound (fuzz/run.sh 60); the closing runs of issue 5 were 600 s and more per
# target. Output goes to build/fuzz/: the binaries, the generated seeds (fuzz/make_seeds.py),
# the growing corpus (corpus/<target>, kept between runs) and crash files (artifacts/<target>).
# A crash stops the script with status 1 and names the input; once the bug is fixed, copy it to
# fuzz/regressions/<target>/ so tests/test_fuzz_regressions.sh replays it from then on.
#
# One target at a time, on one core. Environment:
#   CLANG               default clang
#   FUZZ_ARCH           default -march=native: the fast kernels (AVX2/AVX-512) exist only with
#                       it; "-mavx2 -mfma" fuzzes the AVX2 ones on an AVX-512 machine, and an
#                       empty value the plain C ones. The binaries are named after it.
#   OURO_TOKENIZER_BIN  for the encode target (default build/tokenizer.bin, exported from
#                       ../shared/tokenizer/tokenizer.json or $OURO_TOKENIZER_JSON when missing)
set -euo pipefail
cd "$(dirname "$0")/.."

build_only=0
if [ "${1:-}" = "--build-only" ]; then build_only=1; shift; fi
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(model tokenizer encode)

CLANG=${CLANG:-clang}
OUT=build/fuzz
mkdir -p "$OUT"
FUZZ_ARCH=${FUZZ_ARCH--march=native}
read -r -a ARCH <<<"$FUZZ_ARCH"
# suffix of the binaries: native, avx2, plain, ...
suffix=$(printf '%s' "$FUZZ_ARCH" | sed 's/-march=//; s/-m//g; s/ /_/g')
suffix=${suffix:-plain}
FLAGS=(-g -O1 "${ARCH[@]}" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
       -Wall -Wextra -Wno-unknown-pragmas -Wno-unused-function)

# clang with its libFuzzer runtime (Debian: clang + libclang-rt-NN-dev); installed on CI
have_fuzzer() {
    printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' > "$OUT/probe.c"
    "$CLANG" -fsanitize=fuzzer "$OUT/probe.c" -o "$OUT/probe" >/dev/null 2>&1
}
if ! have_fuzzer; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "fuzz: installing clang and its libFuzzer runtime"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null
        ver=$(clang --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "libclang-rt-$ver-dev" >/dev/null 2>&1 || true
    fi
    have_fuzzer || { echo "fuzz: $CLANG cannot link -fsanitize=fuzzer (install clang and libclang-rt-NN-dev)"; exit 1; }
fi
rm -f "$OUT/probe.c" "$OUT/probe"

for t in "${targets[@]}"; do
    "$CLANG" "${FLAGS[@]}" -o "$OUT/fuzz_${t}_$suffix" "fuzz/fuzz_$t.c" -lm
done
[ $build_only = 1 ] && exit 0

if [ ! -f "$OUT/seeds/.done" ]; then
    rm -rf "$OUT/seeds"
    python3 fuzz/make_seeds.py "$OUT/seeds" >/dev/null
    touch "$OUT/seeds/.done"
fi

tok_json=${OURO_TOKENIZER_JSON:-../shared/tokenizer/tokenizer.json}
export OURO_TOKENIZER_BIN=${OURO_TOKENIZER_BIN:-build/tokenizer.bin}

status=0
for t in "${targets[@]}"; do
    if [ "$t" = encode ] && [ ! -f "$OURO_TOKENIZER_BIN" ]; then
        if [ -f "$tok_json" ]; then
            python3 export.py --tokenizer "$tok_json" "$OURO_TOKENIZER_BIN" >/dev/null
        elif [ "${CI:-}" = true ]; then
            echo "fuzz_encode: FAIL: no tokenizer.json at $tok_json"; status=1; continue
        else
            echo "fuzz_encode: SKIP: no tokenizer.json at $tok_json"; continue
        fi
    fi
    case $t in
        encode) max_len=4096 ;;
        model) max_len=32768 ;;
        *) max_len=16384 ;;
    esac
    mkdir -p "$OUT/corpus/$t" "$OUT/artifacts/$t" "fuzz/regressions/$t"
    bin="$OUT/fuzz_${t}_$suffix" log="$OUT/fuzz_${t}_$suffix.log"
    echo "fuzz_$t ($suffix): ${secs}s (log: $log)"
    # corpus/<t> first: libFuzzer adds new inputs to the first directory only
    if "$bin" -max_total_time="$secs" -max_len="$max_len" -timeout=60 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$OUT/artifacts/$t/" \
        "$OUT/corpus/$t" "$OUT/seeds/$t" "fuzz/regressions/$t" >"$log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\) corp: \([^ ]*\).*/cov \1, features \2, corpus \3/p')
        echo "fuzz_$t: ok, $execs runs, $cov"
    else
        status=1
        echo "fuzz_$t: FAILED"
        grep -E 'ERROR|runtime error|SUMMARY|Test unit written|fuzz(_model)?:' "$log" | head -20
    fi
done
exit $status
