// A main() for the fuzz targets without libFuzzer: runs LLVMFuzzerTestOneInput once on each
// file given (a directory: on each file in it). Any C compiler builds it, e.g. with gcc:
//
//   gcc -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
//       -o build/replay_model fuzz/fuzz_model.c fuzz/replay.c -lm
//   build/replay_model fuzz/regressions/model
//
// tests/test_fuzz_regressions.sh replays fuzz/regressions/<target>/ and the seeds this way.
#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int replayed;

static void run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    // an exact-size heap copy, so that ASan sees a read one byte past the input
    uint8_t *data = malloc(n > 0 ? (size_t)n : 1);
    if (!data || (n > 0 && fread(data, 1, (size_t)n, f) != (size_t)n)) { fprintf(stderr, "%s: read error\n", path); exit(2); }
    fclose(f);
    fprintf(stderr, "replay %s (%ld bytes)\n", path, n);
    LLVMFuzzerTestOneInput(data, (size_t)n);
    free(data);
    replayed++;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) { perror(argv[i]); return 2; }
        if (!S_ISDIR(st.st_mode)) { run_file(argv[i]); continue; }
        DIR *d = opendir(argv[i]);
        if (!d) { perror(argv[i]); return 2; }
        char **names = NULL;
        size_t n = 0;
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.') continue; // ., .., .gitkeep, stamps
            names = realloc(names, (n + 1) * sizeof(*names));
            size_t len = strlen(argv[i]) + strlen(e->d_name) + 2;
            names[n] = malloc(len);
            snprintf(names[n++], len, "%s/%s", argv[i], e->d_name);
        }
        closedir(d);
        if (n) qsort(names, n, sizeof(*names), by_name);
        for (size_t k = 0; k < n; k++) {
            struct stat fst;
            if (stat(names[k], &fst) == 0 && S_ISREG(fst.st_mode)) run_file(names[k]);
            free(names[k]);
        }
        free(names);
    }
    fprintf(stderr, "%d inputs replayed\n", replayed);
    return 0;
}
