/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "emulator.h"

/*
 * `lemu test` scenarios (DESIGN "`lemu test` scenarios"): scenario.c reads a scenario file
 * into these typed structs (every mistake named by step index and key, with line:col),
 * builds its Config and checks the steps against it; scenario-run.c runs it on an embedded
 * server and reports. Every string here is owned by the Scenario and freed by scn_deinit().
 * Step indexes count from 0, as `same_as` does.
 */

#define SCN_PARALLEL_MAX 256
#define SCN_EVENT_MAX    6291456u

typedef enum ScnStepKind {
        SCN_STEP_INVOKE,
        SCN_STEP_RECYCLE,
        SCN_STEP_LIFECYCLE,
        SCN_STEP_WAIT_IDLE,
        SCN_STEP_SLEEP,
        SCN_STEP_EXPECT_FINDINGS,
        SCN_STEP_FAULT,
        _SCN_STEP_KIND_MAX,
        _SCN_STEP_KIND_INVALID = -22,
} ScnStepKind;

/* A "json" expectation: the value at a JSONPath, as JSON text from the scenario. */
typedef struct ScnJsonExpect {
        char *path;
        char *value;
        size_t value_len;
} ScnJsonExpect;

/* A string expectation that may also be null ("no function error"). */
typedef struct ScnOptString {
        bool set;    /* the key was given */
        char *value; /* NULL: expected absent */
} ScnOptString;

typedef struct ScnExpect {
        int status; /* -1: not checked */
        int cold;   /* -1: not checked, else 0 or 1 */
        ScnOptString function_error;
        ScnOptString error_type;
        char *body; /* exact bytes, or NULL */
        size_t body_len;
        char *body_json; /* JSON text compared JSON-aware ("body" given as non-string), or NULL */
        size_t body_json_len;
        char *body_regex_text; /* NULL: not checked */
        regex_t body_regex;
        ScnJsonExpect *json;
        size_t n_json;
        int same_as; /* step index, or -1 */
        int differs_from;
} ScnExpect;

/* One entry of expect_findings: a kind, and a path when given. */
typedef struct ScnClaim {
        char *kind;
        char *path; /* NULL: any path */
} ScnClaim;

typedef struct ScnStep {
        ScnStepKind kind;
        unsigned index;
        unsigned line;  /* where the step starts in the file */
        char *function; /* invoke, recycle, lifecycle, fault */
        /* invoke */
        char *event; /* JSON text, exactly as written (or the @file's bytes) */
        size_t event_len;
        InvokeType type;
        unsigned parallel; /* 1 unless "parallel" */
        bool has_expect;
        ScnExpect expect;
        double read_timeout_s; /* filled by scn_bind(): how long an answer may take */
        /* lifecycle */
        char *lifecycle_json; /* the "set" object's text */
        size_t lifecycle_len;
        /* fault: a fault object to add (its JSON text), or the id to clear ("all": every one) */
        char *fault_json;
        size_t fault_len;
        char *fault_clear;
        /* wait_idle, sleep_ms */
        double wait_timeout_s;
        unsigned sleep_ms;
        /* expect_findings */
        bool findings_none;
        ScnClaim *claims;
        size_t n_claims;
} ScnStep;

typedef struct Scenario {
        char *path; /* as given, for messages */
        char *dir;  /* absolute folder of the file: relative paths resolve against it */
        char *name; /* "name", else the file name without .json */
        bool has_seed;
        uint64_t seed;
        char *config_file; /* absolute path, or NULL when "config" is an object */
        char *config_text; /* the file's text with all but the config object blanked, or NULL */
        size_t config_len;
        ScnStep *steps;
        size_t n_steps;
} Scenario;

/**
 * scn_load_string() - parses a scenario (JSON; // and block comments allowed).
 * @text, @len: the file's bytes (borrowed; no NUL needed).
 * @path: shown in messages; @dir: the folder relative paths resolve against (absolute).
 * @err: on failure, "PATH:LINE:COL: step N: what" (or "PATH: what"), NUL-terminated.
 *
 * A fault step's "add" is checked as the fault module checks it (lemu help faults).
 * Return: 0, or -EINVAL (-errno for an unreadable @file event) with @err filled; @s is then
 * half-built: scn_deinit() it.
 */
int scn_load_string(Scenario *s, const char *text, size_t len, const char *path, const char *dir,
                    char *err, size_t errn);
/* scn_load_file() - reads @path and scn_load_string()s it, @dir being the file's folder. */
int scn_load_file(Scenario *s, const char *path, char *err, size_t errn);
/* scn_deinit() - frees everything; safe on a zeroed or half-built Scenario. */
void scn_deinit(Scenario *s);

/**
 * scn_build_config() - the scenario's Config: its file or object, LEMU_* variables, the
 * scenario's seed, then @seed_flag ("--seed", NULL when not given); validated.
 * @c: cfg_init()ed here; cfg_deinit() it whatever the result.
 * Return: 0, or -EINVAL with @err filled.
 */
int scn_build_config(const Scenario *s, Config *c, const char *seed_flag, char *err, size_t errn);

/**
 * scn_bind() - checks the steps against @c: named functions exist, lifecycle "set" objects
 * are valid; fills each step's read timeout from its function's timeouts.
 * Return: 0, or -EINVAL with @err filled.
 */
int scn_bind(Scenario *s, const Config *c, char *err, size_t errn);

/* The step as progress lines and JUnit name it: "step 3: invoke orders"; into @out. */
void scn_step_title(const ScnStep *st, char *out, size_t n);

/**
 * scn_json_find() - the value a JSONPath names in a JSON text.
 * The subset: `$`, `.key`, `['key']` / `["key"]`, `[N]`. With duplicate keys the last one
 * counts, as in JavaScript.
 * @doc, @len: valid JSON (borrowed). @ret_at, @ret_len: the value's text inside @doc.
 * Return: 0; -ENOENT when nothing is there; -EINVAL for a path outside the subset.
 */
int scn_json_find(const char *doc, size_t len, const char *path, size_t *ret_at, size_t *ret_len);
/* scn_json_path_check() - 0 when @path is in the subset, else -EINVAL and why in @why. */
int scn_json_path_check(const char *path, char *why, size_t n);
/**
 * scn_json_equal() - compares two valid JSON texts as values: key order and whitespace do
 * not matter, strings compare decoded, numbers by their text (1 and 1.0 differ, big ids
 * never collide).
 */
bool scn_json_equal(const char *a, size_t alen, const char *b, size_t blen);

/* ---- scenario-run.c ---- */

/* scn_main() - `lemu test SCENARIO.json… [--junit FILE] [--seed N]`; the exit code. */
int scn_main(int argc, char **argv);
