/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SAM templates: libyaml loads the document (CloudFormation's short tags such as !Ref, !Sub
 * and !GetAtt are local YAML tags, which libyaml keeps on the node without resolving), and
 * each AWS::Serverless::Function, merged over Globals.Function, becomes a function of a
 * JSON config that cfg_load_string() then reads, so a template's values get the very checks
 * a config's get. What a template cannot say locally is resolved where it can be (!Ref and
 * !Sub of Parameters' defaults and pseudo parameters) and named otherwise: an environment
 * variable from !GetAtt is left out with a warning (set it with --env-file, as with SAM).
 *
 * Runtimes: provided.* runs CodeUri/bootstrap; nodejs* runs aws-lambda-ric (from CodeUri's
 * node_modules, a parent's, or a global one) under the host's node; python3.* runs
 * `python3 -m awslambdaric` when the module is importable (vendored in CodeUri or
 * installed), else loading fails naming what to install.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <yaml.h>

#include "buf.h"
#include "macro.h"
#include "template.h"
#include "xalloc.h"

extern char **environ;

typedef struct Tpl {
        yaml_document_t doc;
        const char *path;
        char *dir; /* the template's folder: CodeUri is relative to it */
        const Config *cfg;
        yaml_node_t *params;  /* Parameters, or NULL */
        yaml_node_t *globals; /* Globals.Function, or NULL */
        char *err;
        size_t errn;
        char **notes; /* warnings, deduplicated, in order */
        size_t n_notes;
} Tpl;

static int fail(Tpl *t, const yaml_node_t *at, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int fail(Tpl *t, const yaml_node_t *at, const char *fmt, ...) {
        char msg[768];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (at)
                snprintf(t->err, t->errn, "%s:%zu:%zu: %s", t->path, at->start_mark.line + 1,
                         at->start_mark.column + 1, msg);
        else
                snprintf(t->err, t->errn, "%s: %s", t->path, msg);
        return -EINVAL;
}

static void note(Tpl *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(Tpl *t, const char *fmt, ...) {
        char msg[768];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        for (size_t i = 0; i < t->n_notes; i++)
                if (strcmp(t->notes[i], msg) == 0)
                        return;
        t->notes = xrealloc(t->notes, (t->n_notes + 1) * sizeof(char *));
        t->notes[t->n_notes++] = xstrdup(msg);
}

/* ---- nodes ------------------------------------------------------------------------------ */

static yaml_node_t *node(Tpl *t, int i) {
        return yaml_document_get_node(&t->doc, i);
}

static const char *scalar(const yaml_node_t *n) {
        return n && n->type == YAML_SCALAR_NODE ? (const char *) n->data.scalar.value : NULL;
}

static const char *tag(const yaml_node_t *n) {
        return n && n->tag ? (const char *) n->tag : "";
}

/* A plain (untagged) scalar's text; intrinsics are not plain. */
static const char *plain(const yaml_node_t *n) {
        return scalar(n) && tag(n)[0] != '!' ? scalar(n) : NULL;
}

static yaml_node_t *map_get(Tpl *t, const yaml_node_t *map, const char *key) {
        if (!map || map->type != YAML_MAPPING_NODE)
                return NULL;
        for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
             p++) {
                const char *k = scalar(node(t, p->key));
                if (k && strcmp(k, key) == 0)
                        return node(t, p->value);
        }
        return NULL;
}

/* The one key of a one-pair mapping ({"Ref": X}, {"Fn::Sub": ...}), or NULL. */
static const char *only_key(Tpl *t, const yaml_node_t *n, yaml_node_t **ret_value) {
        if (!n || n->type != YAML_MAPPING_NODE ||
            n->data.mapping.pairs.top - n->data.mapping.pairs.start != 1)
                return NULL;
        *ret_value = node(t, n->data.mapping.pairs.start->value);
        return scalar(node(t, n->data.mapping.pairs.start->key));
}

/* A parameter's Default or a pseudo parameter; NULL when there is none. */
static const char *ref_value(Tpl *t, const char *name) {
        if (strcmp(name, "AWS::Region") == 0)
                return t->cfg->region;
        if (strcmp(name, "AWS::AccountId") == 0)
                return t->cfg->account_id;
        if (strcmp(name, "AWS::StackName") == 0)
                return "lemu";
        if (strcmp(name, "AWS::Partition") == 0)
                return "aws";
        if (strcmp(name, "AWS::URLSuffix") == 0)
                return "amazonaws.com";
        return plain(map_get(t, map_get(t, t->params, name), "Default"));
}

/* ${Name} of !Sub: each name resolved by ref_value(); ${!Literal} stays "${Literal}". */
static bool substitute(Tpl *t, const char *s, Buf *out) {
        while (*s) {
                const char *open = strstr(s, "${");
                if (!open) {
                        buf_puts(out, s);
                        break;
                }
                buf_append(out, s, (size_t) (open - s));
                const char *close = strchr(open, '}');
                if (!close)
                        return false;
                char *name = xstrndup(open + 2, (size_t) (close - open - 2));
                const char *v = name[0] == '!' ? NULL : ref_value(t, name);
                if (name[0] == '!')
                        buf_printf(out, "${%s}", name + 1);
                else if (v)
                        buf_puts(out, v);
                free(name);
                if (!v && open[2] != '!')
                        return false;
                s = close + 1;
        }
        return true;
}

/*
 * text() - a property's value as text: plain scalars as they are, !Ref / !Sub (short or
 * long form) resolved locally. Return: a malloc'd string, or NULL when it cannot be
 * resolved here (*@ret_what then names the intrinsic, e.g. "!GetAtt").
 */
static char *text(Tpl *t, const yaml_node_t *n, const char **ret_what) {
        yaml_node_t *arg = NULL;
        const char *lk = only_key(t, n, &arg);
        const char *tg = tag(n);
        Buf b = BUF_INIT;

        *ret_what = tg[0] == '!' ? tg : (lk ? lk : "a value that is not text");
        if (plain(n))
                return xstrdup(plain(n));
        if ((strcmp(tg, "!Ref") == 0 && scalar(n)) || (lk && strcmp(lk, "Ref") == 0)) {
                const char *ref = scalar(strcmp(tg, "!Ref") == 0 ? n : arg);
                const char *v = ref ? ref_value(t, ref) : NULL;
                return v ? xstrdup(v) : NULL;
        }
        const yaml_node_t *sub = strcmp(tg, "!Sub") == 0            ? n
                                 : lk && strcmp(lk, "Fn::Sub") == 0 ? arg
                                                                    : NULL;
        if (sub && scalar(sub)) {
                if (substitute(t, scalar(sub), &b))
                        return b.data ? buf_steal(&b, NULL) : xstrdup("");
                buf_free(&b);
        }
        return NULL;
}

/* A property of the function, else of Globals.Function. */
static yaml_node_t *prop(Tpl *t, const yaml_node_t *props, const char *key) {
        yaml_node_t *v = map_get(t, props, key);
        return v ? v : map_get(t, t->globals, key);
}

/* ---- runtimes ----------------------------------------------------------------------------- */

static bool is_file(const char *p, bool exec) {
        struct stat st;
        return stat(p, &st) == 0 && S_ISREG(st.st_mode) && (!exec || access(p, X_OK) == 0);
}

/* @name on the host's PATH, or NULL. */
static char *which(const char *name) {
        const char *path = getenv("PATH");
        char *copy = xstrdup(path ? path : "/usr/local/bin:/usr/bin:/bin"), *save = NULL;

        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
                char *p = xasprintf("%s/%s", *d ? d : ".", name);
                if (is_file(p, true)) {
                        free(copy);
                        return p;
                }
                free(p);
        }
        free(copy);
        return NULL;
}

/* aws-lambda-ric's entry point as Node would resolve it from @dir, then global folders. */
static char *find_node_ric(const char *dir) {
        static const char *const globals[] = { "/usr/local/lib/node_modules",
                                               "/usr/lib/node_modules" };
        char *d = xstrdup(dir);

        for (;;) {
                char *p = xasprintf("%s/node_modules/aws-lambda-ric/bin/index.mjs", d);
                if (is_file(p, false)) {
                        free(d);
                        return p;
                }
                free(p);
                char *slash = strrchr(d, '/');
                if (!slash || slash == d)
                        break;
                *slash = '\0';
        }
        free(d);
        for (size_t i = 0; i < ARRAY_SIZE(globals); i++) {
                char *p = xasprintf("%s/aws-lambda-ric/bin/index.mjs", globals[i]);
                if (is_file(p, false))
                        return p;
                free(p);
        }
        return NULL;
}

/* True when `python -c "import awslambdaric"` succeeds in @dir (which may vendor it). */
static bool python_has_ric(const char *python, const char *dir) {
        static const char code[] =
                "import sys; sys.path.insert(0, sys.argv[1]); import awslambdaric";
        posix_spawn_file_actions_t fa;
        pid_t pid;
        int status;

        char *argv[] = { (char *) python, (char *) "-c", (char *) code, (char *) dir, NULL };
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
        int r = posix_spawn(&pid, python, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (r != 0)
                return false;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return false;
        return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void add_command(cJSON *fn, const char *const *argv) {
        cJSON *cmd = cJSON_AddArrayToObject(fn, "command");
        for (; *argv; argv++)
                cJSON_AddItemToArray(cmd, cJSON_CreateString(*argv));
}

/* How the function starts, by Runtime. */
static int set_runtime(Tpl *t, const char *name, const yaml_node_t *at, const char *runtime,
                       const char *code_dir, const char *handler, cJSON *fn) {
        if (strncmp(runtime, "provided", 8) == 0) {
                char *boot = xasprintf("%s/bootstrap", code_dir);
                if (!is_file(boot, true)) {
                        fail(t, at,
                             "function '%s' (%s) needs an executable 'bootstrap' in its "
                             "CodeUri '%s'",
                             name, runtime, code_dir);
                        free(boot);
                        return -EINVAL;
                }
                cJSON_AddStringToObject(fn, "bootstrap", boot);
                free(boot);
                return 0;
        }
        if (strncmp(runtime, "nodejs", 6) == 0) {
                char *ric = find_node_ric(code_dir);
                char *node = which("node");
                if (!ric || !node) {
                        free(ric);
                        free(node);
                        return fail(t, at, "function '%s' (%s) needs %s: %s", name, runtime,
                                    node ? "aws-lambda-ric" : "node",
                                    node ? "run 'npm install aws-lambda-ric@3' in its CodeUri "
                                           "(or install it globally)"
                                         : "install Node.js (apt-get install nodejs)");
                }
                const char *argv[] = { node, ric, handler, NULL };
                add_command(fn, argv);
                free(ric);
                free(node);
                return 0;
        }
        if (strncmp(runtime, "python3", 7) == 0) {
                /* python3.12 → the host's python3.12 if there is one, else its python3. */
                char *python = which(runtime);
                if (!python)
                        python = which("python3");
                if (!python)
                        return fail(t, at, "function '%s' (%s) needs python3 on the PATH", name,
                                    runtime);
                bool ok = python_has_ric(python, code_dir);
                if (!ok) {
                        int r = fail(t, at,
                                     "function '%s' (%s) needs the Python runtime interface "
                                     "client, which %s cannot import: run 'pip install -t %s "
                                     "awslambdaric' (or 'pip install awslambdaric' for %s)",
                                     name, runtime, python, code_dir, python);
                        free(python);
                        return r;
                }
                const char *argv[] = { python, "-m", "awslambdaric", handler, NULL };
                add_command(fn, argv);
                free(python);
                return 0;
        }
        return fail(t, at,
                    "function '%s': runtime '%s' is not supported; lemu runs provided.* "
                    "(a bootstrap), nodejs* (aws-lambda-ric) and python3.* (awslambdaric)",
                    name, runtime);
}

/* ---- events ----------------------------------------------------------------------------- */

/* @stream: whether a stream is relayed as it arrives; the config's default when < 0. */
static void set_http(Tpl *t, cJSON *fn, const char *path, const char *event, const char *method,
                     int stream) {
        cJSON *h = cJSON_AddObjectToObject(fn, "http");
        cJSON_AddStringToObject(h, "path", path);
        cJSON_AddStringToObject(h, "event", event);
        if (stream >= 0)
                cJSON_AddBoolToObject(h, "stream", stream);
        if (!method || strcasecmp(method, "any") == 0 ||
            strcmp(method, "x-amazon-apigateway-any-method") == 0)
                method = "ANY";
        cJSON_AddStringToObject(h, "method", method);
}

/* The function's one HTTP route from Events (Api, HttpApi) or FunctionUrlConfig. */
static int set_events(Tpl *t, const char *name, const yaml_node_t *props, cJSON *fn) {
        yaml_node_t *events = map_get(t, props, "Events");
        char *first = NULL;

        if (events && events->type == YAML_MAPPING_NODE) {
                for (yaml_node_pair_t *p = events->data.mapping.pairs.start;
                     p < events->data.mapping.pairs.top; p++) {
                        const char *ename = scalar(node(t, p->key));
                        yaml_node_t *ev = node(t, p->value);
                        const char *type = plain(map_get(t, ev, "Type"));
                        yaml_node_t *ep = map_get(t, ev, "Properties");
                        const char *path = plain(map_get(t, ep, "Path"));
                        const char *method = plain(map_get(t, ep, "Method"));
                        const char *kind;

                        if (!type)
                                return fail(t, ev, "function '%s': event '%s' has no Type", name,
                                            ename ? ename : "?");
                        if (strcmp(type, "Api") == 0) {
                                kind = "apigw-v1";
                        } else if (strcmp(type, "HttpApi") == 0) {
                                const char *pf = plain(map_get(t, ep, "PayloadFormatVersion"));
                                kind = pf && strcmp(pf, "1.0") == 0 ? "apigw-v1" : "apigw-v2";
                        } else {
                                note(t,
                                     "function '%s': event '%s' of type %s is not served over "
                                     "HTTP; invoke the function with such an event ('lemu "
                                     "event')",
                                     name, ename ? ename : "?", type);
                                continue;
                        }
                        if (!path && strcmp(type, "Api") == 0)
                                return fail(t, ev, "function '%s': Api event '%s' has no Path",
                                            name, ename ? ename : "?");
                        if (!path)
                                path = "/*"; /* an HttpApi event without a path: $default */
                        if (path[0] != '/')
                                return fail(t, ev,
                                            "function '%s': event '%s': Path must start with /",
                                            name, ename ? ename : "?");
                        if (first) {
                                note(t,
                                     "function '%s': event '%s' (%s %s) is not served: lemu "
                                     "maps one HTTP route per function, here '%s'",
                                     name, ename ? ename : "?", method ? method : "ANY", path,
                                     first);
                                continue;
                        }
                        /* HTTP APIs never stream, even with payload 1.0. */
                        set_http(t, fn, path, kind, method, strcmp(type, "HttpApi") == 0 ? 0 : -1);
                        first = xstrdup(ename ? ename : "?");
                }
        }
        yaml_node_t *url = map_get(t, props, "FunctionUrlConfig");
        if (url) {
                const char *mode = plain(map_get(t, url, "InvokeMode"));
                char *path = xasprintf("/%s/*", name);
                if (first)
                        note(t,
                             "function '%s': its Function URL is not served: lemu maps one "
                             "HTTP route per function, here event '%s'",
                             name, first);
                else /* InvokeMode: BUFFERED (the default) or RESPONSE_STREAM */
                        set_http(t, fn, path, "function-url", NULL,
                                 mode && strcmp(mode, "RESPONSE_STREAM") == 0);
                free(path);
        }
        free(first);
        return 0;
}

/* ---- functions ---------------------------------------------------------------------------- */

static const char *const used_props[] = {
        "Handler", "Runtime",           "CodeUri",          "MemorySize",
        "Timeout", "Environment",       "EphemeralStorage", "ReservedConcurrentExecutions",
        "Events",  "FunctionUrlConfig", "FunctionName",     "AutoPublishAlias",
};

static void note_unknown(Tpl *t, const yaml_node_t *props, const char *where) {
        if (!props || props->type != YAML_MAPPING_NODE)
                return;
        for (yaml_node_pair_t *p = props->data.mapping.pairs.start;
             p < props->data.mapping.pairs.top; p++) {
                const char *k = scalar(node(t, p->key));
                bool used = false;
                for (size_t i = 0; k && i < ARRAY_SIZE(used_props); i++)
                        used = used || strcmp(k, used_props[i]) == 0;
                if (k && !used)
                        note(t, "%s property '%s' is not used by lemu; ignored", where, k);
        }
}

/* A number property as a JSON number (so that the config's range checks apply), or as the
 * text it is, which the config then refuses with the key's name. */
static int add_number(Tpl *t, const char *name, cJSON *fn, const char *key, const yaml_node_t *n) {
        const char *what;
        char *s = text(t, n, &what);

        if (!s)
                return fail(t, n, "function '%s': %s cannot be resolved locally (%s)", name, key,
                            what);
        char *end;
        double v = strtod(s, &end);
        if (*s && !*end)
                cJSON_AddNumberToObject(fn, key, v);
        else
                cJSON_AddStringToObject(fn, key, s);
        free(s);
        return 0;
}

static void add_variables(Tpl *t, const char *name, const yaml_node_t *vars, cJSON *env) {
        if (!vars || vars->type != YAML_MAPPING_NODE)
                return;
        for (yaml_node_pair_t *p = vars->data.mapping.pairs.start; p < vars->data.mapping.pairs.top;
             p++) {
                const char *k = scalar(node(t, p->key));
                const char *what;
                char *v = text(t, node(t, p->value), &what);
                if (!k)
                        continue;
                if (!v) {
                        note(t,
                             "function '%s': environment variable %s comes from %s, which "
                             "cannot be resolved locally; left out (set it with --env-file)",
                             name, k, what);
                        continue;
                }
                cJSON_DeleteItemFromObjectCaseSensitive(env, k);
                cJSON_AddStringToObject(env, k, v);
                free(v);
        }
}

static int add_function(Tpl *t, const char *logical, const yaml_node_t *res, cJSON *fns) {
        yaml_node_t *props = map_get(t, res, "Properties");
        const char *what;
        char *name = NULL, *code = NULL, *runtime = NULL, *handler = NULL, *code_dir = NULL;
        cJSON *fn = cJSON_CreateObject();
        int r = -EINVAL;

        yaml_node_t *fname = map_get(t, props, "FunctionName");
        name = fname ? text(t, fname, &what) : NULL;
        if (!name)
                name = xstrdup(logical);
        note_unknown(t, props, "Properties:");

        yaml_node_t *n = prop(t, props, "Runtime");
        if (!n) {
                const char *pt = plain(prop(t, props, "PackageType"));
                fail(t, res, "function '%s' has no Runtime%s", name,
                     pt && strcmp(pt, "Image") == 0
                             ? ": container image functions are not supported (run their "
                               "bootstrap with 'lemu serve BOOTSTRAP' or 'aws-lambda-rie')"
                             : "");
                goto out;
        }
        runtime = text(t, n, &what);
        if (!runtime) {
                fail(t, n, "function '%s': Runtime cannot be resolved locally (%s)", name, what);
                goto out;
        }
        n = prop(t, props, "Handler");
        handler = n ? text(t, n, &what) : NULL;
        if (n && !handler) {
                fail(t, n, "function '%s': Handler cannot be resolved locally (%s)", name, what);
                goto out;
        }
        if (!handler)
                handler = xstrdup(strncmp(runtime, "provided", 8) == 0 ? "function.handler"
                                                                       : "index.handler");
        n = prop(t, props, "CodeUri");
        code = n ? text(t, n, &what) : xstrdup(".");
        if (!code) {
                fail(t, n, "function '%s': CodeUri must be a local folder (lemu cannot fetch %s)",
                     name, n && n->type == YAML_MAPPING_NODE ? "an S3 location" : what);
                goto out;
        }
        size_t cl = strlen(code);
        if ((cl > 4 && strcmp(code + cl - 4, ".zip") == 0) ||
            (cl > 4 && strcmp(code + cl - 4, ".jar") == 0)) {
                fail(t, n,
                     "function '%s': CodeUri '%s' is an archive; lemu runs code from a "
                     "folder: unpack it and point CodeUri there",
                     name, code);
                goto out;
        }
        code_dir = code[0] == '/' ? xstrdup(code) : xasprintf("%s/%s", t->dir, code);
        char real[PATH_MAX];
        if (!realpath(code_dir, real)) {
                fail(t, n ? n : res, "function '%s': CodeUri '%s': %s", name, code,
                     strerror(errno));
                goto out;
        }
        free(code_dir);
        code_dir = xstrdup(real);
        cJSON_AddStringToObject(fn, "code_dir", code_dir);
        cJSON_AddStringToObject(fn, "runtime", runtime);
        cJSON_AddStringToObject(fn, "handler", handler);
        if (set_runtime(t, name, prop(t, props, "Runtime"), runtime, code_dir, handler, fn) < 0)
                goto out;

        static const struct {
                const char *prop, *key;
        } numbers[] = {
                { "MemorySize", "memory_mb" },
                { "Timeout", "timeout_s" },
                { "ReservedConcurrentExecutions", "reserved_concurrency" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(numbers); i++) {
                n = prop(t, props, numbers[i].prop);
                if (n && add_number(t, name, fn, numbers[i].key, n) < 0)
                        goto out;
        }
        n = map_get(t, prop(t, props, "EphemeralStorage"), "Size");
        if (n && add_number(t, name, fn, "ephemeral_storage_mb", n) < 0)
                goto out;
        cJSON *env = cJSON_AddObjectToObject(fn, "environment");
        add_variables(t, name, map_get(t, map_get(t, t->globals, "Environment"), "Variables"), env);
        add_variables(t, name, map_get(t, map_get(t, props, "Environment"), "Variables"), env);
        n = prop(t, props, "AutoPublishAlias");
        char *alias = n ? text(t, n, &what) : NULL;
        if (alias) {
                cJSON *a = cJSON_AddObjectToObject(fn, "aliases");
                cJSON_AddStringToObject(a, alias, "$LATEST");
                free(alias);
        }
        r = set_events(t, name, props, fn);
        if (r < 0)
                goto out;
        if (cJSON_GetObjectItemCaseSensitive(fns, name)) {
                r = fail(t, res, "two functions are named '%s'", name);
                goto out;
        }
        cJSON_AddItemToObject(fns, name, fn);
        fn = NULL;
        r = 0;
out:
        cJSON_Delete(fn);
        free(name);
        free(code);
        free(runtime);
        free(handler);
        free(code_dir);
        return r;
}

static int load_doc(Tpl *t, FILE *f) {
        yaml_parser_t parser;

        if (!yaml_parser_initialize(&parser))
                return fail(t, NULL, "cannot start the YAML parser");
        yaml_parser_set_input_file(&parser, f);
        int ok = yaml_parser_load(&parser, &t->doc);
        if (!ok)
                snprintf(t->err, t->errn, "%s:%zu:%zu: not valid YAML: %s%s%s", t->path,
                         parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                         parser.problem ? parser.problem : "parse error", parser.context ? " " : "",
                         parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        return ok ? 0 : -EINVAL;
}

int tpl_load(Config *c, const char *path, FILE *warn, char *err, size_t errn) {
        Tpl t = { .path = path, .cfg = c, .err = err, .errn = errn };
        char real[PATH_MAX];
        cJSON *root = NULL;
        int r;

        FILE *f = fopen(path, "re");
        if (!f) {
                snprintf(err, errn, "cannot open template '%s': %s", path, strerror(errno));
                return -errno;
        }
        r = load_doc(&t, f);
        fclose(f);
        if (r < 0)
                return r;
        if (!realpath(path, real))
                snprintf(real, sizeof(real), "%s", path);
        char *slash = strrchr(real, '/');
        t.dir = slash && slash != real ? xstrndup(real, (size_t) (slash - real)) : xstrdup("/");

        yaml_node_t *top = yaml_document_get_root_node(&t.doc);
        yaml_node_t *resources = map_get(&t, top, "Resources");
        if (!top || top->type != YAML_MAPPING_NODE || !resources ||
            resources->type != YAML_MAPPING_NODE) {
                r = fail(&t, top, "not a SAM template: no Resources mapping");
                goto out;
        }
        t.params = map_get(&t, top, "Parameters");
        yaml_node_t *globals = map_get(&t, top, "Globals");
        t.globals = map_get(&t, globals, "Function");
        note_unknown(&t, t.globals, "Globals.Function:");
        if (globals && globals->type == YAML_MAPPING_NODE)
                for (yaml_node_pair_t *p = globals->data.mapping.pairs.start;
                     p < globals->data.mapping.pairs.top; p++) {
                        const char *k = scalar(node(&t, p->key));
                        if (k && strcmp(k, "Function") != 0)
                                note(&t, "Globals.%s is not used by lemu; ignored", k);
                }

        root = cJSON_CreateObject();
        cJSON *fns = cJSON_AddObjectToObject(root, "functions");
        size_t count = 0;
        for (yaml_node_pair_t *p = resources->data.mapping.pairs.start;
             p < resources->data.mapping.pairs.top; p++) {
                const char *logical = scalar(node(&t, p->key));
                yaml_node_t *res = node(&t, p->value);
                const char *type = plain(map_get(&t, res, "Type"));
                if (!logical || !type || strcmp(type, "AWS::Serverless::Function") != 0)
                        continue;
                r = add_function(&t, logical, res, fns);
                if (r < 0)
                        goto out;
                count++;
        }
        if (count == 0) {
                r = fail(&t, resources, "no AWS::Serverless::Function resource");
                goto out;
        }
        char *json = cJSON_PrintUnformatted(root);
        CfgError cerr = { 0 };
        /* Every path in it is absolute: base_dir (and so the default state_dir) stays the
         * working directory, not the template's folder, as with SAM's .aws-sam. */
        r = cfg_load_string(c, json, strlen(json), NULL, &cerr);
        cJSON_free(json);
        if (r < 0) {
                char msg[900];
                cerr.line = cerr.col = 0; /* a place in our JSON, not in the template */
                cfg_format_error(&cerr, msg, sizeof(msg));
                snprintf(err, errn, "%s: %s", path, msg);
        }
        for (size_t i = 0; r == 0 && warn && i < t.n_notes; i++)
                fprintf(warn, "lemu: %s: %s\n", path, t.notes[i]);
out:
        cJSON_Delete(root);
        for (size_t i = 0; i < t.n_notes; i++)
                free(t.notes[i]);
        free(t.notes);
        free(t.dir);
        yaml_document_delete(&t.doc);
        return r;
}
