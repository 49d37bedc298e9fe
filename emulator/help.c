/* SPDX-License-Identifier: Apache-2.0 */
/* The help texts: `lemu help [TOPIC]` and each command's --help. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "lemu-config.h"

static const char general[] =
        "lemu - a local AWS Lambda emulator and test server\n"
        "\n"
        "Usage:\n"
        "  lemu run [OPTIONS] BOOTSTRAP [ARGS...]   invoke a function once (or --repeat N times)\n"
        "  lemu serve [OPTIONS] [BOOTSTRAP [ARGS...]]\n"
        "                                        serve the Lambda Invoke API for many functions\n"
        "  lemu invoke [--endpoint URL] FUNCTION [--event JSON|@FILE|-] [--type T] [--log-type "
        "Tail]\n"
        "  lemu test SCENARIO.json [--junit FILE] [--seed N]\n"
        "                                         run a scripted scenario ('lemu help scenario')\n"
        "  lemu validate FILE [--dump-config]     check a config file\n"
        "  lemu event TYPE                        print a sample event ('lemu help event')\n"
        "  lemu help [TOPIC]                      topics: run serve invoke validate config\n"
        "                                         control-api faults scenario rie event http\n"
        "                                         management extensions streaming\n"
        "  lemu --version\n"
        "\n"
        "Functions are custom runtimes: an executable 'bootstrap' speaking the Lambda Runtime API\n"
        "(Go, Rust, C, a shell script, aws-lambda-ric for Node, a Python loop). lemu runs each in "
        "a\n"
        "sandboxed process with Lambda's timeout, descriptor limit and lifecycle: cold starts, "
        "warm\n"
        "reuse, resets after timeouts and crashes, INIT_START/START/END/REPORT log lines.\n"
        "\n"
        "Exit codes: 0 ok; 1 a function error, a failed scenario step or an unclaimed finding;\n"
        "2 usage, config, scenario or start-up error; 3 a check found something; 4 a service or\n"
        "transport error. When several apply: 2 > 3 > 4 > 1.\n"
        "\n"
        "Every config key has a flag (see 'lemu help config'): --memory 256, --timeout 3,\n"
        "--init-timeout 10, --reuse cold (or --cold), --env K=V, --env-file FILE, --seed N,\n"
        "--log-format json. Precedence: flag > LEMU_* environment variable > config file > "
        "default.\n";

static const char run_help[] =
        "Usage: lemu run [OPTIONS] BOOTSTRAP [ARGS...]\n"
        "\n"
        "Runs BOOTSTRAP as a Lambda function on an embedded server and invokes it.\n"
        "Each response body goes to stdout exactly as the function returned it, followed by a\n"
        "newline, in invocation order; the function's logs and Lambda's START/END/REPORT lines go\n"
        "to stderr. Options stop at BOOTSTRAP or '--'; the rest goes to the bootstrap.\n"
        "\n"
        "  --event JSON|@FILE|-    the event (default {}); '-' reads stdin\n"
        "  --repeat N              invoke N times (default 1)\n"
        "  --concurrency C         keep C invocations in flight (default 1)\n"
        "  --config FILE           take defaults from a config file\n"
        "  --cold                  never reuse an environment (--reuse cold)\n"
        "  --check-leaks           shadow runs, drift and a 20 ms settle window: report state\n"
        "                          leaks (warm answer != fresh answer) and environment drift;\n"
        "                          the function's side effects run twice on warm invocations\n"
        "  --memory MB, --timeout S, --init-timeout S, --env K=V, ...   see 'lemu help config'\n"
        "\n"
        "Example:\n"
        "  lemu run --repeat 2 --event '{\"id\": 1}' ./bootstrap\n"
        "\n"
        "Exit: 0 ok, 1 when an invocation returned a function error, 2 usage, 3 --check-leaks\n"
        "found something (each finding is printed to stderr), 4 service error; 2 > 3 > 4 > 1.\n";

static const char serve_help[] =
        "Usage: lemu serve [--config FILE] [--listen ADDR] [--function NAME=BOOTSTRAP ...]\n"
        "                  [OPTIONS] [BOOTSTRAP [ARGS...]]\n"
        "\n"
        "Serves the Lambda Invoke API (and lemu's control API under /_lemu/) for every function "
        "of\n"
        "the config, each --function, and BOOTSTRAP as the function named 'function'. When ready "
        "it\n"
        "prints one line 'listening on http://HOST:PORT' to stdout; logs go to stderr.\n"
        "--listen 127.0.0.1:0 picks a free port. SIGINT/SIGTERM: stop accepting, give callers\n"
        "shutdown_grace_s, end every environment, exit 0; a second signal stops at once.\n"
        "\n"
        "Async (Event) invocations are answered 202 once journaled under state_dir; events not\n"
        "finished when lemu stops or dies (even by SIGKILL) run when it starts again with the\n"
        "same state_dir. serve locks state_dir: a second lemu on it exits 2. Past lemu's own\n"
        "limits (limits.*) callers get 429 CallerRateLimitExceeded.\n"
        "\n"
        "Call it like Lambda:\n"
        "  aws lambda invoke --endpoint-url http://127.0.0.1:3001 --region us-east-1 \\\n"
        "      --function-name function --cli-binary-format raw-in-base64-out \\\n"
        "      --payload '{\"id\": 1}' out.json\n"
        "  boto3.client('lambda', endpoint_url='http://127.0.0.1:3001', region_name='us-east-1')\n"
        "\n"
        "  --template FILE   the AWS::Serverless::Function resources of a SAM template, with\n"
        "                    Globals.Function: Handler, Runtime, CodeUri, MemorySize, Timeout,\n"
        "                    Environment, EphemeralStorage, ReservedConcurrentExecutions,\n"
        "                    AutoPublishAlias (an alias of $LATEST), FunctionName, and one HTTP\n"
        "                    route from Events of type Api (apigw-v1) or HttpApi (apigw-v2) or\n"
        "                    FunctionUrlConfig (function-url at /<name>/*). provided.* runs\n"
        "                    CodeUri/bootstrap; nodejs* runs aws-lambda-ric (CodeUri's\n"
        "                    node_modules, a parent's or a global one) under the host's node;\n"
        "                    python3.* runs 'python3 -m awslambdaric' (vendored in CodeUri or\n"
        "                    installed). !Ref and !Sub of Parameters' defaults and pseudo\n"
        "                    parameters resolve; other intrinsics are named and left out.\n"
        "                    Properties lemu does not use are listed once. A --config file may\n"
        "                    refine the template's functions by name; flags apply to all.\n"
        "  --watch           recycle a function's environments when a file in its code_dir\n"
        "                    (and subfolders, not node_modules or hidden ones) or its bootstrap\n"
        "                    changes, so the next invocation runs the new code (cold)\n"
        "\n"
        "Functions with an \"http\" mapping are also served over plain HTTP ('lemu help http').\n";

static const char invoke_help[] =
        "Usage: lemu invoke [--endpoint URL] FUNCTION [--event JSON|@FILE|-]\n"
        "                   [--type Event|RequestResponse|DryRun] [--log-type Tail]\n"
        "                   [--qualifier Q]\n"
        "\n"
        "A small Invoke API client. The body goes to stdout; with --log-type Tail the decoded log\n"
        "tail goes to stderr, and for --type Event the request id. The endpoint defaults to\n"
        "$LEMU_ENDPOINT or http://127.0.0.1:3001.\n"
        "Exit: 0 ok, 1 a function error (X-Amz-Function-Error), 4 a service error.\n";

static const char streaming_help[] =
        "Response streaming (InvokeWithResponseStream):\n"
        "\n"
        "  POST /2021-11-15/functions/{fn}/response-streaming-invocations\n"
        "\n"
        "answers 200 application/vnd.amazon.eventstream: one PayloadChunk event per piece the\n"
        "runtime sends, as it arrives, then one InvokeComplete with ErrorCode, ErrorDetails and\n"
        "(X-Amz-Log-Type: Tail) LogResult. Headers: X-Amzn-RequestId, X-Amz-Executed-Version,\n"
        "X-Lemu-Environment-Id, X-Lemu-Cold-Start (X-Lemu-Init-Duration-Ms when cold).\n"
        "\n"
        "A runtime streams by posting /response with Lambda-Runtime-Function-Response-Mode:\n"
        "streaming and a chunked body (aws-lambda-ric: awslambda.streamifyResponse); a failure\n"
        "mid-stream goes in the trailers Lambda-Runtime-Function-Error-Type and\n"
        "Lambda-Runtime-Function-Error-Body (base64 JSON). A function that answers in one piece\n"
        "is sent as one PayloadChunk. Plain Invoke of a streaming function gets the whole body,\n"
        "under the 6 MB buffered cap.\n"
        "\n"
        "The function's \"streaming\" settings: max_bytes (cap, then\n"
        "Function.ResponseSizeTooLarge), burst_bytes sent at full speed, then rate_bytes_per_s.\n"
        "A caller that reads slowly pauses the runtime (lemu holds about 1 MB per stream).\n"
        "Plain HTTP clients of function-url and apigw-v1 mappings get an HTTP-integration\n"
        "stream as it arrives (lemu help http).\n";

static const char validate_help[] =
        "Usage: lemu validate FILE [--dump-config]\n"
        "\n"
        "Checks a config file: JSON with // and /* */ comments, unknown keys rejected, values in\n"
        "range. Errors name line:col, the key path and the reason (exit 2). --dump-config prints\n"
        "the config with every default filled in.\n";

