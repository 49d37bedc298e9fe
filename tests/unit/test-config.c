/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the config module: defaults, the JSON-with-comments loader and where its
 * errors point, every range bound, flags, LEMU_* variables and their precedence, env files,
 * validation against the filesystem, and the dump that must read back to the same config.
 * Files live under /tmp (mkstemp, mkdtemp) and are removed by the test that made them.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

#define BASE "/srv/app"

/* ---- helpers ---- */

static int load(Config *c, const char *text, CfgError *err) {
        return cfg_load_string(c, text, strlen(text), BASE, err);
}

static const char *fmt_err(const CfgError *err) {
        static char buf[1024];

        cfg_format_error(err, buf, sizeof(buf));
        return buf;
}

/* Loads @text into a fresh Config and asserts the load fails with exactly @msg. */
static void expect_load_error(const char *text, const char *msg) {
        CfgError err;
        Config c;

        cfg_init(&c);
        assert_int_equal(load(&c, text, &err), -EINVAL);
        assert_string_equal(fmt_err(&err), msg);
        cfg_deinit(&c);
}

static void expect_load_ok(const char *text) {
        CfgError err = { 0 };
        Config c;
        int r;

        cfg_init(&c);
        r = load(&c, text, &err);
        if (r != 0)
                fail_msg("%s: %s", text, fmt_err(&err));
        cfg_deinit(&c);
}

/* A one-function config with @key: @value inside the function (or its @section). */
static char *function_config(const char *section, const char *key, const char *value) {
        char *text = NULL;
        int n;

        if (section)
                n = asprintf(&text, "{\"functions\": {\"f\": {\"%s\": {\"%s\": %s}}}}", section,
                             key, value);
        else
                n = asprintf(&text, "{\"functions\": {\"f\": {\"%s\": %s}}}", key, value);
        assert_true(n > 0);
        return text;
}

static void expect_fn_ok(const char *section, const char *key, const char *value) {
        char *text = function_config(section, key, value);

        expect_load_ok(text);
        free(text);
}

static void expect_fn_error(const char *section, const char *key, const char *value,
                            const char *reason) {
        char *text = function_config(section, key, value);
        CfgError err;
        Config c;

        cfg_init(&c);
        assert_int_equal(load(&c, text, &err), -EINVAL);
        assert_string_equal(err.reason, reason);
        free(text);
        cfg_deinit(&c);
}

static char *write_temp(const char *dir, const char *content) {
        char *path = NULL;
        int fd;

        assert_true(asprintf(&path, "%s/lemu-test-config-XXXXXX", dir) > 0);
        fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, content, strlen(content)), (ssize_t) strlen(content));
        close(fd);
        return path;
}

static char *make_dir(void) {
        char tmpl[] = "/tmp/lemu-test-config-XXXXXX";

        assert_non_null(mkdtemp(tmpl));
        return strdup(tmpl);
}

static char *join(const char *a, const char *b) {
        char *p = NULL;

        assert_true(asprintf(&p, "%s/%s", a, b) > 0);
        return p;
}

static const char *env_get(const FunctionConfig *fn, const char *key) {
        for (size_t i = 0; i < fn->n_environment; i++)
                if (strcmp(fn->environment[i].key, key) == 0)
                        return fn->environment[i].value;
        return NULL;
}

/* ---- defaults ---- */

static void test_defaults(void **state) {
        FunctionConfig *fn;
        Config c;

        (void) state;
        cfg_init(&c);
        assert_string_equal(c.listen, "127.0.0.1:3001");
        assert_string_equal(c.region, "us-east-1");
        assert_string_equal(c.account_id, "000000000000");
        assert_int_equal(c.seed, 1);
        assert_int_equal(c.account_concurrency, 1000);
        assert_int_equal(c.records_max, 10000);
        assert_string_equal(c.state_dir, ".lemu");
        assert_true(c.shutdown_grace_s == 10.0);
        assert_int_equal(c.log_format, CFG_LOG_TEXT);
        assert_int_equal(c.limits.max_connections, 10000);
        assert_int_equal(c.limits.max_header_bytes, 65536);
        assert_int_equal(c.limits.max_headers, 100);
        assert_true(c.limits.header_timeout_s == 10.0);
        assert_int_equal(c.limits.max_queued_events, 100000);
        assert_int_equal(c.limits.async_cold_starts, 0);
        assert_int_equal(c.n_functions, 0);
        assert_int_equal(c.n_warnings, 0);
        assert_non_null(c.base_dir);
        assert_true(c.base_dir[0] == '/');

        fn = cfg_add_function(&c, "orders");
        assert_non_null(fn);
        assert_null(cfg_add_function(&c, "orders"));
        fn = cfg_find_function(&c, "orders");
        assert_string_equal(fn->name, "orders");
        assert_null(fn->bootstrap);
        assert_null(fn->command);
        assert_null(fn->args);
        assert_null(fn->code_dir);
        assert_string_equal(fn->handler, "function.handler");
        assert_int_equal(fn->memory_mb, 128);
        assert_true(fn->timeout_s == 3.0);
        assert_true(fn->init_timeout_s == 10.0);
        assert_int_equal(fn->ephemeral_storage_mb, 512);
        assert_int_equal(fn->n_environment, 0);
        assert_null(fn->extensions_dir);
        assert_int_equal(fn->n_aliases, 0);
        assert_int_equal(fn->reserved_concurrency, -1);
        assert_int_equal(fn->per_environment_concurrency, 1);
        assert_int_equal(fn->lifecycle.reuse, CFG_REUSE_WARM);
        assert_true(fn->lifecycle.reuse_probability == 0.5);
        assert_int_equal(fn->lifecycle.route, CFG_ROUTE_MRU);
        assert_int_equal(fn->lifecycle.provisioned, 0);
        assert_int_equal(fn->lifecycle.max_invocations_per_environment, 0);
        assert_true(fn->lifecycle.idle_timeout_s == 600.0);
        assert_true(fn->lifecycle.freeze);
        assert_true(fn->lifecycle.drift);
        assert_true(fn->lifecycle.settle_ms == 0.0);
        assert_false(fn->lifecycle.shadow);
        assert_null(fn->lifecycle.shadow_ignore_paths);
        assert_null(fn->lifecycle.shadow_ignore_values);
        assert_string_equal(fn->sandbox.memory, "enforce");
        assert_string_equal(fn->sandbox.cpu, "proportional");
        assert_string_equal(fn->sandbox.seccomp, "default");
        assert_string_equal(fn->sandbox.network, "host");
        assert_string_equal(fn->sandbox.tmp, "auto");
        assert_string_equal(fn->sandbox.fs, "read_only");
        assert_string_equal(fn->sandbox.user, "auto");
        assert_int_equal(fn->sandbox.nofile, 1024);
        assert_int_equal(fn->sandbox.pids, 1024);
        assert_string_equal(fn->sandbox.cgroup_root, "auto");
        assert_int_equal(fn->async.max_retries, 2);
        assert_int_equal(fn->async.n_retry_delays, 2);
        assert_true(fn->async.retry_delays_s[0] == 60.0);
        assert_true(fn->async.retry_delays_s[1] == 120.0);
        assert_true(fn->async.max_event_age_s == 21600.0);
        assert_int_equal(fn->async.max_payload_bytes, 1048576);
        assert_null(fn->async.on_failure);
        assert_int_equal(fn->streaming.max_bytes, 209715200);
        assert_int_equal(fn->streaming.rate_bytes_per_s, 2097152);
        assert_int_equal(fn->streaming.burst_bytes, 6291456);
        assert_null(fn->http.path);
        assert_string_equal(fn->http.event, "function-url");
        assert_null(fn->faults_json);

        assert_string_equal(cfg_reuse_to_string(CFG_REUSE_RANDOM), "random");
        assert_string_equal(cfg_route_to_string(CFG_ROUTE_ROUND_ROBIN), "round_robin");
        assert_string_equal(cfg_log_format_to_string(CFG_LOG_JSON), "json");
        assert_null(cfg_route_to_string(_CFG_ROUTE_MAX));
        cfg_deinit(&c);
}

static void test_deinit_zeroed(void **state) {
        Config c = { 0 };

        (void) state;
        cfg_deinit(&c);
        cfg_deinit(&c);
        cfg_deinit(NULL);
        cfg_init(&c);
        cfg_deinit(&c);
        cfg_deinit(&c);
}

/* ---- loading ---- */

