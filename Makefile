# ouro.c build and tests. `make` builds the fast binary; `make test` runs everything.
CC ?= gcc
CFLAGS ?= -O3 -march=native
WARN = -Wall -Wextra -Wno-unknown-pragmas
PYTHON ?= python3

.PHONY: all test test-unit test-e2e clean

all: ouro

# default build: vectorised for this machine, OpenMP across output rows
ouro: ouro.c
	$(CC) $(CFLAGS) $(WARN) -fopenmp -o $@ ouro.c -lm

# the plain build, exactly as README's one-liner: no OpenMP, no -march
ouro_plain: ouro.c
	$(CC) -O2 $(WARN) -o $@ ouro.c -lm

test_ouro: test_ouro.c ouro.c
	$(CC) $(CFLAGS) $(WARN) -Wno-unused-function -fopenmp -o $@ test_ouro.c -lm

test: test-unit test-e2e

test-unit: test_ouro
	./test_ouro

test-e2e: ouro ouro_plain
	$(PYTHON) tests/test_e2e.py --ouro ./ouro --export export.py
	$(PYTHON) tests/test_e2e.py --ouro ./ouro_plain --export export.py --quick

clean:
	rm -f ouro ouro_plain test_ouro
