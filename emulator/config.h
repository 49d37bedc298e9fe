/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * The typed configuration. JSON (with comments) becomes these structs at the edge; nothing
 * else in lemu sees cJSON trees of the config. Every string here is owned by the Config and
 * freed by cfg_deinit(). Paths are absolute once loaded (relative ones are resolved against
 * the config file's folder, or the working directory for flags); the default state_dir
 * (".lemu") and code_dir become absolute in cfg_validate(), against base_dir.
 *
 * Durations are doubles in seconds (fractions allowed, so tests can use 0.1 s).
 * A "null" integer is stored as -1.
 */

typedef enum CfgReuse {
        CFG_REUSE_WARM,
        CFG_REUSE_COLD,
        CFG_REUSE_RANDOM,
        _CFG_REUSE_MAX,
        _CFG_REUSE_INVALID = -22,
} CfgReuse;

typedef enum CfgRoute {
        CFG_ROUTE_MRU,
        CFG_ROUTE_LRU,
        CFG_ROUTE_RANDOM,
        CFG_ROUTE_ROUND_ROBIN,
        _CFG_ROUTE_MAX,
        _CFG_ROUTE_INVALID = -22,
} CfgRoute;

typedef enum CfgLogFormat {
        CFG_LOG_TEXT,
        CFG_LOG_JSON,
        _CFG_LOG_MAX,
        _CFG_LOG_INVALID = -22,
} CfgLogFormat;

typedef struct CfgKeyValue {
        char *key;
        char *value;
} CfgKeyValue;

typedef struct CfgLifecycle {
        CfgReuse reuse;                           /* "warm" */
        double reuse_probability;                 /* 0.5 */
        CfgRoute route;                           /* "mru" */
        unsigned provisioned;                     /* 0 */
        unsigned max_invocations_per_environment; /* 0 = unlimited */
        double idle_timeout_s;                    /* 600 */
        bool freeze;                              /* true */
        bool drift;                               /* true */
        double settle_ms;                         /* 0 */
        bool shadow;                              /* false; true also when an object is given */
        char **shadow_ignore_paths;               /* NULL-terminated, may be NULL */
        char **shadow_ignore_values;              /* NULL-terminated, may be NULL */
} CfgLifecycle;

typedef struct CfgSandbox {
        char *memory;      /* "enforce" | "off" */
        char *cpu;         /* "proportional" | "off" */
        char *seccomp;     /* "default" | "off" */
        char *network;     /* "host" | "none" */
        char *tmp;         /* "auto" | "image" | "tmpfs" | "dir" */
        char *fs;          /* "read_only" | "host" */
        char *user;        /* "auto" | "keep" */
        unsigned nofile;   /* 1024 */
        unsigned pids;     /* 1024 */
        char *cgroup_root; /* "auto" or a path */
} CfgSandbox;

typedef struct CfgAsync {
        unsigned max_retries;   /* 2, range 0-2 */
        double *retry_delays_s; /* default [60, 120] */
        size_t n_retry_delays;
        double max_event_age_s;     /* 21600 */
        uint64_t max_payload_bytes; /* 1048576 */
        char *on_failure;           /* path or NULL */
} CfgAsync;

typedef struct CfgStreaming {
        uint64_t max_bytes;        /* 209715200 */
        uint64_t rate_bytes_per_s; /* 2097152 */
        uint64_t burst_bytes;      /* 6291456 */
} CfgStreaming;

typedef struct CfgHttp {
        char *path;   /* NULL when the function has no http mapping */
        char *event;  /* "function-url" | "apigw-v2" | "apigw-v1" */
        char *method; /* "ANY" or one HTTP method */
        bool stream;  /* InvokeMode RESPONSE_STREAM / responseTransferMode STREAM; false:
                       * BUFFERED, a stream is collected */
} CfgHttp;

typedef struct FunctionConfig {
        char *name;
        char *bootstrap;       /* absolute path, or NULL when command is set */
        char **command;        /* NULL-terminated argv, or NULL when bootstrap is set */
        char *code_dir;        /* default: the bootstrap's folder (or the config's) */
        char *runtime;         /* "provided.al2023": what GetFunction reports */
        char *handler;         /* _HANDLER; default "function.handler" (provided runtimes) */
        unsigned memory_mb;    /* 128, range 128-10240 */
        double timeout_s;      /* 3 */
        double init_timeout_s; /* 10 */
        unsigned ephemeral_storage_mb; /* 512, range 512-10240 */
        CfgKeyValue *environment;      /* in file order */
        size_t n_environment;
        char *extensions_dir; /* NULL */
        CfgKeyValue *aliases; /* alias -> version ("$LATEST") */
        size_t n_aliases;
        int64_t reserved_concurrency;         /* -1 = null: share account_concurrency */
        unsigned per_environment_concurrency; /* 1 */
        CfgLifecycle lifecycle;
        CfgSandbox sandbox;
        CfgAsync async;
        CfgStreaming streaming;
        CfgHttp http;
        char *faults_json; /* the "faults" array as JSON text, or NULL */
        char **args;       /* extra argv after the bootstrap or command ("args"), or NULL */
} FunctionConfig;

typedef struct CfgLimits {
        unsigned max_connections;   /* 10000 */
        unsigned max_header_bytes;  /* 65536 */
        unsigned max_headers;       /* 100 */
        double header_timeout_s;    /* 10 */
        double body_timeout_s;      /* 10 */
        unsigned max_queued_events; /* 100000 */
        unsigned async_cold_starts; /* 0: two per CPU */
        unsigned cold_starts;       /* environments initialising at once; 0: eight per CPU */
} CfgLimits;

typedef struct Config {
        char *listen;                 /* "127.0.0.1:3001" */
        char *region;                 /* "us-east-1" */
        char *account_id;             /* "000000000000" */
        uint64_t seed;                /* 1 */
        unsigned account_concurrency; /* 1000 */
        unsigned records_max;         /* 10000 */
        char *state_dir;              /* ".lemu" */
        double shutdown_grace_s;      /* 10 */
        CfgLogFormat log_format;      /* "text" */
        CfgLimits limits;
        FunctionConfig *functions;
        size_t n_functions;
        char *base_dir; /* folder relative paths resolve against */
        /*
         * Accepted values lemu wants the user to know about (a timeout below Lambda's 1 s
         * minimum, an env-file block naming no function), each "line:col: path: text" or
         * "path: text", deduplicated, NULL-terminated; print them after loading.
         */
        char **warnings;
        size_t n_warnings;
} Config;

/* Where and why loading failed: "line:col: key.path: reason". */
typedef struct CfgError {
        unsigned line, col; /* 0 when not from a file position */
        char path[256];     /* key path, e.g. "functions.orders.memory_mb" */
        char reason[512];
} CfgError;

/* cfg_init() - a Config with every default, no functions, base_dir the working directory. */
void cfg_init(Config *c);
/* cfg_deinit() - frees everything and zeroes @c; safe on a zeroed or half-built Config. */
void cfg_deinit(Config *c);

/*
 * cfg_load_file() - merges a JSON config file (comments allowed, unknown keys rejected) and
 * sets base_dir to the file's folder. A function named again is merged into; "environment",
 * "aliases" and arrays given replace the old ones whole.
 * Return: 0, or -EINVAL / -errno with @err filled. A failed load may leave the keys before
 * the bad one applied: report the error and cfg_deinit().
 */
int cfg_load_file(Config *c, const char *path, CfgError *err);
/* cfg_load_string() - the same from memory; @base_dir (NULL: keep c->base_dir) becomes
 * base_dir. @text needs no NUL terminator. */
int cfg_load_string(Config *c, const char *text, size_t len, const char *base_dir, CfgError *err);

/* cfg_add_function() - appends a function with every default; returned pointer is borrowed
 * and valid until the next cfg_add_function(). NULL when the name is taken. Names are
 * checked by cfg_validate(). */
FunctionConfig *cfg_add_function(Config *c, const char *name);
FunctionConfig *cfg_find_function(const Config *c, const char *name);

/*
 * cfg_set() - applies one override by its flag name without "--" ("memory", "timeout",
 * "sandbox-memory", "async-max-retries", "reuse", "listen", "seed", …; see cfg_help()).
 * Global keys set the Config; function keys set every function now in @c, so add functions
 * first. Every flag takes a value, parsed as the key's type: numbers and true/false as JSON,
 * "null" for null, an empty value for a nullable string, arrays as JSON ("async-retry-delays"
 * also as a comma list "0.1,0.2"). Specials: "env" NAME=VALUE and "alias" NAME=VERSION add or
 * replace one entry (repeatable); "env-file" FILE reads SAM's --env-vars JSON. Relative
 * paths resolve against the working directory.
 * Return: 0; -ENOENT for an unknown flag; -EINVAL (or -errno for env-file) with @err filled,
 * @err->path being "--FLAG".
 */
int cfg_set(Config *c, const char *flag, const char *value, CfgError *err);
/* cfg_flag_known() - true when @flag (without the leading "--") is a config flag. */
bool cfg_flag_known(const char *flag);
/*
 * cfg_apply_env() - applies LEMU_<FLAG> variables (LEMU_MEMORY=256, LEMU_SANDBOX_MEMORY=off,
 * LEMU_ENV=K=V) from @envp (NULL: environ) through cfg_set(). LEMU_ names that are no flag
 * are ignored: they belong to other parts of lemu. For the documented precedence call it
 * after loading the file and before cfg_set() of the command line.
 * Return: 0, or the first error with @err->path "LEMU_<FLAG>".
 */
int cfg_apply_env(Config *c, char **envp, CfgError *err);

/*
 * cfg_merge_lifecycle() - merges a JSON object of lifecycle keys ({"reuse": "cold"}) into
 * @fn, for PUT /_lemu/functions/{fn}/lifecycle. Only keys marked mutable are accepted; the
 * merge is all or nothing. @err->path names the key ("reuse").
 * Return: 0, or -EINVAL with @err filled.
 */
int cfg_merge_lifecycle(Config *c, FunctionConfig *fn, const char *json, size_t len, CfgError *err);

/*
 * cfg_validate() - cross-key checks, once every source is applied: a valid unique name,
 * exactly one of bootstrap and command, the bootstrap a regular executable file, code_dir
 * and extensions_dir folders, reserved_concurrency and provisioned within
 * account_concurrency, 4 KB of environment. It also makes every path absolute against
 * base_dir and fills code_dir's default.
 * Return: 0, or -EINVAL with @err filled (path "functions.NAME[.key]", no line:col).
 */
int cfg_validate(Config *c, CfgError *err);

/* cfg_dump() - the config as pretty JSON with every default filled in, which
 * cfg_load_string() reads back to the same config; free() the result. */
char *cfg_dump(const Config *c);

/* cfg_dump_function() - one function's config as compact JSON (no name); free() it. */
char *cfg_dump_function(const FunctionConfig *fn);

/* The enum values as the config spells them; NULL for an out-of-range value. */
const char *cfg_reuse_to_string(CfgReuse r);
const char *cfg_route_to_string(CfgRoute r);
const char *cfg_log_format_to_string(CfgLogFormat f);

/* cfg_help() - the config reference for `lemu help config`. */
void cfg_help(FILE *out);

/* cfg_format_error() - "line:col: path: reason" (or "path: reason") into @out. */
void cfg_format_error(const CfgError *err, char *out, size_t n);