static const char full_config[] =
        "// lemu config with every kind of comment\n"
        "{\n"
        "  /* block comment with \"quotes\" and // inside */\n"
        "  \"listen\": \"0.0.0.0:0\", // trailing comment\n"
        "  \"region\": \"eu-west-1\",\n"
        "  \"account_id\": \"123456789012\",\n"
        "  \"seed\": 9007199254740992,\n"
        "  \"log_format\": \"json\",\n"
        "  \"state_dir\": \"state\",\n"
        "  \"limits\": { \"max_connections\": 5, \"header_timeout_s\": 0.5 },\n"
        "  \"functions\": {\n"
        "    \"orders\": {\n"
        "      \"bootstrap\": \"bin/bootstrap\",\n"
        "      \"args\": [\"--port\", \"8080\"],\n"
        "      \"handler\": \"main\",\n"
        "      \"memory_mb\": 1769,\n"
        "      \"timeout_s\": 2.5,\n"
        "      \"environment\": { \"URL\": \"http://x//y\", \"NOTE\": \"/* not a comment */\" },\n"
        "      \"aliases\": { \"live\": \"$LATEST\", \"v1\": \"1\" },\n"
        "      \"reserved_concurrency\": 10,\n"
        "      \"per_environment_concurrency\": 8,\n"
        "      \"lifecycle\": { \"reuse\": \"random\", \"route\": \"round_robin\",\n"
        "                     \"reuse_probability\": 0.25, \"settle_ms\": 20,\n"
        "                     \"freeze\": false, \"max_invocations_per_environment\": 3 },\n"
        "      \"sandbox\": { \"memory\": \"off\", \"tmp\": \"tmpfs\", \"cgroup_root\": \"cg\" },\n"
        "      \"async\": { \"max_retries\": 1, \"retry_delays_s\": [0.1],\n"
        "                 \"on_failure\": \"/var/failed.jsonl\" },\n"
        "      \"streaming\": { \"burst_bytes\": 1 },\n"
        "      \"http\": { \"path\": \"/orders/*\", \"event\": \"apigw-v1\" },\n"
        "      \"faults\": [ { \"action\": \"crash\", \"when\": { \"invocation\": 3 } } ]\n"
        "    },\n"
        "    \"node\": { \"command\": [\"node\", \"index.js\"], \"code_dir\": \"/opt/code\" }\n"
        "  }\n"
        "}\n";

static void test_full_config(void **state) {
        CfgError err = { 0 };
        FunctionConfig *fn;
        Config c;

        (void) state;
        cfg_init(&c);
        assert_int_equal(load(&c, full_config, &err), 0);
        assert_string_equal(c.listen, "0.0.0.0:0");
        assert_string_equal(c.region, "eu-west-1");
        assert_string_equal(c.account_id, "123456789012");
        assert_true(c.seed == UINT64_C(9007199254740992));
        assert_int_equal(c.log_format, CFG_LOG_JSON);
        assert_string_equal(c.state_dir, BASE "/state");
        assert_string_equal(c.base_dir, BASE);
        assert_int_equal(c.limits.max_connections, 5);
        assert_true(c.limits.header_timeout_s == 0.5);
        assert_int_equal(c.limits.max_headers, 100);
        assert_int_equal(c.n_functions, 2);

        fn = cfg_find_function(&c, "orders");
        assert_non_null(fn);
        assert_string_equal(fn->bootstrap, BASE "/bin/bootstrap");
        assert_null(fn->command);
        assert_string_equal(fn->args[0], "--port");
        assert_string_equal(fn->args[1], "8080");
        assert_null(fn->args[2]);
        assert_string_equal(fn->handler, "main");
        assert_int_equal(fn->memory_mb, 1769);
        assert_true(fn->timeout_s == 2.5);
        assert_int_equal(fn->n_environment, 2);
        assert_string_equal(fn->environment[0].key, "URL");
        assert_string_equal(fn->environment[0].value, "http://x//y");
        assert_string_equal(fn->environment[1].value, "/* not a comment */");
        assert_int_equal(fn->n_aliases, 2);
        assert_string_equal(fn->aliases[1].key, "v1");
        assert_string_equal(fn->aliases[1].value, "1");
        assert_int_equal(fn->reserved_concurrency, 10);
        assert_int_equal(fn->per_environment_concurrency, 8);
        assert_int_equal(fn->lifecycle.reuse, CFG_REUSE_RANDOM);
        assert_int_equal(fn->lifecycle.route, CFG_ROUTE_ROUND_ROBIN);
        assert_true(fn->lifecycle.reuse_probability == 0.25);
        assert_true(fn->lifecycle.settle_ms == 20.0);
        assert_false(fn->lifecycle.freeze);
        assert_true(fn->lifecycle.drift);
        assert_int_equal(fn->lifecycle.max_invocations_per_environment, 3);
        assert_string_equal(fn->sandbox.memory, "off");
        assert_string_equal(fn->sandbox.tmp, "tmpfs");
        assert_string_equal(fn->sandbox.cpu, "proportional");
        assert_string_equal(fn->sandbox.cgroup_root, BASE "/cg");
        assert_int_equal(fn->async.max_retries, 1);
        assert_int_equal(fn->async.n_retry_delays, 1);
        assert_true(fn->async.retry_delays_s[0] == 0.1);
        assert_string_equal(fn->async.on_failure, "/var/failed.jsonl");
        assert_int_equal(fn->streaming.burst_bytes, 1);
        assert_int_equal(fn->streaming.max_bytes, 209715200);
        assert_string_equal(fn->http.path, "/orders/*");
        assert_string_equal(fn->http.event, "apigw-v1");
        assert_string_equal(fn->faults_json,
                            "[{\"action\":\"crash\",\"when\":{\"invocation\":3}}]");

        fn = cfg_find_function(&c, "node");
        assert_null(fn->bootstrap);
        assert_string_equal(fn->command[0], "node");
        assert_string_equal(fn->command[1], "index.js");
        assert_null(fn->command[2]);
        assert_string_equal(fn->code_dir, "/opt/code");
        assert_int_equal(fn->memory_mb, 128);
        assert_int_equal(c.n_warnings, 0);
        cfg_deinit(&c);
}

/* A second load merges: functions named again keep the keys the second file leaves out. */
static void test_merge_two_loads(void **state) {
        CfgError err;
        Config c;

        (void) state;
        cfg_init(&c);
        assert_int_equal(load(&c,
                              "{\"functions\": {\"a\": {\"memory_mb\": 256, "
                              "\"environment\": {\"X\": \"1\"}}}}",
                              &err),
                         0);
        assert_int_equal(load(&c,
                              "{\"functions\": {\"a\": {\"timeout_s\": 7, "
                              "\"environment\": {\"Y\": \"2\"}}, \"b\": {}}}",
                              &err),
                         0);
        assert_int_equal(c.n_functions, 2);
        assert_int_equal(c.functions[0].memory_mb, 256);
        assert_true(c.functions[0].timeout_s == 7.0);
        assert_int_equal(c.functions[0].n_environment, 1);
        assert_string_equal(c.functions[0].environment[0].key, "Y");
        cfg_deinit(&c);
}

/* The shipped example must stay loadable; it sits two folders above this file. */
static void test_example_file(void **state) {
        char *dir = strdup(__FILE__), *slash, *path;
        CfgError err = { 0 };
        FunctionConfig *fn;
        Config c;
        int r;

        (void) state;
        /* tests/unit/test-config.c, relative to the compiler's (and meson test's) folder. */
        for (int i = 0; i < 3; i++) {
                slash = strrchr(dir, '/');
                if (!slash) {
                        strcpy(dir, ".");
                        break;
                }
                *slash = 0;
        }
        path = join(dir, "lemu.example.json");
        free(dir);
        if (access(path, R_OK) < 0) {
                free(path);
                skip();
        }
        cfg_init(&c);
        r = cfg_load_file(&c, path, &err);
        if (r < 0)
                fail_msg("%s: %s", path, fmt_err(&err));
        fn = cfg_find_function(&c, "orders");
        assert_non_null(fn);
        assert_string_equal(env_get(fn, "URL"), "http://localhost:8000//x");
        assert_int_equal(fn->memory_mb, 128);
        assert_int_equal(c.n_warnings, 0);
        free(path);
        cfg_deinit(&c);
}

