/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The config module's edge: JSON files (with comments), flags, LEMU_* variables and SAM
 * env files go in; a typed Config comes out, and cfg_dump() turns it back into JSON. What a
 * key means lives in one table (config-keys.c); this file finds the values and says where
 * they were wrong.
 *
 * Errors point at the key: comments are blanked to spaces rather than removed, so byte
 * offsets in the text cJSON parses are those of the file, and the walk over a parsed tree
 * keeps the child index at each level, from which the key is found again in the text for
 * its line:col. Every setter checks before it replaces, so a value is either the old one or
 * a checked new one; a failed load may still leave earlier keys of the file applied.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "codec.h"
#include "config-internal.h"
#include "json-util.h"
#include "macro.h"
#include "xalloc.h"

#define CFG_FILE_MAX (16u << 20)

extern char **environ;

static bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static char *cwd_dup(void) {
        char *p = get_current_dir_name();

        return p ? p : xstrdup(".");
}

/* ---- where a value came from ---- */

void cfg__ctx_init(CfgCtx *x, Config *c, CfgError *err) {
        memset(x, 0, sizeof(*x));
        x->config = c;
        x->err = err;
}

size_t cfg__push(CfgCtx *x, const char *name, int index) {
        size_t mark = x->path_len, room = CFG_PATH_MAX - mark;
        int n;

        if (name)
                n = snprintf(x->path + mark, room, "%s%s", mark ? "." : "",
                             name[0] ? name : "\"\"");
        else
                n = snprintf(x->path + mark, room, "[%d]", index);
        x->path_len = MIN(mark + (size_t) MAX(n, 0), CFG_PATH_MAX - 1);
        if (x->depth < CFG_DEPTH_MAX)
                x->idx[x->depth] = index;
        x->depth++;
        return mark;
}

void cfg__pop(CfgCtx *x, size_t mark) {
        x->path_len = mark;
        x->path[mark] = 0;
        x->depth--;
}

/* The offset of the key (or array element) the context's index path leads to. */
static size_t locate(const CfgCtx *x) {
        const char *s = x->text;
        size_t n = x->len, i = json_skip_ws(s, 0, n), at = i;
        unsigned depth = MIN(x->depth, CFG_DEPTH_MAX);

        for (unsigned d = 0; d < depth && i < n; d++) {
                bool object = s[i] == '{';

                if (!object && s[i] != '[')
                        break;
                i++;
                for (int m = 0; i < n; m++) {
                        i = json_skip_ws(s, i, n);
                        at = i;
                        if (object) {
                                i = json_skip_ws(s, json_string_end(s, i, n), n) + 1; /* the ':' */
                                i = json_skip_ws(s, i, n);
                        }
                        if (m == x->idx[d])
                                break;
                        i = json_skip_ws(s, json_value_end(s, i, n), n) + 1; /* the ',' */
                }
        }
        return at;
}

static void fill(const CfgCtx *x, CfgError *e, size_t off, const char *fmt, va_list ap)
        __attribute__((format(printf, 4, 0)));
static void fill(const CfgCtx *x, CfgError *e, size_t off, const char *fmt, va_list ap) {
        size_t len;

        memset(e, 0, sizeof(*e));
        snprintf(e->path, sizeof(e->path), "%s", x->path);
        vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
        len = strlen(e->reason);
        if (x->where)
                snprintf(e->reason + len, sizeof(e->reason) - len, " (%s)", x->where);
        if (x->orig)
                json_line_col(x->orig, MIN(off, x->len), &e->line, &e->col);
}

