/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The table of config keys, and what each value type means. Every key lemu reads is one row
 * of cfg__keys[]: its place in the JSON (section, name), where it lives in Config or
 * FunctionConfig, its default as JSON text, its bounds, whether it may change while lemu
 * runs, and its one-line help. The file loader, cfg_set(), LEMU_* variables, cfg_dump() and
 * cfg_help() all go through this table, so a row added here is parsed, overridable, dumped
 * and documented at once.
 *
 * Values reach a key as cJSON nodes (from the file, or made from a flag's text) and
 * cfg__key_set() is the only place that checks them: type, bounds, then the key's own check.
 * A set that fails leaves the value as it was, so defaults can never be half-replaced.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "compare.h"
#include "config-internal.h"
#include "json-util.h"
#include "faults.h"
#include "macro.h"
#include "xalloc.h"

#define U64_EXACT_MAX 9007199254740992.0 /* 2^53: JSON numbers are doubles */

static bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

/* ---- checks of single strings ---- */

static const char *check_listen(const char *s) {
        const char *colon = strrchr(s, ':');
        char *end;
        unsigned long port;

        if (!colon || colon == s)
                return "expected HOST:PORT, e.g. 127.0.0.1:3001";
        if (s[0] == '[' && colon[-1] != ']')
                return "expected [IPv6]:PORT";
        port = strtoul(colon + 1, &end, 10);
        if (!colon[1] || *end || port > 65535)
                return "the port must be a number from 0 to 65535";
        return NULL;
}

static const char *check_region(const char *s) {
        if (strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(s))
                return "expected a region name such as us-east-1";
        return NULL;
}

static const char *check_account(const char *s) {
        if (strlen(s) != 12 || strspn(s, "0123456789") != 12)
                return "expected 12 digits";
        return NULL;
}

static const char *check_http_path(const char *s) {
        if (s[0] != '/')
                return "must start with /";
        return NULL;
}

static const char *check_http_method(const char *s) {
        static const char *const methods[] = { "ANY",  "GET",   "POST",    "PUT", "DELETE",
                                               "HEAD", "PATCH", "OPTIONS", NULL };
        for (size_t i = 0; methods[i]; i++)
                if (strcasecmp(s, methods[i]) == 0)
                        return NULL;
        return "expected ANY, GET, POST, PUT, DELETE, HEAD, PATCH or OPTIONS";
}

/* ---- the table ---- */

static const char *const reuse_choices[] = { "warm", "cold", "random", NULL };
static const char *const route_choices[] = { "mru", "lru", "random", "round_robin", NULL };
static const char *const log_choices[] = { "text", "json", NULL };
static const char *const memory_choices[] = { "enforce", "off", NULL };
static const char *const cpu_choices[] = { "proportional", "off", NULL };
static const char *const seccomp_choices[] = { "default", "off", NULL };
static const char *const network_choices[] = { "host", "none", NULL };
static const char *const tmp_choices[] = { "auto", "image", "tmpfs", "dir", NULL };
static const char *const fs_choices[] = { "read_only", "host", NULL };
static const char *const user_choices[] = { "auto", "keep", NULL };
static const char *const event_choices[] = { "function-url", "apigw-v2", "apigw-v1", NULL };

_Static_assert(ARRAY_SIZE(reuse_choices) - 1 == _CFG_REUSE_MAX, "reuse choices");
_Static_assert(ARRAY_SIZE(route_choices) - 1 == _CFG_ROUTE_MAX, "route choices");
_Static_assert(ARRAY_SIZE(log_choices) - 1 == _CFG_LOG_MAX, "log choices");
_Static_assert(sizeof(CfgReuse) == sizeof(int) && sizeof(CfgRoute) == sizeof(int) &&
                       sizeof(CfgLogFormat) == sizeof(int),
               "enums are stored as int");

#define G(field)  .global = true, .off = offsetof(Config, field)
#define F(field)  .off = offsetof(FunctionConfig, field)
#define FN(field) .off_n = offsetof(FunctionConfig, field)
#define S(text)   "\"" text "\""

/*
 * Rows of one section stay together: cfg_dump() and cfg_help() print them in this order.
 * clang-format would put every field on its own line; a row per key reads as a table.
 */
/* clang-format off */
const CfgKey cfg__keys[] = {
        { .name = "listen", .type = CFG_T_STRING, G(listen), .def = S("127.0.0.1:3001"),
          .check = check_listen,
          .help = "Address of the Invoke API and control API listener, HOST:PORT (port 0 "
                  "picks a free one)." },
        { .name = "region", .type = CFG_T_STRING, G(region), .def = S("us-east-1"),
          .check = check_region, .help = "Region given to functions (AWS_REGION) and in ARNs." },
        { .name = "account_id", .type = CFG_T_STRING, G(account_id), .def = S("000000000000"),
          .check = check_account, .help = "Account id used in ARNs." },
        { .name = "seed", .type = CFG_T_U64, G(seed), .def = "1", .min = 0, .max = U64_EXACT_MAX,
          .help = "Seed of every random choice (routing, reuse, faults); request ids are never "
                  "seeded." },
        { .name = "account_concurrency", .type = CFG_T_UINT, G(account_concurrency),
          .def = "1000", .min = 1, .max = 1000000,
          .help = "In-flight invocations shared by functions without reserved_concurrency; "
                  "past it, 429." },
        { .name = "records_max", .type = CFG_T_UINT, G(records_max), .def = "10000", .min = 1,
          .max = 10000000,
          .help = "Invocation records kept for /_lemu/invocations (the oldest go first)." },
        { .name = "state_dir", .type = CFG_T_PATH, G(state_dir), .def = S(".lemu"),
          .help = "Folder of the async event journal (serve only), locked while in use." },
        { .name = "shutdown_grace_s", .type = CFG_T_DOUBLE, G(shutdown_grace_s), .def = "10",
          .min = 0, .max = 3600,
          .help = "On SIGTERM, how long synchronous callers get before a 500 ServiceException." },
        { .name = "log_format", .type = CFG_T_ENUM, G(log_format), .def = S("text"),
          .choices = log_choices,
          .help = "Lambda's text log lines, or one Telemetry API JSON record per line." },

        { .section = "limits", .name = "max_connections", .type = CFG_T_UINT,
          G(limits.max_connections), .def = "10000", .min = 1, .max = 1000000,
          .help = "Open client connections; past it, 429 CallerRateLimitExceeded." },
        { .section = "limits", .name = "max_header_bytes", .type = CFG_T_UINT,
          G(limits.max_header_bytes), .def = "65536", .min = 1024, .max = 1048576,
          .help = "Bytes of a request's header block (431 past it)." },
        { .section = "limits", .name = "max_headers", .type = CFG_T_UINT, G(limits.max_headers),
          .def = "100", .min = 1, .max = 10000, .help = "Header fields in one request." },
        { .section = "limits", .name = "header_timeout_s", .type = CFG_T_DOUBLE,
          G(limits.header_timeout_s), .def = "10", .min = 0, .min_excl = true, .max = 3600,
          .help = "Time a client has to send a request's headers." },
        { .section = "limits", .name = "body_timeout_s", .type = CFG_T_DOUBLE,
          G(limits.body_timeout_s), .def = "10", .min = 0, .min_excl = true, .max = 3600,
          .help = "Longest wait for more bytes of a request body; past it, the connection "
                  "is closed." },
        { .section = "limits", .name = "max_queued_events", .type = CFG_T_UINT,
          G(limits.max_queued_events), .def = "100000", .min = 1, .max = 10000000,
          .help = "Async events waiting in all queues; past it, 429." },
        { .section = "limits", .name = "async_cold_starts", .type = CFG_T_UINT,
          G(limits.async_cold_starts), .def = "0", .min = 0, .max = 100000,
          .help = "Async events on a cold start at once (0: two per CPU). Past it, an event "
                  "without a warm environment waits in its queue, so a burst grows the "
                  "environments a few at a time instead of initialising hundreds at once." },
        { .section = "limits", .name = "cold_starts", .type = CFG_T_UINT,
          G(limits.cold_starts), .def = "0", .min = 0, .max = 100000,
          .help = "Environments initialising at once (0: eight per CPU). Past it, a new "
                  "environment waits for its turn before its init starts (its init timer not "
                  "running), so that a burst of a thousand cold starts on a small machine "
                  "does not make every init time out." },

        { .name = "bootstrap", .type = CFG_T_PATH, F(bootstrap), .nullable = true, .def = "null",
          .help = "The executable to run (a custom runtime); exactly one of bootstrap and "
                  "command." },
        { .name = "command", .type = CFG_T_STRV, F(command), .nullable = true, .def = "null",
          .min = 1, .max = 1e6,
          .help = "argv to run instead of bootstrap, found on PATH, e.g. [\"node\", "
                  "\"index.js\"]." },
        { .name = "args", .type = CFG_T_STRV, F(args), .nullable = true, .def = "[]", .min = 0,
          .max = 1e6, .help = "Extra arguments after the bootstrap or command." },
        { .name = "code_dir", .type = CFG_T_PATH, F(code_dir), .nullable = true, .def = "null",
          .help = "LAMBDA_TASK_ROOT and working directory; null: the bootstrap's folder (the "
                  "config's folder for command)." },
        { .name = "runtime", .type = CFG_T_STRING, F(runtime), .def = S("provided.al2023"),
          .help = "Runtime identifier GetFunction reports (a SAM template's Runtime)." },
        { .name = "handler", .type = CFG_T_STRING, F(handler), .def = S("function.handler"),
          .help = "_HANDLER, as the console sets it for provided runtimes." },
        { .name = "memory_mb", .type = CFG_T_UINT, F(memory_mb), .def = "128", .min = 128,
          .max = 10240,
          .help = "Memory limit; also the CPU share (1769 MB = one vCPU) and "
                  "AWS_LAMBDA_FUNCTION_MEMORY_SIZE." },
        { .name = "timeout_s", .type = CFG_T_DOUBLE, F(timeout_s), .def = "3", .min = 0,
          .min_excl = true, .max = 900, .warn_below = 1,
          .help = "Limit of one invocation; past it, Sandbox.Timedout and a reset." },
        { .name = "init_timeout_s", .type = CFG_T_DOUBLE, F(init_timeout_s), .def = "10",
          .min = 0, .min_excl = true, .max = 900, .warn_below = 1,
          .help = "Limit of init before it is retried inside the invocation (suppressed "
                  "init)." },
        { .name = "ephemeral_storage_mb", .type = CFG_T_UINT, F(ephemeral_storage_mb),
          .def = "512", .min = 512, .max = 10240, .help = "Size of /tmp." },
        { .name = "environment", .flag = "env", .type = CFG_T_ENV, F(environment),
          FN(n_environment), .def = "{}",
          .help = "Variables of the function, NAME: \"value\"; 4 KB in all; Lambda's reserved "
                  "names refused. Flags: --env NAME=VALUE (repeatable), --env-file FILE." },
        { .name = "extensions_dir", .type = CFG_T_PATH, F(extensions_dir), .nullable = true,
          .def = "null", .help = "Folder of extension executables (Lambda's /opt/extensions)." },
        { .name = "aliases", .flag = "alias", .type = CFG_T_ALIASES, F(aliases), FN(n_aliases),
          .def = "{}",
          .help = "Qualifiers accepted in invoke, ALIAS: \"$LATEST\" or a version. Flag: "
                  "--alias ALIAS=VERSION." },
        { .name = "reserved_concurrency", .type = CFG_T_OPT_I64, F(reserved_concurrency),
          .nullable = true, .def = "null", .min = 0, .max = 1000000,
          .help = "In-flight invocations of this function (at most account_concurrency); "
                  "null shares account_concurrency." },
        { .name = "per_environment_concurrency", .type = CFG_T_UINT,
          F(per_environment_concurrency), .def = "1", .min = 1, .max = 1024,
          .help = "Invocations one environment serves at once; >1 is Lambda Managed Instances "
                  "mode (never frozen)." },

        { .section = "lifecycle", .name = "reuse", .type = CFG_T_ENUM, F(lifecycle.reuse),
          .is_mutable = true, .def = S("warm"), .choices = reuse_choices,
          .help = "warm: reuse an idle environment; cold: always start a new one; random: "
                  "reuse with reuse_probability." },
        { .section = "lifecycle", .name = "reuse_probability", .type = CFG_T_DOUBLE,
          F(lifecycle.reuse_probability), .is_mutable = true, .def = "0.5", .min = 0, .max = 1,
          .help = "Chance of reuse under reuse: random." },
        { .section = "lifecycle", .name = "route", .type = CFG_T_ENUM, F(lifecycle.route),
          .is_mutable = true, .def = S("mru"), .choices = route_choices,
          .help = "Which idle environment serves: most or least recently used, random, or "
                  "round_robin by id." },
        { .section = "lifecycle", .name = "provisioned", .type = CFG_T_UINT,
          F(lifecycle.provisioned), .is_mutable = true, .def = "0", .min = 0, .max = 10000,
          .help = "Environments kept initialised ahead (provisioned concurrency)." },
        { .section = "lifecycle", .name = "max_invocations_per_environment", .type = CFG_T_UINT,
          F(lifecycle.max_invocations_per_environment), .is_mutable = true, .def = "0",
          .min = 0, .max = 4294967295.0,
          .help = "An environment ends after this many invocations; 0: never." },
        { .section = "lifecycle", .name = "idle_timeout_s", .type = CFG_T_DOUBLE,
          F(lifecycle.idle_timeout_s), .is_mutable = true, .def = "600", .min = 0,
          .min_excl = true, .max = 86400,
          .help = "An environment idle this long is shut down." },
        { .section = "lifecycle", .name = "freeze", .type = CFG_T_BOOL, F(lifecycle.freeze),
          .is_mutable = true, .def = "true",
          .help = "Freeze every process of an environment between invocations." },
        { .section = "lifecycle", .name = "drift", .type = CFG_T_BOOL, F(lifecycle.drift),
          .is_mutable = true, .def = "true",
          .help = "Watch /tmp, descriptors, threads and RSS growing across warm invocations." },
        { .section = "lifecycle", .name = "settle_ms", .type = CFG_T_DOUBLE,
          F(lifecycle.settle_ms), .is_mutable = true, .def = "0", .min = 0, .max = 60000,
          .help = "Wait before freezing, to catch work after the response; 0: off." },
        { .section = "lifecycle", .name = "shadow", .type = CFG_T_SHADOW, F(lifecycle),
          .is_mutable = true, .def = "false",
          .help = "Rerun warm invocations on a fresh environment and compare (state leaks); an "
                  "object means on, with ignore_paths (JSONPath) and ignore_values (POSIX "
                  "EREs)." },

        { .section = "sandbox", .name = "memory", .type = CFG_T_STRING, F(sandbox.memory),
          .def = S("enforce"), .choices = memory_choices,
          .help = "enforce: cgroup v2, else v1, else an RSS watchdog; off." },
        { .section = "sandbox", .name = "cpu", .type = CFG_T_STRING, F(sandbox.cpu),
          .def = S("proportional"), .choices = cpu_choices,
          .help = "proportional: CPU share by memory, as Lambda; off." },
        { .section = "sandbox", .name = "seccomp", .type = CFG_T_STRING, F(sandbox.seccomp),
          .def = S("default"), .choices = seccomp_choices,
          .help = "default: refuse what a function never needs; off." },
        { .section = "sandbox", .name = "network", .type = CFG_T_STRING, F(sandbox.network),
          .def = S("host"), .choices = network_choices,
          .help = "host; none: own network namespace with loopback only." },
        { .section = "sandbox", .name = "tmp", .type = CFG_T_STRING, F(sandbox.tmp),
          .def = S("auto"), .choices = tmp_choices,
          .help = "How /tmp is capped: image (ENOSPC at the cap), tmpfs, dir (not enforced), "
                  "auto picks." },
        { .section = "sandbox", .name = "fs", .type = CFG_T_STRING, F(sandbox.fs),
          .def = S("read_only"), .choices = fs_choices,
          .help = "read_only: everything but /tmp read-only, as on Lambda; host." },
        { .section = "sandbox", .name = "user", .type = CFG_T_STRING, F(sandbox.user),
          .def = S("auto"), .choices = user_choices,
          .help = "auto: a non-root user when lemu runs as root; keep." },
        { .section = "sandbox", .name = "nofile", .type = CFG_T_UINT, F(sandbox.nofile),
          .def = "1024", .min = 1, .max = 1048576, .help = "Open file descriptors." },
        { .section = "sandbox", .name = "pids", .type = CFG_T_UINT, F(sandbox.pids),
          .def = "1024", .min = 1, .max = 4194304, .help = "Processes and threads." },
        { .section = "sandbox", .name = "cgroup_root", .type = CFG_T_PATH, F(sandbox.cgroup_root),
          .def = S("auto"), .literal = "auto",
          .help = "auto: under lemu's own cgroup; or a path (tests point it at a fake tree)." },

        { .section = "async", .name = "max_retries", .type = CFG_T_UINT, F(async.max_retries),
          .def = "2", .min = 0, .max = 2, .help = "Retries of a failed async invocation." },
        { .section = "async", .name = "retry_delays_s", .type = CFG_T_DELAYS,
          F(async.retry_delays_s), FN(async.n_retry_delays), .def = "[60, 120]", .min = 0,
          .max = 21600,
          .help = "Delay before each retry (the last repeats). Flag: a comma list, 0.1,0.2." },
        { .section = "async", .name = "max_event_age_s", .type = CFG_T_DOUBLE,
          F(async.max_event_age_s), .def = "21600", .min = 0, .min_excl = true, .max = 21600,
          .warn_below = 60, .help = "Older events are dropped (or sent to on_failure)." },
        { .section = "async", .name = "max_payload_bytes", .type = CFG_T_U64,
          F(async.max_payload_bytes), .def = "1048576", .min = 1, .max = 1048576,
          .help = "Largest Event payload (413 past it)." },
        { .section = "async", .name = "on_failure", .type = CFG_T_PATH, F(async.on_failure),
          .nullable = true, .def = "null",
          .help = "JSON Lines file receiving AWS destination records of failed events." },

        { .section = "streaming", .name = "max_bytes", .type = CFG_T_U64,
          F(streaming.max_bytes), .def = "209715200", .min = 1, .max = U64_EXACT_MAX,
          .help = "Largest streamed response." },
        { .section = "streaming", .name = "rate_bytes_per_s", .type = CFG_T_U64,
          F(streaming.rate_bytes_per_s), .def = "2097152", .min = 1, .max = U64_EXACT_MAX,
          .help = "Streaming bandwidth after the burst." },
        { .section = "streaming", .name = "burst_bytes", .type = CFG_T_U64,
          F(streaming.burst_bytes), .def = "6291456", .min = 1, .max = U64_EXACT_MAX,
          .help = "Bytes streamed at full speed first." },

        { .section = "http", .name = "path", .type = CFG_T_STRING, F(http.path),
          .nullable = true, .def = "null", .check = check_http_path,
          .help = "Plain-HTTP path mapped to this function, e.g. /orders/*; null: none." },
        { .section = "http", .name = "event", .type = CFG_T_STRING, F(http.event),
          .def = S("function-url"), .choices = event_choices,
          .help = "Event shape of those requests." },
        { .section = "http", .name = "method", .type = CFG_T_STRING, F(http.method),
          .def = S("ANY"), .check = check_http_method,
          .help = "HTTP method the route takes (GET, POST, ...); ANY: every method." },
        { .section = "http", .name = "stream", .type = CFG_T_BOOL, F(http.stream),
          .def = "true",
          .help = "Relay an HTTP-integration stream as it arrives (function-url, apigw-v1)." },

        { .name = "faults", .type = CFG_T_FAULTS, F(faults_json), .def = "[]",
          .help = "Injected platform faults, one object each (lemu help faults)." },
};
/* clang-format on */

const size_t cfg__n_keys = ARRAY_SIZE(cfg__keys);

/* ---- lookups ---- */

const CfgKey *cfg__key_find(const char *section, const char *name, bool global) {
        for (size_t i = 0; i < cfg__n_keys; i++) {
                const CfgKey *k = &cfg__keys[i];

                if (k->global != global || !streq(k->name, name))
                        continue;
                if (section ? k->section && streq(k->section, section) : !k->section)
                        return k;
        }
        return NULL;
}

bool cfg__is_section(const char *name, bool global) {
        for (size_t i = 0; i < cfg__n_keys; i++)
                if (cfg__keys[i].global == global && cfg__keys[i].section &&
                    streq(cfg__keys[i].section, name))
                        return true;
        return false;
}

/*
 * The flag is the key without its unit, '_' as '-'; sections other than lifecycle stay as a
 * prefix, as DESIGN.md "Commands" says (--memory, --idle-timeout, --sandbox-memory).
 */
const char *cfg__key_flag(const CfgKey *k, char *buf, size_t n) {
        static const char *const units[] = { "_bytes_per_s", "_bytes", "_ms", "_mb", "_s" };
        size_t len = strlen(k->name);

        if (k->flag)
                return k->flag;
        for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
                size_t u = strlen(units[i]);

                if (len > u && streq(k->name + len - u, units[i])) {
                        len -= u;
                        break;
                }
        }
        if (k->section && !streq(k->section, "lifecycle"))
                snprintf(buf, n, "%s-%.*s", k->section, (int) len, k->name);
        else
                snprintf(buf, n, "%.*s", (int) len, k->name);
        for (char *p = buf; *p; p++)
                if (*p == '_')
                        *p = '-';
        return buf;
}