static void test_unknown_key(void **state) {
        (void) state;
        expect_load_error("{\n"
                          "  \"functions\": {\n"
                          "    \"orders\": {\n"
                          "      \"memroy_mb\": 256\n"
                          "    }\n"
                          "  }\n"
                          "}\n",
                          "4:7: functions.orders.memroy_mb: unknown key");
        expect_load_error("{\"functions\": {\"orders\": {\"memory\": 256}}}",
                          "1:27: functions.orders.memory: unknown key (did you mean "
                          "'memory_mb'?)");
        expect_load_error("{\"functions\": {\"o\": {\"reuse\": \"cold\"}}}",
                          "1:22: functions.o.reuse: unknown key (did you mean "
                          "'lifecycle.reuse'?)");
        expect_load_error("{\"memory_mb\": 256}",
                          "1:2: memory_mb: unknown key here ('memory_mb' belongs in a function)");
        expect_load_error("{\"limits\": {\"max_conns\": 1}}",
                          "1:13: limits.max_conns: unknown key");
        /* A comment before the key on its line shifts the column, not the offsets. */
        expect_load_error("{ /* é */ \"bogus\": 1}", "1:11: bogus: unknown key");
        expect_load_error("{\"seed\": 1,\n \"seed\": 2}", "2:2: seed: duplicate key");
}

static void test_syntax_errors(void **state) {
        (void) state;
        expect_load_error("{\n  \"seed\": 1\n  \"region\": \"x\"\n}",
                          "3:3: syntax error near '\"region\": \"x\"'");
        expect_load_error("{\"seed\": 1} x",
                          "1:13: unexpected text after the end of the JSON value");
        expect_load_error("{\"seed\": 1}\n{}",
                          "2:1: unexpected text after the end of the JSON value");
        expect_load_error("{\"seed\": 1,\n}", "1:11: syntax error: a comma before '}'");
        expect_load_error("{\"seed\": 1", "1:11: syntax error: unexpected end of input");
        expect_load_error("", "1:1: syntax error: unexpected end of input");
        expect_load_error("{} /* open", "1:4: unterminated /* comment");
        expect_load_error("[1]", "1:1: the config must be a JSON object, got an array");
        expect_load_error("{\"region\": \"a\xff\"}", "1:14: invalid UTF-8");
        /* Trailing text that is only comments and whitespace is fine. */
        expect_load_ok("{} // done\n/* really */\n\n");
        {
                static const char nul[] = "{}\0x";
                CfgError err;
                Config c;

                cfg_init(&c);
                assert_int_equal(cfg_load_string(&c, nul, sizeof(nul) - 1, NULL, &err), -EINVAL);
                assert_string_equal(fmt_err(&err), "1:3: the text contains a NUL byte");
                cfg_deinit(&c);
        }
}

static void test_type_errors(void **state) {
        (void) state;
        expect_fn_error(NULL, "memory_mb", "\"256\"", "expected an integer, got the string '256'");
        expect_fn_error("lifecycle", "freeze", "1", "expected true or false, got a number");
        expect_fn_error(NULL, "environment", "{\"A\": 1}",
                        "expected a string (quote numbers), got a number");
        expect_fn_error(NULL, "command", "\"node\"",
                        "expected an array of strings or null, got the string 'node'");
        expect_fn_error(NULL, "command", "[]", "must not be empty (use null)");
        expect_fn_error(NULL, "args", "[\"a\", 1]", "expected a string, got a number");
        expect_fn_error("sandbox", "memory", "\"strict\"",
                        "must be one of enforce, off (got 'strict')");
        expect_fn_error("sandbox", "tmp", "\"ram\"",
                        "must be one of auto, image, tmpfs, dir (got 'ram')");
        expect_fn_error("lifecycle", "route", "\"fifo\"",
                        "must be one of mru, lru, random, round_robin (got 'fifo')");
        expect_fn_error("http", "event", "\"alb\"",
                        "must be one of function-url, apigw-v2, apigw-v1 (got 'alb')");
        expect_fn_error("http", "path", "\"orders\"", "must start with / (got 'orders')");
        expect_fn_error(NULL, "faults", "[{\"action\": \"oom\"}, 2]",
                        "expected a fault object, got a number");
        /* The fault module checks each fault and names its key. */
        expect_fn_error(NULL, "faults", "[{\"action\": \"delay\"}]",
                        "ms: missing (delay needs it)");
        expect_fn_error(NULL, "faults", "[{\"action\": \"crash\", \"when\": {\"phase\": 1}}]",
                        "when.phase: crash fires in init, invoke, after_response, got a number");
        expect_fn_error(NULL, "faults", "{}", "expected an array of fault objects, got an object");
        expect_fn_error(NULL, "aliases", "{\"live\": \"latest\"}",
                        "alias 'live' must point at \"$LATEST\" or a version number");
        expect_fn_error(NULL, "aliases", "{\"123\": \"1\"}",
                        "'123' is not a valid alias name (1 to 128 letters, digits, - or _, not "
                        "only digits)");
        expect_fn_error(NULL, "handler", "\"\"", "must not be empty");
        expect_load_error("{\"listen\": \"localhost\"}",
                          "1:2: listen: expected HOST:PORT, e.g. 127.0.0.1:3001 (got 'localhost')");
        expect_load_error("{\"listen\": \"h:70000\"}",
                          "1:2: listen: the port must be a number from 0 to 65535 (got 'h:70000')");
        expect_load_error("{\"account_id\": \"123\"}",
                          "1:2: account_id: expected 12 digits (got '123')");
        expect_load_error("{\"functions\": []}",
                          "1:2: functions: expected an object of functions, got an array");
        expect_load_error("{\"limits\": 3}", "1:2: limits: expected an object, got a number");
        expect_load_ok("{\"listen\": \"[::1]:3001\"}");
}

