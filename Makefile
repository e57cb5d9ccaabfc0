# ouro.c build and tests. `make` builds the fast binary; `make test` runs everything.
CC ?= gcc
CFLAGS ?= -O3 -march=native
WARN = -Wall -Wextra -Wno-unknown-pragmas
PYTHON ?= python3
# the real tokenizer, used by the tokenizer and chat tests (never committed)
TOKENIZER_JSON ?= $(or $(OURO_TOKENIZER_JSON),../shared/tokenizer/tokenizer.json)

.PHONY: all run test test-unit test-e2e test-chat test-hostile bench sanitize fuzz valgrind clean

all: ouro

# default build: vectorised for this machine, OpenMP across output rows
ouro: ouro.c
	$(CC) $(CFLAGS) $(WARN) -fopenmp -o $@ ouro.c -lm

# the plain build, exactly as README's one-liner: no OpenMP, no -march
ouro_plain: ouro.c
	$(CC) -O2 $(WARN) -o $@ ouro.c -lm

# the demo: a tiny Ouro trained by this project (demo/README.md)
run: ouro
	./ouro demo/model.bin -i "Once upon a time" -n 128 -t 0.8 -s 42

test_ouro: test_ouro.c ouro.c
	$(CC) $(CFLAGS) $(WARN) -Wno-unused-function -fopenmp -o $@ test_ouro.c -lm

build/tokenizer.bin: export.py
	@mkdir -p build
	@if [ -f "$(TOKENIZER_JSON)" ]; then $(PYTHON) export.py --tokenizer "$(TOKENIZER_JSON)" $@ >/dev/null; \
	else echo "no $(TOKENIZER_JSON): tokenizer tests will be skipped"; rm -f $@; fi

test: test-unit test-e2e test-chat test-hostile

test-unit: test_ouro build/tokenizer.bin
	$(PYTHON) tests/test_reference.py
	OURO_TOKENIZER_BIN=build/tokenizer.bin ./test_ouro

test-e2e: ouro ouro_plain
	$(PYTHON) tests/test_e2e.py --ouro ./ouro --export export.py
	$(PYTHON) tests/test_e2e.py --ouro ./ouro_plain --export export.py --quick
	$(PYTHON) tests/test_errors.py --ouro ./ouro --export export.py
	$(PYTHON) tests/test_ppl.py --ouro ./ouro --export export.py
	$(PYTHON) tests/test_drift.py --ouro ./ouro --export export.py
	$(PYTHON) tests/test_demo.py --ouro ./ouro

test-hostile: ouro build/tokenizer.bin
	OURO_TOKENIZER_BIN=build/tokenizer.bin $(PYTHON) tests/test_hostile.py --ouro ./ouro --export export.py
	OURO_TOKENIZER_BIN=build/tokenizer.bin tests/test_fuzz_regressions.sh

test-chat: ouro
	OURO_TOKENIZER_JSON="$(TOKENIZER_JSON)" $(PYTHON) tests/test_chat.py --ouro ./ouro --export export.py

# ASan + UBSan: the whole suite against instrumented binaries. -march=native like the default
# build, so the AVX2/AVX-512 kernels are what gets checked; ouro_plain checks the plain C ones.
# A sanitizer report aborts the process (a signal / an extra stderr line / a non-zero status),
# which fails whichever test saw it.
SAN = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1

build/san/ouro: ouro.c
	@mkdir -p build/san
	$(CC) $(SAN) -march=native $(WARN) -fopenmp -o $@ ouro.c -lm

build/san/ouro_plain: ouro.c
	@mkdir -p build/san
	$(CC) $(SAN) $(WARN) -o $@ ouro.c -lm

build/san/test_ouro: test_ouro.c ouro.c
	@mkdir -p build/san
	$(CC) $(SAN) -march=native $(WARN) -Wno-unused-function -fopenmp -o $@ test_ouro.c -lm

sanitize: build/san/ouro build/san/ouro_plain build/san/test_ouro build/tokenizer.bin
	OURO_TOKENIZER_BIN=build/tokenizer.bin $(SAN_ENV) ./build/san/test_ouro
	$(SAN_ENV) $(PYTHON) tests/test_e2e.py --ouro ./build/san/ouro --export export.py
	$(SAN_ENV) $(PYTHON) tests/test_e2e.py --ouro ./build/san/ouro_plain --export export.py --quick
	$(SAN_ENV) $(PYTHON) tests/test_errors.py --ouro ./build/san/ouro --export export.py
	$(SAN_ENV) $(PYTHON) tests/test_ppl.py --ouro ./build/san/ouro --export export.py
	$(SAN_ENV) $(PYTHON) tests/test_drift.py --ouro ./build/san/ouro --export export.py
	OURO_TOKENIZER_JSON="$(TOKENIZER_JSON)" $(SAN_ENV) $(PYTHON) tests/test_chat.py --ouro ./build/san/ouro --export export.py
	OURO_TOKENIZER_BIN=build/tokenizer.bin $(SAN_ENV) $(PYTHON) tests/test_hostile.py --ouro ./build/san/ouro --export export.py
	OURO_TOKENIZER_BIN=build/tokenizer.bin $(SAN_ENV) $(PYTHON) tests/test_hostile.py --ouro ./build/san/ouro_plain --export export.py
	OURO_TOKENIZER_BIN=build/tokenizer.bin tests/test_fuzz_regressions.sh

# libFuzzer (clang): FUZZ_SECONDS per target (CI: the default 60; issue 5's runs: 600)
FUZZ_SECONDS ?= 60
fuzz: build/tokenizer.bin
	OURO_TOKENIZER_BIN=build/tokenizer.bin fuzz/run.sh $(FUZZ_SECONDS)

valgrind: build/tokenizer.bin
	OURO_TOKENIZER_BIN=build/tokenizer.bin tests/test_valgrind.sh

# speed on random models of the exact Ouro-1.4B shape (made once, 2.7 GiB bf16 + 1.4 GiB q8);
# README's numbers come from this
bench/bench: bench/bench.c ouro.c
	$(CC) $(CFLAGS) $(WARN) -Wno-unused-function -fopenmp -o $@ bench/bench.c -lm

build/ouro-1.4b-%.bin: bench/random_model.py export.py
	@mkdir -p build
	$(PYTHON) bench/random_model.py $@ --dtype $*

bench: bench/bench build/ouro-1.4b-bf16.bin build/ouro-1.4b-q8.bin
	@echo "$$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $$(nproc) cores, $$(free -g | awk '/Mem:/{print $$2}') GiB"
	@./bench/bench --header build/ouro-1.4b-bf16.bin
	@./bench/bench build/ouro-1.4b-q8.bin
	@./bench/bench build/ouro-1.4b-bf16.bin bf16

clean:
	rm -rf ouro ouro_plain test_ouro bench/bench build