const CfgKey *cfg__key_by_flag(const char *flag) {
        char buf[64];

        for (size_t i = 0; i < cfg__n_keys; i++)
                if (streq(cfg__key_flag(&cfg__keys[i], buf, sizeof(buf)), flag))
                        return &cfg__keys[i];
        return NULL;
}

static const char *choice_at(const char *const *choices, int i) {
        for (int j = 0; choices[j]; j++)
                if (j == i)
                        return choices[j];
        return NULL;
}

static int choice_index(const char *const *choices, const char *s) {
        for (int i = 0; choices[i]; i++)
                if (streq(choices[i], s))
                        return i;
        return -1;
}

static void choices_text(const char *const *choices, const char *sep, char *buf, size_t n) {
        size_t used = 0;

        buf[0] = 0;
        for (int i = 0; choices[i] && used < n; i++)
                used += snprintf(buf + used, n - used, "%s%s", i ? sep : "", choices[i]);
}

const char *cfg_reuse_to_string(CfgReuse r) {
        return r >= 0 && r < _CFG_REUSE_MAX ? reuse_choices[r] : NULL;
}

const char *cfg_route_to_string(CfgRoute r) {
        return r >= 0 && r < _CFG_ROUTE_MAX ? route_choices[r] : NULL;
}

const char *cfg_log_format_to_string(CfgLogFormat f) {
        return f >= 0 && f < _CFG_LOG_MAX ? log_choices[f] : NULL;
}