static const char control_help[] =
        "The control API, on the same listener as the Invoke API, JSON in and out:\n"
        "\n"
        "  GET  /_lemu/health                        {\"status\":\"ok\"}\n"
        "  GET  /_lemu/functions                     every function: name, arn, config,\n"
        "                                            enforced limits, counters\n"
        "  GET  /_lemu/functions/{fn}                one of those\n"
        "  GET  /_lemu/functions/{fn}/environments   live environments: id, state, pid,\n"
        "                                            invocations, resets, init_ms, max_memory_mb,\n"
        "                                            init_waiting (its init waits for a turn:\n"
        "                                            limits.cold_starts)\n"
        "  GET, POST /_lemu/functions/{fn}/faults    list; add one (lemu help faults)\n"
        "  DELETE /_lemu/functions/{fn}/faults[/{id}] clear all, or one\n"
        "  POST /_lemu/functions/{fn}/recycle        idle environments end now, busy ones after\n"
        "                                            their invocation; the next invocation is "
        "cold\n"
        "\n"
        "Errors are {\"errorType\",\"errorMessage\"} with 400, 404 or 405.\n"
        "Every synchronous Invoke response also carries X-Lemu-Environment-Id,\n"
        "X-Lemu-Cold-Start, X-Lemu-Init-Duration-Ms (cold), X-Lemu-Duration-Ms and\n"
        "X-Lemu-Max-Memory-Used-Mb.\n";

