/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

#include <cjson/cJSON.h>

/*
 * What the readers of hand-edited JSON files (config.c, scenario.c, faults.c) share: comment
 * stripping, a scanner that finds values' places in text cJSON (or jsoncheck) has already
 * accepted, and the words their error messages use.
 */

/* json_kind() - "a string", "a number", "a boolean", "null", "an array" or "an object". */
const char *json_kind(const cJSON *v);

/* Blanks // and block comments to spaces (newlines kept), so offsets and line numbers stay
 * the file's; strings are skipped whole. Return: 0, or -1 with @ret_at at the opening of an
 * unterminated block comment. */
int json_strip_comments(char *s, size_t n, size_t *ret_at);

/* The 1-based line and column of offset @off; columns count characters, as editors do. */
void json_line_col(const char *s, size_t off, unsigned *ret_line, unsigned *ret_col);

/* The scanner: no checks, the text is valid JSON. Each returns the index after what it
 * skips, at most @n. */
size_t json_skip_ws(const char *s, size_t i, size_t n);
/* @i at the opening quote. */
size_t json_string_end(const char *s, size_t i, size_t n);
/* @i at a value or the white space before it. */
size_t json_value_end(const char *s, size_t i, size_t n);

/* The offset of the first comma followed by } or ] (the slip most often made in a
 * hand-edited file), or SIZE_MAX. */
size_t json_trailing_comma(const char *s, size_t n);
