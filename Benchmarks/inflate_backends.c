/* Which library inflates CloudTrail objects fastest on this machine: libdeflate (trailscan's fast path)
 * or ISA-L, whole and in 256 KiB steps. zlib's figure is trailscan's own (`swift package benchmark`).
 *
 *   apt-get install libdeflate-dev libisal-dev
 *   gcc -O2 Benchmarks/inflate_backends.c -o /tmp/inflate_backends -ldeflate -lisal
 *   find /tmp/corpus1g/AWSLogs/111122223333/CloudTrail -name '*.json.gz' | sort | head -800 | /tmp/inflate_backends
 *
 * Reads the gzip files named on standard input into memory, then inflates all of them with each
 * backend in turn, five rounds, and prints each backend's best round in MB/s of output, one core.
 * Every backend must produce the same number of bytes. Not part of trailscan; no threshold. */
#include <isa-l/igzip_lib.h>
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { OUTPUT_CAPACITY = 32 << 20, STEP = 256 << 10, ROUNDS = 5 };

struct object { unsigned char *bytes; size_t count; };

static double seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec + now.tv_nsec / 1e9;
}

static unsigned char output[OUTPUT_CAPACITY];

static size_t with_libdeflate(const struct object *objects, size_t count) {
    static struct libdeflate_decompressor *decompressor;
    if (!decompressor) decompressor = libdeflate_alloc_decompressor();
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        size_t produced;
        if (libdeflate_gzip_decompress(decompressor, objects[i].bytes, objects[i].count, output, OUTPUT_CAPACITY, &produced)) {
            fprintf(stderr, "libdeflate failed on object %zu\n", i);
            exit(1);
        }
        total += produced;
    }
    return total;
}

/* ISA-L inflating each object into `step` bytes at a time (the whole buffer when step is its size). */
static size_t with_isal(const struct object *objects, size_t count, size_t step) {
    static struct inflate_state state;
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        isal_inflate_init(&state);
        state.crc_flag = ISAL_GZIP;
        state.next_in = objects[i].bytes;
        state.avail_in = objects[i].count;
        do {
            state.next_out = output;
            state.avail_out = step;
            if (isal_inflate(&state) != ISAL_DECOMP_OK) {
                fprintf(stderr, "ISA-L failed on object %zu\n", i);
                exit(1);
            }
        } while (state.block_state != ISAL_BLOCK_FINISH);
        total += state.total_out;
    }
    return total;
}

int main(void) {
    size_t capacity = 1024, count = 0;
    struct object *objects = malloc(capacity * sizeof *objects);
    char path[4096];
    while (fgets(path, sizeof path, stdin)) {
        path[strcspn(path, "\n")] = 0;
        FILE *file = fopen(path, "rb");
        if (!file) { perror(path); return 1; }
        fseek(file, 0, SEEK_END);
        long size = ftell(file);
        fseek(file, 0, SEEK_SET);
        if (count == capacity) objects = realloc(objects, (capacity *= 2) * sizeof *objects);
        objects[count].bytes = malloc(size);
        objects[count].count = fread(objects[count].bytes, 1, size, file);
        fclose(file);
        count++;
    }
    const char *names[] = { "libdeflate, whole object", "ISA-L, whole object", "ISA-L, 256 KiB steps" };
    double best[3] = { 1e9, 1e9, 1e9 };
    size_t produced[3] = { 0 };
    for (int round = 0; round < ROUNDS; round++) {
        for (int backend = 0; backend < 3; backend++) {
            double start = seconds();
            produced[backend] = backend == 0 ? with_libdeflate(objects, count)
                              : with_isal(objects, count, backend == 1 ? OUTPUT_CAPACITY : STEP);
            double elapsed = seconds() - start;
            if (elapsed < best[backend]) best[backend] = elapsed;
        }
    }
    for (int backend = 0; backend < 3; backend++) {
        if (produced[backend] != produced[0]) { fprintf(stderr, "%s produced %zu bytes, not %zu\n", names[backend], produced[backend], produced[0]); return 1; }
        printf("%-26s %6.0f MB/s (%zu objects, %zu bytes, best of %d)\n", names[backend], produced[backend] / best[backend] / 1e6, count, produced[backend], ROUNDS);
    }
    return 0;
}