static const char faults_help[] =
        "Injected platform faults: what Lambda gives when the same thing happens for real.\n"
        "Set per function in the config (\"faults\": [...]), by a scenario step, or at run time:\n"
        "  GET, POST /_lemu/functions/{fn}/faults      list; add one (201 {\"id\": ...})\n"
        "  DELETE /_lemu/functions/{fn}/faults[/{id}]  clear all, or one\n"
        "\n"
        "A fault: {\"id\"?: \"...\", \"action\": \"...\", \"when\": {...}, \"times\": k, "
        "params...}\n"
        "  when.invocation N  from the Nth Invoke call since the fault was added (times\n"
        "                     defaults to 1: that call only)\n"
        "  when.every N       every Nth call;  when.probability p  with probability p\n"
        "  when.phase         init | invoke | after_response | idle (each action has its own)\n"
        "  Keys of when are ANDed; without invocation, times is unlimited. Calls are counted\n"
        "  once: retries and shadow runs are not calls. Each fault draws from its own\n"
        "  generator, seeded from the config's seed and its id: the same seed and the same\n"
        "  sequential calls fire the same faults. A fault fires at most once per call; one\n"
        "  whose phase does not come (init on a warm call) keeps its times for a later one.\n"
        "  A fired fault is in the invocation's record (\"faults\": [{id, action, phase}]) and\n"
        "  in the log (lemu: fault 'ID' (ACTION, phase P) fired on RequestId: ...).\n"
        "\n"
        "Actions (phase; parameters) and what the caller sees:\n"
        "  crash           invoke | init | after_response; after_ms (0). SIGKILL to every\n"
        "                  process: Runtime.ExitError (signal: killed) and a reset; in init,\n"
        "                  INIT_REPORT Status: error and a suppressed init; after the response\n"
        "                  the caller has its answer and the next call is cold. With after_ms\n"
        "                  it fires only if the invoke still runs then.\n"
        "  init_hang       init. The first /next is left unanswered: INIT_REPORT Status:\n"
        "                  timeout, the suppressed init hangs too, Sandbox.Timedout.\n"
        "  delay           invoke; ms. The event is held before it is handed over; the\n"
        "                  deadline counts from the invoke's start (Sandbox.Timedout past it).\n"
        "  timeout         invoke. The environment is frozen until its deadline:\n"
        "                  Sandbox.Timedout and a reset.\n"
        "  oom             invoke. cgroup v2: memory.max is lowered to 0 and the kernel's OOM\n"
        "                  killer ends it; v1 (which refuses) and no cgroups: killed as the\n"
        "                  OOM killer would. Runtime.OutOfMemory, Max Memory Used = memory.\n"
        "  runtime_api_error  invoke; status (500), endpoint next | response. That call of\n"
        "                  the runtime is answered with the status; a failed /next keeps the\n"
        "                  event for the next /next, a failed /response loses the answer.\n"
        "  runtime_api_drop   invoke; endpoint (next). That call's connection is closed\n"
        "                  without an answer.\n"
        "  throttle        invoke; reason (ReservedFunctionConcurrentInvocationLimitExceeded).\n"
        "                  429 TooManyRequestsException; an Event is retried after the first\n"
        "                  retry delay (not an attempt).\n"
        "  duplicate       invoke. An Event is delivered twice with the same request id; the\n"
        "                  second delivery's record names the fault.\n"
        "  async_fail      invoke; attempts (1), error_type, error_message. The first\n"
        "                  attempts of an Event run and then fail (Lemu.InjectedAsyncFailure):\n"
        "                  retried per retry_delays_s, each attempt in the records, then\n"
        "                  on_failure.\n"
        "  reclaim         idle. The idle environment the call would get is ended: the call\n"
        "                  is cold in another one.\n"
        "  long_freeze     idle; ms. A warm environment stays frozen ms before its event while\n"
        "                  the clock moves on: connections it kept see their peers time out.\n"
        "                  The invocation's own clock starts at the thaw.\n"
        "  clock_skew      invoke; ms (negative allowed). Lambda-Runtime-Deadline-Ms shifted.\n"
        "  tmp_full        invoke. /tmp is filled to its cap (an unnamed file lemu holds): ENOSPC\n"
        "                  in the function; the space comes back when the invocation ends.\n"
        "                  Needs an enforced cap (sandbox.tmp image or tmpfs), else not fired.\n"
        "  nofile_limit    invoke; n (0). The runtime's open-file limit becomes its open\n"
        "                  descriptors + n (prlimit): EMFILE past them; put back afterwards.\n"
        "  error_response  invoke; error_type, error_message or body, run_handler (false).\n"
        "                  The answer is replaced by that function error (Lemu.InjectedError)\n"
        "                  or by body as a success, with or without running the handler.\n"
        "\n"
        "In Managed Instances mode (per_environment_concurrency > 1) only throttle, duplicate\n"
        "and error_response without run_handler fire.\n";