/* ---- small helpers ---- */

const char *cfg__fmt_num(char buf[32], double d) {
        for (int prec = 15; prec <= 17; prec++) {
                snprintf(buf, 32, "%.*g", prec, d);
                if (strtod(buf, NULL) == d)
                        break;
        }
        return buf;
}

char *cfg__resolve(const char *base, const char *path) {
        if (path[0] == '/' || !base)
                return xstrdup(path);
        while (path[0] == '.' && path[1] == '/')
                path += 2;
        if (!path[0] || streq(path, "."))
                return xstrdup(base);
        return xasprintf("%s/%s", streq(base, "/") ? "" : base, path);
}

void cfg__strv_free(char **v) {
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

static void kv_free(CfgKeyValue *kv, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(kv[i].key);
                free(kv[i].value);
        }
        free(kv);
}

static void *slot(const CfgKey *k, const void *base) {
        return (char *) base + k->off;
}

static size_t *count_slot(const CfgKey *k, const void *base) {
        return (size_t *) ((char *) base + k->off_n);
}

static const char *expected(const CfgKey *k) {
        switch (k->type) {
        case CFG_T_STRING:
        case CFG_T_PATH:
        case CFG_T_ENUM:
                return "a string";
        case CFG_T_UINT:
        case CFG_T_U64:
        case CFG_T_OPT_I64:
                return "an integer";
        case CFG_T_DOUBLE:
                return "a number";
        case CFG_T_BOOL:
                return "true or false";
        case CFG_T_STRV:
                return "an array of strings";
        case CFG_T_DELAYS:
                return "an array of numbers";
        case CFG_T_ENV:
        case CFG_T_ALIASES:
                return "an object of strings";
        case CFG_T_SHADOW:
                return "true, false or an object";
        case CFG_T_FAULTS:
                return "an array of fault objects";
        default:
                return "?";
        }
}

