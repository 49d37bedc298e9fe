/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `lemu event TYPE`: sample events in the shapes AWS services deliver, to pipe into
 * `lemu run --event -` or `lemu invoke --event -`. The HTTP ones match what lemu's own
 * HTTP front-end (httpfront.c) builds for a GET of /orders/42?verbose=1.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "macro.h"

static const char apigw_v1[] =
        "{\n"
        "  \"resource\": \"/orders/{id}\",\n"
        "  \"path\": \"/orders/42\",\n"
        "  \"httpMethod\": \"GET\",\n"
        "  \"headers\": {\"accept\": \"application/json\", \"host\": \"127.0.0.1:3001\", "
        "\"user-agent\": \"curl/7.88.1\"},\n"
        "  \"multiValueHeaders\": {\"accept\": [\"application/json\"], \"host\": "
        "[\"127.0.0.1:3001\"], \"user-agent\": [\"curl/7.88.1\"]},\n"
        "  \"queryStringParameters\": {\"verbose\": \"1\"},\n"
        "  \"multiValueQueryStringParameters\": {\"verbose\": [\"1\"]},\n"
        "  \"pathParameters\": {\"id\": \"42\"},\n"
        "  \"stageVariables\": null,\n"
        "  \"requestContext\": {\n"
        "    \"accountId\": \"000000000000\", \"apiId\": \"lemu\", \"resourceId\": \"lemu\",\n"
        "    \"resourcePath\": \"/orders/{id}\", \"httpMethod\": \"GET\",\n"
        "    \"path\": \"/prod/orders/42\", \"protocol\": \"HTTP/1.1\", \"stage\": \"prod\",\n"
        "    \"domainName\": \"127.0.0.1:3001\", \"domainPrefix\": \"127\",\n"
        "    \"requestId\": \"c6af9ac6-7b61-11e6-9a41-93e8deadbeef\",\n"
        "    \"extendedRequestId\": \"c6af9ac6-7b61-11e6-9a41-93e8deadbeef\",\n"
        "    \"requestTime\": \"09/Apr/2015:12:34:56 +0000\", \"requestTimeEpoch\": "
        "1428582896000,\n"
        "    \"identity\": {\"sourceIp\": \"127.0.0.1\", \"userAgent\": \"curl/7.88.1\", "
        "\"accessKey\": null, \"accountId\": null, \"caller\": null, \"user\": null, "
        "\"userArn\": null, \"cognitoIdentityId\": null, \"cognitoIdentityPoolId\": null, "
        "\"cognitoAuthenticationType\": null, \"cognitoAuthenticationProvider\": null}\n"
        "  },\n"
        "  \"body\": null,\n"
        "  \"isBase64Encoded\": false\n"
        "}\n";

static const char apigw_v2[] =
        "{\n"
        "  \"version\": \"2.0\",\n"
        "  \"routeKey\": \"GET /orders/{id}\",\n"
        "  \"rawPath\": \"/orders/42\",\n"
        "  \"rawQueryString\": \"verbose=1\",\n"
        "  \"cookies\": [\"session=abc\"],\n"
        "  \"headers\": {\"accept\": \"application/json\", \"host\": \"127.0.0.1:3001\", "
        "\"user-agent\": \"curl/7.88.1\"},\n"
        "  \"queryStringParameters\": {\"verbose\": \"1\"},\n"
        "  \"pathParameters\": {\"id\": \"42\"},\n"
        "  \"requestContext\": {\n"
        "    \"accountId\": \"000000000000\", \"apiId\": \"lemu\",\n"
        "    \"domainName\": \"127.0.0.1:3001\", \"domainPrefix\": \"127\",\n"
        "    \"http\": {\"method\": \"GET\", \"path\": \"/orders/42\", \"protocol\": "
        "\"HTTP/1.1\", \"sourceIp\": \"127.0.0.1\", \"userAgent\": \"curl/7.88.1\"},\n"
        "    \"requestId\": \"c6af9ac6-7b61-11e6-9a41-93e8deadbeef\",\n"
        "    \"routeKey\": \"GET /orders/{id}\", \"stage\": \"$default\",\n"
        "    \"time\": \"09/Apr/2015:12:34:56 +0000\", \"timeEpoch\": 1428582896000\n"
        "  },\n"
        "  \"isBase64Encoded\": false\n"
        "}\n";

