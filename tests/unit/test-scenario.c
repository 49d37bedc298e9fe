/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of `lemu test` scenarios, the reading half (emulator/scenario.c): the JSONPath
 * subset of "json" expectations and the JSON-aware comparison of values, the parser (every
 * step kind and expect key, comments, events kept byte for byte) and its errors, which name
 * the step and the key, and the config and function checks made before anything runs.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "scenario.h"

/* ---- the JSONPath subset ---- */

static void expect_found(const char *doc, const char *path, const char *want) {
        size_t at, len;
        int r = scn_json_find(doc, strlen(doc), path, &at, &len);

        if (r != 0)
                fail_msg("%s in %s: %d", path, doc, r);
        if (len != strlen(want) || memcmp(doc + at, want, len) != 0)
                fail_msg("%s in %s: got '%.*s', want '%s'", path, doc, (int) len, doc + at, want);
}

static void expect_missing(const char *doc, const char *path, int want) {
        size_t at, len;
        int r = scn_json_find(doc, strlen(doc), path, &at, &len);

        if (r != want)
                fail_msg("%s in %s: %d, want %d", path, doc, r, want);
}

static void test_path_find(void **state) {
        const char *doc =
                " { \"a\": {\"b\": [10, {\"c\": \"x\"}, [1, 2]]}, \"n\": 12345678901234567890,"
                " \"odd.key\": true, \"q'\": null, \"e\": {} } ";

        expect_found(doc, "$",
                     "{ \"a\": {\"b\": [10, {\"c\": \"x\"}, [1, 2]]}, \"n\": "
                     "12345678901234567890, \"odd.key\": true, \"q'\": null, \"e\": {} }");
        expect_found(doc, "$.a.b[0]", "10");
        expect_found(doc, "$.a.b[1].c", "\"x\"");
        expect_found(doc, "$.a.b[2][1]", "2");
        expect_found(doc, "$.a.b[2]", "[1, 2]");
        expect_found(doc, "$.n", "12345678901234567890");
        expect_found(doc, "$['odd.key']", "true");
        expect_found(doc, "$[\"odd.key\"]", "true");
        expect_found(doc, "$['q\\'']", "null");
        expect_found(doc, "$.e", "{}");
        expect_found(doc, "$['a'].b[1]['c']", "\"x\"");
        expect_missing(doc, "$.nope", -ENOENT);
        expect_missing(doc, "$.a.b[3]", -ENOENT);
        expect_missing(doc, "$.a.b.c", -ENOENT); /* a key of an array */
        expect_missing(doc, "$.a[0]", -ENOENT);  /* an index of an object */
        expect_missing(doc, "$.n.x", -ENOENT);
        expect_missing(doc, "$.e.x", -ENOENT);
        expect_missing("[]", "$[0]", -ENOENT);
        expect_found("[[],[3]]", "$[1][0]", "3");
}

static void test_path_keys(void **state) {
        /* Escaped keys match their decoded text; the last duplicate wins, as in JavaScript. */
        expect_found("{\"a\\u0062\": 1, \"tab\\t\": 2}", "$.ab", "1");
        expect_found("{\"tab\\t\": 2}", "$['tab\t']", "2");
        expect_found("{\"k\": 1, \"k\": 2}", "$.k", "2");
        expect_found("{\"\\u00e9t\\u00e9\": 3}", "$.été", "3");
        expect_found("{\"s\": \"a,]}\\\"b\", \"t\": 4}", "$.t", "4");
}

static void test_path_check(void **state) {
        static const char *const good[] = { "$",         "$.a",      "$.a.b",    "$[0]",
                                            "$.a[12].b", "$['x y']", "$[\"x\"]", "$.a-b_c" };
        static const char *const bad[] = { "",     "a",   ".a",   "$.",    "$..a", "$[", "$[x]",
                                           "$[*]", "$.*", "$['x", "$['x'", "$[1",  "$a" };
        char why[128];

        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
                if (scn_json_path_check(good[i], why, sizeof(why)) != 0)
                        fail_msg("'%s' refused: %s", good[i], why);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                size_t at, len;
                why[0] = '\0';
                if (scn_json_path_check(bad[i], why, sizeof(why)) != -EINVAL)
                        fail_msg("'%s' accepted", bad[i]);
                assert_true(why[0] != '\0');
                assert_int_equal(scn_json_find("{}", 2, bad[i], &at, &len), -EINVAL);
        }
}