static int type_error(CfgCtx *x, const CfgKey *k, const cJSON *v) {
        if (cJSON_IsString(v))
                return cfg__error(x, "expected %s%s, got the string '%s'", expected(k),
                                  k->nullable ? " or null" : "", v->valuestring);
        return cfg__error(x, "expected %s%s, got %s", expected(k), k->nullable ? " or null" : "",
                          json_kind(v));
}

/* "an integer from 128 to 10240", "greater than 0 and at most 900", … */
static void range_text(const CfgKey *k, char *buf, size_t n) {
        char lo[32], hi[32];

        cfg__fmt_num(lo, k->min);
        cfg__fmt_num(hi, k->max);
        if (k->type == CFG_T_UINT || k->type == CFG_T_U64 || k->type == CFG_T_OPT_I64)
                snprintf(buf, n, "an integer from %s to %s", lo, hi);
        else if (k->min_excl)
                snprintf(buf, n, "greater than %s and at most %s", lo, hi);
        else
                snprintf(buf, n, "from %s to %s", lo, hi);
}

static bool number_in_range(const CfgKey *k, double d) {
        bool lo = k->min_excl ? d > k->min : d >= k->min;

        return lo && d <= k->max;
}

/* ---- environment variables and aliases ---- */

/* Lambda's reserved names (spec §4.5); _X… and other _-names fail the name rule already. */
static const char *const reserved_env[] = {
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_LOG_FORMAT",
        "AWS_LAMBDA_LOG_LEVEL",
        "AWS_LAMBDA_MAX_CONCURRENCY",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        "TZ",
        NULL,
};

