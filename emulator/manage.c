/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The read-only management calls tools make before they invoke (DESIGN "Invoke API"):
 * ListFunctions, GetFunction, GetFunctionConfiguration, ListAliases and GetAlias of the
 * Lambda API 2015-03-31, in AWS's JSON shapes, with names, ARNs, partial ARNs and
 * qualifiers (aliases, $LATEST) resolved as Invoke resolves them. lemu has no deployment
 * package: CodeSize and LastModified are the bootstrap's, and CodeSha256 / RevisionId are a
 * fingerprint of it (size, time, inode), so they change when the code changes.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "codec.h"
#include "emulator.h"
#include "invoke.h"
#include "macro.h"
#include "xalloc.h"

#define FUNCTIONS_PATH "/2015-03-31/functions"

#if defined(__aarch64__)
#        define ARCH "arm64"
#else
#        define ARCH "x86_64"
#endif

/* What lemu knows of a function's code: the bootstrap, or the command's program. */
typedef struct CodeInfo {
        uint64_t size;
        char modified[40];
        uint8_t fingerprint[32];
} CodeInfo;

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                h = (h ^ ((const uint8_t *) p)[i]) * 1099511628211ull;
        return h;
}

/* One stat(2) of a local file: no I/O worth taking off the loop. */
static void code_info(const FunctionConfig *fc, CodeInfo *ret) {
        const char *path = fc->bootstrap ? fc->bootstrap : fc->code_dir;
        struct stat st;
        struct tm tm;
        time_t t;

        memset(ret, 0, sizeof(*ret));
        if (!path || stat(path, &st) < 0)
                memset(&st, 0, sizeof(st));
        ret->size = fc->bootstrap ? (uint64_t) st.st_size : 0;
        t = st.st_mtim.tv_sec;
        gmtime_r(&t, &tm);
        size_t n = strftime(ret->modified, sizeof(ret->modified), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(ret->modified + n, sizeof(ret->modified) - n, ".%03ld+0000",
                 st.st_mtim.tv_nsec / 1000000);
        uint64_t h = 1469598103934665603ull;
        h = fnv(h, path ? path : "", path ? strlen(path) : 0);
        h = fnv(h, &st.st_size, sizeof(st.st_size));
        h = fnv(h, &st.st_mtim, sizeof(st.st_mtim));
        h = fnv(h, &st.st_ino, sizeof(st.st_ino));
        for (size_t i = 0; i < 4; i++) {
                h = fnv(h, &i, sizeof(i));
                memcpy(ret->fingerprint + i * 8, &h, 8);
        }
}

static void add_b64(cJSON *o, const char *key, const void *p, size_t n) {
        Buf b = BUF_INIT;
        base64_encode(&b, p, n);
        cJSON_AddStringToObject(o, key, b.data ? b.data : "");
        buf_free(&b);
}

static void add_revision(cJSON *o, const CodeInfo *ci) {
        char hex[33], id[37];
        hex_lower(hex, ci->fingerprint, 16);
        snprintf(id, sizeof(id), "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
                 hex + 20);
        cJSON_AddStringToObject(o, "RevisionId", id);
}

/* FunctionConfiguration, for @qualifier (NULL: unqualified). */
static cJSON *configuration_json(Function *fn, const char *qualifier) {
        const FunctionConfig *fc = fn->cfg;
        const Config *cfg = fn->emu->cfg;
        cJSON *o = cJSON_CreateObject();
        CodeInfo ci;

        code_info(fc, &ci);
        cJSON_AddStringToObject(o, "FunctionName", fc->name);
        if (qualifier) {
                char *arn = xasprintf("%s:%s", fn->arn, qualifier);
                cJSON_AddStringToObject(o, "FunctionArn", arn);
                free(arn);
        } else {
                cJSON_AddStringToObject(o, "FunctionArn", fn->arn);
        }
        cJSON_AddStringToObject(o, "Runtime", fc->runtime ? fc->runtime : "provided.al2023");
        char *role = xasprintf("arn:aws:iam::%s:role/lemu-%s", cfg->account_id, fc->name);
        cJSON_AddStringToObject(o, "Role", role);
        free(role);
        cJSON_AddStringToObject(o, "Handler", fc->handler ? fc->handler : "function.handler");
        cJSON_AddNumberToObject(o, "CodeSize", (double) ci.size);
        cJSON_AddStringToObject(o, "Description", "");
        /* Lambda's Timeout is whole seconds; lemu allows fractions. */
        cJSON_AddNumberToObject(o, "Timeout", ceil(fc->timeout_s));
        cJSON_AddNumberToObject(o, "MemorySize", fc->memory_mb);
        cJSON_AddStringToObject(o, "LastModified", ci.modified);
        add_b64(o, "CodeSha256", ci.fingerprint, sizeof(ci.fingerprint));
        cJSON_AddStringToObject(o, "Version", "$LATEST");
        if (fc->n_environment) {
                cJSON *vars = cJSON_AddObjectToObject(cJSON_AddObjectToObject(o, "Environment"),
                                                      "Variables");
                for (size_t i = 0; i < fc->n_environment; i++)
                        cJSON_AddStringToObject(vars, fc->environment[i].key,
                                                fc->environment[i].value);
        }
        cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "TracingConfig"), "Mode", "PassThrough");
        add_revision(o, &ci);
        cJSON_AddStringToObject(o, "State", "Active");
        cJSON_AddStringToObject(o, "LastUpdateStatus", "Successful");
        cJSON_AddStringToObject(o, "PackageType", "Zip");
        cJSON *arch = cJSON_AddArrayToObject(o, "Architectures");
        cJSON_AddItemToArray(arch, cJSON_CreateString(ARCH));
        cJSON_AddNumberToObject(cJSON_AddObjectToObject(o, "EphemeralStorage"), "Size",
                                fc->ephemeral_storage_mb);
        cJSON *snap = cJSON_AddObjectToObject(o, "SnapStart");
        cJSON_AddStringToObject(snap, "ApplyOn", "None");
        cJSON_AddStringToObject(snap, "OptimizationStatus", "Off");
        cJSON *logging = cJSON_AddObjectToObject(o, "LoggingConfig");
        cJSON_AddStringToObject(logging, "LogFormat",
                                cfg->log_format == CFG_LOG_JSON ? "JSON" : "Text");
        char *group = xasprintf("/aws/lambda/%s", fc->name);
        cJSON_AddStringToObject(logging, "LogGroup", group);
        free(group);
        return o;
}