static int error_at(CfgCtx *x, size_t off, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int error_at(CfgCtx *x, size_t off, const char *fmt, ...) {
        va_list ap;

        if (!x->err)
                return -EINVAL;
        va_start(ap, fmt);
        fill(x, x->err, off, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

int cfg__error(CfgCtx *x, const char *fmt, ...) {
        va_list ap;

        if (!x->err)
                return -EINVAL;
        va_start(ap, fmt);
        fill(x, x->err, x->text ? locate(x) : 0, fmt, ap);
        if (!x->text)
                x->err->line = x->err->col = 0;
        va_end(ap);
        return -EINVAL;
}

static void add_warning(Config *c, const char *text) {
        for (size_t i = 0; i < c->n_warnings; i++)
                if (streq(c->warnings[i], text))
                        return;
        c->warnings = xrealloc(c->warnings, (c->n_warnings + 2) * sizeof(char *));
        c->warnings[c->n_warnings++] = xstrdup(text);
        c->warnings[c->n_warnings] = NULL;
}

void cfg__warn(CfgCtx *x, const char *fmt, ...) {
        CfgError e;
        char text[sizeof(e.path) + sizeof(e.reason) + 32];
        va_list ap;

        if (!x->config)
                return;
        va_start(ap, fmt);
        fill(x, &e, x->text ? locate(x) : 0, fmt, ap);
        va_end(ap);
        if (!x->text)
                e.line = e.col = 0;
        cfg_format_error(&e, text, sizeof(text));
        add_warning(x->config, text);
}

void cfg_format_error(const CfgError *err, char *out, size_t n) {
        char pos[32] = "";

        if (err->line)
                snprintf(pos, sizeof(pos), "%u:%u: ", err->line, err->col);
        snprintf(out, n, "%s%s%s%s", pos, err->path, err->path[0] ? ": " : "", err->reason);
}

/* ---- text to a cJSON tree ---- */

/* The first byte that breaks UTF-8; lines are checked alone as '\n' ends no sequence. */
static size_t utf8_bad_offset(const char *s, size_t len) {
        size_t start = 0;

        if (utf8_valid(s, len))
                return SIZE_MAX;
        while (start < len) {
                const char *nl = memchr(s + start, '\n', len - start);
                size_t end = nl ? (size_t) (nl - s) : len, good = 0;

                if (!utf8_valid(s + start, end - start)) {
                        for (size_t j = 1; j <= end - start; j++)
                                if (utf8_valid(s + start, j))
                                        good = j;
                        return start + good;
                }
                start = end + 1;
        }
        return 0;
}

static int syntax_error(CfgCtx *x, const char *buf, size_t len) {
        const char *ep = cJSON_GetErrorPtr(), *end = NULL;
        size_t off = ep && ep >= buf && ep <= buf + len ? (size_t) (ep - buf) : len, n;
        size_t comma = json_trailing_comma(buf, len);
        cJSON *loose;

        /* cJSON stops at the first error, so a trailing comma before it is the cause. */
        if (comma < off)
                return error_at(x, comma, "syntax error: a comma before '%c'",
                                buf[json_skip_ws(buf, comma + 1, len)]);

        /* cJSON says only "failed"; a lenient second parse tells trailing text apart. */
        loose = cJSON_ParseWithLengthOpts(buf, len + 1, &end, 0);
        if (loose) {
                cJSON_Delete(loose);
                return error_at(x, json_skip_ws(buf, (size_t) (end - buf), len),
                                "unexpected text after the end of the JSON value");
        }
        off = json_skip_ws(buf, off, len);
        if (off >= len)
                return error_at(x, len, "syntax error: unexpected end of input");
        n = strcspn(buf + off, "\r\n");
        return error_at(x, off, "syntax error near '%.*s'", (int) MIN(n, 24), buf + off);
}

/*
 * Checks and parses @text. On success the context points at the stripped copy (returned
 * in @ret_buf, the caller frees it after the tree) for locating keys later.
 */
static int parse_json(CfgCtx *x, const char *text, size_t len, char **ret_buf, cJSON **ret_root) {
        const char *nul = memchr(text, 0, len);
        size_t off;
        cJSON *root;
        char *buf;

        x->orig = text;
        x->len = len;
        x->text = NULL;
        if (nul)
                return error_at(x, (size_t) (nul - text), "the text contains a NUL byte");
        off = utf8_bad_offset(text, len);
        if (off != SIZE_MAX)
                return error_at(x, off, "invalid UTF-8");

        buf = xmalloc(len + 1);
        memcpy(buf, text, len);
        buf[len] = 0;
        if (json_strip_comments(buf, len, &off) < 0) {
                free(buf);
                return error_at(x, off, "unterminated /* comment");
        }

        /* The length includes the NUL: cJSON 1.7.15 wants to see it to accept the end. */
        root = cJSON_ParseWithLengthOpts(buf, len + 1, NULL, 1);
        if (!root) {
                int r = syntax_error(x, buf, len);

                free(buf);
                return r;
        }
        x->text = buf;
        *ret_buf = buf;
        *ret_root = root;
        return 0;
}

static int read_file(CfgCtx *x, const char *path, char **ret, size_t *ret_len) {
        Buf b = BUF_INIT;
        struct stat st;
        int fd, r = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                error_at(x, 0, "cannot open '%s': %s", path, strerror(-r));
                return r;
        }
        if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
                close(fd);
                error_at(x, 0, "'%s' is a directory", path);
                return -EISDIR;
        }
        for (;;) {
                ssize_t n;

                buf_reserve(&b, 65536);
                n = read(fd, b.data + b.len, 65536);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        error_at(x, 0, "cannot read '%s': %s", path, strerror(-r));
                        break;
                }
                if (n == 0)
                        break;
                b.len += (size_t) n;
                if (b.len > CFG_FILE_MAX) {
                        r = -EFBIG;
                        error_at(x, 0, "'%s' is larger than 16 MiB", path);
                        break;
                }
        }
        close(fd);
        if (r < 0) {
                buf_free(&b);
                return r;
        }
        *ret = buf_steal(&b, ret_len);
        if (!*ret)
                *ret = xstrdup("");
        return 0;
}