static bool is_alpha(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static int check_env_name(CfgCtx *x, const char *name) {
        if (!is_alpha(name[0]))
                goto bad;
        for (const char *p = name; *p; p++)
                if (!is_alpha(*p) && !is_digit(*p) && *p != '_')
                        goto bad;
        if (choice_index(reserved_env, name) >= 0)
                return cfg__error(x, "'%s' is reserved by Lambda and cannot be set", name);
        return 0;
bad:
        return cfg__error(x,
                          "'%s' is not a valid variable name (a letter, then letters, digits "
                          "or _)",
                          name);
}

static size_t env_size(const CfgKeyValue *kv, size_t n) {
        size_t total = 0;

        for (size_t i = 0; i < n; i++)
                total += strlen(kv[i].key) + strlen(kv[i].value);
        return total;
}

static int env_size_error(CfgCtx *x, size_t total) {
        return cfg__error(x,
                          "variables take %zu bytes (names and values), over Lambda's 4 KB "
                          "limit (%d)",
                          total, CFG_ENV_MAX);
}

int cfg__env_put(CfgCtx *x, FunctionConfig *fn, const char *name, const char *value) {
        size_t total = env_size(fn->environment, fn->n_environment);
        CfgKeyValue *kv = NULL;
        int r;

        r = check_env_name(x, name);
        if (r < 0)
                return r;

        for (size_t i = 0; i < fn->n_environment; i++)
                if (streq(fn->environment[i].key, name))
                        kv = &fn->environment[i];
        total += kv ? strlen(value) - strlen(kv->value) : strlen(name) + strlen(value);
        if (total > CFG_ENV_MAX)
                return env_size_error(x, total);

        if (!kv) {
                fn->environment = xrealloc(fn->environment,
                                           (fn->n_environment + 1) * sizeof(*fn->environment));
                kv = &fn->environment[fn->n_environment++];
                kv->key = xstrdup(name);
        } else {
                free(kv->value);
        }
        kv->value = xstrdup(value);
        return 0;
}

static int check_alias(CfgCtx *x, const char *name, const char *version) {
        size_t len = strlen(name);

        if (len < 1 || len > 128 || strspn(name, "0123456789") == len ||
            strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != len)
                return cfg__error(x,
                                  "'%s' is not a valid alias name (1 to 128 letters, digits, - "
                                  "or _, not only digits)",
                                  name);
        if (!streq(version, "$LATEST") &&
            (!version[0] || strspn(version, "0123456789") != strlen(version)))
                return cfg__error(x, "alias '%s' must point at \"$LATEST\" or a version number",
                                  name);
        return 0;
}

int cfg__alias_put(CfgCtx *x, FunctionConfig *fn, const char *name, const char *version) {
        int r = check_alias(x, name, version);

        if (r < 0)
                return r;
        for (size_t i = 0; i < fn->n_aliases; i++)
                if (streq(fn->aliases[i].key, name)) {
                        free(fn->aliases[i].value);
                        fn->aliases[i].value = xstrdup(version);
                        return 0;
                }
        fn->aliases = xrealloc(fn->aliases, (fn->n_aliases + 1) * sizeof(*fn->aliases));
        fn->aliases[fn->n_aliases].key = xstrdup(name);
        fn->aliases[fn->n_aliases].value = xstrdup(version);
        fn->n_aliases++;
        return 0;
}

bool cfg__function_name_ok(const char *name) {
        size_t len = strlen(name);

        return len >= 1 && len <= 64 &&
               strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") ==
                       len;
}

/* ---- setters, one per type ---- */

static int set_string(CfgCtx *x, const CfgKey *k, void *base, const cJSON *v) {
        char **p = slot(k, base);
        const char *s, *why;

        if (cJSON_IsNull(v) && k->nullable) {
                free(*p);
                *p = NULL;
                return 0;
        }
        if (!cJSON_IsString(v))
                return type_error(x, k, v);
        s = v->valuestring;
        if (k->choices && choice_index(k->choices, s) < 0) {
                char list[256];

                choices_text(k->choices, ", ", list, sizeof(list));
                return cfg__error(x, "must be one of %s (got '%s')", list, s);
        }
        if (!s[0])
                return cfg__error(x, "must not be empty");
        why = k->check ? k->check(s) : NULL;
        if (why)
                return cfg__error(x, "%s (got '%s')", why, s);

        free(*p);
        if (k->type == CFG_T_PATH && !(k->literal && streq(s, k->literal)))
                *p = cfg__resolve(x->base_dir, s);
        else
                *p = xstrdup(s);
        return 0;
}

static int set_enum(CfgCtx *x, const CfgKey *k, void *base, const cJSON *v) {
        char list[256];
        int i;

        if (!cJSON_IsString(v))
                return type_error(x, k, v);
        i = choice_index(k->choices, v->valuestring);
        if (i < 0) {
                choices_text(k->choices, ", ", list, sizeof(list));
                return cfg__error(x, "must be one of %s (got '%s')", list, v->valuestring);
        }
        *(int *) slot(k, base) = i;
        return 0;
}

static int set_integer(CfgCtx *x, const CfgKey *k, void *base, const cJSON *v) {
        char range[128], num[32];
        double d;

        if (k->type == CFG_T_OPT_I64 && cJSON_IsNull(v)) {
                *(int64_t *) slot(k, base) = -1;
                return 0;
        }
        if (!cJSON_IsNumber(v))
                return type_error(x, k, v);
        d = v->valuedouble;
        /* Bounds first: they keep the cast below defined (and NaN fails them). */
        if (!number_in_range(k, d) || d != (double) (int64_t) d) {
                range_text(k, range, sizeof(range));
                return cfg__error(x, "must be %s (got %s)", range, cfg__fmt_num(num, d));
        }
        if (k->type == CFG_T_UINT)
                *(unsigned *) slot(k, base) = (unsigned) d;
        else if (k->type == CFG_T_U64)
                *(uint64_t *) slot(k, base) = (uint64_t) d;
        else
                *(int64_t *) slot(k, base) = (int64_t) d;
        return 0;
}

static int check_double(CfgCtx *x, const CfgKey *k, const cJSON *v) {
        char range[128], num[32], floor_text[32];
        const char *unit = "";
        double d;

        if (!cJSON_IsNumber(v))
                return cfg__error(x, "expected a number, got %s", json_kind(v));
        d = v->valuedouble;
        if (!number_in_range(k, d)) {
                range_text(k, range, sizeof(range));
                return cfg__error(x, "must be %s (got %s)", range, cfg__fmt_num(num, d));
        }
        if (d < k->warn_below) {
                size_t len = strlen(k->name);

                if (len > 2 && streq(k->name + len - 2, "_s"))
                        unit = " s";
                cfg__warn(x, "%s%s is below Lambda's minimum of %s%s; accepted",
                          cfg__fmt_num(num, d), unit, cfg__fmt_num(floor_text, k->warn_below),
                          unit);
        }
        return 0;
}

static int set_double(CfgCtx *x, const CfgKey *k, void *base, const cJSON *v) {
        int r = check_double(x, k, v);

        if (r < 0)
                return r;
        *(double *) slot(k, base) = v->valuedouble;
        return 0;
}

static int set_bool(CfgCtx *x, const CfgKey *k, void *base, const cJSON *v) {
        if (!cJSON_IsBool(v))
                return type_error(x, k, v);
        *(bool *) slot(k, base) = cJSON_IsTrue(v);
        return 0;
}

/* An array of strings as a NULL-terminated vector; NULL for an empty one. */
static int strv_from_json(CfgCtx *x, const cJSON *v, char ***ret) {
        size_t n = (size_t) cJSON_GetArraySize(v), i = 0;
        char **out;
        const cJSON *e;

        cJSON_ArrayForEach (e, v) {
                if (!cJSON_IsString(e)) {
                        size_t mark = cfg__push(x, NULL, (int) i);
                        int r = cfg__error(x, "expected a string, got %s", json_kind(e));

                        cfg__pop(x, mark);
                        return r;
                }
                i++;
        }
        if (n == 0) {
                *ret = NULL;
                return 0;
        }
        out = xcalloc(n + 1, sizeof(char *));
        i = 0;
        cJSON_ArrayForEach (e, v)
                out[i++] = xstrdup(e->valuestring);
        *ret = out;
        return 0;
}

static int set_strv(CfgCtx *x, const CfgKey *k, void *base, const cJSON *v) {
        char ***p = slot(k, base), **nv;
        int r;

        if (cJSON_IsNull(v) && k->nullable) {
                cfg__strv_free(*p);
                *p = NULL;
                return 0;
        }
        if (!cJSON_IsArray(v))
                return type_error(x, k, v);
        if ((double) cJSON_GetArraySize(v) < k->min)
                return cfg__error(x, "must not be empty%s", k->nullable ? " (use null)" : "");
        r = strv_from_json(x, v, &nv);
        if (r < 0)
                return r;
        if (nv && k->min > 0 && !nv[0][0]) {
                cfg__strv_free(nv);
                return cfg__error(x, "the program name must not be empty");
        }
        cfg__strv_free(*p);
        *p = nv;
        return 0;
}

static int set_delays(CfgCtx *x, const CfgKey *k, void *base, const cJSON *v) {
        double **p = slot(k, base), *nv;
        size_t n, i = 0;
        const cJSON *e;

        if (!cJSON_IsArray(v))
                return type_error(x, k, v);
        n = (size_t) cJSON_GetArraySize(v);
        if (n < 1 || n > 2)
                return cfg__error(x, "must list 1 or 2 delays, one per retry (got %zu)", n);
        nv = xcalloc(n, sizeof(double));
        cJSON_ArrayForEach (e, v) {
                size_t mark = cfg__push(x, NULL, (int) i);
                int r = check_double(x, k, e);

                cfg__pop(x, mark);
                if (r < 0) {
                        free(nv);
                        return r;
                }
                nv[i++] = e->valuedouble;
        }
        free(*p);
        *p = nv;
        *count_slot(k, base) = n;
        return 0;
}

/* Duplicate members are refused everywhere: JSON leaves their meaning open. */
int cfg__check_duplicate(CfgCtx *x, const cJSON *obj, const cJSON *m) {
        for (const cJSON *p = obj->child; p && p != m; p = p->next)
                if (streq(p->string, m->string))
                        return cfg__error(x, "duplicate key");
        return 0;
}

/* environment and aliases: the object replaces the whole set, checked before it does. */
static int set_kv(CfgCtx *x, const CfgKey *k, void *base, const cJSON *v) {
        FunctionConfig tmp = { 0 };
        CfgKeyValue **p = slot(k, base);
        const cJSON *m;
        int i = 0, r = 0;

        if (!cJSON_IsObject(v))
                return type_error(x, k, v);
        cJSON_ArrayForEach (m, v) {
                size_t mark = cfg__push(x, m->string, i++);

                r = cfg__check_duplicate(x, v, m);
                if (r >= 0 && !cJSON_IsString(m))
                        r = cfg__error(x, "expected a string%s, got %s",
                                       cJSON_IsNumber(m) ? " (quote numbers)" : "", json_kind(m));
                if (r >= 0 && k->type == CFG_T_ENV)
                        r = cfg__env_put(x, &tmp, m->string, m->valuestring);
                else if (r >= 0)
                        r = cfg__alias_put(x, &tmp, m->string, m->valuestring);
                cfg__pop(x, mark);
                if (r < 0)
                        break;
        }
        if (r < 0) {
                kv_free(tmp.environment, tmp.n_environment);
                kv_free(tmp.aliases, tmp.n_aliases);
                return r;
        }
        kv_free(*p, *count_slot(k, base));
        if (k->type == CFG_T_ENV) {
                *p = tmp.environment;
                *count_slot(k, base) = tmp.n_environment;
        } else {
                *p = tmp.aliases;
                *count_slot(k, base) = tmp.n_aliases;
        }
        return 0;
}

static int check_ignore_value(CfgCtx *x, const char *re) {
        char why[256];
        regex_t rx;
        int rc = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);

        if (rc == 0) {
                regfree(&rx);
                return 0;
        }
        regerror(rc, &rx, why, sizeof(why));
        return cfg__error(x, "'%s' is not a POSIX extended regex: %s", re, why);
}

