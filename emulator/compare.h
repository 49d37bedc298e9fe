/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * JSON-aware comparison of two answers, for shadow runs (DESIGN "Surfacing bugs").
 *
 * Two JSON texts are equal when they hold the same values: object key order and whitespace
 * do not matter; arrays are compared index by index; strings by their decoded text (so
 * "\u0041" equals "A"); numbers by their TEXT, never as doubles — 12345678901234567890 and
 * 12345678901234567891 differ, and so do 1.0 and 1, or 1e2 and 100 (one program printing the
 * same value prints it the same way; treating them as equal would hide real changes of type
 * in the answer). Duplicate keys: the last one counts, as in JavaScript.
 *
 * The first difference is reported in a deterministic order: depth first, object members in
 * bytewise key order, array elements by index.
 *
 * Ignore paths are a JSONPath subset: `$` (the root), `.key`, `['key']` (or `["key"]`, with
 * `\'`, `\"` and `\\` escapes), `[N]` (an array index from 0), `[*]` and `.*` (any member or
 * element). A path names one location; what lies below an ignored location is ignored too.
 * No recursive descent (`..`), slices, negative indexes or filters.
 *
 * Ignore values are POSIX extended regexes, unanchored (write ^…$ to match a whole value),
 * matched against a string's decoded text or a number's text: two strings (or two numbers)
 * are equal when one regex matches both.
 *
 * Nesting deeper than COMPARE_MAX_DEPTH is not parsed (no recursion without bound): such a
 * text counts as not JSON, and the caller compares bytes.
 */

#define COMPARE_MAX_DEPTH 1000
#define COMPARE_PATH_MAX  512
#define COMPARE_VALUE_MAX 256

typedef struct CompareDiff {
        char path[COMPARE_PATH_MAX]; /* "$.a.b[2]", "$['odd key']"; cut with "..." */
        char a[COMPARE_VALUE_MAX];   /* the value at path in @a, as JSON text, maybe cut */
        char b[COMPARE_VALUE_MAX];
        bool a_absent, b_absent; /* no value at path on that side (then a/b are "") */
        bool a_cut, b_cut;       /* the text was longer and was cut at a character */
        const char *what;        /* a static phrase: "numbers differ (by their text)", … */
} CompareDiff;

/**
 * compare_json() - compares two JSON texts, as above.
 * @a, @alen, @b, @blen: the texts (borrowed, not NUL-terminated).
 * @ignore_paths: NULL-terminated JSONPath strings, or NULL; invalid ones are skipped (check
 *  them with compare_path_check() when they come in).
 * @ignore_values: @n_values compiled regexes (REG_EXTENDED, REG_NOSUB is fine), or NULL.
 * @ret: the first difference, written only when 1 is returned.
 *
 * Safe to call from a worker thread: it touches nothing but its arguments.
 *
 * Return: 0 equal, 1 different, -EINVAL when either text is not JSON (or nests deeper than
 * COMPARE_MAX_DEPTH): compare the bytes then (compare_bytes()).
 */
int compare_json(const char *a, size_t alen, const char *b, size_t blen,
                 const char *const *ignore_paths, const regex_t *ignore_values, size_t n_values,
                 CompareDiff *ret);

/**
 * compare_bytes() - byte comparison, for answers that are not JSON.
 * Return: 0 equal, 1 different (@ret at path "$" holds both texts, cut).
 */
int compare_bytes(const char *a, size_t alen, const char *b, size_t blen, CompareDiff *ret);

/**
 * compare_answers() - compare_json(), falling back to compare_bytes() when either side is
 * not JSON. Return: 0 equal, 1 different (@ret written).
 */
int compare_answers(const char *a, size_t alen, const char *b, size_t blen,
                    const char *const *ignore_paths, const regex_t *ignore_values, size_t n_values,
                    CompareDiff *ret);

/**
 * compare_path_check() - checks one ignore path against the subset above.
 * @why: filled with the reason when it is not valid.
 * Return: 0 valid, -EINVAL not.
 */
int compare_path_check(const char *path, char *why, size_t n);