static const char scenario_help[] =
        "Usage: lemu test SCENARIO.json... [--junit FILE] [--seed N]\n"
        "\n"
        "Runs scripted scenarios, each on an embedded server at 127.0.0.1:0, and exits\n"
        "non-zero when an expectation fails or a finding is left unclaimed. Progress goes to\n"
        "stderr (one updating line on a terminal, else a line a step; a failed step shows the\n"
        "mismatches and its invocation's log); the last stdout line is 'N passed, N failed'.\n"
        "--junit FILE writes a JUnit report: a <testsuite> a scenario, a <testcase> a step\n"
        "with expectations (or that failed), and a failed <testcase> a finding that no\n"
        "expect_findings step claims. --seed N replaces the scenario's seed.\n"
        "\n"
        "A scenario (JSON; // and /* */ comments allowed; unknown keys are errors):\n"
        "  { \"name\": \"orders\",         default: the file name\n"
        "    \"seed\": 7,                 replaces the config's seed\n"
        "    \"config\": \"lemu.json\",    a config file, or the config object itself; paths\n"
        "                               are relative to the file they are written in\n"
        "    \"steps\": [ ... ] }\n"
        "\n"
        "Steps, one action each, numbered from 0:\n"
        "  {\"invoke\": FN, \"event\": JSON | \"@file.json\", \"parallel\": N,\n"
        "   \"type\": \"RequestResponse\" | \"Event\" | \"DryRun\", \"expect\": {...}}\n"
        "      The event (default {}) is sent byte for byte; @file is relative to the\n"
        "      scenario. parallel N (1-256) opens N connections and writes the N requests\n"
        "      in order before reading any answer; each answer must meet the expectations.\n"
        "  {\"recycle\": FN}                  ends FN's environments; the next one is cold\n"
        "  {\"lifecycle\": FN, \"set\": {...}} merges lifecycle keys ({\"reuse\": \"cold\"})\n"
        "  {\"wait_idle\": {\"timeout_s\": 5}} until nothing is in flight (default 30 s)\n"
        "  {\"sleep_ms\": 100}\n"
        "  {\"expect_findings\": [{\"kind\": K, \"path\": P}, ...] | \"none\"}\n"
        "      Waits until idle, then claims the findings since the previous such step that\n"
        "      match an entry (kind, and path when given); each entry must match one.\n"
        "      \"none\": there must be none. K: state_leak, fd_growth, tmp_growth,\n"
        "      memory_growth, thread_growth, work_after_response.\n"
        "  {\"fault\": FN, \"add\": {...}}      adds a fault (lemu help faults); 201 expected\n"
        "  {\"fault\": FN, \"clear\": \"all\" | ID} clears every fault, or one\n"
        "\n"
        "expect keys (an Event or DryRun step takes only status):\n"
        "  status          the HTTP status; without it, anything but 200 (202 Event,\n"
        "                  204 DryRun) is a service error, exit 4\n"
        "  function_error  X-Amz-Function-Error (\"Unhandled\"), or null: none\n"
        "  error_type      the error body's errorType (a service error's\n"
        "                  X-Amzn-ErrorType), or null: none\n"
        "  cold            X-Lemu-Cold-Start, true or false\n"
        "  body            a string: the exact body; other JSON: the body as JSON\n"
        "  body_regex      a POSIX extended regex the body must match\n"
        "  json            {\"$.path\": value, ...}: JSONPath $, .key, ['key'], [N];\n"
        "                  values compare as JSON (key order ignored, numbers by text)\n"
        "  environment     {\"same_as\": STEP} or {\"differs_from\": STEP}: the\n"
        "                  X-Lemu-Environment-Id of an earlier step's (first) invocation\n"
        "\n"
        "Example:\n"
        "  { \"config\": { \"functions\": { \"echo\": { \"bootstrap\": \"build/echo\" } } },\n"
        "    \"steps\": [\n"
        "      { \"invoke\": \"echo\", \"expect\": { \"cold\": true,\n"
        "                                      \"json\": { \"$.count\": 1 } } },\n"
        "      { \"invoke\": \"echo\", \"expect\": { \"cold\": false,\n"
        "                                      \"environment\": { \"same_as\": 0 } } },\n"
        "      { \"expect_findings\": \"none\" } ] }\n"
        "\n"
        "Exit: 0 all passed; 1 a failed step or an unclaimed finding; 2 usage, config or\n"
        "scenario error (named by step and key), or lemu cannot start; 4 a service or\n"
        "transport error. Examples: fixtures/scenarios/.\n";