static int set_shadow(CfgCtx *x, const CfgKey *k, void *base, const cJSON *v) {
        CfgLifecycle *lc = slot(k, base);
        char **paths = NULL, **values = NULL;
        const cJSON *m;
        int i = 0, r = 0;

        if (cJSON_IsBool(v)) {
                /* The ignore lists stay, so switching shadow runs off and on keeps them. */
                lc->shadow = cJSON_IsTrue(v);
                return 0;
        }
        if (!cJSON_IsObject(v))
                return type_error(x, k, v);
        cJSON_ArrayForEach (m, v) {
                size_t mark = cfg__push(x, m->string, i++);
                bool is_paths = streq(m->string, "ignore_paths");
                char ***dst = is_paths ? &paths : &values;

                r = cfg__check_duplicate(x, v, m);
                if (r >= 0 && !is_paths && !streq(m->string, "ignore_values"))
                        r = cfg__error(x, "unknown key (expected ignore_paths or ignore_values)");
                else if (r >= 0 && !cJSON_IsArray(m))
                        r = cfg__error(x, "expected an array of strings, got %s", json_kind(m));
                if (r >= 0) {
                        cfg__strv_free(*dst);
                        r = strv_from_json(x, m, dst);
                }
                for (int j = 0; r >= 0 && *dst && (*dst)[j]; j++) {
                        size_t mark2 = cfg__push(x, NULL, j);

                        char why[160];
                        if (is_paths && (*dst)[j][0] != '$')
                                r = cfg__error(x, "'%s' is not a JSONPath (it starts with $)",
                                               (*dst)[j]);
                        else if (is_paths && compare_path_check((*dst)[j], why, sizeof(why)) < 0)
                                r = cfg__error(x, "'%s' is outside lemu's JSONPath subset: %s",
                                               (*dst)[j], why);
                        else if (!is_paths)
                                r = check_ignore_value(x, (*dst)[j]);
                        cfg__pop(x, mark2);
                }
                cfg__pop(x, mark);
                if (r < 0)
                        break;
        }
        if (r < 0) {
                cfg__strv_free(paths);
                cfg__strv_free(values);
                return r;
        }
        cfg__strv_free(lc->shadow_ignore_paths);
        cfg__strv_free(lc->shadow_ignore_values);
        lc->shadow_ignore_paths = paths;
        lc->shadow_ignore_values = values;
        lc->shadow = true;
        return 0;
}

