/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <string.h>

#include "json-util.h"
#include "macro.h"

const char *json_kind(const cJSON *v) {
        if (cJSON_IsString(v))
                return "a string";
        if (cJSON_IsNumber(v))
                return "a number";
        if (cJSON_IsBool(v))
                return "a boolean";
        if (cJSON_IsNull(v))
                return "null";
        if (cJSON_IsArray(v))
                return "an array";
        return "an object";
}

int json_strip_comments(char *s, size_t n, size_t *ret_at) {
        size_t i = 0;

        while (i < n) {
                if (s[i] == '"') {
                        i = json_string_end(s, i, n);
                } else if (s[i] == '/' && i + 1 < n && s[i + 1] == '/') {
                        while (i < n && s[i] != '\n')
                                s[i++] = ' ';
                } else if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
                        size_t start = i;

                        s[i++] = ' ';
                        s[i++] = ' ';
                        while (i < n && !(s[i] == '*' && i + 1 < n && s[i + 1] == '/')) {
                                if (s[i] != '\n')
                                        s[i] = ' ';
                                i++;
                        }
                        if (i >= n) {
                                *ret_at = start;
                                return -1;
                        }
                        s[i++] = ' ';
                        s[i++] = ' ';
                } else {
                        i++;
                }
        }
        return 0;
}

void json_line_col(const char *s, size_t off, unsigned *ret_line, unsigned *ret_col) {
        unsigned line = 1, col = 1;

        for (size_t i = 0; i < off; i++) {
                if (s[i] == '\n') {
                        line++;
                        col = 1;
                } else if (((unsigned char) s[i] & 0xC0) != 0x80) {
                        col++;
                }
        }
        *ret_line = line;
        *ret_col = col;
}

/* cJSON takes every byte up to ' ' for white space; strict JSON has only four of them. */
size_t json_skip_ws(const char *s, size_t i, size_t n) {
        while (i < n && (unsigned char) s[i] <= ' ')
                i++;
        return i;
}

size_t json_string_end(const char *s, size_t i, size_t n) {
        for (i++; i < n && s[i] != '"'; i++)
                if (s[i] == '\\')
                        i++;
        return MIN(i + 1, n);
}

size_t json_value_end(const char *s, size_t i, size_t n) {
        size_t depth = 0;

        i = json_skip_ws(s, i, n);
        if (i < n && s[i] == '"')
                return json_string_end(s, i, n);
        if (i < n && (s[i] == '{' || s[i] == '[')) {
                for (; i < n; i++) {
                        if (s[i] == '"')
                                i = json_string_end(s, i, n) - 1;
                        else if (s[i] == '{' || s[i] == '[')
                                depth++;
                        else if ((s[i] == '}' || s[i] == ']') && --depth == 0)
                                return i + 1;
                }
                return n;
        }
        while (i < n && !strchr(",]}", s[i]) && (unsigned char) s[i] > ' ')
                i++;
        return i;
}

size_t json_trailing_comma(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '"') {
                        i = json_string_end(s, i, n) - 1;
                } else if (s[i] == ',') {
                        size_t j = json_skip_ws(s, i + 1, n);

                        if (j < n && (s[j] == '}' || s[j] == ']'))
                                return i;
                }
        }
        return SIZE_MAX;
}