static cJSON *alias_json(Function *fn, const CfgKeyValue *alias) {
        cJSON *o = cJSON_CreateObject();
        CodeInfo ci;

        code_info(fn->cfg, &ci);
        char *arn = xasprintf("%s:%s", fn->arn, alias->key);
        cJSON_AddStringToObject(o, "AliasArn", arn);
        free(arn);
        cJSON_AddStringToObject(o, "Name", alias->key);
        cJSON_AddStringToObject(o, "FunctionVersion", alias->value);
        cJSON_AddStringToObject(o, "Description", "");
        add_revision(o, &ci);
        return o;
}

static void reply(HttpConn *c, cJSON *j) {
        char rid[37];
        char h[128];
        char *s = cJSON_PrintUnformatted(j);

        cJSON_Delete(j);
        uuid_random(rid);
        snprintf(h, sizeof(h), "Content-Type: application/json\r\nX-Amzn-RequestId: %s\r\n", rid);
        http_respond(c, 200, h, s, strlen(s), false);
        cJSON_free(s);
}

/* The value of query parameter @name (percent-decoded), or false. */
static bool query_param(const HttpRequest *req, const char *name, char *out, size_t n) {
        const char *q = req->query.ptr, *end = req->query.ptr + req->query.len;
        size_t nl = strlen(name);

        while (q < end) {
                const char *amp = memchr(q, '&', (size_t) (end - q));
                size_t l = amp ? (size_t) (amp - q) : (size_t) (end - q);
                if (l > nl && q[nl] == '=' && memcmp(q, name, nl) == 0)
                        return url_decode(q + nl + 1, l - nl - 1, out, n) == 0;
                q += l + 1;
        }
        return false;
}

static void list_functions(Emulator *e, HttpConn *c, HttpRequest *req) {
        char text[32];
        long max = 50, start = 0;

        if (query_param(req, "MaxItems", text, sizeof(text))) {
                char *end;
                max = strtol(text, &end, 10);
                if (*end || max < 1 || max > 10000) {
                        invoke_service_error(c, 400, "InvalidParameterValueException",
                                             "1 validation error detected: Value at 'maxItems' "
                                             "failed to satisfy constraint: Member must have "
                                             "value between 1 and 10000",
                                             NULL);
                        return;
                }
        }
        if (query_param(req, "Marker", text, sizeof(text))) {
                char *end;
                start = strtol(text, &end, 10);
                if (*end || start < 0 || (size_t) start > e->n_functions) {
                        invoke_service_error(c, 400, "InvalidParameterValueException",
                                             "Invalid marker", NULL);
                        return;
                }
        }
        cJSON *o = cJSON_CreateObject();
        cJSON *list = cJSON_AddArrayToObject(o, "Functions");
        size_t i;
        for (i = (size_t) start; i < e->n_functions && (long) (i - (size_t) start) < max; i++)
                cJSON_AddItemToArray(list, configuration_json(&e->functions[i], NULL));
        if (i < e->n_functions) {
                snprintf(text, sizeof(text), "%zu", i);
                cJSON_AddStringToObject(o, "NextMarker", text);
        }
        reply(c, o);
}