/* ---- JSON values compared ---- */

static void eq(const char *a, const char *b, bool want) {
        if (scn_json_equal(a, strlen(a), b, strlen(b)) != want)
                fail_msg("%s vs %s: want %s", a, b, want ? "equal" : "different");
        if (scn_json_equal(b, strlen(b), a, strlen(a)) != want)
                fail_msg("%s vs %s: want %s", b, a, want ? "equal" : "different");
}

static void test_equal(void **state) {
        eq("1", "1", true);
        eq(" 1 ", "1", true);
        eq("1", "2", false);
        eq("1", "1.0", false); /* numbers by their text */
        eq("12345678901234567890", "12345678901234567891", false);
        eq("-1", "1", false);
        eq("\"a\"", "\"\\u0061\"", true);
        eq("\"a\"", "\"b\"", false);
        eq("\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"", true);
        eq("true", "true", true);
        eq("true", "false", false);
        eq("null", "null", true);
        eq("null", "0", false);
        eq("\"1\"", "1", false);
        eq("[1, 2]", "[1,2]", true);
        eq("[1, 2]", "[2, 1]", false);
        eq("[1, 2]", "[1, 2, 3]", false);
        eq("[]", "[ ]", true);
        eq("{}", "{ }", true);
        eq("{\"a\": 1, \"b\": [true, {\"c\": null}]}", "{\"b\":[true,{\"c\":null}],\"a\":1}", true);
        eq("{\"a\": 1}", "{\"a\": 1, \"b\": 2}", false);
        eq("{\"a\": 1}", "{\"b\": 1}", false);
        eq("{\"a\": {\"x\": 1}}", "{\"a\": {\"x\": 2}}", false);
        eq("{\"a\": 1, \"a\": 2}", "{\"a\": 2}", true); /* the last duplicate counts */
        eq("{}", "[]", false);
}

/* ---- the parser ---- */

static Scenario scn;
static char err[2048];

static int load(const char *text) {
        scn_deinit(&scn);
        err[0] = '\0';
        return scn_load_string(&scn, text, strlen(text), "s.json", "/tmp", err, sizeof(err));
}

static int teardown(void **state) {
        scn_deinit(&scn);
        return 0;
}

/* Loads @text, expects -EINVAL and each of the NULL-terminated fragments in the message. */
static void refused(const char *text, ...) {
        va_list ap;

        if (load(text) != -EINVAL)
                fail_msg("accepted: %s", text);
        va_start(ap, text);
        for (const char *f = va_arg(ap, const char *); f; f = va_arg(ap, const char *))
                if (!strstr(err, f))
                        fail_msg("'%s' is not in the error '%s'", f, err);
        va_end(ap);
}

#define CFG "\"config\": {\"functions\": {\"f\": {\"bootstrap\": \"/bin/true\"}}}, "

static void test_parse_all_kinds(void **state) {
        const char *text =
                "// a comment\n"
                "{ \"name\": \"all\", \"seed\": 42, /* block */ " CFG "\n"
                "  \"steps\": [\n"
                "    {\"invoke\": \"f\", \"event\": {\"id\": 12345678901234567890, \"s\": "
                "\"//x\"},\n"
                "     \"expect\": {\"status\": 200, \"cold\": true, \"function_error\": null,\n"
                "                \"error_type\": \"E\", \"body\": \"raw\", \"body_regex\": "
                "\"^r.w$\",\n"
                "                \"json\": {\"$.a\": [1, 2.50], \"$.b\": \"x\"}}},\n"
                "    {\"invoke\": \"f\", \"parallel\": 3, \"expect\": {\"body\": {\"k\": 1},\n"
                "     \"environment\": {\"same_as\": 0, \"differs_from\": 0}}},\n"
                "    {\"invoke\": \"f\", \"type\": \"Event\", \"expect\": {\"status\": 202}},\n"
                "    {\"invoke\": \"f\", \"type\": \"DryRun\"},\n"
                "    {\"recycle\": \"f\"},\n"
                "    {\"lifecycle\": \"f\", \"set\": {\"reuse\": \"cold\"}},\n"
                "    {\"wait_idle\": {\"timeout_s\": 2.5}}, {\"wait_idle\": {}},\n"
                "    {\"sleep_ms\": 100},\n"
                "    {\"expect_findings\": [{\"kind\": \"state_leak\", \"path\": \"$.count\"},\n"
                "                          {\"kind\": \"fd_growth\"}]},\n"
                "    {\"expect_findings\": \"none\"}\n"
                "  ] }\n";

        if (load(text) != 0)
                fail_msg("%s", err);
        assert_string_equal(scn.name, "all");
        assert_true(scn.has_seed);
        assert_int_equal(scn.seed, 42);
        assert_null(scn.config_file);
        assert_non_null(scn.config_text);
        assert_int_equal(scn.n_steps, 11);

        const ScnStep *s = &scn.steps[0];
        assert_int_equal(s->kind, SCN_STEP_INVOKE);
        assert_int_equal(s->index, 0);
        assert_int_equal(s->line, 4);
        assert_string_equal(s->function, "f");
        /* The event's text as written: the big number and the "//" inside a string kept. */
        assert_string_equal(s->event, "{\"id\": 12345678901234567890, \"s\": \"//x\"}");
        assert_int_equal(s->type, INVOKE_REQUEST_RESPONSE);
        assert_int_equal(s->parallel, 1);
        assert_true(s->has_expect);
        assert_int_equal(s->expect.status, 200);
        assert_int_equal(s->expect.cold, 1);
        assert_true(s->expect.function_error.set);
        assert_null(s->expect.function_error.value);
        assert_string_equal(s->expect.error_type.value, "E");
        assert_string_equal(s->expect.body, "raw");
        assert_null(s->expect.body_json);
        assert_string_equal(s->expect.body_regex_text, "^r.w$");
        assert_int_equal(s->expect.n_json, 2);
        assert_string_equal(s->expect.json[0].path, "$.a");
        assert_string_equal(s->expect.json[0].value, "[1, 2.50]");
        assert_string_equal(s->expect.json[1].value, "\"x\"");
        assert_int_equal(s->expect.same_as, -1);

        s = &scn.steps[1];
        assert_string_equal(s->event, "{}");
        assert_int_equal(s->parallel, 3);
        assert_int_equal(s->expect.status, -1);
        assert_int_equal(s->expect.cold, -1);
        assert_false(s->expect.error_type.set);
        assert_string_equal(s->expect.body_json, "{\"k\": 1}");
        assert_int_equal(s->expect.same_as, 0);
        assert_int_equal(s->expect.differs_from, 0);

        assert_int_equal(scn.steps[2].type, INVOKE_EVENT);
        assert_int_equal(scn.steps[3].type, INVOKE_DRY_RUN);
        assert_false(scn.steps[3].has_expect);
        assert_int_equal(scn.steps[4].kind, SCN_STEP_RECYCLE);
        assert_int_equal(scn.steps[5].kind, SCN_STEP_LIFECYCLE);
        assert_string_equal(scn.steps[5].lifecycle_json, "{\"reuse\": \"cold\"}");
        assert_int_equal(scn.steps[6].kind, SCN_STEP_WAIT_IDLE);
        assert_true(scn.steps[6].wait_timeout_s == 2.5);
        assert_true(scn.steps[7].wait_timeout_s == 30);
        assert_int_equal(scn.steps[8].sleep_ms, 100);
        s = &scn.steps[9];
        assert_int_equal(s->kind, SCN_STEP_EXPECT_FINDINGS);
        assert_false(s->findings_none);
        assert_int_equal(s->n_claims, 2);
        assert_string_equal(s->claims[0].kind, "state_leak");
        assert_string_equal(s->claims[0].path, "$.count");
        assert_null(s->claims[1].path);
        assert_true(scn.steps[10].findings_none);

        char title[128];
        scn_step_title(&scn.steps[0], title, sizeof(title));
        assert_string_equal(title, "step 0: invoke f");
        scn_step_title(&scn.steps[4], title, sizeof(title));
        assert_string_equal(title, "step 4: recycle f");
        scn_step_title(&scn.steps[9], title, sizeof(title));
        assert_string_equal(title, "step 9: expect_findings");
}

static void test_parse_defaults(void **state) {
        if (load("{\"config\": \"cfg/lemu.json\", \"steps\": [{\"invoke\": \"f\"}]}") != 0)
                fail_msg("%s", err);
        assert_string_equal(scn.name, "s"); /* the file name without .json */
        assert_false(scn.has_seed);
        assert_string_equal(scn.config_file, "/tmp/cfg/lemu.json");
        assert_null(scn.config_text);
        assert_false(scn.steps[0].has_expect);
        assert_string_equal(scn.steps[0].event, "{}");
}

static void test_parse_errors(void **state) {
        /* Unknown keys name the step and the key, with the file's line:col. */
        refused("{" CFG "\"steps\": [{\"invoke\": \"f\"},\n{\"invoke\": \"f\", \"expct\": {}}]}",
                "s.json:2:", "step 1: unknown key 'expct'", "did you mean 'expect'", NULL);
        refused("{" CFG "\"steps\": [{\"invoke\": \"f\", \"expect\": {\"stauts\": 200}}]}",
                "step 0: expect: unknown key 'stauts'", NULL);
        refused("{" CFG "\"step\": []}", "s.json:1:", "unknown key 'step'", NULL);
        refused("{" CFG "\"steps\": [{\"recycle\": \"f\", \"event\": {}}]}",
                "step 0: unknown key 'event'", NULL);
        refused("{" CFG "\"steps\": [{\"invoke\": \"f\", \"expect\": {\"environment\": "
                "{\"same_as\": 0}}}]}",
                "step 0: expect.environment.same_as: step 0 is not an earlier step", NULL);
        refused("{" CFG "\"steps\": [{\"invoke\": \"f\"}, {\"invoke\": \"f\", \"expect\": "
                "{\"environment\": {\"differs_from\": 7}}}]}",
                "step 1: expect.environment.differs_from: step 7 is not an earlier step", NULL);
        refused("{" CFG "\"steps\": [{\"sleep_ms\": 1}, {\"invoke\": \"f\", \"expect\": "
                "{\"environment\": {\"same_as\": 0}}}]}",
                "step 1: expect.environment.same_as: step 0 is no RequestResponse invoke step",
                NULL);
        refused("{" CFG "\"steps\": [{\"invoke\": \"f\"}, {\"invoke\": \"f\", \"expect\": "
                "{\"environment\": {\"same_as\": -1}}}]}",
                "step 1: expect.environment.same_as: expected a whole number", NULL);
        refused("{" CFG "\"steps\": [{\"invoke\": \"f\"}, {\"fault\": \"f\", \"add\": "
                "{\"action\": \"crash\", \"ms\": 1}}]}",
                "step 1: add: unknown key 'ms' for crash (it takes after_ms)", NULL);
        refused("{" CFG "\"steps\": [{\"fault\": \"f\", \"clear\": 3}]}",
                "step 0: clear: expected a non-empty string, got a number", NULL);
        refused("{" CFG "\"steps\": [{\"fault\": \"f\"}]}", "step 0: give one of 'add'", NULL);
        refused("{" CFG "\"steps\": [{\"invoke\": \"f\", \"event\": \"@no-such-file.json\"}]}",
                "step 0: event: cannot read '/tmp/no-such-file.json'", NULL);
        refused("{" CFG "\"steps\": [{\"invoke\": \"f\", \"type\": \"Sync\"}]}",
                "step 0: type: 'Sync' is none of", NULL);
        refused("{" CFG "\"steps\": [{\"invoke\": \"f\", \"parallel\": 257}]}",
                "step 0: parallel: expected a whole number from 1 to 256, got 257", NULL);
        refused("{" CFG "\"steps\": [{\"invoke\": \"f\", \"type\": \"Event\", \"expect\": "
                "{\"json\": {\"$.a\": 1}}}]}",
                "step 0: expect.json: an Event invocation has no answer to check", NULL);
        refused("{" CFG
                "\"steps\": [{\"invoke\": \"f\", \"expect\": {\"json\": {\"$.a[*]\": 1}}}]}",
                "step 0: expect.json: '$.a[*]' is not a JSONPath", NULL);
        refused("{" CFG "\"steps\": [{\"invoke\": \"f\", \"expect\": {\"body_regex\": \"((\"}}]}",
                "step 0: expect.body_regex: '(('", NULL);
        refused("{" CFG "\"steps\": [{\"invoke\": \"f\", \"expect\": {\"cold\": \"yes\"}}]}",
                "step 0: expect.cold: expected true or false, got a string", NULL);
        refused("{" CFG "\"steps\": [{\"invoke\": \"f\", \"expect\": {\"status\": 700}}]}",
                "step 0: expect.status: expected a whole number from 100 to 599, got 700", NULL);
        refused("{" CFG "\"steps\": [{\"invoke\": \"f\", \"expect\": {\"function_error\": 1}}]}",
                "step 0: expect.function_error: expected a string or null", NULL);
        refused("{" CFG "\"steps\": [{\"invoke\": \"f\", \"expect\": {\"environment\": {}}}]}",
                "step 0: expect.environment: give same_as or differs_from", NULL);
        refused("{" CFG "\"steps\": [{\"invoke\": \"f\", \"recycle\": \"f\"}]}",
                "step 0: 'invoke' and 'recycle' in one step", NULL);
        refused("{" CFG "\"steps\": [{\"expect\": {}}]}", "step 0: no action", NULL);
        refused("{" CFG "\"steps\": [{\"lifecycle\": \"f\"}]}", "step 0: no 'set'", NULL);
        refused("{" CFG "\"steps\": [{\"wait_idle\": {\"timeout_s\": 0}}]}",
                "step 0: wait_idle.timeout_s", NULL);
        refused("{" CFG "\"steps\": [{\"wait_idle\": {\"timeout\": 1}}]}",
                "step 0: wait_idle: unknown key 'timeout'", NULL);
        refused("{" CFG "\"steps\": [{\"expect_findings\": []}]}",
                "step 0: expect_findings: expected \"none\" or a non-empty array", NULL);
        refused("{" CFG "\"steps\": [{\"expect_findings\": [{\"kind\": \"leak\"}]}]}",
                "step 0: expect_findings[0].kind: 'leak' is no finding kind", NULL);
        refused("{" CFG "\"steps\": [{\"expect_findings\": [{\"path\": \"$.a\"}]}]}",
                "step 0: expect_findings[0]: no 'kind'", NULL);
        refused("{" CFG "\"steps\": [{\"invoke\": \"f\", \"invoke\": \"f\"}]}",
                "step 0: duplicate key 'invoke'", NULL);
        refused("{" CFG "\"steps\": [3]}", "step 0: expected an object, got a number", NULL);
        refused("{" CFG "\"steps\": []}", "steps: expected a non-empty array", NULL);
        refused("{\"steps\": [{\"invoke\": \"f\"}]}", "no 'config'", NULL);
        refused("{" CFG "\"steps\": [{\"invoke\": \"f\",}]}",
                "s.json:1:", "syntax error: a comma before '}'", NULL);
        refused("{" CFG "\"steps\": [{\"invoke\": \"f\"}] /* open", "unterminated /* comment",
                NULL);
        refused("[]", "a scenario is a JSON object, got an array", NULL);
        refused("{" CFG "\"seed\": 1.5, \"steps\": [{\"invoke\": \"f\"}]}", "seed: expected", NULL);
}

static void test_event_file(void **state) {
        char dir[] = "/tmp/lemu-scn-XXXXXX";
        char path[256];
        FILE *f;

        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/ev.json", dir);
        f = fopen(path, "w");
        assert_non_null(f);
        fputs("{\"n\": 98765432109876543210}\n", f);
        fclose(f);
        const char *text =
                "{\"config\": {}, \"steps\": [{\"invoke\": \"f\", \"event\": \"@ev.json\"}]}";
        scn_deinit(&scn);
        if (scn_load_string(&scn, text, strlen(text), "x.json", dir, err, sizeof(err)) != 0)
                fail_msg("%s", err);
        assert_string_equal(scn.steps[0].event, "{\"n\": 98765432109876543210}\n");

        /* An event file that is not JSON is refused. */
        f = fopen(path, "w");
        fputs("{nope", f);
        fclose(f);
        scn_deinit(&scn);
        assert_int_equal(scn_load_string(&scn, text, strlen(text), "x.json", dir, err, sizeof(err)),
                         -EINVAL);
        assert_non_null(strstr(err, "step 0: event:"));
        assert_non_null(strstr(err, "is not valid JSON"));
        unlink(path);
        rmdir(dir);
}

/* ---- the config and the steps checked against it ---- */

static void test_config_and_bind(void **state) {
        Config c;
        char e[2048];

        unsetenv("LEMU_SEED");
        assert_int_equal(load("{\"seed\": 9, \"config\": {\"seed\": 3, \"functions\": {\"f\": "
                              "{\"bootstrap\": \"/bin/true\", \"timeout_s\": 2, "
                              "\"init_timeout_s\": 4}}},\n"
                              "\"steps\": [{\"invoke\": \"f\"}, {\"invoke\": \"f\", \"type\": "
                              "\"Event\"}, {\"wait_idle\": {\"timeout_s\": 5}}]}"),
                         0);
        assert_int_equal(scn_build_config(&scn, &c, NULL, e, sizeof(e)), 0);
        assert_int_equal(c.seed, 9); /* the scenario's seed beats the config's */
        assert_int_equal(c.n_functions, 1);
        assert_int_equal(scn_bind(&scn, &c, e, sizeof(e)), 0);
        assert_true(scn.steps[0].read_timeout_s == 30 + 4 + 2 * 2);
        assert_true(scn.steps[1].read_timeout_s == 30);
        assert_true(scn.steps[2].read_timeout_s == 35);
        cfg_deinit(&c);

        /* --seed beats both. */
        assert_int_equal(scn_build_config(&scn, &c, "11", e, sizeof(e)), 0);
        assert_int_equal(c.seed, 11);
        cfg_deinit(&c);
        assert_int_equal(scn_build_config(&scn, &c, "x", e, sizeof(e)), -EINVAL);
        assert_non_null(strstr(e, "--seed"));
        cfg_deinit(&c);

        /* Config errors point into the scenario file, under "config.". */
        assert_int_equal(load("{\"config\": {\"functions\": {\"f\": {\n\"bootstrap\": "
                              "\"/bin/true\", \"memroy_mb\": 1}}}, \"steps\": [{\"invoke\": "
                              "\"f\"}]}"),
                         0);
        assert_int_equal(scn_build_config(&scn, &c, NULL, e, sizeof(e)), -EINVAL);
        assert_non_null(strstr(e, "s.json:2:"));
        assert_non_null(strstr(e, "config.functions.f.memroy_mb"));
        cfg_deinit(&c);

        assert_int_equal(load("{\"config\": \"no-such-config.json\", \"steps\": "
                              "[{\"invoke\": \"f\"}]}"),
                         0);
        assert_int_equal(scn_build_config(&scn, &c, NULL, e, sizeof(e)), -EINVAL);
        assert_non_null(strstr(e, "/tmp/no-such-config.json"));
        cfg_deinit(&c);

        /* Functions must exist; lifecycle sets are checked as the server would. */
        assert_int_equal(load("{" CFG "\"steps\": [{\"invoke\": \"f\"}, {\"recycle\": \"g\"}]}"),
                         0);
        assert_int_equal(scn_build_config(&scn, &c, NULL, e, sizeof(e)), 0);
        assert_int_equal(scn_bind(&scn, &c, e, sizeof(e)), -EINVAL);
        assert_non_null(strstr(e, "step 1: recycle: no function 'g' in the config (it has f)"));
        cfg_deinit(&c);

        assert_int_equal(load("{" CFG "\"steps\": [{\"lifecycle\": \"f\", \"set\": "
                              "{\"reuse\": \"often\"}}]}"),
                         0);
        assert_int_equal(scn_build_config(&scn, &c, NULL, e, sizeof(e)), 0);
        assert_int_equal(scn_bind(&scn, &c, e, sizeof(e)), -EINVAL);
        assert_non_null(strstr(e, "step 0: set.reuse"));
        cfg_deinit(&c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_path_find),
                cmocka_unit_test(test_path_keys),
                cmocka_unit_test(test_path_check),
                cmocka_unit_test(test_equal),
                cmocka_unit_test_teardown(test_parse_all_kinds, teardown),
                cmocka_unit_test_teardown(test_parse_defaults, teardown),
                cmocka_unit_test_teardown(test_parse_errors, teardown),
                cmocka_unit_test_teardown(test_event_file, teardown),
                cmocka_unit_test_teardown(test_config_and_bind, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
