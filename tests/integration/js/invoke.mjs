// SPDX-License-Identifier: Apache-2.0
//
// Invokes one function through the AWS SDK for JavaScript v3 (@aws-sdk/client-lambda) and
// prints one JSON object on stdout, for lemu's integration tests:
//
//   node invoke.mjs ENDPOINT FUNCTION [PAYLOAD] [--type RequestResponse|Event|DryRun]
//                   [--log-type None|Tail] [--qualifier Q]
//
// On success: {"ok": true, "StatusCode", "FunctionError", "ExecutedVersion", "LogResult",
// "Payload" (the response bytes as UTF-8 text, or null), "RequestId"}. On a service error:
// {"ok": false, "name", "message", "httpStatusCode", "Reason", "RequestId"}. Either way the
// exit status is 0; anything else (bad arguments, a crash) exits non-zero. Retries are off
// (maxAttempts: 1) so that a throttle or a slow function is seen once, as it happened.
import { LambdaClient, InvokeCommand } from "@aws-sdk/client-lambda";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
        allowPositionals: true,
        options: {
                type: { type: "string", default: "RequestResponse" },
                "log-type": { type: "string" },
                qualifier: { type: "string" },
        },
});
if (positionals.length < 2 || positionals.length > 3) {
        console.error("usage: node invoke.mjs ENDPOINT FUNCTION [PAYLOAD] [--type T] " +
                "[--log-type L] [--qualifier Q]");
        process.exit(2);
}
const [endpoint, functionName, payload] = positionals;

// This SDK warns on stderr that Node 20 support ends in 2027; the tests do not need to hear it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
const client = new LambdaClient({
        endpoint,
        region: "us-east-1",
        maxAttempts: 1,
        credentials: { accessKeyId: "test", secretAccessKey: "test" },
});

const input = { FunctionName: functionName, InvocationType: values.type };
if (payload !== undefined) input.Payload = new TextEncoder().encode(payload);
if (values["log-type"]) input.LogType = values["log-type"];
if (values.qualifier) input.Qualifier = values.qualifier;

let out;
try {
        const r = await client.send(new InvokeCommand(input));
        out = {
                ok: true,
                StatusCode: r.StatusCode ?? null,
                FunctionError: r.FunctionError ?? null,
                ExecutedVersion: r.ExecutedVersion ?? null,
                LogResult: r.LogResult ?? null,
                Payload: r.Payload && r.Payload.length ? new TextDecoder().decode(r.Payload) : null,
                RequestId: r.$metadata.requestId ?? null,
        };
} catch (e) {
        if (!e.$metadata) throw e;
        out = {
                ok: false,
                name: e.name,
                message: e.message,
                httpStatusCode: e.$metadata.httpStatusCode ?? null,
                Reason: e.Reason ?? null,
                RequestId: e.$metadata.requestId ?? null,
        };
}
console.log(JSON.stringify(out));