static void test_function_names(void **state) {
        char name65[66], text[160];

        (void) state;
        memset(name65, 'a', 65);
        name65[65] = 0;
        snprintf(text, sizeof(text), "{\"functions\": {\"%.64s\": {}}}", name65);
        expect_load_ok(text);
        snprintf(text, sizeof(text), "{\"functions\": {\"%s\": {}}}", name65);
        expect_load_error(text,
                          "1:16: functions.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                          "aaaaaaaaaaaaaa: a function name is 1 to 64 letters, digits, - or _");
        expect_load_ok("{\"functions\": {\"My-func_2\": {}}}");
        expect_load_error(
                "{\"functions\": {\"a.b\": {}}}",
                "1:16: functions.a.b: a function name is 1 to 64 letters, digits, - or _");
        expect_load_error(
                "{\"functions\": {\"\": {}}}",
                "1:16: functions.\"\": a function name is 1 to 64 letters, digits, - or _");
        expect_load_error("{\"functions\": {\"a\": {}, \"a\": {}}}",
                          "1:25: functions.a: duplicate key");
}

/* ---- ranges ---- */

static void test_ranges(void **state) {
        (void) state;
        expect_fn_ok(NULL, "memory_mb", "128");
        expect_fn_ok(NULL, "memory_mb", "10240");
        expect_fn_error(NULL, "memory_mb", "127", "must be an integer from 128 to 10240 (got 127)");
        expect_fn_error(NULL, "memory_mb", "10241",
                        "must be an integer from 128 to 10240 (got 10241)");
        expect_fn_error(NULL, "memory_mb", "256.5",
                        "must be an integer from 128 to 10240 (got 256.5)");
        expect_fn_ok(NULL, "ephemeral_storage_mb", "512");
        expect_fn_ok(NULL, "ephemeral_storage_mb", "10240");
        expect_fn_error(NULL, "ephemeral_storage_mb", "511",
                        "must be an integer from 512 to 10240 (got 511)");
        expect_fn_error(NULL, "ephemeral_storage_mb", "10241",
                        "must be an integer from 512 to 10240 (got 10241)");
        expect_fn_ok("async", "max_retries", "0");
        expect_fn_ok("async", "max_retries", "2");
        expect_fn_error("async", "max_retries", "3", "must be an integer from 0 to 2 (got 3)");
        expect_fn_error("async", "max_retries", "-1", "must be an integer from 0 to 2 (got -1)");
        expect_fn_ok(NULL, "timeout_s", "900");
        expect_fn_ok(NULL, "timeout_s", "0.001");
        expect_fn_error(NULL, "timeout_s", "0", "must be greater than 0 and at most 900 (got 0)");
        expect_fn_error(NULL, "timeout_s", "900.5",
                        "must be greater than 0 and at most 900 (got 900.5)");
        expect_fn_error(NULL, "init_timeout_s", "-1",
                        "must be greater than 0 and at most 900 (got -1)");
        expect_fn_ok("lifecycle", "reuse_probability", "0");
        expect_fn_ok("lifecycle", "reuse_probability", "1");
        expect_fn_error("lifecycle", "reuse_probability", "1.01", "must be from 0 to 1 (got 1.01)");
        expect_fn_ok(NULL, "per_environment_concurrency", "1");
        expect_fn_error(NULL, "per_environment_concurrency", "0",
                        "must be an integer from 1 to 1024 (got 0)");
        expect_fn_ok(NULL, "reserved_concurrency", "0");
        expect_fn_ok(NULL, "reserved_concurrency", "null");
        expect_fn_error(NULL, "reserved_concurrency", "-1",
                        "must be an integer from 0 to 1000000 (got -1)");
        expect_fn_ok("async", "max_event_age_s", "21600");
        expect_fn_error("async", "max_event_age_s", "21601",
                        "must be greater than 0 and at most 21600 (got 21601)");
        expect_fn_ok("async", "max_payload_bytes", "1048576");
        expect_fn_error("async", "max_payload_bytes", "1048577",
                        "must be an integer from 1 to 1048576 (got 1048577)");
        expect_fn_ok("async", "retry_delays_s", "[0, 21600]");
        expect_fn_error("async", "retry_delays_s", "[]",
                        "must list 1 or 2 delays, one per retry (got 0)");
        expect_fn_error("async", "retry_delays_s", "[1, 2, 3]",
                        "must list 1 or 2 delays, one per retry (got 3)");
        expect_fn_error("async", "retry_delays_s", "[1, -0.5]",
                        "must be from 0 to 21600 (got -0.5)");
        expect_fn_ok("sandbox", "nofile", "1");
        expect_fn_error("sandbox", "nofile", "0", "must be an integer from 1 to 1048576 (got 0)");
        expect_fn_error("lifecycle", "settle_ms", "60001", "must be from 0 to 60000 (got 60001)");
        expect_fn_error("streaming", "max_bytes", "0",
                        "must be an integer from 1 to 9007199254740992 (got 0)");
        expect_load_error("{\"seed\": 9007199254740994}",
                          "1:2: seed: must be an integer from 0 to 9007199254740992 (got "
                          "9007199254740994)");
        expect_load_error("{\"account_concurrency\": 0}",
                          "1:2: account_concurrency: must be an integer from 1 to 1000000 (got 0)");
        expect_load_error("{\"limits\": {\"max_header_bytes\": 1023}}",
                          "1:13: limits.max_header_bytes: must be an integer from 1024 to 1048576 "
                          "(got 1023)");
        expect_load_error(
                "{\"functions\": {\"f\": {\"async\": {\"retry_delays_s\": [1,\n  \"x\"]}}}}",
                "2:3: functions.f.async.retry_delays_s[1]: expected a number, got a "
                "string");
}

/* Durations take fractions; below Lambda's floor they load with a warning. */
static void test_fractions_and_warnings(void **state) {
        CfgError err;
        FunctionConfig *fn;
        Config c;

        (void) state;
        cfg_init(&c);
        assert_int_equal(
                load(&c,
                     "{\"shutdown_grace_s\": 0.25, \"functions\": {\"f\": {\n"
                     "  \"timeout_s\": 0.5, \"init_timeout_s\": 0.2,\n"
                     "  \"lifecycle\": {\"idle_timeout_s\": 0.5, \"settle_ms\": 2.5},\n"
                     "  \"async\": {\"retry_delays_s\": [0.1, 0.2], \"max_event_age_s\": 1.5}\n"
                     "}}}",
                     &err),
                0);
        fn = cfg_find_function(&c, "f");
        assert_true(c.shutdown_grace_s == 0.25);
        assert_true(fn->timeout_s == 0.5);
        assert_true(fn->init_timeout_s == 0.2);
        assert_true(fn->lifecycle.idle_timeout_s == 0.5);
        assert_true(fn->lifecycle.settle_ms == 2.5);
        assert_int_equal(fn->async.n_retry_delays, 2);
        assert_true(fn->async.retry_delays_s[0] == 0.1);
        assert_true(fn->async.retry_delays_s[1] == 0.2);
        assert_true(fn->async.max_event_age_s == 1.5);
        assert_int_equal(c.n_warnings, 3);
        assert_string_equal(c.warnings[0], "2:3: functions.f.timeout_s: 0.5 s is below Lambda's "
                                           "minimum of 1 s; accepted");
        assert_string_equal(c.warnings[1], "2:21: functions.f.init_timeout_s: 0.2 s is below "
                                           "Lambda's minimum of 1 s; accepted");
        assert_string_equal(c.warnings[2], "4:43: functions.f.async.max_event_age_s: 1.5 s is "
                                           "below Lambda's minimum of 60 s; accepted");
        assert_null(c.warnings[3]);
        cfg_deinit(&c);
}

/* ---- environment ---- */

static void test_environment(void **state) {
        char *text, *big;

        (void) state;
        expect_fn_error(NULL, "environment", "{\"AWS_REGION\": \"x\"}",
                        "'AWS_REGION' is reserved by Lambda and cannot be set");
        expect_fn_error(NULL, "environment", "{\"_HANDLER\": \"x\"}",
                        "'_HANDLER' is not a valid variable name (a letter, then letters, digits "
                        "or _)");
        expect_fn_error(NULL, "environment", "{\"AWS_LAMBDA_FUNCTION_NAME\": \"x\"}",
                        "'AWS_LAMBDA_FUNCTION_NAME' is reserved by Lambda and cannot be set");
        expect_fn_error(NULL, "environment", "{\"TZ\": \"UTC\"}",
                        "'TZ' is reserved by Lambda and cannot be set");
        expect_fn_error(NULL, "environment", "{\"1A\": \"x\"}",
                        "'1A' is not a valid variable name (a letter, then letters, digits or _)");
        expect_fn_error(NULL, "environment", "{\"A-B\": \"x\"}",
                        "'A-B' is not a valid variable name (a letter, then letters, digits or _)");
        expect_fn_error(NULL, "environment", "{\"A\": \"1\", \"A\": \"2\"}", "duplicate key");
        expect_fn_ok(NULL, "environment", "{\"AWS_XRAY_CONTEXT_MISSING\": \"x\", \"a_1\": \"\"}");

        expect_load_error("{\"functions\": {\"f\": {\"environment\": {\n  \"OK\": \"1\",\n"
                          "  \"AWS_SESSION_TOKEN\": \"t\"}}}}",
                          "3:3: functions.f.environment.AWS_SESSION_TOKEN: 'AWS_SESSION_TOKEN' is "
                          "reserved by Lambda and cannot be set");

        /* 4096 bytes of name and value is the limit; one more is over. */
        big = malloc(4096);
        memset(big, 'v', 4095 - 1);
        big[4095 - 1] = 0; /* "K" (1) + 4094 = 4095 */
        assert_true(asprintf(&text, "{\"K\": \"%s\", \"L\": \"\"}", big) > 0);
        expect_fn_ok(NULL, "environment", text); /* 4095 + 1 = 4096 */
        free(text);
        assert_true(asprintf(&text, "{\"K\": \"%s\", \"L\": \"x\"}", big) > 0);
        expect_fn_error(NULL, "environment", text,
                        "variables take 4097 bytes (names and values), over Lambda's 4 KB limit "
                        "(4096)");
        free(text);
        free(big);
}

/* ---- shadow ---- */

static void test_shadow(void **state) {
        CfgError err;
        FunctionConfig *fn;
        Config c;
        char *dump;

        (void) state;
        cfg_init(&c);
        assert_int_equal(
                load(&c, "{\"functions\": {\"f\": {\"lifecycle\": {\"shadow\": true}}}}", &err), 0);
        fn = cfg_find_function(&c, "f");
        assert_true(fn->lifecycle.shadow);
        assert_null(fn->lifecycle.shadow_ignore_paths);

        assert_int_equal(load(&c,
                              "{\"functions\": {\"f\": {\"lifecycle\": {\"shadow\": {"
                              "\"ignore_paths\": [\"$.requestId\", \"$.items[*].ts\"],"
                              "\"ignore_values\": [\"^[0-9a-f-]{36}$\"]}}}}}",
                              &err),
                         0);
        fn = cfg_find_function(&c, "f");
        assert_true(fn->lifecycle.shadow);
        assert_string_equal(fn->lifecycle.shadow_ignore_paths[0], "$.requestId");
        assert_string_equal(fn->lifecycle.shadow_ignore_paths[1], "$.items[*].ts");
        assert_null(fn->lifecycle.shadow_ignore_paths[2]);
        assert_string_equal(fn->lifecycle.shadow_ignore_values[0], "^[0-9a-f-]{36}$");
        assert_null(fn->lifecycle.shadow_ignore_values[1]);

        /* false turns it off and keeps the lists for the next true. */
        assert_int_equal(
                load(&c, "{\"functions\": {\"f\": {\"lifecycle\": {\"shadow\": false}}}}", &err),
                0);
        assert_false(fn->lifecycle.shadow);
        assert_non_null(fn->lifecycle.shadow_ignore_paths);
        dump = cfg_dump_function(fn);
        assert_non_null(strstr(dump, "\"shadow\":false"));
        free(dump);

        /* An object means on, even an empty one. */
        assert_int_equal(
                load(&c, "{\"functions\": {\"f\": {\"lifecycle\": {\"shadow\": {}}}}}", &err), 0);
        assert_true(fn->lifecycle.shadow);
        assert_null(fn->lifecycle.shadow_ignore_paths);
        cfg_deinit(&c);

        expect_fn_error("lifecycle", "shadow", "{\"ignore_values\": [\"ok\", \"(unclosed\"]}",
                        "'(unclosed' is not a POSIX extended regex: Unmatched ( or \\(");
        expect_load_error("{\"functions\": {\"f\": {\"lifecycle\": {\"shadow\": {\n"
                          "  \"ignore_values\": [\"a\",\n   \"b{2\"]}}}}}",
                          "3:4: functions.f.lifecycle.shadow.ignore_values[1]: 'b{2' is not a "
                          "POSIX extended regex: Unmatched \\{");
        expect_fn_error("lifecycle", "shadow", "{\"ignore_paths\": [\"requestId\"]}",
                        "'requestId' is not a JSONPath (it starts with $)");
        expect_fn_error("lifecycle", "shadow", "{\"ignore_paths\": [\"$..ts\"]}",
                        "'$..ts' is outside lemu's JSONPath subset: a name is missing after '.' "
                        "at offset 1 (recursive descent '..' is not supported)");
        expect_fn_error("lifecycle", "shadow", "{\"ignore\": []}",
                        "unknown key (expected ignore_paths or ignore_values)");
        expect_fn_error("lifecycle", "shadow", "\"on\"",
                        "expected true, false or an object, got the string 'on'");
}

/* ---- validation ---- */

static void test_validate(void **state) {
        char *dir = make_dir(), *exe = join(dir, "bootstrap"), *plain = join(dir, "plain");
        char *sub = join(dir, "sub"), *want;
        const char *text;
        CfgError err;
        Config c;
        int fd;

        (void) state;
        fd = open(exe, O_CREAT | O_WRONLY, 0755);
        assert_true(fd >= 0);
        close(fd);
        fd = open(plain, O_CREAT | O_WRONLY, 0644);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(mkdir(sub, 0755), 0);

        /* Relative bootstrap: resolved against base_dir; code_dir is its folder. */
        cfg_init(&c);
        text = "{\"functions\": {\"f\": {\"bootstrap\": \"./bootstrap\"}}}";
        assert_int_equal(cfg_load_string(&c, text, strlen(text), dir, &err), 0);
        assert_int_equal(cfg_validate(&c, &err), 0);
        assert_string_equal(c.functions[0].bootstrap, exe);
        assert_string_equal(c.functions[0].code_dir, dir);
        want = join(dir, ".lemu");
        assert_string_equal(c.state_dir, want);
        free(want);
        cfg_deinit(&c);

        /* command: code_dir is the config's folder. */
        cfg_init(&c);
        text = "{\"functions\": {\"f\": {\"command\": [\"node\", \"x.js\"]}}}";
        assert_int_equal(cfg_load_string(&c, text, strlen(text), dir, &err), 0);
        assert_int_equal(cfg_validate(&c, &err), 0);
        assert_string_equal(c.functions[0].code_dir, dir);
        cfg_deinit(&c);

        cfg_init(&c);
        text = "{\"functions\": {\"f\": {\"command\": [\"node\"], \"bootstrap\": \"bootstrap\"}}}";
        assert_int_equal(cfg_load_string(&c, text, strlen(text), dir, &err), 0);
        assert_int_equal(cfg_validate(&c, &err), -EINVAL);
        assert_string_equal(fmt_err(&err),
                            "functions.f: both bootstrap and command are set; keep one");
        cfg_deinit(&c);

        cfg_init(&c);
        cfg_add_function(&c, "f");
        assert_int_equal(cfg_validate(&c, &err), -EINVAL);
        assert_string_equal(fmt_err(&err),
                            "functions.f: neither bootstrap nor command is set; set one");
        cfg_deinit(&c);

        cfg_init(&c);
        text = "{\"functions\": {\"f\": {\"bootstrap\": \"missing\"}}}";
        assert_int_equal(cfg_load_string(&c, text, strlen(text), dir, &err), 0);
        assert_int_equal(cfg_validate(&c, &err), -EINVAL);
        assert_true(asprintf(&want, "functions.f.bootstrap: '%s/missing' does not exist", dir) > 0);
        assert_string_equal(fmt_err(&err), want);
        free(want);
        cfg_deinit(&c);

        if (geteuid() != 0) { /* root may execute anything with an x bit, and reads all */
                cfg_init(&c);
                text = "{\"functions\": {\"f\": {\"bootstrap\": \"plain\"}}}";
                assert_int_equal(cfg_load_string(&c, text, strlen(text), dir, &err), 0);
                assert_int_equal(cfg_validate(&c, &err), -EINVAL);
                assert_true(asprintf(&want,
                                     "functions.f.bootstrap: '%s' is not executable (chmod +x it)",
                                     plain) > 0);
                assert_string_equal(fmt_err(&err), want);
                free(want);
                cfg_deinit(&c);
        } else {
                cfg_init(&c);
                text = "{\"functions\": {\"f\": {\"bootstrap\": \"plain\"}}}";
                assert_int_equal(cfg_load_string(&c, text, strlen(text), dir, &err), 0);
                assert_int_equal(cfg_validate(&c, &err), -EINVAL);
                assert_non_null(strstr(err.reason, "is not executable"));
                cfg_deinit(&c);
        }

        cfg_init(&c);
        text = "{\"functions\": {\"f\": {\"bootstrap\": \"sub\"}}}";
        assert_int_equal(cfg_load_string(&c, text, strlen(text), dir, &err), 0);
        assert_int_equal(cfg_validate(&c, &err), -EINVAL);
        assert_true(asprintf(&want,
                             "functions.f.bootstrap: '%s' is a directory, not an executable file",
                             sub) > 0);
        assert_string_equal(fmt_err(&err), want);
        free(want);
        cfg_deinit(&c);

        cfg_init(&c);
        text = "{\"functions\": {\"f\": {\"bootstrap\": \"bootstrap\", \"code_dir\": \"plain\"}}}";
        assert_int_equal(cfg_load_string(&c, text, strlen(text), dir, &err), 0);
        assert_int_equal(cfg_validate(&c, &err), -EINVAL);
        assert_true(asprintf(&want, "functions.f.code_dir: '%s' is not a directory", plain) > 0);
        assert_string_equal(fmt_err(&err), want);
        free(want);
        cfg_deinit(&c);

        cfg_init(&c);
        text = "{\"account_concurrency\": 10, \"functions\": {\"f\": {\"bootstrap\": "
               "\"bootstrap\", \"reserved_concurrency\": 11}}}";
        assert_int_equal(cfg_load_string(&c, text, strlen(text), dir, &err), 0);
        assert_int_equal(cfg_validate(&c, &err), -EINVAL);
        assert_string_equal(fmt_err(&err), "functions.f.reserved_concurrency: 11 is more than "
                                           "account_concurrency (10)");
        cfg_deinit(&c);

        cfg_init(&c);
        text = "{\"functions\": {\"f\": {\"bootstrap\": \"bootstrap\", \"reserved_concurrency\": 2,"
               "\"lifecycle\": {\"provisioned\": 3}}}}";
        assert_int_equal(cfg_load_string(&c, text, strlen(text), dir, &err), 0);
        assert_int_equal(cfg_validate(&c, &err), -EINVAL);
        assert_string_equal(fmt_err(&err), "functions.f.lifecycle.provisioned: 3 is more than "
                                           "reserved_concurrency (2)");
        cfg_deinit(&c);

        cfg_init(&c);
        assert_non_null(cfg_add_function(&c, "bad/name"));
        assert_int_equal(cfg_validate(&c, &err), -EINVAL);
        assert_string_equal(
                fmt_err(&err),
                "functions.bad/name: a function name is 1 to 64 letters, digits, - or _");
        cfg_deinit(&c);

        unlink(exe);
        unlink(plain);
        rmdir(sub);
        rmdir(dir);
        free(exe);
        free(plain);
        free(sub);
        free(dir);
}

static void test_load_file(void **state) {
        char *dir = make_dir(), *path = write_temp(dir, "{\"functions\": {\"f\": {\"bootstrap\": "
                                                        "\"bin/b\", \"code_dir\": \".\"}}}");
        char *want;
        CfgError err;
        Config c;

        (void) state;
        cfg_init(&c);
        assert_int_equal(cfg_load_file(&c, path, &err), 0);
        assert_string_equal(c.base_dir, dir);
        want = join(dir, "bin/b");
        assert_string_equal(c.functions[0].bootstrap, want);
        assert_string_equal(c.functions[0].code_dir, dir);
        free(want);
        cfg_deinit(&c);

        unlink(path);
        cfg_init(&c);
        assert_int_equal(cfg_load_file(&c, path, &err), -ENOENT);
        assert_true(asprintf(&want, "cannot open '%s': No such file or directory", path) > 0);
        assert_string_equal(fmt_err(&err), want);
        assert_int_equal(err.line, 0);
        free(want);
        cfg_deinit(&c);

        rmdir(dir);
        free(path);
        free(dir);
}

/* ---- flags and LEMU_* variables ---- */

static void set_ok(Config *c, const char *flag, const char *value) {
        CfgError err;
        int r = cfg_set(c, flag, value, &err);

        if (r != 0)
                fail_msg("--%s %s: %s", flag, value, fmt_err(&err));
}

static void set_error(Config *c, const char *flag, const char *value, int code, const char *msg) {
        CfgError err;

        assert_int_equal(cfg_set(c, flag, value, &err), code);
        assert_string_equal(fmt_err(&err), msg);
}

static void test_cfg_set(void **state) {
        FunctionConfig *a, *b;
        char *cwd, *want;
        Config c;

        (void) state;
        cfg_init(&c);
        cfg_add_function(&c, "a");
        cfg_add_function(&c, "b");
        a = &c.functions[0];
        b = &c.functions[1];

        set_ok(&c, "memory", "256");
        set_ok(&c, "timeout", "3");
        set_ok(&c, "init-timeout", "10");
        set_ok(&c, "ephemeral-storage", "1024");
        set_ok(&c, "reuse", "cold");
        set_ok(&c, "route", "lru");
        set_ok(&c, "per-environment-concurrency", "8");
        set_ok(&c, "sandbox-memory", "off");
        set_ok(&c, "async-max-retries", "0");
        set_ok(&c, "async-retry-delays", "0.1,0.2");
        set_ok(&c, "env", "K=V");
        set_ok(&c, "env", "K=W=X");
        set_ok(&c, "env", "EMPTY=");
        set_ok(&c, "alias", "live=$LATEST");
        set_ok(&c, "seed", "42");
        set_ok(&c, "log-format", "json");
        set_ok(&c, "listen", "127.0.0.1:0");
        set_ok(&c, "region", "eu-central-1");
        set_ok(&c, "account-id", "111122223333");
        set_ok(&c, "state-dir", "st");
        set_ok(&c, "shutdown-grace", "2.5");
        set_ok(&c, "idle-timeout", "0.5");
        set_ok(&c, "provisioned", "2");
        set_ok(&c, "max-invocations-per-environment", "5");
        set_ok(&c, "reuse-probability", "0.75");
        set_ok(&c, "freeze", "false");
        set_ok(&c, "drift", "false");
        set_ok(&c, "settle", "20");
        set_ok(&c, "shadow", "true");
        set_ok(&c, "reserved-concurrency", "5");
        set_ok(&c, "account-concurrency", "50");
        set_ok(&c, "records-max", "7");
        set_ok(&c, "limits-max-connections", "9");
        set_ok(&c, "streaming-rate", "1000");
        set_ok(&c, "http-path", "/x/*");
        set_ok(&c, "command", "[\"python3\", \"-u\"]");
        set_ok(&c, "extensions-dir", "/opt/ext");
        set_ok(&c, "async-on-failure", "");

        for (int i = 0; i < 2; i++) {
                FunctionConfig *fn = i ? b : a;

                assert_int_equal(fn->memory_mb, 256);
                assert_true(fn->timeout_s == 3.0);
                assert_true(fn->init_timeout_s == 10.0);
                assert_int_equal(fn->ephemeral_storage_mb, 1024);
                assert_int_equal(fn->lifecycle.reuse, CFG_REUSE_COLD);
                assert_int_equal(fn->lifecycle.route, CFG_ROUTE_LRU);
                assert_int_equal(fn->per_environment_concurrency, 8);
                assert_string_equal(fn->sandbox.memory, "off");
                assert_int_equal(fn->async.max_retries, 0);
                assert_int_equal(fn->async.n_retry_delays, 2);
                assert_true(fn->async.retry_delays_s[0] == 0.1);
                assert_true(fn->async.retry_delays_s[1] == 0.2);
                assert_int_equal(fn->n_environment, 2);
                assert_string_equal(env_get(fn, "K"), "W=X");
                assert_string_equal(env_get(fn, "EMPTY"), "");
                assert_string_equal(fn->aliases[0].value, "$LATEST");
                assert_true(fn->lifecycle.idle_timeout_s == 0.5);
                assert_int_equal(fn->lifecycle.provisioned, 2);
                assert_int_equal(fn->lifecycle.max_invocations_per_environment, 5);
                assert_true(fn->lifecycle.reuse_probability == 0.75);
                assert_false(fn->lifecycle.freeze);
                assert_false(fn->lifecycle.drift);
                assert_true(fn->lifecycle.settle_ms == 20.0);
                assert_true(fn->lifecycle.shadow);
                assert_int_equal(fn->reserved_concurrency, 5);
                assert_int_equal(fn->streaming.rate_bytes_per_s, 1000);
                assert_string_equal(fn->http.path, "/x/*");
                assert_string_equal(fn->command[0], "python3");
                assert_string_equal(fn->command[1], "-u");
                assert_string_equal(fn->extensions_dir, "/opt/ext");
                assert_null(fn->async.on_failure);
        }
        assert_int_equal(c.seed, 42);
        assert_int_equal(c.log_format, CFG_LOG_JSON);
        assert_string_equal(c.listen, "127.0.0.1:0");
        assert_string_equal(c.region, "eu-central-1");
        assert_string_equal(c.account_id, "111122223333");
        cwd = get_current_dir_name();
        want = join(cwd, "st");
        assert_string_equal(c.state_dir, want);
        free(want);
        free(cwd);
        assert_true(c.shutdown_grace_s == 2.5);
        assert_int_equal(c.account_concurrency, 50);
        assert_int_equal(c.records_max, 7);
        assert_int_equal(c.limits.max_connections, 9);

        set_ok(&c, "reserved-concurrency", "null");
        assert_int_equal(a->reserved_concurrency, -1);
        set_ok(&c, "async-retry-delays", "[3]");
        assert_int_equal(b->async.n_retry_delays, 1);
        assert_true(b->async.retry_delays_s[0] == 3.0);

        /* Bad values leave every function as it was. */
        set_error(&c, "memory", "64", -EINVAL,
                  "--memory: must be an integer from 128 to 10240 (got 64)");
        set_error(&c, "memory", "lots", -EINVAL,
                  "--memory: expected an integer, got the string 'lots'");
        set_error(&c, "freeze", "yes", -EINVAL,
                  "--freeze: expected true or false, got the string 'yes'");
        set_error(&c, "reuse", "tepid", -EINVAL,
                  "--reuse: must be one of warm, cold, random (got 'tepid')");
        set_error(&c, "async-retry-delays", "0.1,x", -EINVAL,
                  "--async-retry-delays: expected an array of numbers, got the string '0.1,x'");
        set_error(&c, "env", "NOEQUALS", -EINVAL, "--env: expected NAME=VALUE (got 'NOEQUALS')");
        set_error(&c, "env", "AWS_REGION=x", -EINVAL,
                  "--env: 'AWS_REGION' is reserved by Lambda and cannot be set");
        set_error(&c, "alias", "x", -EINVAL, "--alias: expected NAME=VERSION (got 'x')");
        set_error(&c, "no-such-flag", "1", -ENOENT, "--no-such-flag: unknown option");
        set_error(&c, "sandbox-memory", "strict", -EINVAL,
                  "--sandbox-memory: must be one of enforce, off (got 'strict')");
        assert_int_equal(a->memory_mb, 256);
        assert_int_equal(b->memory_mb, 256);

        /* A bad function value fails even with no function to set. */
        {
                Config empty;

                cfg_init(&empty);
                set_error(&empty, "timeout", "0", -EINVAL,
                          "--timeout: must be greater than 0 and at most 900 (got 0)");
                set_ok(&empty, "timeout", "0.5");
                assert_int_equal(empty.n_warnings, 1);
                assert_string_equal(empty.warnings[0], "--timeout: 0.5 s is below Lambda's "
                                                       "minimum of 1 s; accepted");
                cfg_deinit(&empty);
        }

        assert_true(cfg_flag_known("memory"));
        assert_true(cfg_flag_known("sandbox-memory"));
        assert_true(cfg_flag_known("limits-max-connections"));
        assert_true(cfg_flag_known("env"));
        assert_true(cfg_flag_known("env-file"));
        assert_true(cfg_flag_known("settle"));
        assert_true(cfg_flag_known("streaming-max"));
        assert_false(cfg_flag_known("memory-mb"));
        assert_false(cfg_flag_known("lifecycle-reuse"));
        assert_false(cfg_flag_known("max-connections"));
        assert_false(cfg_flag_known("functions"));
        cfg_deinit(&c);
}

static void test_env_size_by_flag(void **state) {
        char *arg, *big = malloc(4096);
        CfgError err;
        Config c;

        (void) state;
        cfg_init(&c);
        cfg_add_function(&c, "f");
        memset(big, 'v', 4094);
        big[4094] = 0;
        assert_true(asprintf(&arg, "A=%s", big) > 0);
        set_ok(&c, "env", arg); /* 4095 bytes */
        set_ok(&c, "env", "B=");
        set_error(&c, "env", "C=", -EINVAL,
                  "--env: variables take 4097 bytes (names and values), over Lambda's "
                  "4 KB limit (4096)");
        (void) err;
        assert_int_equal(c.functions[0].n_environment, 2);
        free(arg);
        free(big);
        cfg_deinit(&c);
}

static void test_apply_env(void **state) {
        char *good[] = { (char *) "PATH=/bin",
                         (char *) "LEMU_MEMORY=512",
                         (char *) "LEMU_SANDBOX_MEMORY=off",
                         (char *) "LEMU_ASYNC_RETRY_DELAYS=1,2",
                         (char *) "LEMU_ENV=FROM_ENV=yes",
                         (char *) "LEMU_FREEZE=false",
                         (char *) "LEMU_LOG_FORMAT=json",
                         (char *) "LEMU_SOMETHING_ELSE=1",
                         (char *) "LEMU_=x",
                         (char *) "LEMU_NOVALUE",
                         NULL };
        char *bad[] = { (char *) "LEMU_REGION=eu-west-1", (char *) "LEMU_MEMORY=1", NULL };
        FunctionConfig *fn;
        CfgError err;
        Config c;

        (void) state;
        cfg_init(&c);
        cfg_add_function(&c, "f");
        assert_int_equal(cfg_apply_env(&c, good, &err), 0);
        fn = &c.functions[0];
        assert_int_equal(fn->memory_mb, 512);
        assert_string_equal(fn->sandbox.memory, "off");
        assert_int_equal(fn->async.n_retry_delays, 2);
        assert_true(fn->async.retry_delays_s[1] == 2.0);
        assert_string_equal(env_get(fn, "FROM_ENV"), "yes");
        assert_false(fn->lifecycle.freeze);
        assert_int_equal(c.log_format, CFG_LOG_JSON);

        assert_int_equal(cfg_apply_env(&c, bad, &err), -EINVAL);
        assert_string_equal(fmt_err(&err),
                            "LEMU_MEMORY: must be an integer from 128 to 10240 (got 1)");
        assert_string_equal(c.region, "eu-west-1");
        cfg_deinit(&c);
}

/* Applied in the documented order, each source overrides the one before. */
static void test_precedence(void **state) {
        char *envp[] = { (char *) "LEMU_MEMORY=512", (char *) "LEMU_TIMEOUT=6", NULL };
        FunctionConfig *fn;
        CfgError err;
        Config c;

        (void) state;
        cfg_init(&c);
        assert_int_equal(load(&c,
                              "{\"functions\": {\"f\": {\"memory_mb\": 256, \"timeout_s\": 5, "
                              "\"init_timeout_s\": 4}}}",
                              &err),
                         0);
        assert_int_equal(cfg_apply_env(&c, envp, &err), 0);
        set_ok(&c, "memory", "1024");
        fn = cfg_find_function(&c, "f");
        assert_int_equal(fn->memory_mb, 1024);           /* flag > env > file */
        assert_true(fn->timeout_s == 6.0);               /* env > file */
        assert_true(fn->init_timeout_s == 4.0);          /* file > default */
        assert_int_equal(fn->ephemeral_storage_mb, 512); /* default */
        cfg_deinit(&c);
}

/* ---- env files ---- */

static void test_env_file(void **state) {
        char *path =
                write_temp("/tmp", "{\n"
                                   "  // SAM's --env-vars format\n"
                                   "  \"orders\": {\"TABLE\": \"own\", \"PORT\": 8080},\n"
                                   "  \"Parameters\": {\"TABLE\": \"shared\", \"DEBUG\": true},\n"
                                   "  \"ghost\": {\"X\": \"y\"}\n"
                                   "}\n");
        char *bad = write_temp("/tmp", "{\"Parameters\": {\n  \"TZ\": \"UTC\"}}");
        char *want;
        FunctionConfig *orders, *other;
        CfgError err;
        Config c;

        (void) state;
        cfg_init(&c);
        cfg_add_function(&c, "orders");
        cfg_add_function(&c, "other");
        set_ok(&c, "env-file", path);
        orders = cfg_find_function(&c, "orders");
        other = cfg_find_function(&c, "other");
        assert_string_equal(env_get(orders, "TABLE"), "own");
        assert_string_equal(env_get(orders, "PORT"), "8080");
        assert_string_equal(env_get(orders, "DEBUG"), "true");
        assert_string_equal(env_get(other, "TABLE"), "shared");
        assert_string_equal(env_get(other, "DEBUG"), "true");
        assert_null(env_get(other, "PORT"));
        assert_int_equal(c.n_warnings, 1);
        assert_true(asprintf(&want,
                             "5:3: ghost: no function has this name; ignored (in env file "
                             "'%s')",
                             path) > 0);
        assert_string_equal(c.warnings[0], want);
        free(want);

        assert_int_equal(cfg_set(&c, "env-file", bad, &err), -EINVAL);
        assert_true(asprintf(&want,
                             "2:3: Parameters.TZ: 'TZ' is reserved by Lambda and cannot "
                             "be set (in env file '%s')",
                             bad) > 0);
        assert_string_equal(fmt_err(&err), want);
        free(want);

        unlink(bad);
        assert_int_equal(cfg_set(&c, "env-file", bad, &err), -ENOENT);
        assert_true(asprintf(&want, "--env-file: cannot open '%s': No such file or directory",
                             bad) > 0);
        assert_string_equal(fmt_err(&err), want);
        free(want);

        cfg_deinit(&c);
        unlink(path);
        free(path);
        free(bad);
}

/* ---- lifecycle changes at run time ---- */

static void test_merge_lifecycle(void **state) {
        const char *ok = "{\"reuse\": \"cold\", \"idle_timeout_s\": 0.5, \"shadow\": true}";
        const char *bad = "{\"route\": \"lru\",\n \"reuse\": \"tepid\"}";
        FunctionConfig *fn;
        CfgError err;
        Config c;

        (void) state;
        cfg_init(&c);
        fn = cfg_add_function(&c, "f");
        assert_int_equal(cfg_merge_lifecycle(&c, fn, ok, strlen(ok), &err), 0);
        assert_int_equal(fn->lifecycle.reuse, CFG_REUSE_COLD);
        assert_true(fn->lifecycle.idle_timeout_s == 0.5);
        assert_true(fn->lifecycle.shadow);

        assert_int_equal(cfg_merge_lifecycle(&c, fn, bad, strlen(bad), &err), -EINVAL);
        assert_string_equal(fmt_err(&err),
                            "2:2: reuse: must be one of warm, cold, random (got 'tepid')");
        assert_int_equal(fn->lifecycle.route, CFG_ROUTE_MRU); /* all or nothing */

        assert_int_equal(cfg_merge_lifecycle(&c, fn, "{\"memory_mb\": 256}", 18, &err), -EINVAL);
        assert_string_equal(fmt_err(&err), "1:2: memory_mb: unknown key");
        assert_int_equal(cfg_merge_lifecycle(&c, fn, "{\"reuse\": ", 10, &err), -EINVAL);
        assert_string_equal(fmt_err(&err), "1:11: syntax error: unexpected end of input");
        cfg_deinit(&c);
}

/* ---- dump ---- */

static void test_dump_round_trip(void **state) {
        char *first, *second;
        CfgError err = { 0 };
        Config c, d;

        (void) state;
        cfg_init(&c);
        assert_int_equal(load(&c, full_config, &err), 0);
        assert_int_equal(load(&c,
                              "{\"functions\": {\"orders\": {\"lifecycle\": {\"shadow\": "
                              "{\"ignore_paths\": [\"$.a\"], \"ignore_values\": [\"^x$\"]}},"
                              "\"environment\": {\"Q\": \"tab\\tand \\\"quote\\\"\"}}}}",
                              &err),
                         0);
        set_ok(&c, "timeout", "0.1");
        first = cfg_dump(&c);

        cfg_init(&d);
        if (load(&d, first, &err) != 0)
                fail_msg("%s\n%s", fmt_err(&err), first);
        second = cfg_dump(&d);
        assert_string_equal(first, second);

        /* Exact values come back, not rounded ones. */
        assert_non_null(strstr(first, "\"seed\": 9007199254740992,\n"));
        assert_non_null(strstr(first, "\"timeout_s\": 0.1,\n"));
        assert_non_null(strstr(first, "\"retry_delays_s\": [0.1],\n"));
        assert_non_null(strstr(first, "\"reserved_concurrency\": 10,\n"));
        assert_non_null(strstr(first, "\"command\": null,\n"));
        assert_non_null(strstr(first, "\"ignore_values\": [\"^x$\"]"));
        assert_non_null(strstr(first, "\"Q\": \"tab\\tand \\\"quote\\\"\""));
        assert_non_null(strstr(first, "\"faults\": [{\n"));
        assert_string_equal(cfg_find_function(&d, "orders")->faults_json,
                            cfg_find_function(&c, "orders")->faults_json);
        free(first);
        free(second);
        cfg_deinit(&c);
        cfg_deinit(&d);
}

static void test_dump_defaults(void **state) {
        char *dump, *fn_dump, *want, *again;
        CfgError err;
        Config c, d;

        (void) state;
        cfg_init(&c);
        dump = cfg_dump(&c);
        assert_true(asprintf(&want,
                             "{\n"
                             "  \"listen\": \"127.0.0.1:3001\",\n"
                             "  \"region\": \"us-east-1\",\n"
                             "  \"account_id\": \"000000000000\",\n"
                             "  \"seed\": 1,\n"
                             "  \"account_concurrency\": 1000,\n"
                             "  \"records_max\": 10000,\n"
                             "  \"state_dir\": \"%s/.lemu\",\n"
                             "  \"shutdown_grace_s\": 10,\n"
                             "  \"log_format\": \"text\",\n"
                             "  \"limits\": {\n"
                             "    \"max_connections\": 10000,\n"
                             "    \"max_header_bytes\": 65536,\n"
                             "    \"max_headers\": 100,\n"
                             "    \"header_timeout_s\": 10,\n"
                             "    \"body_timeout_s\": 10,\n"
                             "    \"max_queued_events\": 100000,\n"
                             "    \"async_cold_starts\": 0,\n"
                             "    \"cold_starts\": 0\n"
                             "  },\n"
                             "  \"functions\": {}\n"
                             "}\n",
                             c.base_dir) > 0);
        assert_string_equal(dump, want);
        free(want);

        /* The relative default is shown resolved, so it reads back the same elsewhere. */
        cfg_init(&d);
        assert_int_equal(load(&d, dump, &err), 0);
        again = cfg_dump(&d);
        assert_string_equal(dump, again);
        free(again);
        free(dump);
        cfg_deinit(&d);
        fn_dump = cfg_dump_function(cfg_add_function(&c, "f"));
        assert_string_equal(
                fn_dump,
                "{\"bootstrap\":null,\"command\":null,\"args\":[],\"code_dir\":null,"
                "\"runtime\":\"provided.al2023\",\"handler\":\"function.handler\",\"memory_mb\":"
                "128,\"timeout_s\":3,"
                "\"init_timeout_s\":10,\"ephemeral_storage_mb\":512,\"environment\":{},"
                "\"extensions_dir\":null,\"aliases\":{},\"reserved_concurrency\":null,"
                "\"per_environment_concurrency\":1,\"lifecycle\":{\"reuse\":\"warm\","
                "\"reuse_probability\":0.5,\"route\":\"mru\",\"provisioned\":0,"
                "\"max_invocations_per_environment\":0,\"idle_timeout_s\":600,\"freeze\":true,"
                "\"drift\":true,\"settle_ms\":0,\"shadow\":false},\"sandbox\":{\"memory\":"
                "\"enforce\",\"cpu\":\"proportional\",\"seccomp\":\"default\",\"network\":"
                "\"host\",\"tmp\":\"auto\",\"fs\":\"read_only\",\"user\":\"auto\",\"nofile\":1024,"
                "\"pids\":1024,\"cgroup_root\":\"auto\"},\"async\":{\"max_retries\":2,"
                "\"retry_delays_s\":[60,120],\"max_event_age_s\":21600,\"max_payload_bytes\":"
                "1048576,\"on_failure\":null},\"streaming\":{\"max_bytes\":209715200,"
                "\"rate_bytes_per_s\":2097152,\"burst_bytes\":6291456},\"http\":{\"path\":null,"
                "\"event\":\"function-url\",\"method\":\"ANY\",\"stream\":true},\"faults\":[]}");
        free(fn_dump);
        cfg_deinit(&c);
}

static void test_help(void **state) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        (void) state;
        assert_non_null(f);
        cfg_help(f);
        fclose(f);
        assert_non_null(strstr(text, "  memory_mb = 128\n"
                                     "      an integer from 128 to 10240\n"
                                     "      --memory, LEMU_MEMORY\n"));
        assert_non_null(strstr(text, "  sandbox.memory = \"enforce\"\n"
                                     "      enforce | off\n"
                                     "      --sandbox-memory, LEMU_SANDBOX_MEMORY\n"));
        assert_non_null(strstr(text, "  lifecycle.idle_timeout_s = 600\n"
                                     "      seconds, greater than 0 and at most 86400\n"
                                     "      --idle-timeout, LEMU_IDLE_TIMEOUT; mutable\n"));
        assert_non_null(strstr(text, "--async-retry-delays, LEMU_ASYNC_RETRY_DELAYS\n"));
        assert_non_null(strstr(text, "--limits-max-connections, LEMU_LIMITS_MAX_CONNECTIONS\n"));
        for (char *line = text; *line;) {
                char *nl = strchr(line, '\n');

                assert_non_null(nl);
                assert_true(nl - line <= 100);
                line = nl + 1;
        }
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_deinit_zeroed),
                cmocka_unit_test(test_full_config),
                cmocka_unit_test(test_merge_two_loads),
                cmocka_unit_test(test_example_file),
                cmocka_unit_test(test_unknown_key),
                cmocka_unit_test(test_syntax_errors),
                cmocka_unit_test(test_type_errors),
                cmocka_unit_test(test_function_names),
                cmocka_unit_test(test_ranges),
                cmocka_unit_test(test_fractions_and_warnings),
                cmocka_unit_test(test_environment),
                cmocka_unit_test(test_shadow),
                cmocka_unit_test(test_validate),
                cmocka_unit_test(test_load_file),
                cmocka_unit_test(test_cfg_set),
                cmocka_unit_test(test_env_size_by_flag),
                cmocka_unit_test(test_apply_env),
                cmocka_unit_test(test_precedence),
                cmocka_unit_test(test_env_file),
                cmocka_unit_test(test_merge_lifecycle),
                cmocka_unit_test(test_dump_round_trip),
                cmocka_unit_test(test_dump_defaults),
                cmocka_unit_test(test_help),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
