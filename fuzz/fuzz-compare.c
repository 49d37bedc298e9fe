/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the JSON comparison of shadow runs with its ignore rules (emulator/compare.c).
 * Input: up to 4 lines of ignore paths and values ("p:$.a", "v:^x$"), a line "--", then
 * two texts separated by a NUL byte. Checked: the answer is 0, 1 or -EINVAL; a text equals
 * itself; the comparison is symmetric in its verdict.
 */
#include <errno.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RULES 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *p = (const char *) data, *end = p + size;
        const char *sep = memmem(p, size, "--\n", 3);
        char *paths[MAX_RULES + 1] = { 0 };
        regex_t values[MAX_RULES];
        size_t n_paths = 0, n_values = 0;
        CompareDiff d;

        if (sep) {
                const char *line = p;
                while (line < sep && n_paths + n_values < MAX_RULES) {
                        const char *nl = memchr(line, '\n', (size_t) (sep - line));
                        size_t len = (size_t) ((nl ? nl : sep) - line);
                        /* A rule is text: a line with a NUL in it is skipped. */
                        char *text = memchr(line, '\0', len) ? NULL : strndup(line, len);
                        if (!text) {
                                line = nl ? nl + 1 : sep;
                                continue;
                        }
                        if (len > 2 && memcmp(text, "p:", 2) == 0) {
                                char why[128];
                                if (compare_path_check(text + 2, why, sizeof(why)) == 0)
                                        paths[n_paths++] = strdup(text + 2);
                        } else if (len > 2 && memcmp(text, "v:", 2) == 0) {
                                if (regcomp(&values[n_values], text + 2,
                                            REG_EXTENDED | REG_NOSUB) == 0)
                                        n_values++;
                        }
                        free(text);
                        line = nl ? nl + 1 : sep;
                }
                p = sep + 3;
        }
        const char *nul = memchr(p, '\0', (size_t) (end - p));
        const char *a = p, *b = nul ? nul + 1 : p;
        size_t alen = (size_t) ((nul ? nul : end) - p), blen = (size_t) (end - b);
        const char *const *ip = n_paths ? (const char *const *) paths : NULL;

        int ab = compare_json(a, alen, b, blen, ip, n_values ? values : NULL, n_values, &d);
        int ba = compare_json(b, blen, a, alen, ip, n_values ? values : NULL, n_values, &d);
        if ((ab != 0 && ab != 1 && ab != -EINVAL) || (ab == -EINVAL) != (ba == -EINVAL) ||
            (ab >= 0 && ba >= 0 && ab != ba)) {
                fprintf(stderr, "compare_json: a-b %d, b-a %d\n", ab, ba);
                abort();
        }
        if (compare_json(a, alen, a, alen, ip, n_values ? values : NULL, n_values, &d) == 1) {
                fprintf(stderr, "a text differs from itself at %s\n", d.path);
                abort();
        }
        if (compare_answers(a, alen, b, blen, ip, NULL, 0, &d) < 0)
                abort();
        for (size_t i = 0; i < n_paths; i++)
                free(paths[i]);
        for (size_t i = 0; i < n_values; i++)
                regfree(&values[i]);
        return 0;
}
