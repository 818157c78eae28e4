#!/usr/bin/env python3
"""Local AWS for authyy: the DynamoDB table definition read from template.yaml (the one source of
truth), and the setup of a local AWS-compatible server (moto) for tests and local runs.

  local_aws.py table-definition [template.yaml]        print the CreateTable input as JSON
  local_aws.py setup ENDPOINT --table T --secret S --public-secret P --sender-domain D --queue Q
                                                       create the table, the signing-key secret,
                                                       the SES identity and the mail queue (with
                                                       its dead-letter queue Q-dlq) on ENDPOINT
  local_aws.py queue-url ENDPOINT --queue Q            print the mail queue's URL
  local_aws.py pump ENDPOINT --queue Q --invoke URL    hand the mail queue's messages to the mailer
                                                       function at URL (cargo lambda watch), as
                                                       Lambda's event source mapping does
"""
import argparse
import base64
import json
import os
import secrets
import sys
import time
import urllib.request

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short-form tags into their long (JSON) form."""


def _cfn_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _cfn_tag)


def load_template(path):
    with open(path) as f:
        return yaml.load(f, Loader=CfnLoader)


def table_definition(template_path):
    """The CreateTable input (without TableName) of the template's one DynamoDB table."""
    resources = load_template(template_path)["Resources"]
    tables = [r for r in resources.values() if r.get("Type") == "AWS::DynamoDB::Table"]
    if len(tables) != 1:
        sys.exit(f"expected exactly one AWS::DynamoDB::Table in {template_path}, found {len(tables)}")
    props = tables[0]["Properties"]
    definition = {
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        definition["GlobalSecondaryIndexes"] = [
            {k: v for k, v in gsi.items() if k in ("IndexName", "KeySchema", "Projection")}
            for gsi in props["GlobalSecondaryIndexes"]
        ]
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        definition["TimeToLiveAttribute"] = ttl["AttributeName"]
    return definition


def signing_key_secret():
    """The private key set as a fresh deploy creates it: a refresh-token HMAC key and no RSA
    keys yet (the first rotation, `authyy-admin keys rotate`, adds them)."""
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    return json.dumps({"signing_kid": "k1", "keys": {"k1": key}})


# The public key set (JWKS) as a fresh deploy creates it.
EMPTY_JWKS = '{"keys": []}'


def client(service, endpoint):
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=os.environ.get("AWS_REGION", "eu-west-1"),
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
    )


def create_mail_queue(endpoint, name):
    """The mail queue and its dead-letter queue, as the template makes them (a shorter
    visibility timeout: a failed message comes back after 30 s). Returns the queue's URL."""
    sqs = client("sqs", endpoint)
    dlq = sqs.create_queue(QueueName=f"{name}-dlq", Attributes={"MessageRetentionPeriod": "1209600"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
    return sqs.create_queue(
        QueueName=name, Attributes={"VisibilityTimeout": "30", "RedrivePolicy": redrive}
    )["QueueUrl"]


def pump(endpoint, queue, invoke_url):
    """Lambda's SQS event source mapping, for a local run: receive up to 10 messages, invoke the
    mailer with them as an SQS event, delete those it did not report as failed. The failed ones
    come back after the visibility timeout. Polls (no long polling: the test server handles one
    request at a time, and a long poll would hold up every other request)."""
    sqs = client("sqs", endpoint)
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    region = os.environ.get("AWS_REGION", "eu-west-1")
    print(f"mail pump: {queue} -> {invoke_url}", flush=True)
    while True:
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            time.sleep(0.2)
            continue
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": region,
                }
                for m in messages
            ]
        }
        request = urllib.request.Request(
            invoke_url, data=json.dumps(event).encode(), headers={"content-type": "application/json"}
        )
        try:
            # The first invocation compiles the mailer: give it time.
            with urllib.request.urlopen(request, timeout=600) as response:
                answer = json.load(response)
        except Exception as e:  # the watch is not up yet, or the function failed: retried later
            print(f"mail pump: invoking the mailer failed ({e}); the messages come back in 30 s", flush=True)
            continue
        failed = {f.get("itemIdentifier") for f in (answer or {}).get("batchItemFailures", [])}
        for m in messages:
            if m["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        print(f"mail pump: {len(messages) - len(failed)} delivered, {len(failed)} to retry", flush=True)


def setup(endpoint, table, secret, public_secret, sender_domain, template, queue):
    ddb = client("dynamodb", endpoint)
    definition = table_definition(template)
    ttl = definition.pop("TimeToLiveAttribute", None)
    if table not in ddb.list_tables()["TableNames"]:
        ddb.create_table(TableName=table, **definition)
        if ttl:
            ddb.update_time_to_live(
                TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl}
            )
    sm = client("secretsmanager", endpoint)
    try:
        sm.describe_secret(SecretId=secret)
    except sm.exceptions.ResourceNotFoundException:
        sm.create_secret(Name=secret, SecretString=signing_key_secret())
    try:
        sm.describe_secret(SecretId=public_secret)
    except sm.exceptions.ResourceNotFoundException:
        sm.create_secret(Name=public_secret, SecretString=EMPTY_JWKS)
    ses = client("sesv2", endpoint)
    try:
        ses.create_email_identity(EmailIdentity=sender_domain)
    except ses.exceptions.AlreadyExistsException:
        pass
    queue_url = create_mail_queue(endpoint, queue)
    print(
        f"local AWS ready at {endpoint}: table {table}, secrets {secret} and {public_secret}, "
        f"SES identity {sender_domain}, mail queue {queue_url}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    td = sub.add_parser("table-definition")
    td.add_argument("template", nargs="?", default=os.path.join(ROOT, "template.yaml"))
    st = sub.add_parser("setup")
    st.add_argument("endpoint")
    st.add_argument("--table", default="authyy-local")
    st.add_argument("--secret", default="authyy-local-signing-keys")
    st.add_argument("--public-secret", default="authyy-local-public-keys")
    st.add_argument("--sender-domain", default="authyy.test")
    st.add_argument("--template", default=os.path.join(ROOT, "template.yaml"))
    st.add_argument("--queue", default="authyy-local-mail")
    qu = sub.add_parser("queue-url")
    qu.add_argument("endpoint")
    qu.add_argument("--queue", default="authyy-local-mail")
    pu = sub.add_parser("pump")
    pu.add_argument("endpoint")
    pu.add_argument("--queue", default="authyy-local-mail")
    pu.add_argument("--invoke", default="http://127.0.0.1:9000/2015-03-31/functions/mailer/invocations")
    args = parser.parse_args()
    if args.command == "table-definition":
        print(json.dumps(table_definition(args.template), indent=2))
    elif args.command == "queue-url":
        print(client("sqs", args.endpoint).get_queue_url(QueueName=args.queue)["QueueUrl"])
    elif args.command == "pump":
        try:
            pump(args.endpoint, args.queue, args.invoke)
        except KeyboardInterrupt:
            pass
    else:
        setup(
            args.endpoint, args.table, args.secret, args.public_secret, args.sender_domain, args.template, args.queue
        )


if __name__ == "__main__":
    main()