static const CfgKeyValue *find_alias(const Function *fn, const char *name) {
        for (size_t i = 0; i < fn->cfg->n_aliases; i++)
                if (strcmp(fn->cfg->aliases[i].key, name) == 0)
                        return &fn->cfg->aliases[i];
        return NULL;
}

bool manage_request(Emulator *e, HttpConn *c, HttpRequest *req) {
        const size_t pl = strlen(FUNCTIONS_PATH);
        Slice p = req->path;

        if (req->method != HTTP_GET || p.len < pl || memcmp(p.ptr, FUNCTIONS_PATH, pl) != 0)
                return false;
        Slice rest = { p.ptr + pl, p.len - pl };
        if (rest.len == 0 || slice_eq(rest, "/")) {
                list_functions(e, c, req);
                return true;
        }
        if (rest.ptr[0] != '/')
                return false;
        rest.ptr++, rest.len--;
        const char *slash = memchr(rest.ptr, '/', rest.len);
        Slice ref = { rest.ptr, slash ? (size_t) (slash - rest.ptr) : rest.len };
        Slice sub = slash ? (Slice){ slash, rest.len - ref.len } : (Slice){ "", 0 };
        const char *alias_name = NULL;
        enum { GET_FUNCTION, GET_CONFIGURATION, LIST_ALIASES, GET_ALIAS } op;

        if (sub.len == 0 || slice_eq(sub, "/"))
                op = GET_FUNCTION;
        else if (slice_eq(sub, "/configuration") || slice_eq(sub, "/configuration/"))
                op = GET_CONFIGURATION;
        else if (slice_eq(sub, "/aliases") || slice_eq(sub, "/aliases/"))
                op = LIST_ALIASES;
        else if (sub.len > 9 && memcmp(sub.ptr, "/aliases/", 9) == 0 &&
                 !memchr(sub.ptr + 9, '/', sub.len - 9))
                op = GET_ALIAS, alias_name = sub.ptr + 9;
        else
                return false; /* Invoke, or an operation lemu does not have */

        FunctionRef fr;
        char *qualifier = NULL;
        Function *fn = invoke_resolve(e, c, req, ref, &fr, &qualifier);
        if (!fn)
                return true;
        if (op == GET_FUNCTION || op == GET_CONFIGURATION) {
                cJSON *conf = configuration_json(fn, qualifier);
                if (op == GET_CONFIGURATION) {
                        reply(c, conf);
                } else {
                        cJSON *o = cJSON_CreateObject();
                        cJSON_AddItemToObject(o, "Configuration", conf);
                        cJSON *code = cJSON_AddObjectToObject(o, "Code");
                        cJSON_AddStringToObject(code, "RepositoryType", "S3");
                        char *loc = xasprintf("file://%s", fn->cfg->code_dir);
                        cJSON_AddStringToObject(code, "Location", loc);
                        free(loc);
                        if (fn->cfg->reserved_concurrency >= 0)
                                cJSON_AddNumberToObject(cJSON_AddObjectToObject(o, "Concurrency"),
                                                        "ReservedConcurrentExecutions",
                                                        (double) fn->cfg->reserved_concurrency);
                        reply(c, o);
                }
        } else if (op == LIST_ALIASES) {
                cJSON *o = cJSON_CreateObject();
                cJSON *list = cJSON_AddArrayToObject(o, "Aliases");
                for (size_t i = 0; i < fn->cfg->n_aliases; i++)
                        cJSON_AddItemToArray(list, alias_json(fn, &fn->cfg->aliases[i]));
                reply(c, o);
        } else {
                char name[256];
                size_t n = (size_t) (sub.ptr + sub.len - alias_name);
                const CfgKeyValue *a = url_decode(alias_name, n, name, sizeof(name)) == 0
                                               ? find_alias(fn, name)
                                               : NULL;
                if (a) {
                        reply(c, alias_json(fn, a));
                } else {
                        char msg[512];
                        snprintf(msg, sizeof(msg), "Cannot find alias arn: %s:%.*s", fn->arn,
                                 (int) n, alias_name);
                        invoke_service_error(c, 404, "ResourceNotFoundException", msg, NULL);
                }
        }
        free(qualifier);
        return true;
}