/* ---- the walk from JSON to Config ---- */

static void function_deinit(FunctionConfig *fn) {
        free(fn->name);
        fn->name = NULL;
        for (size_t i = 0; i < cfg__n_keys; i++)
                if (!cfg__keys[i].global)
                        cfg__key_free(&cfg__keys[i], fn);
}

/* Defaults go through the setters too, so they obey the same bounds as user values. */
static void apply_defaults(void *base, bool global) {
        CfgCtx x;

        cfg__ctx_init(&x, NULL, NULL);
        for (size_t i = 0; i < cfg__n_keys; i++) {
                const CfgKey *k = &cfg__keys[i];
                cJSON *v;
                int r;

                if (k->global != global)
                        continue;
                v = cJSON_Parse(k->def);
                r = v ? cfg__key_set(&x, k, base, v) : -EINVAL;
                assert(r == 0);
                (void) r;
                cJSON_Delete(v);
        }
}

/* "memory" → memory_mb, "reuse" at function level → lifecycle.reuse, "seed" in a function. */
static int unknown_key(CfgCtx *x, const char *section, const char *name, bool global) {
        size_t len = strlen(name);

        for (size_t i = 0; i < cfg__n_keys; i++) {
                const CfgKey *k = &cfg__keys[i];
                bool same_section =
                        section ? k->section && streq(k->section, section) : !k->section;

                if (k->global == global && same_section && strncmp(k->name, name, len) == 0 &&
                    k->name[len] == '_')
                        return cfg__error(x, "unknown key (did you mean '%s'?)", k->name);
                if (k->global == global && !section && k->section && streq(k->name, name))
                        return cfg__error(x, "unknown key (did you mean '%s.%s'?)", k->section,
                                          name);
        }
        if (cfg__key_find(section, name, !global))
                return cfg__error(x,
                                  global ? "unknown key here ('%s' belongs in a function)"
                                         : "unknown key here ('%s' is a top-level key)",
                                  name);
        return cfg__error(x, "unknown key");
}

static int walk_object(CfgCtx *x, const cJSON *obj, void *base, bool global, const char *section);