static const char function_url[] =
        "{\n"
        "  \"version\": \"2.0\",\n"
        "  \"routeKey\": \"$default\",\n"
        "  \"rawPath\": \"/orders/42\",\n"
        "  \"rawQueryString\": \"verbose=1\",\n"
        "  \"cookies\": [\"session=abc\"],\n"
        "  \"headers\": {\"accept\": \"application/json\", \"host\": \"127.0.0.1:3001\", "
        "\"user-agent\": \"curl/7.88.1\"},\n"
        "  \"queryStringParameters\": {\"verbose\": \"1\"},\n"
        "  \"requestContext\": {\n"
        "    \"accountId\": \"anonymous\", \"apiId\": \"lemu\",\n"
        "    \"domainName\": \"127.0.0.1:3001\", \"domainPrefix\": \"127\",\n"
        "    \"http\": {\"method\": \"GET\", \"path\": \"/orders/42\", \"protocol\": "
        "\"HTTP/1.1\", \"sourceIp\": \"127.0.0.1\", \"userAgent\": \"curl/7.88.1\"},\n"
        "    \"requestId\": \"c6af9ac6-7b61-11e6-9a41-93e8deadbeef\",\n"
        "    \"routeKey\": \"$default\", \"stage\": \"$default\",\n"
        "    \"time\": \"09/Apr/2015:12:34:56 +0000\", \"timeEpoch\": 1428582896000\n"
        "  },\n"
        "  \"isBase64Encoded\": false\n"
        "}\n";

static const char sqs[] =
        "{\n"
        "  \"Records\": [\n"
        "    {\n"
        "      \"messageId\": \"059f36b4-87a3-44ab-83d2-661975830a7d\",\n"
        "      \"receiptHandle\": \"AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...\",\n"
        "      \"body\": \"{\\\"orderId\\\": 42}\",\n"
        "      \"attributes\": {\"ApproximateReceiveCount\": \"1\", \"SentTimestamp\": "
        "\"1545082649183\", \"SenderId\": \"AIDAIENQZJOLO23YVJ4VO\", "
        "\"ApproximateFirstReceiveTimestamp\": \"1545082649185\"},\n"
        "      \"messageAttributes\": {},\n"
        "      \"md5OfBody\": \"e4e68fb7bd0e697a0ae8f1bb342846b3\",\n"
        "      \"eventSource\": \"aws:sqs\",\n"
        "      \"eventSourceARN\": \"arn:aws:sqs:us-east-1:000000000000:orders\",\n"
        "      \"awsRegion\": \"us-east-1\"\n"
        "    }\n"
        "  ]\n"
        "}\n";

static const char sns[] =
        "{\n"
        "  \"Records\": [\n"
        "    {\n"
        "      \"EventVersion\": \"1.0\",\n"
        "      \"EventSubscriptionArn\": \"arn:aws:sns:us-east-1:000000000000:orders:"
        "2bcfbf39-05c3-41de-beaa-fcfcc21c8f55\",\n"
        "      \"EventSource\": \"aws:sns\",\n"
        "      \"Sns\": {\n"
        "        \"SignatureVersion\": \"1\",\n"
        "        \"Timestamp\": \"2019-01-02T12:45:07.000Z\",\n"
        "        \"Signature\": \"tcc6faL2yUC6dgZdmrwh1Y4cGa/ebXEkAi6RibDsvpi+tE/1+82j...\",\n"
        "        \"SigningCertUrl\": \"https://sns.us-east-1.amazonaws.com/"
        "SimpleNotificationService-ac565b8b1a6c5d002d285f9598aa1d9b.pem\",\n"
        "        \"MessageId\": \"95df01b4-ee98-5cb9-9903-4c221d41eb5e\",\n"
        "        \"Message\": \"{\\\"orderId\\\": 42}\",\n"
        "        \"MessageAttributes\": {},\n"
        "        \"Type\": \"Notification\",\n"
        "        \"UnsubscribeUrl\": \"https://sns.us-east-1.amazonaws.com/"
        "?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:000000000000:orders\",\n"
        "        \"TopicArn\": \"arn:aws:sns:us-east-1:000000000000:orders\",\n"
        "        \"Subject\": \"new order\"\n"
        "      }\n"
        "    }\n"
        "  ]\n"
        "}\n";

