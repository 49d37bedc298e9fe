/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Strict JSON checking without building a tree: one pass, a bit stack for the open arrays
 * and objects (so deep nesting costs bits, never C stack), and the offset of the first fault.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "jsoncheck.h"

typedef struct Scan {
        const char *p;
        size_t len, i;
} Scan;

static bool is_ws(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(Scan *s) {
        while (s->i < s->len && is_ws(s->p[s->i]))
                s->i++;
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool is_hex(char c) {
        return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static JsonCheckError fault(const Scan *s) {
        return s->i >= s->len ? JSONCHECK_END : JSONCHECK_UNEXPECTED;
}

static JsonCheckError string(Scan *s) {
        s->i++; /* the opening quote */
        while (s->i < s->len) {
                unsigned char c = (unsigned char) s->p[s->i];
                if (c == '"') {
                        s->i++;
                        return JSONCHECK_OK;
                }
                if (c < 0x20)
                        return JSONCHECK_UNEXPECTED;
                if (c != '\\') {
                        s->i++;
                        continue;
                }
                if (++s->i >= s->len)
                        return JSONCHECK_END;
                c = (unsigned char) s->p[s->i];
                if (c == 'u') {
                        for (int k = 0; k < 4; k++) {
                                if (++s->i >= s->len)
                                        return JSONCHECK_END;
                                if (!is_hex(s->p[s->i]))
                                        return JSONCHECK_UNEXPECTED;
                        }
                } else if (!strchr("\"\\/bfnrt", c) || c == '\0') {
                        return JSONCHECK_UNEXPECTED;
                }
                s->i++;
        }
        return JSONCHECK_END;
}

static JsonCheckError digits(Scan *s) {
        if (s->i >= s->len)
                return JSONCHECK_END;
        if (!is_digit(s->p[s->i]))
                return JSONCHECK_UNEXPECTED;
        while (s->i < s->len && is_digit(s->p[s->i]))
                s->i++;
        return JSONCHECK_OK;
}

static JsonCheckError number(Scan *s) {
        JsonCheckError r;

        if (s->p[s->i] == '-')
                s->i++;
        if (s->i >= s->len)
                return JSONCHECK_END;
        if (s->p[s->i] == '0')
                s->i++;
        else if ((r = digits(s)) != JSONCHECK_OK)
                return r;
        if (s->i < s->len && s->p[s->i] == '.') {
                s->i++;
                if ((r = digits(s)) != JSONCHECK_OK)
                        return r;
        }
        if (s->i < s->len && (s->p[s->i] == 'e' || s->p[s->i] == 'E')) {
                s->i++;
                if (s->i < s->len && (s->p[s->i] == '+' || s->p[s->i] == '-'))
                        s->i++;
                if ((r = digits(s)) != JSONCHECK_OK)
                        return r;
        }
        return JSONCHECK_OK;
}

static JsonCheckError literal(Scan *s, const char *word) {
        size_t n = strlen(word);

        for (size_t k = 0; k < n; k++, s->i++) {
                if (s->i >= s->len)
                        return JSONCHECK_END;
                if (s->p[s->i] != word[k])
                        return JSONCHECK_UNEXPECTED;
        }
        return JSONCHECK_OK;
}

/* One scalar, or the opening of an array or object (pushed). */
static JsonCheckError value(Scan *s, uint8_t *stack, unsigned *depth, bool *ret_opened) {
        *ret_opened = false;
        if (s->i >= s->len)
                return JSONCHECK_END;
        switch (s->p[s->i]) {
        case '{':
        case '[':
                if (*depth >= JSONCHECK_MAX_DEPTH)
                        return JSONCHECK_DEPTH;
                if (s->p[s->i] == '{')
                        stack[*depth / 8] |= (uint8_t) (1u << (*depth % 8));
                else
                        stack[*depth / 8] &= (uint8_t) ~(1u << (*depth % 8));
                (*depth)++;
                s->i++;
                *ret_opened = true;
                return JSONCHECK_OK;
        case '"':
                return string(s);
        case 't':
                return literal(s, "true");
        case 'f':
                return literal(s, "false");
        case 'n':
                return literal(s, "null");
        default:
                if (s->p[s->i] == '-' || is_digit(s->p[s->i]))
                        return number(s);
                return JSONCHECK_UNEXPECTED;
        }
}

static bool top_is_object(const uint8_t *stack, unsigned depth) {
        return stack[(depth - 1) / 8] & (1u << ((depth - 1) % 8));
}

static JsonCheckError check(Scan *s) {
        uint8_t stack[(JSONCHECK_MAX_DEPTH + 7) / 8];
        unsigned depth = 0;
        bool opened;
        JsonCheckError r;

        skip_ws(s);
        if (s->i >= s->len)
                return JSONCHECK_EMPTY;
        if ((r = value(s, stack, &depth, &opened)) != JSONCHECK_OK)
                return r;
        /* After an opening: an immediate close, or the first member; after a value: a comma
         * or the close of the innermost container. */
        bool after_open = opened;
        while (depth > 0) {
                bool obj = top_is_object(stack, depth);
                skip_ws(s);
                if (s->i >= s->len)
                        return JSONCHECK_END;
                char c = s->p[s->i];
                if (c == (obj ? '}' : ']')) {
                        s->i++;
                        depth--;
                        after_open = false;
                        continue;
                }
                if (!after_open) {
                        if (c != ',')
                                return JSONCHECK_UNEXPECTED;
                        s->i++;
                        skip_ws(s);
                }
                if (obj) {
                        if (s->i >= s->len)
                                return JSONCHECK_END;
                        if (s->p[s->i] != '"')
                                return JSONCHECK_UNEXPECTED;
                        if ((r = string(s)) != JSONCHECK_OK)
                                return r;
                        skip_ws(s);
                        if (s->i >= s->len)
                                return JSONCHECK_END;
                        if (s->p[s->i] != ':')
                                return JSONCHECK_UNEXPECTED;
                        s->i++;
                        skip_ws(s);
                }
                if ((r = value(s, stack, &depth, &opened)) != JSONCHECK_OK)
                        return r;
                after_open = opened;
        }
        skip_ws(s);
        return s->i < s->len ? JSONCHECK_TRAILING : JSONCHECK_OK;
}

JsonCheckError jsoncheck(const char *p, size_t len, size_t *ret_offset) {
        Scan s = { .p = p, .len = len, .i = 0 };
        JsonCheckError r = check(&s);

        if (r == JSONCHECK_UNEXPECTED && s.i >= s.len)
                r = fault(&s);
        if (r != JSONCHECK_OK && ret_offset)
                *ret_offset = s.i < len ? s.i : len;
        return r;
}
