/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON-aware comparison of a warm and a fresh answer (compare.h).
 *
 * cJSON cannot do this job: it turns numbers into doubles, so big ids collide and 1.0 equals
 * 1. A small recursive-descent parser of our own keeps every value's source text, decodes
 * strings, and sorts object members once; the comparison then walks both trees together,
 * keeping the path it is at so that ignore paths can be matched and the first difference
 * named. Recursion is bounded by COMPARE_MAX_DEPTH in both the parser and the walk.
 *
 * Memory: every node of one text lives in one arena, freed at once. Nothing here touches
 * daemon state, so the shadow module runs it on a worker thread.
 */
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "compare.h"
#include "macro.h"
#include "xalloc.h"

/* ---- arena -------------------------------------------------------------------------- */

typedef struct Chunk {
        struct Chunk *next;
        size_t used, cap;
} Chunk;

typedef struct Arena {
        Chunk *head;
} Arena;

static void *arena_alloc(Arena *ar, size_t n) {
        n = (n + 7) & ~(size_t) 7;
        if (!ar->head || ar->head->cap - ar->head->used < n) {
                size_t cap = n > 65536 ? n : 65536;
                Chunk *c = xmalloc(sizeof(Chunk) + cap);
                c->next = ar->head;
                c->used = 0;
                c->cap = cap;
                ar->head = c;
        }
        void *p = (char *) (ar->head + 1) + ar->head->used;
        ar->head->used += n;
        return p;
}

static void arena_free(Arena *ar) {
        while (ar->head) {
                Chunk *c = ar->head;
                ar->head = c->next;
                free(c);
        }
}

/* ---- the tree ----------------------------------------------------------------------- */

