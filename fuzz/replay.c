/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A main() for the fuzz targets where libFuzzer is not linked (gcc, or a sanitizer build
 * without -Dfuzz=true): runs each file given, or each file in each folder given, once through
 * LLVMFuzzerTestOneInput. This is how the committed corpora run as tests.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path) {
        FILE *f = fopen(path, "rb");
        if (!f) {
                perror(path);
                return 1;
        }
        size_t cap = 4096, len = 0;
        uint8_t *buf = malloc(cap);
        size_t k;
        while (buf && (k = fread(buf + len, 1, cap - len, f)) > 0) {
                len += k;
                if (len == cap)
                        buf = realloc(buf, cap *= 2);
        }
        fclose(f);
        if (!buf)
                return 1;
        /* A copy of exactly @len bytes, so that ASan sees any read past the input. */
        uint8_t *exact = malloc(len ? len : 1);
        memcpy(exact, buf, len);
        free(buf);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
        return 0;
}

int main(int argc, char **argv) {
        unsigned files = 0;
        int bad = 0;

        if (LLVMFuzzerInitialize)
                LLVMFuzzerInitialize(&argc, &argv);
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (argv[i][0] == '-')
                        continue; /* libFuzzer flags, for the same command lines */
                if (stat(argv[i], &st) < 0) {
                        perror(argv[i]);
                        return 1;
                }
                if (!S_ISDIR(st.st_mode)) {
                        bad |= run_file(argv[i]);
                        files++;
                        continue;
                }
                DIR *d = opendir(argv[i]);
                struct dirent *de;
                while (d && (de = readdir(d))) {
                        if (de->d_name[0] == '.')
                                continue;
                        char path[4096];
                        snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
                        bad |= run_file(path);
                        files++;
                }
                if (d)
                        closedir(d);
        }
        printf("replayed %u inputs\n", files);
        return bad;
}