static const char s3[] =
        "{\n"
        "  \"Records\": [\n"
        "    {\n"
        "      \"eventVersion\": \"2.1\",\n"
        "      \"eventSource\": \"aws:s3\",\n"
        "      \"awsRegion\": \"us-east-1\",\n"
        "      \"eventTime\": \"2019-09-03T19:37:27.192Z\",\n"
        "      \"eventName\": \"ObjectCreated:Put\",\n"
        "      \"userIdentity\": {\"principalId\": \"AWS:AIDAINPONIXQXHT3IKHL2\"},\n"
        "      \"requestParameters\": {\"sourceIPAddress\": \"205.255.255.255\"},\n"
        "      \"responseElements\": {\"x-amz-request-id\": \"D82B88E5F771F645\", "
        "\"x-amz-id-2\": \"vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0emYBDXOo6"
        "QBU0Wo=\"},\n"
        "      \"s3\": {\n"
        "        \"s3SchemaVersion\": \"1.0\",\n"
        "        \"configurationId\": \"orders-upload\",\n"
        "        \"bucket\": {\"name\": \"orders-bucket\", \"ownerIdentity\": {\"principalId\": "
        "\"A3I5XTEXAMAI3E\"}, \"arn\": \"arn:aws:s3:::orders-bucket\"},\n"
        "        \"object\": {\"key\": \"incoming/order-42.json\", \"size\": 1305107, \"eTag\": "
        "\"b21b84d653bb07b05b1e6b33684dc11b\", \"sequencer\": \"0C0F6F405D6ED209E1\"}\n"
        "      }\n"
        "    }\n"
        "  ]\n"
        "}\n";

static const char eventbridge[] =
        "{\n"
        "  \"version\": \"0\",\n"
        "  \"id\": \"fe8d3c65-xmpl-c5c3-2c87-81584709a377\",\n"
        "  \"detail-type\": \"Order Placed\",\n"
        "  \"source\": \"com.example.orders\",\n"
        "  \"account\": \"000000000000\",\n"
        "  \"time\": \"2020-04-28T07:20:20Z\",\n"
        "  \"region\": \"us-east-1\",\n"
        "  \"resources\": [\"arn:aws:events:us-east-1:000000000000:rule/orders\"],\n"
        "  \"detail\": {\"orderId\": 42, \"total\": 19.99}\n"
        "}\n";

static const char dynamodb[] =
        "{\n"
        "  \"Records\": [\n"
        "    {\n"
        "      \"eventID\": \"c4ca4238a0b923820dcc509a6f75849b\",\n"
        "      \"eventName\": \"INSERT\",\n"
        "      \"eventVersion\": \"1.1\",\n"
        "      \"eventSource\": \"aws:dynamodb\",\n"
        "      \"awsRegion\": \"us-east-1\",\n"
        "      \"dynamodb\": {\n"
        "        \"ApproximateCreationDateTime\": 1428537600,\n"
        "        \"Keys\": {\"Id\": {\"N\": \"42\"}},\n"
        "        \"NewImage\": {\"Id\": {\"N\": \"42\"}, \"Status\": {\"S\": \"placed\"}},\n"
        "        \"SequenceNumber\": \"4421584500000000017450439091\",\n"
        "        \"SizeBytes\": 26,\n"
        "        \"StreamViewType\": \"NEW_AND_OLD_IMAGES\"\n"
        "      },\n"
        "      \"eventSourceARN\": \"arn:aws:dynamodb:us-east-1:000000000000:table/orders/"
        "stream/2015-06-27T00:48:05.899\"\n"
        "    }\n"
        "  ]\n"
        "}\n";

static const struct {
        const char *name;
        const char *text;
} samples[] = {
        { "apigw-v1", apigw_v1 },
        { "apigw-v2", apigw_v2 },
        { "function-url", function_url },
        { "sqs", sqs },
        { "sns", sns },
        { "s3", s3 },
        { "eventbridge", eventbridge },
        { "dynamodb", dynamodb },
};

static void list_types(FILE *out) {
        for (size_t i = 0; i < ARRAY_SIZE(samples); i++)
                fprintf(out, "%s%s", i ? " " : "", samples[i].name);
        fputc('\n', out);
}

const char *events_sample(const char *type) {
        for (size_t i = 0; i < ARRAY_SIZE(samples); i++)
                if (strcmp(samples[i].name, type) == 0)
                        return samples[i].text;
        return NULL;
}

int events_main(int argc, char **argv) {
        if (argc == 3 && (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
                help_print("event");
                return EXIT_OK;
        }
        if (argc == 3 && strcmp(argv[2], "--list") == 0) {
                list_types(stdout);
                return EXIT_OK;
        }
        if (argc != 3) {
                fprintf(stderr, "lemu: event needs one TYPE, one of: ");
                list_types(stderr);
                return EXIT_USAGE;
        }
        const char *text = events_sample(argv[2]);
        if (!text) {
                fprintf(stderr, "lemu: no sample event '%s'; types: ", argv[2]);
                list_types(stderr);
                return EXIT_USAGE;
        }
        fputs(text, stdout);
        return EXIT_OK;
}