enum { J_NULL, J_FALSE, J_TRUE, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct JMember JMember;

typedef struct JNode {
        unsigned char type;
        const char *raw; /* the value's source text */
        size_t raw_len;
        size_t n; /* string: decoded length; array, object: count */
        union {
                const char *str; /* decoded, not NUL-terminated */
                struct JNode *arr;
                JMember *obj; /* sorted by key, duplicates removed */
        } u;
} JNode;

struct JMember {
        const char *key;
        size_t key_len;
        size_t order; /* position in the text, so that the last duplicate wins */
        JNode val;
};

typedef struct Parser {
        const char *p, *end;
        Arena *arena;
} Parser;

static void skip_ws(Parser *ps) {
        while (ps->p < ps->end &&
               (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
                ps->p++;
}

static int hex4(const char *p, unsigned *ret) {
        unsigned v = 0;

        for (int i = 0; i < 4; i++) {
                char c = p[i];
                v <<= 4;
                if (c >= '0' && c <= '9')
                        v |= (unsigned) (c - '0');
                else if (c >= 'a' && c <= 'f')
                        v |= (unsigned) (c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        v |= (unsigned) (c - 'A' + 10);
                else
                        return -EINVAL;
        }
        *ret = v;
        return 0;
}

static size_t put_utf8(char *out, unsigned cp) {
        if (cp < 0x80) {
                out[0] = (char) cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char) (0xc0 | (cp >> 6));
                out[1] = (char) (0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                /* A lone surrogate is kept as its three bytes (WTF-8), so that two different
                 * ones still compare different. */
                out[0] = (char) (0xe0 | (cp >> 12));
                out[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
                out[2] = (char) (0x80 | (cp & 0x3f));
                return 3;
        }
        out[0] = (char) (0xf0 | (cp >> 18));
        out[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
        out[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
        out[3] = (char) (0x80 | (cp & 0x3f));
        return 4;
}

/* A string at ps->p (the opening quote): its decoded text, borrowed from the input when it
 * has no escapes, else decoded into the arena (never longer than its escaped form). */
static int parse_string(Parser *ps, const char **ret_str, size_t *ret_len) {
        const char *start = ++ps->p;
        bool escaped = false;

        for (;;) {
                if (ps->p >= ps->end)
                        return -EINVAL;
                unsigned char c = (unsigned char) *ps->p;
                if (c == '"')
                        break;
                if (c < 0x20)
                        return -EINVAL;
                if (c == '\\') {
                        escaped = true;
                        if (++ps->p >= ps->end)
                                return -EINVAL;
                }
                ps->p++;
        }
        const char *stop = ps->p++;
        if (!escaped) {
                *ret_str = start;
                *ret_len = (size_t) (stop - start);
                return 0;
        }
        char *out = arena_alloc(ps->arena, (size_t) (stop - start));
        size_t n = 0;
        for (const char *q = start; q < stop;) {
                if (*q != '\\') {
                        out[n++] = *q++;
                        continue;
                }
                q++;
                switch (*q++) {
                case '"':
                        out[n++] = '"';
                        break;
                case '\\':
                        out[n++] = '\\';
                        break;
                case '/':
                        out[n++] = '/';
                        break;
                case 'b':
                        out[n++] = '\b';
                        break;
                case 'f':
                        out[n++] = '\f';
                        break;
                case 'n':
                        out[n++] = '\n';
                        break;
                case 'r':
                        out[n++] = '\r';
                        break;
                case 't':
                        out[n++] = '\t';
                        break;
                case 'u': {
                        unsigned cp, lo;
                        if (stop - q < 4 || hex4(q, &cp) < 0)
                                return -EINVAL;
                        q += 4;
                        if (cp >= 0xd800 && cp < 0xdc00 && stop - q >= 6 && q[0] == '\\' &&
                            q[1] == 'u' && hex4(q + 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
                                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                                q += 6;
                        }
                        n += put_utf8(out + n, cp);
                        break;
                }
                default:
                        return -EINVAL;
                }
        }
        *ret_str = out;
        *ret_len = n;
        return 0;
}

static bool is_digit(const Parser *ps) {
        return ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int parse_number(Parser *ps) {
        if (ps->p < ps->end && *ps->p == '-')
                ps->p++;
        if (!is_digit(ps))
                return -EINVAL;
        if (*ps->p++ != '0')
                while (is_digit(ps))
                        ps->p++;
        if (ps->p < ps->end && *ps->p == '.') {
                ps->p++;
                if (!is_digit(ps))
                        return -EINVAL;
                while (is_digit(ps))
                        ps->p++;
        }
        if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
                ps->p++;
                if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
                        ps->p++;
                if (!is_digit(ps))
                        return -EINVAL;
                while (is_digit(ps))
                        ps->p++;
        }
        return 0;
}

static int parse_literal(Parser *ps, const char *word) {
        size_t n = strlen(word);

        if ((size_t) (ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
                return -EINVAL;
        ps->p += n;
        return 0;
}

static int member_order(const void *x, const void *y) {
        const JMember *a = x, *b = y;
        size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
        int r = memcmp(a->key, b->key, n);

        if (r)
                return r;
        if (a->key_len != b->key_len)
                return a->key_len < b->key_len ? -1 : 1;
        return a->order < b->order ? -1 : a->order > b->order;
}

static int parse_value(Parser *ps, JNode *out, unsigned depth);

/* Grows a temporary vector of @size-byte items by one; returns the new slot. */
static void *grow(void **v, size_t *n, size_t *cap, size_t size) {
        if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 8;
                *v = xrealloc(*v, *cap * size);
        }
        return (char *) *v + (*n)++ * size;
}

static int parse_array(Parser *ps, JNode *out, unsigned depth) {
        void *v = NULL;
        size_t n = 0, cap = 0;
        int r = 0;

        ps->p++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ']') {
                ps->p++;
        } else {
                for (;;) {
                        r = parse_value(ps, grow(&v, &n, &cap, sizeof(JNode)), depth + 1);
                        if (r < 0)
                                break;
                        skip_ws(ps);
                        if (ps->p < ps->end && *ps->p == ',') {
                                ps->p++;
                                continue;
                        }
                        if (ps->p < ps->end && *ps->p == ']') {
                                ps->p++;
                                break;
                        }
                        r = -EINVAL;
                        break;
                }
        }
        if (r == 0) {
                out->type = J_ARR;
                out->n = n;
                out->u.arr = n ? arena_alloc(ps->arena, n * sizeof(JNode)) : NULL;
                if (n)
                        memcpy(out->u.arr, v, n * sizeof(JNode));
        }
        free(v);
        return r;
}

static int parse_object(Parser *ps, JNode *out, unsigned depth) {
        void *v = NULL;
        size_t n = 0, cap = 0;
        int r = 0;

        ps->p++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == '}') {
                ps->p++;
        } else {
                for (;;) {
                        JMember *m;
                        skip_ws(ps);
                        if (ps->p >= ps->end || *ps->p != '"') {
                                r = -EINVAL;
                                break;
                        }
                        m = grow(&v, &n, &cap, sizeof(JMember));
                        m->order = n;
                        r = parse_string(ps, &m->key, &m->key_len);
                        if (r < 0)
                                break;
                        skip_ws(ps);
                        if (ps->p >= ps->end || *ps->p != ':') {
                                r = -EINVAL;
                                break;
                        }
                        ps->p++;
                        r = parse_value(ps, &m->val, depth + 1);
                        if (r < 0)
                                break;
                        skip_ws(ps);
                        if (ps->p < ps->end && *ps->p == ',') {
                                ps->p++;
                                continue;
                        }
                        if (ps->p < ps->end && *ps->p == '}') {
                                ps->p++;
                                break;
                        }
                        r = -EINVAL;
                        break;
                }
        }
        if (r == 0) {
                JMember *ms = v;
                size_t k = 0;
                if (n > 1)
                        qsort(ms, n, sizeof(JMember), member_order);
                /* Of equal keys (now adjacent, in text order) the last one counts. */
                for (size_t i = 0; i < n; i++) {
                        if (i + 1 < n && ms[i].key_len == ms[i + 1].key_len &&
                            memcmp(ms[i].key, ms[i + 1].key, ms[i].key_len) == 0)
                                continue;
                        ms[k++] = ms[i];
                }
                out->type = J_OBJ;
                out->n = k;
                out->u.obj = k ? arena_alloc(ps->arena, k * sizeof(JMember)) : NULL;
                if (k)
                        memcpy(out->u.obj, ms, k * sizeof(JMember));
        }
        free(v);
        return r;
}

static int parse_value(Parser *ps, JNode *out, unsigned depth) {
        int r;

        memset(out, 0, sizeof(*out));
        skip_ws(ps);
        if (ps->p >= ps->end)
                return -EINVAL;
        out->raw = ps->p;
        switch (*ps->p) {
        case '{':
        case '[':
                if (depth >= COMPARE_MAX_DEPTH)
                        return -EINVAL;
                r = *ps->p == '{' ? parse_object(ps, out, depth) : parse_array(ps, out, depth);
                break;
        case '"':
                out->type = J_STR;
                r = parse_string(ps, &out->u.str, &out->n);
                break;
        case 't':
                out->type = J_TRUE;
                r = parse_literal(ps, "true");
                break;
        case 'f':
                out->type = J_FALSE;
                r = parse_literal(ps, "false");
                break;
        case 'n':
                out->type = J_NULL;
                r = parse_literal(ps, "null");
                break;
        default:
                out->type = J_NUM;
                r = parse_number(ps);
                break;
        }
        if (r < 0)
                return r;
        out->raw_len = (size_t) (ps->p - out->raw);
        return 0;
}

static int parse_text(const char *s, size_t len, Arena *ar, JNode *ret) {
        Parser ps = { .p = s, .end = s + len, .arena = ar };

        if (!s)
                return -EINVAL;
        int r = parse_value(&ps, ret, 0);
        if (r < 0)
                return r;
        skip_ws(&ps);
        return ps.p == ps.end ? 0 : -EINVAL;
}

/* ---- ignore paths ------------------------------------------------------------------- */

enum { SEG_KEY, SEG_IDX, SEG_WILD };

typedef struct Seg {
        int kind;
        const char *key;
        size_t len;
        size_t idx;
} Seg;

typedef struct IPath {
        Seg *segs;
        size_t n;
        char *keys; /* the decoded keys the segments point into */
} IPath;

static int path_error(char *why, size_t n, const char *fmt, ...) _printf_(3, 4);
static int path_error(char *why, size_t n, const char *fmt, ...) {
        va_list ap;

        if (why && n) {
                va_start(ap, fmt);
                vsnprintf(why, n, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

static int path_parse(const char *s, IPath *ret, char *why, size_t wn) {
        size_t len = strlen(s), i = 1, nseg = 0, nk = 0;
        Seg *segs = xcalloc(len + 1, sizeof(Seg));
        char *keys = xmalloc(len + 1);
        int r = 0;

        if (s[0] != '$') {
                r = path_error(why, wn, "a path starts with $");
                goto fail;
        }
        while (s[i]) {
                Seg *g = &segs[nseg];
                if (s[i] == '.') {
                        i++;
                        if (s[i] == '*') {
                                g->kind = SEG_WILD;
                                i++;
                        } else {
                                size_t st = i;
                                while (s[i] && s[i] != '.' && s[i] != '[')
                                        i++;
                                if (i == st) {
                                        r = path_error(why, wn,
                                                       "a name is missing after '.' at offset %zu "
                                                       "(recursive descent '..' is not supported)",
                                                       st - 1);
                                        goto fail;
                                }
                                g->kind = SEG_KEY;
                                g->key = keys + nk;
                                g->len = i - st;
                                memcpy(keys + nk, s + st, g->len);
                                nk += g->len;
                        }
                } else if (s[i] == '[') {
                        size_t st = i++;
                        if (s[i] == '*' && s[i + 1] == ']') {
                                g->kind = SEG_WILD;
                                i += 2;
                        } else if (s[i] >= '0' && s[i] <= '9') {
                                size_t v = 0, digits = 0;
                                while (s[i] >= '0' && s[i] <= '9' && digits++ < 18)
                                        v = v * 10 + (size_t) (s[i++] - '0');
                                if (s[i] != ']') {
                                        r = path_error(why, wn,
                                                       "'[' at offset %zu: expected [N] with N "
                                                       "from 0, [*] or ['key']",
                                                       st);
                                        goto fail;
                                }
                                i++;
                                g->kind = SEG_IDX;
                                g->idx = v;
                        } else if (s[i] == '\'' || s[i] == '"') {
                                char q = s[i++];
                                g->kind = SEG_KEY;
                                g->key = keys + nk;
                                while (s[i] && s[i] != q) {
                                        if (s[i] == '\\' && (s[i + 1] == q || s[i + 1] == '\\' ||
                                                             s[i + 1] == '\'' || s[i + 1] == '"'))
                                                i++;
                                        keys[nk++] = s[i++];
                                }
                                g->len = (size_t) (keys + nk - g->key);
                                if (s[i] != q || s[i + 1] != ']') {
                                        r = path_error(why, wn,
                                                       "the quoted key at offset %zu is not "
                                                       "closed by a quote and ']'",
                                                       st);
                                        goto fail;
                                }
                                i += 2;
                        } else {
                                r = path_error(why, wn,
                                               "'[' at offset %zu: expected [N] with N from 0, "
                                               "[*] or ['key']",
                                               st);
                                goto fail;
                        }
                } else {
                        r = path_error(why, wn,
                                       "unexpected character at offset %zu (expected '.' or '[')",
                                       i);
                        goto fail;
                }
                nseg++;
        }
        ret->segs = segs;
        ret->n = nseg;
        ret->keys = keys;
        return 0;
fail:
        free(segs);
        free(keys);
        return r;
}

int compare_path_check(const char *path, char *why, size_t n) {
        IPath p;

        if (path_parse(path, &p, why, n) < 0)
                return -EINVAL;
        free(p.segs);
        free(p.keys);
        return 0;
}

/* ---- the walk ----------------------------------------------------------------------- */

typedef struct Ctx {
        IPath *paths;
        size_t n_paths;
        const regex_t *rx;
        size_t n_rx;
        Seg stack[COMPARE_MAX_DEPTH + 1];
        size_t depth;
        CompareDiff *ret;
} Ctx;

static bool ignored(const Ctx *c) {
        for (size_t p = 0; p < c->n_paths; p++) {
                const IPath *ip = &c->paths[p];
                size_t i;
                if (ip->n != c->depth)
                        continue;
                for (i = 0; i < ip->n; i++) {
                        const Seg *g = &ip->segs[i], *s = &c->stack[i];
                        if (g->kind == SEG_WILD)
                                continue;
                        if (g->kind != s->kind)
                                break;
                        if (g->kind == SEG_IDX ? g->idx != s->idx
                                               : g->len != s->len || memcmp(g->key, s->key, s->len))
                                break;
                }
                if (i == ip->n)
                        return true;
        }
        return false;
}

static bool rx_match(const regex_t *rx, const JNode *v) {
        const char *s = v->type == J_STR ? v->u.str : v->raw;
        size_t n = v->type == J_STR ? v->n : v->raw_len;
        regmatch_t m = { .rm_so = 0, .rm_eo = (regoff_t) n };
        /* A number's text points into the document, unterminated: REG_STARTEND bounds glibc's
         * matcher, but not every regexec() (sanitizer interceptors read to a NUL), so match a
         * terminated copy. */
        char small[128];
        char *t = n < sizeof(small) ? small : xmalloc(n + 1);

        if (n)
                memcpy(t, s, n);
        t[n] = '\0';
        bool ok = regexec(rx, t, 1, &m, REG_STARTEND) == 0;
        if (t != small)
                free(t);
        return ok;
}

static bool values_match(const Ctx *c, const JNode *a, const JNode *b) {
        for (size_t i = 0; i < c->n_rx; i++)
                if (rx_match(&c->rx[i], a) && rx_match(&c->rx[i], b))
                        return true;
        return false;
}

static bool plain_name(const char *k, size_t n) {
        if (n == 0 || (k[0] >= '0' && k[0] <= '9'))
                return false;
        for (size_t i = 0; i < n; i++) {
                char ch = k[i];
                if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '_'))
                        return false;
        }
        return true;
}

static void render_path(const Ctx *c, char *out, size_t n) {
        Buf b = BUF_INIT;

        buf_puts(&b, "$");
        for (size_t i = 0; i < c->depth; i++) {
                const Seg *s = &c->stack[i];
                if (s->kind == SEG_IDX) {
                        buf_printf(&b, "[%zu]", s->idx);
                } else if (plain_name(s->key, s->len)) {
                        buf_puts(&b, ".");
                        buf_append(&b, s->key, s->len);
                } else {
                        buf_puts(&b, "['");
                        for (size_t k = 0; k < s->len; k++) {
                                unsigned char ch = (unsigned char) s->key[k];
                                if (ch == '\'' || ch == '\\')
                                        buf_printf(&b, "\\%c", ch);
                                else if (ch < 0x20)
                                        buf_printf(&b, "\\u%04x", ch);
                                else
                                        buf_append(&b, &s->key[k], 1);
                        }
                        buf_puts(&b, "']");
                }
        }
        if (b.len < n) {
                memcpy(out, b.data, b.len + 1);
        } else {
                size_t k = n - 4;
                while (k > 0 && ((unsigned char) b.data[k] & 0xc0) == 0x80)
                        k--;
                memcpy(out, b.data, k);
                memcpy(out + k, "...", 4);
        }
        buf_free(&b);
}

/* Copies @n bytes of text into @out (COMPARE_VALUE_MAX), cut before a character if longer. */
static bool cut_copy(char *out, const char *s, size_t n) {
        if (n < COMPARE_VALUE_MAX) {
                memcpy(out, s, n);
                out[n] = '\0';
                return false;
        }
        size_t k = COMPARE_VALUE_MAX - 1;
        while (k > 0 && ((unsigned char) s[k] & 0xc0) == 0x80)
                k--;
        memcpy(out, s, k);
        out[k] = '\0';
        return true;
}

static int diff(Ctx *c, const JNode *a, const JNode *b, const char *what) {
        CompareDiff *d = c->ret;

        memset(d, 0, sizeof(*d));
        render_path(c, d->path, sizeof(d->path));
        d->a_absent = !a;
        d->b_absent = !b;
        if (a)
                d->a_cut = cut_copy(d->a, a->raw, a->raw_len);
        if (b)
                d->b_cut = cut_copy(d->b, b->raw, b->raw_len);
        d->what = what;
        return 1;
}

static int walk(Ctx *c, const JNode *a, const JNode *b);

static int walk_child(Ctx *c, Seg seg, const JNode *a, const JNode *b) {
        c->stack[c->depth++] = seg;
        int r = walk(c, a, b);
        c->depth--;
        return r;
}

static int walk(Ctx *c, const JNode *a, const JNode *b) {
        if (ignored(c))
                return 0;
        if (!a || !b)
                return diff(c, a, b, "present in one answer only");
        if (a->type == b->type && (a->type == J_STR || a->type == J_NUM) && values_match(c, a, b))
                return 0;
        if (a->type != b->type) {
                bool bools = (a->type == J_TRUE || a->type == J_FALSE) &&
                             (b->type == J_TRUE || b->type == J_FALSE);
                return diff(c, a, b, bools ? "values differ" : "types differ");
        }
        switch (a->type) {
        case J_NUM:
                if (a->raw_len != b->raw_len || memcmp(a->raw, b->raw, a->raw_len) != 0)
                        return diff(c, a, b, "numbers differ (compared by their text)");
                return 0;
        case J_STR:
                if (a->n != b->n || (a->n && memcmp(a->u.str, b->u.str, a->n) != 0))
                        return diff(c, a, b, "strings differ");
                return 0;
        case J_ARR: {
                size_t n = a->n > b->n ? a->n : b->n;
                for (size_t i = 0; i < n; i++) {
                        Seg s = { .kind = SEG_IDX, .idx = i };
                        if (walk_child(c, s, i < a->n ? &a->u.arr[i] : NULL,
                                       i < b->n ? &b->u.arr[i] : NULL))
                                return 1;
                }
                return 0;
        }
        case J_OBJ: {
                size_t i = 0, j = 0;
                while (i < a->n || j < b->n) {
                        const JMember *ma = i < a->n ? &a->u.obj[i] : NULL;
                        const JMember *mb = j < b->n ? &b->u.obj[j] : NULL;
                        int o = !ma ? 1 : !mb ? -1 : member_order(ma, mb);
                        if (ma && mb && ma->key_len == mb->key_len &&
                            memcmp(ma->key, mb->key, ma->key_len) == 0)
                                o = 0;
                        const JNode *va = o <= 0 && ma ? &ma->val : NULL;
                        const JNode *vb = o >= 0 && mb ? &mb->val : NULL;
                        const JMember *m = o <= 0 && ma ? ma : mb;
                        if (!m)
                                break;
                        Seg s = { .kind = SEG_KEY, .key = m->key, .len = m->key_len };
                        if (walk_child(c, s, va, vb))
                                return 1;
                        i += o <= 0;
                        j += o >= 0;
                }
                return 0;
        }
        default: /* null, true, false: the same type is the same value */
                return 0;
        }
}

int compare_json(const char *a, size_t alen, const char *b, size_t blen,
                 const char *const *ignore_paths, const regex_t *ignore_values, size_t n_values,
                 CompareDiff *ret) {
        Arena ar = { 0 };
        JNode ta, tb;
        int r;

        if (parse_text(a, alen, &ar, &ta) < 0 || parse_text(b, blen, &ar, &tb) < 0) {
                arena_free(&ar);
                return -EINVAL;
        }
        Ctx *c = xcalloc(1, sizeof(*c));
        size_t np = 0;
        for (; ignore_paths && ignore_paths[np]; np++)
                ;
        c->paths = xcalloc(np ? np : 1, sizeof(IPath));
        for (size_t i = 0; i < np; i++)
                if (path_parse(ignore_paths[i], &c->paths[c->n_paths], NULL, 0) == 0)
                        c->n_paths++;
        c->rx = ignore_values;
        c->n_rx = ignore_values ? n_values : 0;
        CompareDiff d;
        c->ret = &d;
        r = walk(c, &ta, &tb);
        if (r == 1)
                *ret = d;
        for (size_t i = 0; i < c->n_paths; i++) {
                free(c->paths[i].segs);
                free(c->paths[i].keys);
        }
        free(c->paths);
        free(c);
        arena_free(&ar);
        return r;
}

int compare_bytes(const char *a, size_t alen, const char *b, size_t blen, CompareDiff *ret) {
        if (alen == blen && (alen == 0 || memcmp(a, b, alen) == 0))
                return 0;
        memset(ret, 0, sizeof(*ret));
        snprintf(ret->path, sizeof(ret->path), "$");
        ret->a_cut = cut_copy(ret->a, a ? a : "", a ? alen : 0);
        ret->b_cut = cut_copy(ret->b, b ? b : "", b ? blen : 0);
        ret->what = "the answers differ byte for byte (not JSON)";
        return 1;
}

int compare_answers(const char *a, size_t alen, const char *b, size_t blen,
                    const char *const *ignore_paths, const regex_t *ignore_values, size_t n_values,
                    CompareDiff *ret) {
        int r = compare_json(a, alen, b, blen, ignore_paths, ignore_values, n_values, ret);

        if (r == -EINVAL)
                r = compare_bytes(a, alen, b, blen, ret);
        return r;
}