/* Kept as JSON text: the fault module parses and checks each fault when it adds it. */
static int set_faults(CfgCtx *x, const CfgKey *k, void *base, const cJSON *v) {
        char **p = slot(k, base), *text;
        const cJSON *e;
        int i = 0;

        if (cJSON_IsNull(v)) {
                free(*p);
                *p = NULL;
                return 0;
        }
        if (!cJSON_IsArray(v))
                return type_error(x, k, v);
        cJSON_ArrayForEach (e, v) {
                char why[512];
                Fault *f = NULL;

                if (!cJSON_IsObject(e)) {
                        size_t mark = cfg__push(x, NULL, i);
                        int r = cfg__error(x, "expected a fault object, got %s", json_kind(e));

                        cfg__pop(x, mark);
                        return r;
                }
                /* Each fault is checked by the fault module, which names the key. */
                char *s = cJSON_PrintUnformatted(e);
                int r = fault_parse(s, strlen(s), &f, why, sizeof(why));
                cJSON_free(s);
                fault_unref(f);
                if (r < 0) {
                        size_t mark = cfg__push(x, NULL, i);
                        r = cfg__error(x, "%s", why);
                        cfg__pop(x, mark);
                        return r;
                }
                i++;
        }
        free(*p);
        *p = NULL;
        if (i == 0)
                return 0;
        text = cJSON_PrintUnformatted(v);
        if (!text)
                return cfg__error(x, "cannot serialise the faults");
        *p = xstrdup(text);
        cJSON_free(text);
        return 0;
}

int cfg__key_set(CfgCtx *x, const CfgKey *k, void *base, const cJSON *v) {
        if (x->mutable_only && !k->is_mutable)
                return cfg__error(x, "cannot be changed while lemu runs");

        switch (k->type) {
        case CFG_T_STRING:
        case CFG_T_PATH:
                return set_string(x, k, base, v);
        case CFG_T_ENUM:
                return set_enum(x, k, base, v);
        case CFG_T_UINT:
        case CFG_T_U64:
        case CFG_T_OPT_I64:
                return set_integer(x, k, base, v);
        case CFG_T_DOUBLE:
                return set_double(x, k, base, v);
        case CFG_T_BOOL:
                return set_bool(x, k, base, v);
        case CFG_T_STRV:
                return set_strv(x, k, base, v);
        case CFG_T_DELAYS:
                return set_delays(x, k, base, v);
        case CFG_T_ENV:
        case CFG_T_ALIASES:
                return set_kv(x, k, base, v);
        case CFG_T_SHADOW:
                return set_shadow(x, k, base, v);
        case CFG_T_FAULTS:
                return set_faults(x, k, base, v);
        default:
                return cfg__error(x, "internal error: key type %d", (int) k->type);
        }
}

void cfg__key_free(const CfgKey *k, void *base) {
        void *p = slot(k, base);

        switch (k->type) {
        case CFG_T_STRING:
        case CFG_T_PATH:
        case CFG_T_FAULTS:
                free(*(char **) p);
                *(char **) p = NULL;
                break;
        case CFG_T_STRV:
                cfg__strv_free(*(char ***) p);
                *(char ***) p = NULL;
                break;
        case CFG_T_DELAYS:
                free(*(double **) p);
                *(double **) p = NULL;
                *count_slot(k, base) = 0;
                break;
        case CFG_T_ENV:
        case CFG_T_ALIASES:
                kv_free(*(CfgKeyValue **) p, *count_slot(k, base));
                *(CfgKeyValue **) p = NULL;
                *count_slot(k, base) = 0;
                break;
        case CFG_T_SHADOW: {
                CfgLifecycle *lc = p;

                cfg__strv_free(lc->shadow_ignore_paths);
                cfg__strv_free(lc->shadow_ignore_values);
                lc->shadow_ignore_paths = lc->shadow_ignore_values = NULL;
                break;
        }
        default:
                break;
        }
}

/* ---- values back to JSON, for cfg_dump() ---- */

/* Numbers go out as raw text: cJSON's own printer rounds integers past 10^15. */
static cJSON *num_json(double d) {
        char buf[32];

        return cJSON_CreateRaw(cfg__fmt_num(buf, d));
}

static cJSON *uint_json(uint64_t u) {
        char buf[32];

        snprintf(buf, sizeof(buf), "%" PRIu64, u);
        return cJSON_CreateRaw(buf);
}

static cJSON *strv_json(char *const *v) {
        cJSON *a = cJSON_CreateArray();

        for (; v && *v; v++)
                cJSON_AddItemToArray(a, cJSON_CreateString(*v));
        return a;
}

