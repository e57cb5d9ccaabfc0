# ouro.c build and tests. `make` builds the fast binary; `make test` runs everything.
CC ?= gcc
CFLAGS ?= -O3 -march=native
WARN = -Wall -Wextra -Wno-unknown-pragmas
PYTHON ?= python3
# the real tokenizer, used by the tokenizer and chat tests (never committed)
TOKENIZER_JSON ?= $(or $(OURO_TOKENIZER_JSON),../shared/tokenizer/tokenizer.json)

.PHONY: all test test-unit test-e2e test-chat bench clean

all: ouro

# default build: vectorised for this machine, OpenMP across output rows
ouro: ouro.c
	$(CC) $(CFLAGS) $(WARN) -fopenmp -o $@ ouro.c -lm

# the plain build, exactly as README's one-liner: no OpenMP, no -march
ouro_plain: ouro.c
	$(CC) -O2 $(WARN) -o $@ ouro.c -lm

test_ouro: test_ouro.c ouro.c
	$(CC) $(CFLAGS) $(WARN) -Wno-unused-function -fopenmp -o $@ test_ouro.c -lm

build/tokenizer.bin: export.py
	@mkdir -p build
	@if [ -f "$(TOKENIZER_JSON)" ]; then $(PYTHON) export.py --tokenizer "$(TOKENIZER_JSON)" $@ >/dev/null; \
	else echo "no $(TOKENIZER_JSON): tokenizer tests will be skipped"; rm -f $@; fi

test: test-unit test-e2e test-chat

test-unit: test_ouro build/tokenizer.bin
	$(PYTHON) tests/test_reference.py
	OURO_TOKENIZER_BIN=build/tokenizer.bin ./test_ouro

test-e2e: ouro ouro_plain
	$(PYTHON) tests/test_e2e.py --ouro ./ouro --export export.py
	$(PYTHON) tests/test_e2e.py --ouro ./ouro_plain --export export.py --quick
	$(PYTHON) tests/test_errors.py --ouro ./ouro --export export.py
	$(PYTHON) tests/test_ppl.py --ouro ./ouro --export export.py
	$(PYTHON) tests/test_drift.py --ouro ./ouro --export export.py

test-chat: ouro
	OURO_TOKENIZER_JSON="$(TOKENIZER_JSON)" $(PYTHON) tests/test_chat.py --ouro ./ouro --export export.py

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
