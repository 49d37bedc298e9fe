/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `lemu test` scenarios, the reading half: a scenario file becomes typed steps, or an error
 * that names the step (by index, from 0) and the key, with the file's line:col. Nothing is
 * run here; scenario-run.c does that.
 *
 * cJSON checks the syntax and gives the values; a small scanner over the same text, walked
 * in the same order, gives each value's place and its exact text. Events and expected
 * values are kept as the text the user wrote: an event is sent byte for byte (never
 * re-serialised, so big ids survive) and numbers are compared by their text.
 *
 * The scanner also answers the JSONPath subset of "json" expectations (scn_json_find()) and
 * their comparison (scn_json_equal()) on answers, which are checked to be JSON first.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "codec.h"
#include "faults.h"
#include "invoke.h"
#include "json-util.h"
#include "macro.h"
#include "scenario.h"
#include "xalloc.h"

extern char **environ;

#define SCN_FILE_MAX (16u * 1024 * 1024)

static const char *const finding_kinds[] = {
        "state_leak",    "fd_growth",           "tmp_growth", "memory_growth",
        "thread_growth", "work_after_response", NULL,
};

/* ---- a scanner over JSON text cJSON has accepted ---------------------------------------- */

static int hex4(const char *p) {
        int v = 0;

        for (int k = 0; k < 4; k++) {
                char c = p[k];
                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= c - '0';
                else if (c >= 'a' && c <= 'f')
                        v |= c - 'a' + 10;
                else if (c >= 'A' && c <= 'F')
                        v |= c - 'A' + 10;
                else
                        return -1;
        }
        return v;
}