static cJSON *opt_string_json(const char *s) {
        return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

cJSON *cfg__key_json(const CfgKey *k, const void *base, const char *base_dir) {
        const void *p = slot(k, base);

        switch (k->type) {
        case CFG_T_STRING:
                return opt_string_json(*(char *const *) p);
        case CFG_T_PATH: {
                /* A default such as ".lemu" stays relative until cfg_validate(); show it
                 * resolved, so a dump reads back the same wherever it is loaded. */
                const char *s = *(char *const *) p;
                char *abs;
                cJSON *v;

                if (!s || s[0] == '/' || (k->literal && streq(s, k->literal)))
                        return opt_string_json(s);
                abs = cfg__resolve(base_dir, s);
                v = cJSON_CreateString(abs);
                free(abs);
                return v;
        }
        case CFG_T_ENUM: {
                int i = *(const int *) p;

                return opt_string_json(choice_at(k->choices, i));
        }
        case CFG_T_UINT:
                return uint_json(*(const unsigned *) p);
        case CFG_T_U64:
                return uint_json(*(const uint64_t *) p);
        case CFG_T_OPT_I64: {
                int64_t i = *(const int64_t *) p;

                return i < 0 ? cJSON_CreateNull() : uint_json((uint64_t) i);
        }
        case CFG_T_DOUBLE:
                return num_json(*(const double *) p);
        case CFG_T_BOOL:
                return cJSON_CreateBool(*(const bool *) p);
        case CFG_T_STRV: {
                char *const *v = *(char **const *) p;

                return !v && k->min > 0 ? cJSON_CreateNull() : strv_json(v);
        }
        case CFG_T_DELAYS: {
                const double *d = *(double *const *) p;
                cJSON *a = cJSON_CreateArray();

                for (size_t i = 0; i < *count_slot(k, base); i++)
                        cJSON_AddItemToArray(a, num_json(d[i]));
                return a;
        }
        case CFG_T_ENV:
        case CFG_T_ALIASES: {
                const CfgKeyValue *kv = *(CfgKeyValue *const *) p;
                cJSON *o = cJSON_CreateObject();

                for (size_t i = 0; i < *count_slot(k, base); i++)
                        cJSON_AddItemToObject(o, kv[i].key, cJSON_CreateString(kv[i].value));
                return o;
        }
        case CFG_T_SHADOW: {
                const CfgLifecycle *lc = p;
                cJSON *o;

                /* An object means on, so only a shadow that is on shows its lists. */
                if (!lc->shadow || (!lc->shadow_ignore_paths && !lc->shadow_ignore_values))
                        return cJSON_CreateBool(lc->shadow);
                o = cJSON_CreateObject();
                cJSON_AddItemToObject(o, "ignore_paths", strv_json(lc->shadow_ignore_paths));
                cJSON_AddItemToObject(o, "ignore_values", strv_json(lc->shadow_ignore_values));
                return o;
        }
        case CFG_T_FAULTS: {
                const char *text = *(char *const *) p;
                cJSON *a = text ? cJSON_Parse(text) : NULL;

                return a ? a : cJSON_CreateArray();
        }
        default:
                return cJSON_CreateNull();
        }
}

/* ---- `lemu help config` ---- */

static void type_text(const CfgKey *k, char *buf, size_t n) {
        char list[256], range[128];
        size_t len = strlen(k->name);
        const char *unit = len > 3 && streq(k->name + len - 3, "_ms") ? "milliseconds" : "seconds";

        switch (k->type) {
        case CFG_T_STRING:
        case CFG_T_ENUM:
                if (k->choices) {
                        choices_text(k->choices, " | ", list, sizeof(list));
                        snprintf(buf, n, "%s", list);
                } else {
                        snprintf(buf, n, "string%s", k->nullable ? " or null" : "");
                }
                break;
        case CFG_T_PATH:
                snprintf(buf, n, "path%s%s%s%s", k->literal ? " or \"" : "",
                         k->literal ? k->literal : "", k->literal ? "\"" : "",
                         k->nullable ? " or null" : "");
                break;
        case CFG_T_UINT:
        case CFG_T_U64:
        case CFG_T_OPT_I64:
                range_text(k, range, sizeof(range));
                snprintf(buf, n, "%s%s", k->type == CFG_T_OPT_I64 ? "null or " : "", range);
                break;
        case CFG_T_DOUBLE: {
                char floor_text[32];
                bool timed = streq(k->name + len - 2, "_s") || streq(unit, "milliseconds");

                range_text(k, range, sizeof(range));
                snprintf(buf, n, "%s, %s%s%s%s", timed ? unit : "number", range,
                         k->warn_below > 0 ? " (below " : "",
                         k->warn_below > 0 ? cfg__fmt_num(floor_text, k->warn_below) : "",
                         k->warn_below > 0 ? " warns)" : "");
                break;
        }
        case CFG_T_BOOL:
                snprintf(buf, n, "true | false");
                break;
        case CFG_T_STRV:
                snprintf(buf, n, "array of strings%s", k->min > 0 ? " or null" : "");
                break;
        case CFG_T_DELAYS:
                range_text(k, range, sizeof(range));
                snprintf(buf, n, "array of 1 or 2 seconds, each %s", range);
                break;
        case CFG_T_ENV:
        case CFG_T_ALIASES:
                snprintf(buf, n, "object of strings");
                break;
        case CFG_T_SHADOW:
                snprintf(buf, n,
                         "true | false | {\"ignore_paths\": [...], \"ignore_values\": "
                         "[...]}");
                break;
        case CFG_T_FAULTS:
                snprintf(buf, n, "array of objects");
                break;
        default:
                buf[0] = 0;
        }
}

/* Prints @text wrapped at 96 columns, each line indented by @indent spaces. */
static void wrap(FILE *out, const char *text, int indent) {
        const int width = 96 - indent;

        while (*text) {
                int n = (int) strlen(text), cut = n;

                if (n > width) {
                        for (cut = width; cut > 0 && text[cut] != ' '; cut--)
                                ;
                        if (cut == 0)
                                cut = width;
                }
                fprintf(out, "%*s%.*s\n", indent, "", cut, text);
                text += cut;
                while (*text == ' ')
                        text++;
        }
}

static void help_key(FILE *out, const CfgKey *k) {
        char type[256], flagbuf[64], env[80];
        const char *flag = cfg__key_flag(k, flagbuf, sizeof(flagbuf));

        snprintf(env, sizeof(env), "LEMU_%s", flag);
        for (size_t i = 5; env[i]; i++)
                env[i] = env[i] == '-' ? '_' : (char) toupper((unsigned char) env[i]);
        type_text(k, type, sizeof(type));
        fprintf(out, "  %s%s%s = %s\n", k->section ? k->section : "", k->section ? "." : "",
                k->name, k->def);
        wrap(out, type, 6);
        fprintf(out, "      --%s, %s%s\n", flag, env, k->is_mutable ? "; mutable" : "");
        wrap(out, k->help, 6);
}

void cfg_help(FILE *out) {
        fputs("lemu config reference\n"
              "\n"
              "A config file is JSON with // and /* */ comments; unknown keys are errors, and\n"
              "errors name line:col, the key path and the reason. Precedence: --flag > LEMU_*\n"
              "environment variable > config file > default. Every key has a flag (its name\n"
              "without the unit suffix, _ as -, with the section for sandbox, async,\n"
              "streaming, limits and http) and a variable LEMU_<FLAG> (- as _). Every flag\n"
              "takes a value: booleans are true or false, null is null, arrays are JSON\n"
              "(retry delays may be a comma list), and an empty value sets a nullable string\n"
              "to null. Flags of function keys apply to every function. Durations are\n"
              "seconds (milliseconds for _ms) and accept fractions. Relative paths resolve\n"
              "against the config file's folder (the working directory for flags).\n"
              "Keys marked mutable can change while lemu runs (PUT /_lemu/functions/{fn}/\n"
              "lifecycle).\n"
              "\n"
              "Top level\n",
              out);
        for (size_t i = 0; i < cfg__n_keys; i++)
                if (cfg__keys[i].global)
                        help_key(out, &cfg__keys[i]);
        fputs("\n"
              "Functions: \"functions\": {NAME: {...}}, NAME 1 to 64 letters, digits, - or _\n",
              out);
        for (size_t i = 0; i < cfg__n_keys; i++)
                if (!cfg__keys[i].global)
                        help_key(out, &cfg__keys[i]);
        fputs("\n"
              "--env-file FILE reads SAM's --env-vars format: {\"Parameters\": {NAME: VALUE},\n"
              "FUNCTION: {NAME: VALUE}}; Parameters go to every function, a named block to that\n"
              "function (it wins), and a variable is added or replaced.\n",
              out);
}