static const char rie_help[] =
        "Installed (or linked) under the name 'aws-lambda-rie', lemu is a drop-in for AWS's\n"
        "Runtime Interface Emulator in container images:\n"
        "\n"
        "  aws-lambda-rie [--runtime-interface-emulator-address 0.0.0.0:8080]\n"
        "                 [--runtime-api-address ADDR] [--log-level LEVEL] BOOTSTRAP [ARGS...]\n"
        "\n"
        "It reads AWS_LAMBDA_FUNCTION_TIMEOUT, AWS_LAMBDA_FUNCTION_MEMORY_SIZE and\n"
        "AWS_LAMBDA_FUNCTION_NAME, passes the container's environment through, and serves\n"
        "POST /2015-03-31/functions/function/invocations with Lambda's answers (status codes,\n"
        "X-Amz-Function-Error, timeouts as errors), not RIE's quirks.\n";

static const char event_help[] =
        "Usage: lemu event TYPE\n"
        "\n"
        "Prints a sample event of TYPE in the shape the AWS service delivers it, to edit or to\n"
        "pipe into --event -:\n"
        "\n"
        "  apigw-v1 apigw-v2 function-url sqs sns s3 eventbridge dynamodb\n"
        "\n"
        "  lemu event sqs | lemu run --event - ./bootstrap\n"
        "  lemu event apigw-v2 > event.json; lemu invoke orders --event @event.json\n"
        "\n"
        "--list prints the types. Exit: 0, or 2 for an unknown TYPE.\n";

