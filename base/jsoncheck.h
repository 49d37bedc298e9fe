/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

/*
 * A strict JSON checker (RFC 8259) for bytes lemu passes on without parsing: invoke payloads
 * and client contexts. Unlike cJSON it refuses leading zeros, "1.", "+1", raw control
 * characters in strings and anything after the value, and it accepts escaped lone
 * surrogates ("\ud800"), which are valid JSON text. It does not check UTF-8 (codec.h does).
 * Iterative: the depth limit bounds its memory, not the C stack.
 */

#define JSONCHECK_MAX_DEPTH 1000

typedef enum JsonCheckError {
        JSONCHECK_OK,
        JSONCHECK_UNEXPECTED, /* a character that cannot be there, at @ret_offset */
        JSONCHECK_END,        /* the text ended inside the value */
        JSONCHECK_TRAILING,   /* something other than white space after the value */
        JSONCHECK_DEPTH,      /* arrays and objects nested deeper than the limit */
        JSONCHECK_EMPTY,      /* no value at all */
        _JSONCHECK_MAX,
        _JSONCHECK_INVALID = -22,
} JsonCheckError;

/* jsoncheck() - Return: JSONCHECK_OK, or what is wrong and where (@ret_offset, may be NULL). */
JsonCheckError jsoncheck(const char *p, size_t len, size_t *ret_offset);