static int walk_functions(CfgCtx *x, const cJSON *obj) {
        const cJSON *m;
        int i = 0;

        if (!cJSON_IsObject(obj))
                return cfg__error(x, "expected an object of functions, got %s", json_kind(obj));
        cJSON_ArrayForEach (m, obj) {
                size_t mark = cfg__push(x, m->string, i++);
                FunctionConfig *fn;
                int r = cfg__check_duplicate(x, obj, m);

                if (r >= 0 && !cfg__function_name_ok(m->string))
                        r = cfg__error(x, "a function name is 1 to 64 letters, digits, - or _");
                if (r >= 0 && !cJSON_IsObject(m))
                        r = cfg__error(x, "expected an object, got %s", json_kind(m));
                if (r >= 0) {
                        fn = cfg_find_function(x->config, m->string);
                        if (!fn)
                                fn = cfg_add_function(x->config, m->string);
                        r = walk_object(x, m, fn, false, NULL);
                }
                cfg__pop(x, mark);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int walk_member(CfgCtx *x, const cJSON *obj, const cJSON *m, void *base, bool global,
                       const char *section) {
        const CfgKey *k;
        int r = cfg__check_duplicate(x, obj, m);

        if (r < 0)
                return r;
        k = cfg__key_find(section, m->string, global);
        if (k)
                return cfg__key_set(x, k, base, m);
        if (!section && cfg__is_section(m->string, global))
                return walk_object(x, m, base, global, m->string);
        if (!section && global && streq(m->string, "functions"))
                return walk_functions(x, m);
        return unknown_key(x, section, m->string, global);
}

static int walk_object(CfgCtx *x, const cJSON *obj, void *base, bool global, const char *section) {
        const cJSON *m;
        int i = 0;

        if (!cJSON_IsObject(obj))
                return cfg__error(x, "expected an object, got %s", json_kind(obj));
        cJSON_ArrayForEach (m, obj) {
                size_t mark = cfg__push(x, m->string, i++);
                int r = walk_member(x, obj, m, base, global, section);

                cfg__pop(x, mark);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- lifecycle of a Config ---- */

void cfg_init(Config *c) {
        memset(c, 0, sizeof(*c));
        apply_defaults(c, true);
        c->base_dir = cwd_dup();
}

void cfg_deinit(Config *c) {
        if (!c)
                return;
        for (size_t i = 0; i < cfg__n_keys; i++)
                if (cfg__keys[i].global)
                        cfg__key_free(&cfg__keys[i], c);
        for (size_t i = 0; c->functions && i < c->n_functions; i++)
                function_deinit(&c->functions[i]);
        free(c->functions);
        free(c->base_dir);
        for (size_t i = 0; c->warnings && i < c->n_warnings; i++)
                free(c->warnings[i]);
        free(c->warnings);
        memset(c, 0, sizeof(*c));
}

FunctionConfig *cfg_add_function(Config *c, const char *name) {
        FunctionConfig *fn;

        if (cfg_find_function(c, name))
                return NULL;
        c->functions = xrealloc(c->functions, (c->n_functions + 1) * sizeof(*c->functions));
        fn = &c->functions[c->n_functions++];
        memset(fn, 0, sizeof(*fn));
        fn->name = xstrdup(name);
        apply_defaults(fn, false);
        return fn;
}

FunctionConfig *cfg_find_function(const Config *c, const char *name) {
        for (size_t i = 0; i < c->n_functions; i++)
                if (c->functions[i].name && streq(c->functions[i].name, name))
                        return &c->functions[i];
        return NULL;
}

/* ---- files ---- */

int cfg_load_string(Config *c, const char *text, size_t len, const char *base_dir, CfgError *err) {
        char *buf = NULL;
        cJSON *root = NULL;
        CfgCtx x;
        int r;

        cfg__ctx_init(&x, c, err);
        if (base_dir || !c->base_dir) {
                char *cwd = cwd_dup();
                char *abs = cfg__resolve(cwd, base_dir ? base_dir : ".");

                free(cwd);
                free(c->base_dir);
                c->base_dir = abs;
        }
        x.base_dir = c->base_dir;

        r = parse_json(&x, text, len, &buf, &root);
        if (r == 0 && !cJSON_IsObject(root))
                r = cfg__error(&x, "the config must be a JSON object, got %s", json_kind(root));
        if (r == 0)
                r = walk_object(&x, root, c, true, NULL);
        cJSON_Delete(root);
        free(buf);
        return r;
}

int cfg_load_file(Config *c, const char *path, CfgError *err) {
        char *text = NULL, *real, *slash;
        size_t len = 0;
        CfgCtx x;
        int r;

        cfg__ctx_init(&x, c, err);
        r = read_file(&x, path, &text, &len);
        if (r < 0)
                return r;

        real = realpath(path, NULL);
        if (!real) {
                r = -errno;
                free(text);
                error_at(&x, 0, "cannot resolve '%s': %s", path, strerror(-r));
                return r;
        }
        slash = strrchr(real, '/');
        if (slash == real)
                slash[1] = 0;
        else
                *slash = 0;

        r = cfg_load_string(c, text, len, real, err);
        free(real);
        free(text);
        return r;
}

int cfg_merge_lifecycle(Config *c, FunctionConfig *fn, const char *json, size_t len,
                        CfgError *err) {
        FunctionConfig scratch = { 0 };
        char *buf = NULL;
        cJSON *root = NULL;
        CfgCtx x;
        int r;

        cfg__ctx_init(&x, NULL, err);
        x.base_dir = c->base_dir;
        x.mutable_only = true;
        r = parse_json(&x, json, len, &buf, &root);
        if (r < 0)
                return r;

        /* A dry run on a copy with defaults first, so the merge is all or nothing. */
        apply_defaults(&scratch, false);
        r = walk_object(&x, root, &scratch, false, "lifecycle");
        function_deinit(&scratch);
        if (r == 0) {
                x.config = c;
                r = walk_object(&x, root, fn, false, "lifecycle");
        }
        cJSON_Delete(root);
        free(buf);
        return r;
}

/* ---- flags, LEMU_* variables and env files ---- */

/* A function key's value is tried on a function with defaults first, so a bad value
 * fails even when no function is configured yet. */
static int apply_to_functions(CfgCtx *x, Config *c, const CfgKey *k, const cJSON *v) {
        FunctionConfig scratch = { 0 };
        int r;

        apply_defaults(&scratch, false);
        r = cfg__key_set(x, k, &scratch, v);
        function_deinit(&scratch);
        for (size_t i = 0; r == 0 && i < c->n_functions; i++)
                r = cfg__key_set(x, k, &c->functions[i], v);
        return r;
}

static int put_pair(CfgCtx *x, const CfgKey *k, FunctionConfig *fn, const char *name,
                    const char *value) {
        return k->type == CFG_T_ENV ? cfg__env_put(x, fn, name, value)
                                    : cfg__alias_put(x, fn, name, value);
}

/* --env NAME=VALUE and --alias NAME=VERSION add to (or replace in) every function. */
static int set_pair(CfgCtx *x, Config *c, const CfgKey *k, const char *arg) {
        FunctionConfig scratch = { 0 };
        const char *eq = strchr(arg, '=');
        char *name;
        int r;

        if (!eq)
                return cfg__error(x, "expected NAME=%s (got '%s')",
                                  k->type == CFG_T_ENV ? "VALUE" : "VERSION", arg);
        name = xstrndup(arg, (size_t) (eq - arg));
        r = put_pair(x, k, &scratch, name, eq + 1);
        function_deinit(&scratch);
        for (size_t i = 0; r == 0 && i < c->n_functions; i++)
                r = put_pair(x, k, &c->functions[i], name, eq + 1);
        free(name);
        return r;
}

/* A flag's text as the JSON value its key expects; strings stay strings. */
static cJSON *flag_value(const CfgKey *k, const char *value) {
        char *text = NULL;
        const char *t = value;
        cJSON *v;

        switch (k->type) {
        case CFG_T_STRING:
        case CFG_T_PATH:
        case CFG_T_ENUM:
                return k->nullable && !value[0] ? cJSON_CreateNull() : cJSON_CreateString(value);
        case CFG_T_DELAYS:
                if (value[0] != '[')
                        t = text = xasprintf("[%s]", value);
                break;
        default:
                break;
        }
        v = cJSON_ParseWithLengthOpts(t, strlen(t) + 1, NULL, 1);
        free(text);
        /* Not JSON: the setter then says what it expected and quotes the text. */
        return v ? v : cJSON_CreateString(value);
}

static int env_value(CfgCtx *x, const cJSON *v, char buf[32], const char **ret) {
        if (cJSON_IsString(v))
                *ret = v->valuestring;
        else if (cJSON_IsNumber(v))
                *ret = cfg__fmt_num(buf, v->valuedouble);
        else if (cJSON_IsBool(v))
                *ret = cJSON_IsTrue(v) ? "true" : "false";
        else
                return cfg__error(x, "expected a string, got %s", json_kind(v));
        return 0;
}

static int env_block(CfgCtx *x, Config *c, FunctionConfig *only, const cJSON *block) {
        const cJSON *m;
        int i = 0, r = 0;

        cJSON_ArrayForEach (m, block) {
                size_t mark = cfg__push(x, m->string, i++);
                FunctionConfig scratch = { 0 };
                const char *value = NULL;
                char buf[32];

                r = cfg__check_duplicate(x, block, m);
                if (r >= 0)
                        r = env_value(x, m, buf, &value);
                if (r >= 0)
                        r = cfg__env_put(x, &scratch, m->string, value);
                function_deinit(&scratch);
                if (r >= 0 && only)
                        r = cfg__env_put(x, only, m->string, value);
                for (size_t f = 0; r >= 0 && !only && f < c->n_functions; f++)
                        r = cfg__env_put(x, &c->functions[f], m->string, value);
                cfg__pop(x, mark);
                if (r < 0)
                        return r;
        }
        return 0;
}

/*
 * SAM's --env-vars format. "Parameters" go to every function, then a function's own block
 * to it, so the function's own value wins. Unlike SAM, variables are added, not only
 * replaced: lemu has no template that declares them.
 */
static int load_env_file(CfgCtx *x, Config *c, const char *file) {
        char where[CFG_PATH_MAX + 32], *text = NULL, *buf = NULL;
        cJSON *root = NULL;
        size_t len = 0;
        int r;

        r = read_file(x, file, &text, &len);
        if (r < 0)
                return r;
        /* Errors now name a place in the env file, not the flag. */
        snprintf(where, sizeof(where), "in env file '%s'", file);
        x->where = where;
        x->path[0] = 0;
        x->path_len = 0;
        r = parse_json(x, text, len, &buf, &root);
        if (r == 0 && !cJSON_IsObject(root))
                r = cfg__error(x, "expected an object of {NAME: VALUE} blocks, got %s",
                               json_kind(root));
        for (int pass = 0; r == 0 && pass < 2; pass++) {
                const cJSON *m;
                int i = 0;

                cJSON_ArrayForEach (m, root) {
                        bool params = streq(m->string, "Parameters");
                        size_t mark = cfg__push(x, m->string, i++);
                        FunctionConfig *fn = NULL;

                        if (params == (pass == 0)) {
                                r = cfg__check_duplicate(x, root, m);
                                if (r == 0 && !cJSON_IsObject(m))
                                        r = cfg__error(x, "expected an object, got %s",
                                                       json_kind(m));
                                if (r == 0 && !params)
                                        fn = cfg_find_function(c, m->string);
                                if (r == 0 && !params && !fn)
                                        cfg__warn(x, "no function has this name; ignored");
                                else if (r == 0)
                                        r = env_block(x, c, fn, m);
                        }
                        cfg__pop(x, mark);
                        if (r < 0)
                                break;
                }
        }
        cJSON_Delete(root);
        free(buf);
        free(text);
        return r;
}

static int set_flag(Config *c, const char *flag, const char *value, const char *label,
                    CfgError *err) {
        const CfgKey *k = cfg__key_by_flag(flag);
        cJSON *v = NULL;
        char *cwd;
        CfgCtx x;
        int r;

        cfg__ctx_init(&x, c, err);
        snprintf(x.path, sizeof(x.path), "%s", label);
        x.path_len = strlen(x.path);
        if (streq(flag, "env-file"))
                return load_env_file(&x, c, value);
        if (!k) {
                cfg__error(&x, "unknown option");
                return -ENOENT;
        }

        cwd = cwd_dup();
        x.base_dir = cwd;
        if (k->type == CFG_T_ENV || k->type == CFG_T_ALIASES) {
                r = set_pair(&x, c, k, value);
        } else {
                v = flag_value(k, value);
                r = k->global ? cfg__key_set(&x, k, c, v) : apply_to_functions(&x, c, k, v);
        }
        cJSON_Delete(v);
        free(cwd);
        return r;
}

int cfg_set(Config *c, const char *flag, const char *value, CfgError *err) {
        char label[80];

        snprintf(label, sizeof(label), "--%s", flag);
        return set_flag(c, flag, value, label, err);
}

bool cfg_flag_known(const char *flag) {
        return streq(flag, "env-file") || cfg__key_by_flag(flag);
}

int cfg_apply_env(Config *c, char **envp, CfgError *err) {
        for (char **e = envp ? envp : environ; *e; e++) {
                const char *eq = strchr(*e, '=');
                char flag[64], label[80];
                size_t n;
                int r;

                if (strncmp(*e, "LEMU_", 5) != 0 || !eq)
                        continue;
                n = (size_t) (eq - *e) - 5;
                if (n == 0 || n >= sizeof(flag))
                        continue;
                for (size_t i = 0; i < n; i++) {
                        char ch = (*e)[5 + i];

                        flag[i] = ch == '_' ? '-' : (ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
                }
                flag[n] = 0;
                /* Other LEMU_ variables belong to other parts of lemu (or tests). */
                if (!cfg_flag_known(flag))
                        continue;
                snprintf(label, sizeof(label), "%.*s", (int) (n + 5), *e);
                r = set_flag(c, flag, eq + 1, label, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- cross-key checks ---- */

static void resolve_in_place(char **p, const char *base) {
        char *abs;

        if (!*p || (*p)[0] == '/')
                return;
        abs = cfg__resolve(base, *p);
        free(*p);
        *p = abs;
}

static int check_path(CfgCtx *x, const char *key, const char *path, bool dir) {
        size_t mark = cfg__push(x, key, 0);
        struct stat st;
        int r = 0;

        if (stat(path, &st) < 0)
                r = errno == ENOENT ? cfg__error(x, "'%s' does not exist", path)
                                    : cfg__error(x, "'%s': %s", path, strerror(errno));
        else if (dir && !S_ISDIR(st.st_mode))
                r = cfg__error(x, "'%s' is not a directory", path);
        else if (!dir && S_ISDIR(st.st_mode))
                r = cfg__error(x, "'%s' is a directory, not an executable file", path);
        else if (!dir && !S_ISREG(st.st_mode))
                r = cfg__error(x, "'%s' is not a regular file", path);
        else if (!dir && access(path, X_OK) < 0)
                r = cfg__error(x, "'%s' is not executable (chmod +x it)", path);
        cfg__pop(x, mark);
        return r;
}

static int validate_function(CfgCtx *x, const Config *c, FunctionConfig *fn) {
        size_t mark = x->path_len, env = 0;
        int r;

        if (fn->bootstrap && fn->command)
                return cfg__error(x, "both bootstrap and command are set; keep one");
        if (!fn->bootstrap && !fn->command)
                return cfg__error(x, "neither bootstrap nor command is set; set one");
        if (fn->bootstrap) {
                resolve_in_place(&fn->bootstrap, c->base_dir);
                r = check_path(x, "bootstrap", fn->bootstrap, false);
                if (r < 0)
                        return r;
        }

        if (!fn->code_dir && fn->bootstrap) {
                const char *slash = strrchr(fn->bootstrap, '/');

                fn->code_dir = slash == fn->bootstrap
                                       ? xstrdup("/")
                                       : xstrndup(fn->bootstrap, (size_t) (slash - fn->bootstrap));
        } else if (!fn->code_dir) {
                fn->code_dir = xstrdup(c->base_dir);
        }
        resolve_in_place(&fn->code_dir, c->base_dir);
        r = check_path(x, "code_dir", fn->code_dir, true);
        if (r < 0)
                return r;
        if (fn->extensions_dir) {
                resolve_in_place(&fn->extensions_dir, c->base_dir);
                r = check_path(x, "extensions_dir", fn->extensions_dir, true);
                if (r < 0)
                        return r;
        }
        resolve_in_place(&fn->async.on_failure, c->base_dir);
        if (fn->sandbox.cgroup_root && !streq(fn->sandbox.cgroup_root, "auto"))
                resolve_in_place(&fn->sandbox.cgroup_root, c->base_dir);

        for (size_t i = 0; i < fn->n_environment; i++)
                env += strlen(fn->environment[i].key) + strlen(fn->environment[i].value);
        r = 0;
        if (env > CFG_ENV_MAX) {
                mark = cfg__push(x, "environment", 0);
                r = cfg__error(x, "variables take %zu bytes, over Lambda's 4 KB limit (%d)", env,
                               CFG_ENV_MAX);
        } else if (fn->reserved_concurrency > (int64_t) c->account_concurrency) {
                mark = cfg__push(x, "reserved_concurrency", 0);
                r = cfg__error(x, "%lld is more than account_concurrency (%u)",
                               (long long) fn->reserved_concurrency, c->account_concurrency);
        } else if (fn->reserved_concurrency >= 0 &&
                   fn->lifecycle.provisioned > fn->reserved_concurrency) {
                mark = cfg__push(x, "lifecycle.provisioned", 0);
                r = cfg__error(x, "%u is more than reserved_concurrency (%lld)",
                               fn->lifecycle.provisioned, (long long) fn->reserved_concurrency);
        } else if (fn->lifecycle.provisioned > c->account_concurrency) {
                mark = cfg__push(x, "lifecycle.provisioned", 0);
                r = cfg__error(x, "%u is more than account_concurrency (%u)",
                               fn->lifecycle.provisioned, c->account_concurrency);
        }
        if (r < 0)
                cfg__pop(x, mark);
        return r;
}

int cfg_validate(Config *c, CfgError *err) {
        CfgCtx x;

        cfg__ctx_init(&x, c, err);
        if (!c->base_dir)
                c->base_dir = cwd_dup();
        resolve_in_place(&c->state_dir, c->base_dir);

        for (size_t i = 0; i < c->n_functions; i++) {
                FunctionConfig *fn = &c->functions[i];
                size_t mark = cfg__push(&x, "functions", 0), mark2;
                int r = 0;

                mark2 = cfg__push(&x, fn->name ? fn->name : "?", (int) i);
                if (!fn->name || !cfg__function_name_ok(fn->name))
                        r = cfg__error(&x, "a function name is 1 to 64 letters, digits, - or _");
                for (size_t j = 0; r == 0 && j < i; j++)
                        if (streq(c->functions[j].name, fn->name))
                                r = cfg__error(&x, "two functions have this name");
                if (r == 0)
                        r = validate_function(&x, c, fn);
                cfg__pop(&x, mark2);
                cfg__pop(&x, mark);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- back to JSON ---- */

static cJSON *dump_scope(const void *base, bool global, const char *base_dir) {
        cJSON *obj = cJSON_CreateObject();

        for (size_t i = 0; i < cfg__n_keys; i++) {
                const CfgKey *k = &cfg__keys[i];
                cJSON *target = obj;

                if (k->global != global)
                        continue;
                if (k->section) {
                        target = cJSON_GetObjectItemCaseSensitive(obj, k->section);
                        if (!target)
                                target = cJSON_AddObjectToObject(obj, k->section);
                }
                cJSON_AddItemToObject(target, k->name, cfg__key_json(k, base, base_dir));
        }
        return obj;
}

/*
 * cJSON indents with tabs and puts a tab after each colon. It escapes tabs inside strings,
 * so every raw tab is layout: make it two spaces of indent, or one space after a colon, and
 * print an empty object as {}.
 */
static char *relayout(const char *text) {
        Buf b = BUF_INIT;

        for (const char *p = text; *p; p++) {
                if (p[0] == '{' && p[1] == '\n') {
                        size_t tabs = strspn(p + 2, "\t");

                        if (p[2 + tabs] == '}') {
                                buf_puts(&b, "{}");
                                p += 2 + tabs;
                                continue;
                        }
                }
                if (*p != '\t')
                        buf_append(&b, p, 1);
                else if (p > text && p[-1] == ':')
                        buf_puts(&b, " ");
                else
                        buf_puts(&b, "  ");
        }
        buf_puts(&b, "\n");
        return buf_steal(&b, NULL);
}

static char *print_owned(cJSON *root, bool pretty) {
        char *text = pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
        char *out;

        assert(text);
        out = pretty ? relayout(text) : xstrdup(text);
        cJSON_free(text);
        cJSON_Delete(root);
        return out;
}

char *cfg_dump(const Config *c) {
        cJSON *root = dump_scope(c, true, c->base_dir);
        cJSON *fns = cJSON_AddObjectToObject(root, "functions");

        for (size_t i = 0; i < c->n_functions; i++)
                cJSON_AddItemToObject(fns, c->functions[i].name,
                                      dump_scope(&c->functions[i], false, c->base_dir));
        return print_owned(root, true);
}

char *cfg_dump_function(const FunctionConfig *fn) {
        return print_owned(dump_scope(fn, false, NULL), false);
}