static const char http_help[] =
        "Function URLs and API Gateway: a function's \"http\" mapping serves it over plain\n"
        "HTTP on lemu's listener, on every path outside /2015-03-31/, /2021-11-15/ and /_lemu/:\n"
        "\n"
        "  \"http\": {\"path\": \"/orders/*\", \"event\": \"function-url\", \"method\": \"ANY\"}\n"
        "\n"
        "path     literal segments, {name} (one segment), a last {name+} (one or more) or a last\n"
        "         * (the rest, maybe nothing); the most specific route wins\n"
        "event    function-url (payload 2.0, routeKey $default), apigw-v2 (HTTP API, 2.0, with\n"
        "         pathParameters and routeKey \"METHOD path\") or apigw-v1 (REST API, 1.0, with\n"
        "         multiValueHeaders and multiValueQueryStringParameters, stage \"prod\")\n"
        "method   ANY or one of GET POST PUT DELETE HEAD PATCH OPTIONS (else 405)\n"
        "stream   true (default): relay a streamed answer as it arrives (below); false:\n"
        "         collect it (Function URL InvokeMode BUFFERED)\n"
        "\n"
        "The answer becomes the response as the services map it: statusCode, headers,\n"
        "multiValueHeaders (1.0), cookies (2.0, one Set-Cookie each), body, isBase64Encoded.\n"
        "With 2.0 an answer without statusCode is a 200 application/json whose body is the\n"
        "answer (a JSON string's text unquoted); 1.0 needs statusCode. Request bodies that are\n"
        "not text (by Content-Type, or not UTF-8) arrive base64 with isBase64Encoded true.\n"
        "A function error or a malformed answer is 502 (500 for apigw-v2), a throttle 429; no\n"
        "route is 404. The response carries x-amzn-RequestId and lemu's X-Lemu-* headers.\n"
        "\n"
        "Streaming: an HTTP-integration stream (content type\n"
        "application/vnd.awslambda.http-integration-response: a JSON prelude {statusCode,\n"
        "headers, cookies}, 8 NUL bytes, the body; Node's awslambda.HttpResponseStream) is\n"
        "relayed as it arrives for function-url (InvokeMode RESPONSE_STREAM) and apigw-v1\n"
        "(responseTransferMode STREAM; its prelude may carry multiValueHeaders): status and\n"
        "headers once the prelude is complete, then chunks, under the function's \"streaming\"\n"
        "cap and bandwidth rule; a slow client pauses the function's stream. A failure after\n"
        "the headers cuts the body short (no last chunk, the connection closes). apigw-v2\n"
        "(HTTP APIs do not stream on AWS), a stream without prelude and a prelude not ended\n"
        "within 16 KiB are collected and answered whole, under the 6 MB buffered cap.\n";

