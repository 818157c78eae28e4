#!/usr/bin/env python3
"""Local AWS for authyy: the DynamoDB table definition read from template.yaml (the one source of
truth), and the setup of a local AWS-compatible server (moto) for tests and local runs.

  local_aws.py table-definition [template.yaml]        print the CreateTable input as JSON
  local_aws.py setup ENDPOINT --table T --secret S --public-secret P --sender-domain D
                                                       create the table, the signing-key secret
                                                       and the SES identity on ENDPOINT
"""
import argparse
import base64
import json
import os
import secrets
import sys

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


def setup(endpoint, table, secret, public_secret, sender_domain, template):
    import boto3

    kw = dict(
        endpoint_url=endpoint,
        region_name=os.environ.get("AWS_REGION", "eu-west-1"),
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
    )
    ddb = boto3.client("dynamodb", **kw)
    definition = table_definition(template)
    ttl = definition.pop("TimeToLiveAttribute", None)
    if table not in ddb.list_tables()["TableNames"]:
        ddb.create_table(TableName=table, **definition)
        if ttl:
            ddb.update_time_to_live(
                TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl}
            )
    sm = boto3.client("secretsmanager", **kw)
    try:
        sm.describe_secret(SecretId=secret)
    except sm.exceptions.ResourceNotFoundException:
        sm.create_secret(Name=secret, SecretString=signing_key_secret())
    try:
        sm.describe_secret(SecretId=public_secret)
    except sm.exceptions.ResourceNotFoundException:
        sm.create_secret(Name=public_secret, SecretString=EMPTY_JWKS)
    ses = boto3.client("sesv2", **kw)
    try:
        ses.create_email_identity(EmailIdentity=sender_domain)
    except ses.exceptions.AlreadyExistsException:
        pass
    print(
        f"local AWS ready at {endpoint}: table {table}, secrets {secret} and {public_secret}, "
        f"SES identity {sender_domain}"
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
    args = parser.parse_args()
    if args.command == "table-definition":
        print(json.dumps(table_definition(args.template), indent=2))
    else:
        setup(args.endpoint, args.table, args.secret, args.public_secret, args.sender_domain, args.template)


if __name__ == "__main__":
    main()