static void put_utf8(Buf *b, unsigned cp) {
        char u[4];
        size_t n;

        if (cp < 0x80) {
                u[0] = (char) cp, n = 1;
        } else if (cp < 0x800) {
                u[0] = (char) (0xC0 | (cp >> 6)), u[1] = (char) (0x80 | (cp & 0x3F)), n = 2;
        } else if (cp < 0x10000) {
                u[0] = (char) (0xE0 | (cp >> 12)), u[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
                u[2] = (char) (0x80 | (cp & 0x3F)), n = 3;
        } else {
                u[0] = (char) (0xF0 | (cp >> 18)), u[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
                u[2] = (char) (0x80 | ((cp >> 6) & 0x3F)), u[3] = (char) (0x80 | (cp & 0x3F));
                n = 4;
        }
        buf_append(b, u, n);
}

/* Decodes the string whose opening quote is at @i into @out (replacing its contents). */
static void str_decode(const char *s, size_t i, size_t n, Buf *out) {
        size_t end = json_string_end(s, i, n) - 1;

        buf_reset(out);
        buf_reserve(out, 1);
        for (i++; i < end; i++) {
                if (s[i] != '\\') {
                        buf_append(out, &s[i], 1);
                        continue;
                }
                char c = s[++i];
                static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
                const char *k = strchr(from, c);
                if (c && k) {
                        buf_append(out, &to[k - from], 1);
                } else if (c == 'u' && i + 4 < end) {
                        int cp = hex4(s + i + 1);
                        i += 4;
                        if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < end && s[i + 1] == '\\' &&
                            s[i + 2] == 'u') {
                                int lo = hex4(s + i + 3);
                                if (lo >= 0xDC00 && lo < 0xE000) {
                                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                        i += 6;
                                }
                        }
                        put_utf8(out, cp < 0 ? 0xFFFD : (unsigned) cp);
                }
        }
}

/*
 * Member @key of the object at @i (last one wins, as in JavaScript).
 * Return: 0 with the value's place, or -ENOENT.
 */
static int raw_member(const char *s, size_t i, size_t n, const char *key, size_t klen,
                      size_t *ret_at) {
        Buf k = BUF_INIT;
        bool found = false;
        size_t at = 0;

        i = json_skip_ws(s, i + 1, n);
        while (i < n && s[i] == '"') {
                size_t kend = json_string_end(s, i, n);
                str_decode(s, i, n, &k);
                size_t v = json_skip_ws(s, json_skip_ws(s, kend, n) + 1, n); /* past the ':' */
                if (k.len == klen && memcmp(k.data, key, klen) == 0) {
                        found = true;
                        at = v;
                }
                i = json_skip_ws(s, json_value_end(s, v, n), n);
                if (i < n && s[i] == ',')
                        i = json_skip_ws(s, i + 1, n);
        }
        buf_free(&k);
        if (!found)
                return -ENOENT;
        *ret_at = at;
        return 0;
}

static int raw_index(const char *s, size_t i, size_t n, unsigned long idx, size_t *ret_at) {
        i = json_skip_ws(s, i + 1, n);
        for (unsigned long k = 0; i < n && s[i] != ']'; k++) {
                if (k == idx) {
                        *ret_at = i;
                        return 0;
                }
                i = json_skip_ws(s, json_value_end(s, i, n), n);
                if (i < n && s[i] == ',')
                        i = json_skip_ws(s, i + 1, n);
        }
        return -ENOENT;
}

/* ---- the JSONPath subset ------------------------------------------------------------- */

typedef struct Seg {
        bool is_index;
        unsigned long index;
        Buf key;
} Seg;

/* Reads one segment at @p; Return: bytes used, 0 at the end, -1 when malformed. */
static int path_seg(const char *p, Seg *seg, char *why, size_t n) {
        buf_reset(&seg->key);
        seg->is_index = false;
        if (*p == '\0')
                return 0;
        if (*p == '.') {
                size_t l = strcspn(p + 1, ".[");
                if (l == 0) {
                        snprintf(why, n, "an empty key after '.'");
                        return -1;
                }
                if (l == 1 && p[1] == '*') {
                        snprintf(why, n, "wildcards ('*') name no single value");
                        return -1;
                }
                buf_append(&seg->key, p + 1, l);
                return (int) (l + 1);
        }
        if (*p != '[') {
                snprintf(why, n, "expected '.' or '[' at '%.16s'", p);
                return -1;
        }
        if (p[1] == '\'' || p[1] == '"') {
                char q = p[1];
                const char *c = p + 2;
                while (*c && *c != q) {
                        if (*c == '\\' && (c[1] == q || c[1] == '\\'))
                                c++;
                        buf_append(&seg->key, c, 1);
                        c++;
                }
                if (*c != q || c[1] != ']') {
                        snprintf(why, n, "an unterminated ['key']");
                        return -1;
                }
                return (int) (c + 2 - p);
        }
        if (p[1] >= '0' && p[1] <= '9') {
                char *end;
                errno = 0;
                seg->index = strtoul(p + 1, &end, 10);
                if (errno || *end != ']') {
                        snprintf(why, n, "expected a number and ']' after '['");
                        return -1;
                }
                seg->is_index = true;
                return (int) (end + 1 - p);
        }
        if (p[1] == '*')
                snprintf(why, n, "wildcards ('[*]') name no single value");
        else
                snprintf(why, n, "expected an index, or a quoted key, after '['");
        return -1;
}

int scn_json_path_check(const char *path, char *why, size_t n) {
        Seg seg = { 0 };
        int r = 0;

        if (path[0] != '$') {
                snprintf(why, n, "a path starts with '$'");
                return -EINVAL;
        }
        for (const char *p = path + 1;;) {
                int used = path_seg(p, &seg, why, n);
                if (used < 0)
                        r = -EINVAL;
                if (used <= 0)
                        break;
                p += used;
        }
        buf_free(&seg.key);
        return r;
}

int scn_json_find(const char *doc, size_t len, const char *path, size_t *ret_at, size_t *ret_len) {
        Seg seg = { 0 };
        char why[128];
        size_t at = json_skip_ws(doc, 0, len);
        int r = 0;

        if (path[0] != '$')
                return -EINVAL;
        for (const char *p = path + 1;;) {
                int used = path_seg(p, &seg, why, sizeof(why));
                if (used < 0)
                        r = -EINVAL;
                if (used <= 0)
                        break;
                p += used;
                if (seg.is_index)
                        r = at < len && doc[at] == '[' ? raw_index(doc, at, len, seg.index, &at)
                                                       : -ENOENT;
                else
                        r = at < len && doc[at] == '{'
                                    ? raw_member(doc, at, len, seg.key.data, seg.key.len, &at)
                                    : -ENOENT;
                if (r < 0)
                        break;
        }
        buf_free(&seg.key);
        if (r < 0)
                return r;
        if (at >= len)
                return -ENOENT;
        *ret_at = at;
        *ret_len = json_value_end(doc, at, len) - at;
        return 0;
}

/* Equality of the values at @a and @b, both valid JSON. */
static bool equal_at(const char *a, size_t ai, size_t an, const char *b, size_t bi, size_t bn,
                     unsigned depth) {
        ai = json_skip_ws(a, ai, an);
        bi = json_skip_ws(b, bi, bn);
        /* A different first byte is a different kind, or a different number or literal. */
        if (ai >= an || bi >= bn || a[ai] != b[bi] || depth > 1000)
                return false;
        if (a[ai] == '"') {
                Buf x = BUF_INIT, y = BUF_INIT;
                str_decode(a, ai, an, &x);
                str_decode(b, bi, bn, &y);
                bool eq = x.len == y.len && memcmp(x.data, y.data, x.len) == 0;
                buf_free(&x);
                buf_free(&y);
                return eq;
        }
        if (a[ai] == '[') {
                size_t i = json_skip_ws(a, ai + 1, an), j = json_skip_ws(b, bi + 1, bn);
                while (i < an && j < bn && a[i] != ']' && b[j] != ']') {
                        if (!equal_at(a, i, an, b, j, bn, depth + 1))
                                return false;
                        i = json_skip_ws(a, json_value_end(a, i, an), an);
                        j = json_skip_ws(b, json_value_end(b, j, bn), bn);
                        i = i < an && a[i] == ',' ? json_skip_ws(a, i + 1, an) : i;
                        j = j < bn && b[j] == ',' ? json_skip_ws(b, j + 1, bn) : j;
                }
                return i < an && j < bn && a[i] == ']' && b[j] == ']';
        }
        if (a[ai] == '{') {
                /* Same members: each of a's keys (its last value) equals b's, and b has no
                 * key a lacks. */
                Buf k = BUF_INIT;
                bool eq = true;
                for (int side = 0; side < 2 && eq; side++) {
                        const char *s = side ? b : a, *o = side ? a : b;
                        size_t sn = side ? bn : an, on = side ? an : bn;
                        size_t i = json_skip_ws(s, (side ? bi : ai) + 1, sn);
                        while (eq && i < sn && s[i] == '"') {
                                str_decode(s, i, sn, &k);
                                size_t oi, si;
                                eq = raw_member(o, side ? ai : bi, on, k.data, k.len, &oi) == 0;
                                if (eq && !side)
                                        eq = raw_member(s, ai, sn, k.data, k.len, &si) == 0 &&
                                             equal_at(s, si, sn, o, oi, on, depth + 1);
                                size_t v = json_skip_ws(
                                        s, json_skip_ws(s, json_string_end(s, i, sn), sn) + 1, sn);
                                i = json_skip_ws(s, json_value_end(s, v, sn), sn);
                                i = i < sn && s[i] == ',' ? json_skip_ws(s, i + 1, sn) : i;
                        }
                }
                buf_free(&k);
                return eq;
        }
        /* Numbers and literals: by their text. */
        size_t al = json_value_end(a, ai, an) - ai, bl = json_value_end(b, bi, bn) - bi;
        return al == bl && memcmp(a + ai, b + bi, al) == 0;
}

bool scn_json_equal(const char *a, size_t alen, const char *b, size_t blen) {
        return equal_at(a, 0, alen, b, 0, blen, 0);
}

/* ---- reading the file ------------------------------------------------------------------ */

/* A value in the text: the cJSON item and where its text lies. */
typedef struct Node {
        const cJSON *j;
        size_t at, end;
        size_t key_at; /* members: the key's opening quote */
} Node;

typedef struct Parser {
        Scenario *s;
        const char *text; /* comment-blanked, NUL-terminated */
        size_t len;
        char *err;
        size_t errn;
        int step; /* -1 outside the steps */
} Parser;

static int fail(Parser *p, size_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(Parser *p, size_t off, const char *fmt, ...) {
        unsigned line, col;
        va_list ap;
        int k;

        json_line_col(p->text, MIN(off, p->len), &line, &col);
        k = snprintf(p->err, p->errn, "%s:%u:%u: ", p->s->path, line, col);
        if (p->step >= 0 && k >= 0 && (size_t) k < p->errn)
                k += snprintf(p->err + k, p->errn - (size_t) k, "step %d: ", p->step);
        if (k >= 0 && (size_t) k < p->errn) {
                va_start(ap, fmt);
                vsnprintf(p->err + k, p->errn - (size_t) k, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

/* The children of @parent (an object or array) with their places; free() the array. */
static Node *children(const Parser *p, const Node *parent, size_t *ret_n) {
        const char *s = p->text;
        size_t n = 0, i = json_skip_ws(s, parent->at + 1, p->len);
        const cJSON *c;
        Node *kids;

        cJSON_ArrayForEach (c, parent->j)
                n++;
        kids = xcalloc(n ? n : 1, sizeof(Node));
        n = 0;
        cJSON_ArrayForEach (c, parent->j) {
                Node *k = &kids[n++];
                k->j = c;
                k->key_at = i;
                if (cJSON_IsObject(parent->j))
                        i = json_skip_ws(s,
                                         json_skip_ws(s, json_string_end(s, i, p->len), p->len) + 1,
                                         p->len);
                k->at = i;
                k->end = json_value_end(s, i, p->len);
                i = json_skip_ws(s, k->end, p->len);
                if (i < p->len && s[i] == ',')
                        i = json_skip_ws(s, i + 1, p->len);
        }
        *ret_n = n;
        return kids;
}

static const Node *find_kid(const Node *kids, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(kids[i].j->string, name) == 0)
                        return &kids[i];
        return NULL;
}

/* Edit distance of short words, for "did you mean". */
static unsigned distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        unsigned row[33];

        if (la > 32 || lb > 32)
                return 99;
        for (size_t j = 0; j <= lb; j++)
                row[j] = (unsigned) j;
        for (size_t i = 1; i <= la; i++) {
                unsigned diag = row[0];
                row[0] = (unsigned) i;
                for (size_t j = 1; j <= lb; j++) {
                        unsigned up = row[j];
                        unsigned best = MIN(row[j] + 1, row[j - 1] + 1);
                        row[j] = MIN(best, diag + (a[i - 1] != b[j - 1]));
                        diag = up;
                }
        }
        return row[lb];
}

/* Unknown and duplicate keys of an object; @where prefixes the key ("expect."). */
static int check_keys(Parser *p, const Node *kids, size_t n, const char *const *allowed,
                      const char *where) {
        for (size_t i = 0; i < n; i++) {
                const char *k = kids[i].j->string;
                bool ok = false;
                const char *near = NULL;

                for (size_t a = 0; allowed[a]; a++) {
                        if (strcmp(allowed[a], k) == 0)
                                ok = true;
                        else if (distance(allowed[a], k) <= 2)
                                near = allowed[a];
                }
                for (size_t j = 0; ok && j < i; j++)
                        if (strcmp(kids[j].j->string, k) == 0)
                                return fail(p, kids[i].key_at, "%sduplicate key '%s'", where, k);
                if (ok)
                        continue;
                if (near)
                        return fail(p, kids[i].key_at, "%sunknown key '%s' (did you mean '%s'?)",
                                    where, k, near);
                return fail(p, kids[i].key_at, "%sunknown key '%s'", where, k);
        }
        return 0;
}

static int get_uint(Parser *p, const Node *v, const char *key, double min, double max,
                    unsigned long long *ret) {
        double d = v->j->valuedouble;

        if (!cJSON_IsNumber(v->j))
                return fail(p, v->at, "%s: expected a whole number from %.0f to %.0f, got %s", key,
                            min, max, json_kind(v->j));
        if (d != floor(d) || d < min || d > max)
                return fail(p, v->at, "%s: expected a whole number from %.0f to %.0f, got %.*s",
                            key, min, max, (int) MIN(v->end - v->at, (size_t) 32), p->text + v->at);
        *ret = (unsigned long long) d;
        return 0;
}

static int get_string(Parser *p, const Node *v, const char *key, const char **ret) {
        if (!cJSON_IsString(v->j) || !v->j->valuestring[0])
                return fail(p, v->at, "%s: expected a non-empty string, got %s", key,
                            cJSON_IsString(v->j) ? "an empty one" : json_kind(v->j));
        *ret = v->j->valuestring;
        return 0;
}

static char *text_of(const Parser *p, const Node *v, size_t *ret_len) {
        *ret_len = v->end - v->at;
        return xstrndup(p->text + v->at, v->end - v->at);
}

static char *resolve(const char *dir, const char *path) {
        return path[0] == '/' ? xstrdup(path) : xasprintf("%s/%s", dir, path);
}

/* Reads a whole file (at most @max bytes). Return: 0, -errno, or -EFBIG. */
static int read_all(const char *path, size_t max, char **ret, size_t *ret_len) {
        Buf b = BUF_INIT;
        struct stat st;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
                close(fd);
                return -EISDIR;
        }
        for (;;) {
                buf_reserve(&b, 65536);
                ssize_t r = read(fd, b.data + b.len, 65536);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0) {
                        int e = -errno;
                        close(fd);
                        buf_free(&b);
                        return e;
                }
                if (r == 0)
                        break;
                b.len += (size_t) r;
                if (b.len > max) {
                        close(fd);
                        buf_free(&b);
                        return -EFBIG;
                }
        }
        close(fd);
        b.data[b.len] = '\0'; /* read() does not keep the Buf's terminator */
        *ret = buf_steal(&b, ret_len);
        return 0;
}

/* ---- steps ------------------------------------------------------------------------------ */

static const char *const expect_keys[] = {
        "status",     "function_error", "error_type",  "cold", "body",
        "body_regex", "json",           "environment", NULL,
};

static int opt_string(Parser *p, const Node *v, const char *key, ScnOptString *ret) {
        if (!cJSON_IsString(v->j) && !cJSON_IsNull(v->j))
                return fail(p, v->at, "expect.%s: expected a string or null, got %s", key,
                            json_kind(v->j));
        ret->set = true;
        ret->value = cJSON_IsString(v->j) ? xstrdup(v->j->valuestring) : NULL;
        return 0;
}

static int step_ref(Parser *p, const Node *v, const char *key, int *ret) {
        unsigned long long k;
        char what[64];

        snprintf(what, sizeof(what), "expect.environment.%s", key);
        int r = get_uint(p, v, what, 0, 1e6, &k);
        if (r < 0)
                return r;
        if (k >= (unsigned long long) p->step)
                return fail(p, v->at, "%s: step %llu is not an earlier step", what, k);
        const ScnStep *ref = &p->s->steps[k];
        if (ref->kind != SCN_STEP_INVOKE || ref->type != INVOKE_REQUEST_RESPONSE)
                return fail(p, v->at,
                            "%s: step %llu is no RequestResponse invoke step, so it has no "
                            "environment",
                            what, k);
        *ret = (int) k;
        return 0;
}

static int parse_environment(Parser *p, const Node *v, ScnExpect *x) {
        static const char *const keys[] = { "same_as", "differs_from", NULL };
        size_t n;
        int r;

        if (!cJSON_IsObject(v->j))
                return fail(p, v->at, "expect.environment: expected an object, got %s",
                            json_kind(v->j));
        _cleanup_free_ Node *kids = children(p, v, &n);
        r = check_keys(p, kids, n, keys, "expect.environment: ");
        if (r == 0 && n == 0)
                return fail(p, v->at, "expect.environment: give same_as or differs_from");
        for (size_t i = 0; r == 0 && i < n; i++)
                r = step_ref(p, &kids[i], kids[i].j->string,
                             strcmp(kids[i].j->string, "same_as") == 0 ? &x->same_as
                                                                       : &x->differs_from);
        return r;
}

static int parse_json_expect(Parser *p, const Node *v, ScnExpect *x) {
        char why[128];
        size_t n;

        if (!cJSON_IsObject(v->j) || !cJSON_GetArraySize(v->j))
                return fail(p, v->at, "expect.json: expected an object of JSONPath: value, got %s",
                            cJSON_IsObject(v->j) ? "an empty one" : json_kind(v->j));
        _cleanup_free_ Node *kids = children(p, v, &n);
        x->json = xcalloc(n, sizeof(ScnJsonExpect));
        for (size_t i = 0; i < n; i++) {
                const char *path = kids[i].j->string;
                if (scn_json_path_check(path, why, sizeof(why)) < 0)
                        return fail(p, kids[i].key_at,
                                    "expect.json: '%s' is not a JSONPath lemu knows: %s (use $, "
                                    ".key, ['key'], [N])",
                                    path, why);
                for (size_t j = 0; j < i; j++)
                        if (strcmp(kids[j].j->string, path) == 0)
                                return fail(p, kids[i].key_at, "expect.json: duplicate key '%s'",
                                            path);
                x->json[i].path = xstrdup(path);
                x->json[i].value = text_of(p, &kids[i], &x->json[i].value_len);
                x->n_json++;
        }
        return 0;
}

static int parse_expect(Parser *p, const Node *v, ScnStep *st) {
        ScnExpect *x = &st->expect;
        size_t n;
        int r;

        if (!cJSON_IsObject(v->j))
                return fail(p, v->at, "expect: expected an object, got %s", json_kind(v->j));
        _cleanup_free_ Node *kids = children(p, v, &n);
        r = check_keys(p, kids, n, expect_keys, "expect: ");
        if (r < 0)
                return r;
        st->has_expect = true;
        for (size_t i = 0; i < n; i++) {
                const Node *k = &kids[i];
                const char *key = k->j->string;
                unsigned long long u;

                if (st->type != INVOKE_REQUEST_RESPONSE && strcmp(key, "status") != 0)
                        return fail(p, k->key_at,
                                    "expect.%s: an %s invocation has no answer to check; only "
                                    "'status' is",
                                    key, st->type == INVOKE_EVENT ? "Event" : "DryRun");
                if (strcmp(key, "status") == 0) {
                        r = get_uint(p, k, "expect.status", 100, 599, &u);
                        x->status = (int) u;
                } else if (strcmp(key, "function_error") == 0) {
                        r = opt_string(p, k, key, &x->function_error);
                } else if (strcmp(key, "error_type") == 0) {
                        r = opt_string(p, k, key, &x->error_type);
                } else if (strcmp(key, "cold") == 0) {
                        if (!cJSON_IsBool(k->j))
                                return fail(p, k->at, "expect.cold: expected true or false, got %s",
                                            json_kind(k->j));
                        x->cold = cJSON_IsTrue(k->j);
                } else if (strcmp(key, "body") == 0) {
                        if (cJSON_IsString(k->j)) {
                                x->body_len = strlen(k->j->valuestring);
                                x->body = xstrdup(k->j->valuestring);
                        } else {
                                x->body_json = text_of(p, k, &x->body_json_len);
                        }
                } else if (strcmp(key, "body_regex") == 0) {
                        const char *re;
                        r = get_string(p, k, "expect.body_regex", &re);
                        if (r < 0)
                                return r;
                        int rc = regcomp(&x->body_regex, re, REG_EXTENDED | REG_NOSUB);
                        if (rc != 0) {
                                char why[128];
                                regerror(rc, &x->body_regex, why, sizeof(why));
                                return fail(p, k->at, "expect.body_regex: '%s': %s", re, why);
                        }
                        x->body_regex_text = xstrdup(re);
                } else if (strcmp(key, "json") == 0) {
                        r = parse_json_expect(p, k, x);
                } else {
                        r = parse_environment(p, k, x);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_event(Parser *p, const Node *v, ScnStep *st) {
        char reason[256];

        if (cJSON_IsString(v->j) && v->j->valuestring[0] == '@') {
                _cleanup_free_ char *file = resolve(p->s->dir, v->j->valuestring + 1);
                int r = read_all(file, SCN_EVENT_MAX, &st->event, &st->event_len);
                if (r == -EFBIG)
                        return fail(p, v->at, "event: '%s' is larger than %u bytes", file,
                                    SCN_EVENT_MAX);
                if (r < 0)
                        return fail(p, v->at, "event: cannot read '%s': %s", file, strerror(-r));
                if (st->event_len == 0) {
                        free(st->event);
                        st->event = xstrdup("{}");
                        st->event_len = 2;
                }
                if (!invoke_payload_valid(st->event, st->event_len, reason, sizeof(reason)))
                        return fail(p, v->at, "event: '%s' is not valid JSON: %s", file, reason);
                return 0;
        }
        st->event = text_of(p, v, &st->event_len);
        if (st->event_len > SCN_EVENT_MAX)
                return fail(p, v->at, "event: larger than %u bytes", SCN_EVENT_MAX);
        return 0;
}

static int parse_invoke(Parser *p, const Node *kids, size_t n, ScnStep *st) {
        const Node *v;
        const char *s;
        int r;

        r = get_string(p, find_kid(kids, n, "invoke"), "invoke", &s);
        if (r < 0)
                return r;
        st->function = xstrdup(s);
        v = find_kid(kids, n, "type");
        if (v) {
                r = get_string(p, v, "type", &s);
                if (r < 0)
                        return r;
                if (strcmp(s, "RequestResponse") == 0)
                        st->type = INVOKE_REQUEST_RESPONSE;
                else if (strcmp(s, "Event") == 0)
                        st->type = INVOKE_EVENT;
                else if (strcmp(s, "DryRun") == 0)
                        st->type = INVOKE_DRY_RUN;
                else
                        return fail(p, v->at,
                                    "type: '%s' is none of RequestResponse, Event, DryRun", s);
        }
        v = find_kid(kids, n, "parallel");
        if (v) {
                unsigned long long u;
                r = get_uint(p, v, "parallel", 1, SCN_PARALLEL_MAX, &u);
                if (r < 0)
                        return r;
                st->parallel = (unsigned) u;
        }
        v = find_kid(kids, n, "event");
        if (v) {
                r = parse_event(p, v, st);
        } else {
                st->event = xstrdup("{}");
                st->event_len = 2;
        }
        v = find_kid(kids, n, "expect");
        if (r == 0 && v)
                r = parse_expect(p, v, st);
        return r;
}

static int parse_claims(Parser *p, const Node *v, ScnStep *st) {
        size_t n;

        if (cJSON_IsString(v->j) && strcmp(v->j->valuestring, "none") == 0) {
                st->findings_none = true;
                return 0;
        }
        if (!cJSON_IsArray(v->j) || cJSON_GetArraySize(v->j) == 0)
                return fail(p, v->at,
                            "expect_findings: expected \"none\" or a non-empty array of {kind, "
                            "path}, got %s",
                            cJSON_IsArray(v->j) ? "an empty array" : json_kind(v->j));
        _cleanup_free_ Node *kids = children(p, v, &n);
        st->claims = xcalloc(n, sizeof(ScnClaim));
        for (size_t i = 0; i < n; i++) {
                static const char *const keys[] = { "kind", "path", NULL };
                char where[64];
                size_t kn;
                const char *s;

                snprintf(where, sizeof(where), "expect_findings[%zu]: ", i);
                if (!cJSON_IsObject(kids[i].j))
                        return fail(p, kids[i].at, "%sexpected an object, got %s", where,
                                    json_kind(kids[i].j));
                _cleanup_free_ Node *f = children(p, &kids[i], &kn);
                int r = check_keys(p, f, kn, keys, where);
                if (r < 0)
                        return r;
                const Node *kind = find_kid(f, kn, "kind"), *path = find_kid(f, kn, "path");
                if (!kind)
                        return fail(p, kids[i].at, "%sno 'kind'", where);
                snprintf(where, sizeof(where), "expect_findings[%zu].kind", i);
                r = get_string(p, kind, where, &s);
                if (r < 0)
                        return r;
                bool known = false;
                for (size_t k = 0; finding_kinds[k]; k++)
                        known = known || strcmp(finding_kinds[k], s) == 0;
                if (!known)
                        return fail(p, kind->at,
                                    "%s: '%s' is no finding kind (state_leak, fd_growth, "
                                    "tmp_growth, memory_growth, thread_growth, "
                                    "work_after_response)",
                                    where, s);
                st->claims[i].kind = xstrdup(s);
                st->n_claims++;
                if (path) {
                        snprintf(where, sizeof(where), "expect_findings[%zu].path", i);
                        r = get_string(p, path, where, &s);
                        if (r < 0)
                                return r;
                        st->claims[i].path = xstrdup(s);
                }
        }
        return 0;
}

static const char *const invoke_keys[] = { "invoke", "event", "type", "parallel", "expect", NULL };
static const char *const recycle_keys[] = { "recycle", NULL };
static const char *const lifecycle_keys[] = { "lifecycle", "set", NULL };
static const char *const wait_idle_keys[] = { "wait_idle", NULL };
static const char *const sleep_keys[] = { "sleep_ms", NULL };
static const char *const findings_keys[] = { "expect_findings", NULL };
static const char *const fault_keys[] = { "fault", "add", "clear", NULL };
static const char *const *const step_keys[] = {
        [SCN_STEP_INVOKE] = invoke_keys,       [SCN_STEP_RECYCLE] = recycle_keys,
        [SCN_STEP_LIFECYCLE] = lifecycle_keys, [SCN_STEP_WAIT_IDLE] = wait_idle_keys,
        [SCN_STEP_SLEEP] = sleep_keys,         [SCN_STEP_EXPECT_FINDINGS] = findings_keys,
        [SCN_STEP_FAULT] = fault_keys,
};

static int parse_step(Parser *p, const Node *v, ScnStep *st) {
        static const char *const actions[] = {
                "invoke",    "fault",    "recycle",         "lifecycle",
                "wait_idle", "sleep_ms", "expect_findings", NULL,
        };
        static const ScnStepKind kind_of[] = {
                SCN_STEP_INVOKE,    SCN_STEP_FAULT, SCN_STEP_RECYCLE,         SCN_STEP_LIFECYCLE,
                SCN_STEP_WAIT_IDLE, SCN_STEP_SLEEP, SCN_STEP_EXPECT_FINDINGS,
        };
        const Node *action = NULL;
        size_t n, which = 0;
        unsigned long long u;
        const char *s;
        int r;

        st->parallel = 1;
        st->expect.status = st->expect.cold = -1;
        st->expect.same_as = st->expect.differs_from = -1;
        if (!cJSON_IsObject(v->j))
                return fail(p, v->at, "expected an object, got %s", json_kind(v->j));
        _cleanup_free_ Node *kids = children(p, v, &n);
        for (size_t a = 0; actions[a]; a++) {
                const Node *k = find_kid(kids, n, actions[a]);
                if (!k)
                        continue;
                if (action)
                        return fail(p, k->key_at, "'%s' and '%s' in one step: one action a step",
                                    action->j->string, actions[a]);
                action = k;
                which = a;
        }
        if (!action)
                return fail(p, v->at,
                            "no action: give one of invoke, fault, recycle, lifecycle, wait_idle, "
                            "sleep_ms, expect_findings");
        st->kind = kind_of[which];
        r = check_keys(p, kids, n, step_keys[st->kind], "");
        if (r < 0)
                return r;
        switch (st->kind) {
        case SCN_STEP_INVOKE:
                return parse_invoke(p, kids, n, st);
        case SCN_STEP_RECYCLE:
                r = get_string(p, action, "recycle", &s);
                if (r == 0)
                        st->function = xstrdup(s);
                return r;
        case SCN_STEP_LIFECYCLE: {
                const Node *set = find_kid(kids, n, "set");
                r = get_string(p, action, "lifecycle", &s);
                if (r < 0)
                        return r;
                st->function = xstrdup(s);
                if (!set)
                        return fail(p, v->at, "no 'set': give the lifecycle keys to change");
                if (!cJSON_IsObject(set->j))
                        return fail(p, set->at, "set: expected an object, got %s",
                                    json_kind(set->j));
                st->lifecycle_json = text_of(p, set, &st->lifecycle_len);
                return 0;
        }
        case SCN_STEP_WAIT_IDLE: {
                static const char *const keys[] = { "timeout_s", NULL };
                size_t kn;
                st->wait_timeout_s = 30;
                if (!cJSON_IsObject(action->j))
                        return fail(p, action->at,
                                    "wait_idle: expected an object ({\"timeout_s\": 5}), got %s",
                                    json_kind(action->j));
                _cleanup_free_ Node *w = children(p, action, &kn);
                r = check_keys(p, w, kn, keys, "wait_idle: ");
                if (r == 0 && kn) {
                        double d = w[0].j->valuedouble;
                        if (!cJSON_IsNumber(w[0].j) || !(d > 0) || d > 86400)
                                return fail(p, w[0].at,
                                            "wait_idle.timeout_s: expected seconds above 0, at "
                                            "most 86400");
                        st->wait_timeout_s = d;
                }
                return r;
        }
        case SCN_STEP_SLEEP:
                r = get_uint(p, action, "sleep_ms", 0, 3600000, &u);
                st->sleep_ms = (unsigned) u;
                return r;
        case SCN_STEP_EXPECT_FINDINGS:
                return parse_claims(p, action, st);
        case SCN_STEP_FAULT: {
                const Node *add = find_kid(kids, n, "add"), *clear = find_kid(kids, n, "clear");
                char why[512];
                Fault *f = NULL;
                r = get_string(p, action, "fault", &s);
                if (r < 0)
                        return r;
                st->function = xstrdup(s);
                if (!add == !clear)
                        return fail(p, v->at,
                                    "give one of 'add' (a fault object) or 'clear' (\"all\" or "
                                    "a fault id)");
                if (clear) {
                        r = get_string(p, clear, "clear", &s);
                        if (r == 0)
                                st->fault_clear = xstrdup(s);
                        return r;
                }
                st->fault_json = text_of(p, add, &st->fault_len);
                r = fault_parse(st->fault_json, st->fault_len, &f, why, sizeof(why));
                fault_unref(f);
                if (r < 0)
                        return fail(p, add->at, "add: %s", why);
                return 0;
        }
        default:
                return -EINVAL;
        }
}

/* The text with all but [at, end) blanked, newlines kept: the config object alone, at the
 * same line:col as in the file. */
static char *only_config(const Parser *p, const Node *v) {
        char *t = xmemdup(p->text, p->len + 1);

        for (size_t i = 0; i < p->len; i++)
                if ((i < v->at || i >= v->end) && t[i] != '\n')
                        t[i] = ' ';
        return t;
}

static int parse_root(Parser *p, const Node *root) {
        static const char *const keys[] = { "name", "seed", "config", "steps", NULL };
        Scenario *s = p->s;
        size_t n, ns;
        const Node *v;
        int r;

        if (!cJSON_IsObject(root->j))
                return fail(p, root->at, "a scenario is a JSON object, got %s", json_kind(root->j));
        _cleanup_free_ Node *kids = children(p, root, &n);
        r = check_keys(p, kids, n, keys, "");
        if (r < 0)
                return r;
        v = find_kid(kids, n, "name");
        if (v) {
                const char *name;
                r = get_string(p, v, "name", &name);
                if (r < 0)
                        return r;
                free(s->name);
                s->name = xstrdup(name);
        }
        v = find_kid(kids, n, "seed");
        if (v) {
                unsigned long long u;
                r = get_uint(p, v, "seed", 0, 9007199254740992.0, &u);
                if (r < 0)
                        return r;
                s->has_seed = true;
                s->seed = u;
        }
        v = find_kid(kids, n, "config");
        if (!v)
                return fail(p, root->at, "no 'config': give a config file or the config object");
        if (cJSON_IsString(v->j) && v->j->valuestring[0]) {
                s->config_file = resolve(s->dir, v->j->valuestring);
        } else if (cJSON_IsObject(v->j)) {
                s->config_text = only_config(p, v);
                s->config_len = p->len;
        } else {
                return fail(p, v->at, "config: expected a file name or an object, got %s",
                            json_kind(v->j));
        }
        v = find_kid(kids, n, "steps");
        if (!v)
                return fail(p, root->at, "no 'steps'");
        if (!cJSON_IsArray(v->j) || cJSON_GetArraySize(v->j) == 0)
                return fail(p, v->at, "steps: expected a non-empty array, got %s",
                            cJSON_IsArray(v->j) ? "an empty one" : json_kind(v->j));
        _cleanup_free_ Node *steps = children(p, v, &ns);
        s->steps = xcalloc(ns, sizeof(ScnStep));
        for (size_t i = 0; i < ns; i++) {
                ScnStep *st = &s->steps[i];
                unsigned col;
                s->n_steps++;
                st->index = (unsigned) i;
                json_line_col(p->text, steps[i].at, &st->line, &col);
                p->step = (int) i;
                r = parse_step(p, &steps[i], st);
                if (r < 0)
                        return r;
        }
        p->step = -1;
        return 0;
}

int scn_load_string(Scenario *s, const char *text, size_t len, const char *path, const char *dir,
                    char *err, size_t errn) {
        Parser p = { .s = s, .err = err, .errn = errn, .step = -1, .len = len };
        const char *base;
        int r;

        memset(s, 0, sizeof(*s));
        s->path = xstrdup(path);
        s->dir = xstrdup(dir);
        base = strrchr(path, '/');
        base = base ? base + 1 : path;
        s->name = xstrndup(base, strlen(base) > 5 && strcmp(base + strlen(base) - 5, ".json") == 0
                                         ? strlen(base) - 5
                                         : strlen(base));

        _cleanup_free_ char *t = xmalloc(len + 1);
        memcpy(t, text, len);
        t[len] = '\0';
        p.text = t;
        if (memchr(t, '\0', len))
                return fail(&p, (size_t) ((char *) memchr(t, '\0', len) - t),
                            "the file contains a NUL byte");
        if (!utf8_valid(t, len))
                return fail(&p, 0, "the file is not valid UTF-8");
        size_t open_comment;
        if (json_strip_comments(t, len, &open_comment) < 0)
                return fail(&p, open_comment, "unterminated /* comment");
        cJSON *root = cJSON_ParseWithLengthOpts(t, len + 1, NULL, 1);
        if (!root) {
                const char *at = cJSON_GetErrorPtr();
                size_t off = at && at >= t && at <= t + len ? (size_t) (at - t) : len;
                /* cJSON stops past a trailing comma: one before where it stopped is the
                 * cause. */
                size_t comma = json_trailing_comma(t, len);
                if (comma < off)
                        return fail(&p, comma, "syntax error: a comma before '%c'",
                                    t[json_skip_ws(t, comma + 1, len)]);
                off = json_skip_ws(t, off, len);
                if (off >= len)
                        return fail(&p, len, "syntax error: unexpected end of the file");
                return fail(&p, off, "syntax error near '%.*s'",
                            (int) MIN(strcspn(t + off, "\r\n"), 24u), t + off);
        }
        Node rn = { .j = root, .at = json_skip_ws(t, 0, len) };
        rn.end = json_value_end(t, rn.at, len);
        r = parse_root(&p, &rn);
        cJSON_Delete(root);
        return r;
}

int scn_load_file(Scenario *s, const char *path, char *err, size_t errn) {
        _cleanup_free_ char *text = NULL, *real = NULL;
        size_t len = 0;

        int r = read_all(path, SCN_FILE_MAX, &text, &len);
        if (r < 0) {
                memset(s, 0, sizeof(*s));
                snprintf(err, errn, "%s: cannot read the scenario: %s", path,
                         r == -EFBIG ? "larger than 16 MiB" : strerror(-r));
                return r;
        }
        real = realpath(path, NULL);
        if (!real) {
                r = -errno;
                memset(s, 0, sizeof(*s));
                snprintf(err, errn, "%s: %s", path, strerror(-r));
                return r;
        }
        char *slash = strrchr(real, '/');
        if (slash == real)
                slash[1] = '\0';
        else
                *slash = '\0';
        return scn_load_string(s, text ? text : "", len, path, real, err, errn);
}

void scn_deinit(Scenario *s) {
        for (size_t i = 0; i < s->n_steps; i++) {
                ScnStep *st = &s->steps[i];
                ScnExpect *x = &st->expect;
                free(st->function);
                free(st->event);
                free(st->lifecycle_json);
                free(st->fault_json);
                free(st->fault_clear);
                free(x->function_error.value);
                free(x->error_type.value);
                free(x->body);
                free(x->body_json);
                if (x->body_regex_text)
                        regfree(&x->body_regex);
                free(x->body_regex_text);
                for (size_t k = 0; k < x->n_json; k++) {
                        free(x->json[k].path);
                        free(x->json[k].value);
                }
                free(x->json);
                for (size_t k = 0; k < st->n_claims; k++) {
                        free(st->claims[k].kind);
                        free(st->claims[k].path);
                }
                free(st->claims);
        }
        free(s->steps);
        free(s->path);
        free(s->dir);
        free(s->name);
        free(s->config_file);
        free(s->config_text);
        memset(s, 0, sizeof(*s));
}

/* ---- the config, and the steps checked against it ---------------------------------------- */

int scn_build_config(const Scenario *s, Config *c, const char *seed_flag, char *err, size_t errn) {
        CfgError ce = { 0 };
        char msg[1024], seed[32];
        int r;

        cfg_init(c);
        if (s->config_file) {
                r = cfg_load_file(c, s->config_file, &ce);
                if (r < 0) {
                        cfg_format_error(&ce, msg, sizeof(msg));
                        snprintf(err, errn, "%s: config '%s':%s%s", s->path, s->config_file,
                                 ce.line ? "" : " ", msg);
                        return -EINVAL;
                }
        } else {
                r = cfg_load_string(c, s->config_text, s->config_len, s->dir, &ce);
                if (r < 0) {
                        char pos[32] = "";
                        if (ce.line)
                                snprintf(pos, sizeof(pos), ":%u:%u", ce.line, ce.col);
                        snprintf(err, errn, "%s%s: config%s%s: %s", s->path, pos,
                                 ce.path[0] ? "." : "", ce.path, ce.reason);
                        return -EINVAL;
                }
        }
        r = cfg_apply_env(c, environ, &ce);
        if (r == 0 && s->has_seed) {
                snprintf(seed, sizeof(seed), "%llu", (unsigned long long) s->seed);
                r = cfg_set(c, "seed", seed, &ce);
        }
        if (r == 0 && seed_flag)
                r = cfg_set(c, "seed", seed_flag, &ce);
        if (r < 0) {
                cfg_format_error(&ce, msg, sizeof(msg));
                snprintf(err, errn, "%s", msg);
                return -EINVAL;
        }
        r = cfg_validate(c, &ce);
        if (r < 0) {
                cfg_format_error(&ce, msg, sizeof(msg));
                snprintf(err, errn, "%s: config: %s", s->path, msg);
                return -EINVAL;
        }
        return 0;
}

int scn_bind(Scenario *s, const Config *c, char *err, size_t errn) {
        static const char *const verb[] = {
                [SCN_STEP_INVOKE] = "invoke",
                [SCN_STEP_RECYCLE] = "recycle",
                [SCN_STEP_LIFECYCLE] = "lifecycle",
                [SCN_STEP_FAULT] = "fault",
        };

        for (size_t i = 0; i < s->n_steps; i++) {
                ScnStep *st = &s->steps[i];
                st->read_timeout_s = 30;
                if (st->kind == SCN_STEP_WAIT_IDLE)
                        st->read_timeout_s += st->wait_timeout_s;
                if (st->kind == SCN_STEP_EXPECT_FINDINGS)
                        st->read_timeout_s += 30;
                if (!st->function)
                        continue;
                const FunctionConfig *fc = cfg_find_function(c, st->function);
                if (!fc) {
                        Buf names = BUF_INIT;
                        for (size_t k = 0; k < c->n_functions; k++)
                                buf_printf(&names, "%s%s", k ? ", " : "", c->functions[k].name);
                        snprintf(err, errn,
                                 "%s:%u: step %zu: %s: no function '%s' in the config%s%s%s",
                                 s->path, st->line, i, verb[st->kind], st->function,
                                 names.len ? " (it has " : "", names.len ? names.data : "",
                                 names.len ? ")" : "");
                        buf_free(&names);
                        return -EINVAL;
                }
                /* The Lambda timeouts bound an answer: init, a suppressed init under the
                 * function's timeout, then the invocation. */
                if (st->kind == SCN_STEP_INVOKE && st->type == INVOKE_REQUEST_RESPONSE)
                        st->read_timeout_s += fc->init_timeout_s + 2 * fc->timeout_s;
                if (st->kind == SCN_STEP_LIFECYCLE) {
                        /* The same checks the server makes, on a scratch function. */
                        Config scratch;
                        CfgError ce = { 0 };
                        char msg[1024];
                        cfg_init(&scratch);
                        FunctionConfig *f = cfg_add_function(&scratch, fc->name);
                        int r = cfg_merge_lifecycle(&scratch, f, st->lifecycle_json,
                                                    st->lifecycle_len, &ce);
                        cfg_deinit(&scratch);
                        if (r < 0) {
                                ce.line = ce.col = 0;
                                cfg_format_error(&ce, msg, sizeof(msg));
                                snprintf(err, errn, "%s:%u: step %zu: set%s%s", s->path, st->line,
                                         i, ce.path[0] ? "." : ": ", msg);
                                return -EINVAL;
                        }
                }
        }
        return 0;
}

void scn_step_title(const ScnStep *st, char *out, size_t n) {
        switch (st->kind) {
        case SCN_STEP_INVOKE:
                snprintf(out, n, "step %u: invoke %s", st->index, st->function);
                break;
        case SCN_STEP_RECYCLE:
                snprintf(out, n, "step %u: recycle %s", st->index, st->function);
                break;
        case SCN_STEP_LIFECYCLE:
                snprintf(out, n, "step %u: lifecycle %s", st->index, st->function);
                break;
        case SCN_STEP_WAIT_IDLE:
                snprintf(out, n, "step %u: wait_idle", st->index);
                break;
        case SCN_STEP_SLEEP:
                snprintf(out, n, "step %u: sleep_ms %u", st->index, st->sleep_ms);
                break;
        case SCN_STEP_FAULT:
                if (st->fault_clear)
                        snprintf(out, n, "step %u: fault %s clear %s", st->index, st->function,
                                 st->fault_clear);
                else
                        snprintf(out, n, "step %u: fault %s add", st->index, st->function);
                break;
        default:
                snprintf(out, n, "step %u: expect_findings", st->index);
                break;
        }
}