static const char management_help[] =
        "Read-only management calls, as the AWS CLI and SDKs make them (--endpoint-url):\n"
        "\n"
        "  GET /2015-03-31/functions/                     ListFunctions (MaxItems, Marker)\n"
        "  GET /2015-03-31/functions/{fn}                 GetFunction (Qualifier)\n"
        "  GET /2015-03-31/functions/{fn}/configuration   GetFunctionConfiguration\n"
        "  GET /2015-03-31/functions/{fn}/aliases         ListAliases\n"
        "  GET /2015-03-31/functions/{fn}/aliases/{name}  GetAlias\n"
        "\n"
        "{fn} is a name, an ARN or a partial ARN, with a qualifier ($LATEST or an alias of the\n"
        "config's \"aliases\") after ':' or in Qualifier=. Runtime comes from the config's\n"
        "\"runtime\" (a template's Runtime); CodeSize and LastModified are the bootstrap's;\n"
        "CodeSha256 and RevisionId are a fingerprint of it, not of a zip (lemu has none).\n"
        "\n"
        "  aws lambda list-functions --endpoint-url http://127.0.0.1:3001 --region us-east-1\n";
static const char extensions_help[] =
        "Extensions (spec §5): every executable in a function's extensions_dir (Lambda's\n"
        "/opt/extensions; at most 10, alphabetical) starts in the environment before the\n"
        "runtime and registers at $AWS_LAMBDA_RUNTIME_API/2020-01-01/extension/register; the\n"
        "runtime starts once all have registered. Init ends, and an invocation's environment\n"
        "is frozen, only when the runtime and every extension asked for their next event (the\n"
        "caller is answered when the runtime responds). Shutdown: SIGTERM to the runtime,\n"
        "SHUTDOWN (spindown, timeout or failure) to the extensions, SIGKILL after 2 s (500 ms\n"
        "with only internal extensions). A runtime that exits resets the environment and its\n"
        "extensions get SHUTDOWN failure. So does an extension's exit/error or exit after\n"
        "init: the invocation in progress fails with its error type (Extension.Crash when it\n"
        "died) and the next one is cold. Their output is logged as extension lines.\n"
        "\n"
        "Telemetry: PUT /2022-07-01/telemetry (or the older /2020-08-15/logs) during init;\n"
        "events go as JSON arrays to http://sandbox.localdomain:PORT/..., which is the\n"
        "environment's own loopback address (listen on the host of AWS_LAMBDA_RUNTIME_API),\n"
        "or as newline-delimited JSON to a {\"protocol\":\"TCP\",\"port\":PORT} destination.\n";

