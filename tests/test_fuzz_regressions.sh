#!/usr/bin/env bash
# Replays every input that once crashed a fuzz target (fuzz/regressions/<target>/), and the
# generated seed corpora, through the targets built with AddressSanitizer and UBSan. No
# libFuzzer needed: fuzz/replay.c supplies main(), so gcc is enough. Each target is built for
# the plain C kernels and, when this CPU has them, for AVX2+FMA and for -march=native (the
# AVX-512 kernels here), since the fast kernels only exist in those builds.
#
#   tests/test_fuzz_regressions.sh            (CC=clang to use clang)
#
# The encode target needs the real tokenizer.bin: $OURO_TOKENIZER_BIN, default
# build/tokenizer.bin (made by `make build/tokenizer.bin`); without it that target is skipped,
# or fails when CI=true.
set -uo pipefail
cd "$(dirname "$0")/.."
CC=${CC:-gcc}
OUT=build/fuzz-replay
mkdir -p "$OUT"
export OURO_TOKENIZER_BIN=${OURO_TOKENIZER_BIN:-build/tokenizer.bin}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

if [ ! -f "$OUT/seeds/.done" ] || [ fuzz/make_seeds.py -nt "$OUT/seeds/.done" ]; then
    rm -rf "$OUT/seeds"
    python3 fuzz/make_seeds.py "$OUT/seeds" >/dev/null || { echo "FAIL make_seeds.py"; exit 1; }
    touch "$OUT/seeds/.done"
fi

archs=(plain)
grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo && archs+=(avx2)
archs+=(native)
arch_flags() {
    case $1 in
        plain) ;;
        avx2) echo "-mavx2 -mfma" ;;
        native) echo "-march=native" ;;
    esac
}

passed=0 failed=0 skipped=0
for t in model tokenizer encode; do
    if [ "$t" = encode ] && [ ! -f "$OURO_TOKENIZER_BIN" ]; then
        if [ "${CI:-}" = true ]; then echo "FAIL $t: no tokenizer.bin at $OURO_TOKENIZER_BIN"; failed=$((failed + 1))
        else echo "SKIP $t: no tokenizer.bin at $OURO_TOKENIZER_BIN"; skipped=$((skipped + 1)); fi
        continue
    fi
    for arch in "${archs[@]}"; do
        # the tokenizer has no arch-specific code: one build is enough
        [ "$t" != model ] && [ "$arch" != plain ] && continue
        bin="$OUT/replay_${t}_$arch"
        # shellcheck disable=SC2046
        if ! "$CC" -g -O1 $(arch_flags "$arch") -fsanitize=address,undefined -fno-sanitize-recover=all \
            -fno-omit-frame-pointer -Wall -Wextra -Wno-unknown-pragmas -Wno-unused-function \
            -o "$bin" "fuzz/fuzz_$t.c" fuzz/replay.c -lm 2>"$bin.build.log"; then
            echo "FAIL $t ($arch): build failed"; cat "$bin.build.log"; failed=$((failed + 1)); continue
        fi
        dirs=("$OUT/seeds/$t")
        [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
        log="$bin.log"
        if "$bin" "${dirs[@]}" >"$log" 2>&1; then
            echo "PASS $t ($arch): $(tail -1 "$log")"
            passed=$((passed + 1))
        else
            # the last "replay" line names the input that failed
            echo "FAIL $t ($arch): $(grep '^replay ' "$log" | tail -1)"
            grep -v '^replay ' "$log" | grep -E 'ERROR|runtime error|SUMMARY|^fuzz|#[0-3] ' | head -8 | sed 's/^/    /'
            failed=$((failed + 1))
        fi
    done
done
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