static const struct {
        const char *name;
        const char *text;
} topics[] = {
        { "event", event_help },
        { "http", http_help },
        { "management", management_help },
        { "extensions", extensions_help },
        { "run", run_help },
        { "serve", serve_help },
        { "invoke", invoke_help },
        { "validate", validate_help },
        { "control-api", control_help },
        { "faults", faults_help },
        { "scenario", scenario_help },
        { "test", scenario_help },
        { "rie", rie_help },
        { "streaming", streaming_help },
        { "config", NULL },
};

/* Text as troff: backslashes escaped, lines that would read as requests guarded. */
static void troff_text(FILE *out, const char *text) {
        bool line_start = true;

        for (const char *p = text; *p; p++) {
                if (line_start && (*p == '.' || *p == '\''))
                        fputs("\\&", out);
                unsigned char u = (unsigned char) *p;
                if (u >= 0xc0 && (p[1] & 0xc0) == 0x80) {
                        /* UTF-8 as groff's \[uXXXX], which needs no preconv. */
                        int n = u >= 0xf0 ? 3 : u >= 0xe0 ? 2 : 1;
                        unsigned cp = u & (0x3f >> n);
                        for (int k = 1; k <= n && (p[k] & 0xc0) == 0x80; k++)
                                cp = (cp << 6) | (p[k] & 0x3f);
                        fprintf(out, "\\[u%04X]", cp);
                        p += n;
                } else if (*p == '\\')
                        fputs("\\e", out);
                else if (*p == '-')
                        fputs("\\-", out);
                else
                        fputc(*p, out);
                line_start = *p == '\n';
        }
        if (!line_start)
                fputc('\n', out);
}

void help_man(FILE *out) {
        static const struct {
                const char *title, *topic;
        } sections[] = {
                { "RUN", "run" },
                { "SERVE", "serve" },
                { "INVOKE", "invoke" },
                { "TEST", "test" },
                { "VALIDATE", "validate" },
                { "EVENT", "event" },
                { "FUNCTION URLS AND API GATEWAY", "http" },
                { "MANAGEMENT API", "management" },
                { "EXTENSIONS", "extensions" },
                { "RESPONSE STREAMING", "streaming" },
                { "CONTROL API", "control-api" },
                { "FAULTS", "faults" },
                { "AWS-LAMBDA-RIE", "rie" },
        };

        fprintf(out, ".TH LEMU 1 \"\" \"lemu %s\" \"User Commands\"\n", LEMU_VERSION);
        fputs(".SH NAME\nlemu, aws\\-lambda\\-rie \\- a local AWS Lambda emulator and test "
              "server\n.SH DESCRIPTION\n.nf\n",
              out);
        troff_text(out, general);
        fputs(".fi\n", out);
        for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
                for (size_t k = 0; k < sizeof(topics) / sizeof(topics[0]); k++) {
                        if (strcmp(topics[k].name, sections[i].topic) != 0 || !topics[k].text)
                                continue;
                        fprintf(out, ".SH %s\n.nf\n", sections[i].title);
                        troff_text(out, topics[k].text);
                        fputs(".fi\n", out);
                }
        }
        /* The config reference comes from the key table itself. */
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&buf, &len);
        if (mem) {
                cfg_help(mem);
                fclose(mem);
                fputs(".SH CONFIG\n.nf\n", out);
                troff_text(out, buf);
                fputs(".fi\n", out);
                free(buf);
        }
        fputs(".SH SEE ALSO\nThe README of the lemu sources.\n", out);
}

int help_topic_known(const char *topic) {
        for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
                if (strcmp(topics[i].name, topic) == 0)
                        return 1;
        return 0;
}

void help_print(const char *topic) {
        if (!topic) {
                fputs(general, stdout);
                return;
        }
        if (strcmp(topic, "config") == 0) {
                cfg_help(stdout);
                return;
        }
        for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
                if (strcmp(topics[i].name, topic) == 0) {
                        fputs(topics[i].text, stdout);
                        return;
                }
        }
        fputs(general, stdout);
}
