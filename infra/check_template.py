#!/usr/bin/env python3
"""Consistency check of template.yaml against the rest of the repository.

Fails (exit 1, naming every problem) unless:
  * the (method, path, function) routes of the template's functions equal those of the local
    router in Cargo.toml ([workspace.metadata.lambda.watch.router], without OPTIONS entries and
    the /{*path} catch-all), and the template's functions are the workspace's functions/*;
  * every function has a sample event events/<function>.json or events/<function>.<variant>.json
    whose routeKey is its route, and no event file names an unknown function or a wrong route;
  * each function's IAM actions (inline policy statements) equal infra/permissions.json, with no
    wildcard actions or resources, DynamoDB actions only on the table (a Query of one user's
    partition too), or a Query alone on the users-by-id index, and Secrets Manager actions on one named secret each (the private
    SigningKeySecret or the PublicKeysSecret), as permissions.json lists them ("... on <secret>").
  * a function without routes is the rotation function of a RotationSchedule, with rotation
    events (events/<function>.<step>.json), or a queue consumer: the target of an
    AWS::Lambda::EventSourceMapping from an SQS queue of the template that reports partial batch
    failures (ReportBatchItemFailures), whose queue is encrypted, has a visibility timeout of at
    least 6 times the function's timeout and a dead-letter queue (RedrivePolicy) that keeps
    messages 14 days, with SQS events (events/<function>.<variant>.json, Records from aws:sqs);
  * sqs actions are on !GetAtt <queue>.Arn of a queue of the template; a consumer's poller
    statement (sqs:ReceiveMessage, DeleteMessage, GetQueueAttributes on its own queue, which
    Lambda uses, not the code) is required and is not part of infra/permissions.json.

Standard library plus PyYAML (installed with cfn-lint). Run: .venv/bin/python infra/check_template.py
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
CARGO = ROOT / "Cargo.toml"
EVENTS = ROOT / "events"
PERMISSIONS = ROOT / "infra" / "permissions.json"

TABLE_ARN = {"Fn::GetAtt": ["Table", "Arn"]}
INDEX_ARN = {"Fn::Sub": "${Table.Arn}/index/users-by-id"}
# Secrets Manager actions are granted per secret, and permissions.json names the secret:
# "secretsmanager:GetSecretValue on SigningKeySecret".
SECRETS = {"SigningKeySecret", "PublicKeysSecret"}
# What Lambda's SQS poller needs of the consumer's role, on the consumer's queue only.
POLLER_ACTIONS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
DLQ_RETENTION = 14 * 24 * 3600


# The one CloudFormation-aware YAML loader, shared with the table-definition reader.
from local_aws import CfnLoader  # noqa: E402


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def template_functions(template: dict, errors: list[str]) -> dict[str, dict]:
    """Binary name -> {"logical_id", "routes": {(METHOD, path)}, "statements": [...]}."""
    functions: dict[str, dict] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        metadata = resource.get("Metadata") or {}
        binary = (metadata.get("BuildProperties") or {}).get("Binary")
        if metadata.get("BuildMethod") != "rust-cargolambda" or not isinstance(binary, str):
            errors.append(f"{logical_id}: needs Metadata BuildMethod rust-cargolambda and BuildProperties.Binary")
            continue
        if binary in functions:
            errors.append(f"{logical_id}: binary {binary!r} is also built by {functions[binary]['logical_id']}")
            continue
        props = resource.get("Properties") or {}
        routes = set()
        for name, event in (props.get("Events") or {}).items():
            if event.get("Type") != "HttpApi":
                continue
            ep = event.get("Properties") or {}
            method, path = ep.get("Method"), ep.get("Path")
            if not isinstance(method, str) or not isinstance(path, str):
                errors.append(f"{logical_id}: event {name} needs a literal Method and Path")
                continue
            if ep.get("ApiId") != {"Ref": "HttpApi"}:
                errors.append(f"{logical_id}: event {name} is not attached to HttpApi (ApiId: !Ref HttpApi)")
            if path == "$default":
                CATCH_ALL["template"] = binary  # unmatched routes: compared with the router's /{*path}
                continue
            routes.add((method.upper(), path))
        rotation = any(
            r.get("Type") == "AWS::SecretsManager::RotationSchedule"
            and (r.get("Properties") or {}).get("RotationLambdaARN") == {"Fn::GetAtt": [logical_id, "Arn"]}
            for r in template.get("Resources", {}).values()
        )
        queue = consumed_queue(template, logical_id, props, errors)
        if not routes and not rotation and not queue:
            errors.append(f"{logical_id} ({binary}): has no HttpApi event, rotates no secret and reads no queue")
        statements = []
        for i, policy in enumerate(as_list(props.get("Policies") or [])):
            if not isinstance(policy, dict) or "Statement" not in policy:
                errors.append(
                    f"{logical_id} ({binary}): Policies[{i}] is a managed policy or SAM policy template; "
                    "only inline statements can be checked against infra/permissions.json"
                )
                continue
            statements.extend(as_list(policy["Statement"]))
        functions[binary] = {
            "logical_id": logical_id,
            "routes": routes,
            "statements": statements,
            "rotation": rotation,
            "queue": queue,
        }
    return functions


def consumed_queue(template: dict, logical_id: str, props: dict, errors: list[str]) -> str | None:
    """The SQS queue an AWS::Lambda::EventSourceMapping hands to the function, checked."""
    resources = template.get("Resources", {})
    for name, r in resources.items():
        if r.get("Type") != "AWS::Lambda::EventSourceMapping":
            continue
        p = r.get("Properties") or {}
        if p.get("FunctionName") not in ({"Ref": logical_id}, {"Fn::GetAtt": [logical_id, "Arn"]}):
            continue
        source = p.get("EventSourceArn")
        queue = source["Fn::GetAtt"][0] if isinstance(source, dict) and "Fn::GetAtt" in source else None
        q = resources.get(queue or "", {})
        if q.get("Type") != "AWS::SQS::Queue" or source != {"Fn::GetAtt": [queue, "Arn"]}:
            errors.append(f"{name}: EventSourceArn must be !GetAtt <an SQS queue of the template>.Arn")
            return None
        if "ReportBatchItemFailures" not in (p.get("FunctionResponseTypes") or []):
            errors.append(f"{name}: needs FunctionResponseTypes [ReportBatchItemFailures], or one failure retries the whole batch")
        qp = q.get("Properties") or {}
        if qp.get("SqsManagedSseEnabled") is not True and "KmsMasterKeyId" not in qp:
            errors.append(f"{queue}: not encrypted (SqsManagedSseEnabled: true)")
        timeout = props.get("Timeout", GLOBAL_TIMEOUT.get("value", 3))
        if not isinstance(qp.get("VisibilityTimeout"), int) or not isinstance(timeout, int) or qp["VisibilityTimeout"] < 6 * timeout:
            errors.append(f"{queue}: VisibilityTimeout must be at least 6 x {logical_id}'s Timeout ({timeout} s)")
        redrive = qp.get("RedrivePolicy") or {}
        dlq = redrive.get("deadLetterTargetArn")
        dlq_name = dlq["Fn::GetAtt"][0] if isinstance(dlq, dict) and "Fn::GetAtt" in dlq else None
        dlq_props = (resources.get(dlq_name or "", {}) or {}).get("Properties") or {}
        if not dlq_name or not isinstance(redrive.get("maxReceiveCount"), int):
            errors.append(f"{queue}: needs a RedrivePolicy to a dead-letter queue of the template, with a maxReceiveCount")
        elif dlq_props.get("MessageRetentionPeriod") != DLQ_RETENTION or dlq_props.get("SqsManagedSseEnabled") is not True:
            errors.append(f"{dlq_name}: a dead-letter queue keeps messages 14 days ({DLQ_RETENTION} s), encrypted")
        return queue
    return None


GLOBAL_TIMEOUT: dict[str, int] = {}


CATCH_ALL: dict[str, str] = {}
SQS_QUEUES: set[str] = set()


def router_routes(cargo: dict, errors: list[str]) -> set[tuple[str, str, str]]:
    router = cargo.get("workspace", {}).get("metadata", {}).get("lambda", {}).get("watch", {}).get("router")
    if not isinstance(router, dict):
        errors.append("Cargo.toml: no [workspace.metadata.lambda.watch.router] table")
        return set()
    routes = set()
    for path, target in router.items():
        if path == "/{*path}":
            CATCH_ALL["router"] = target
            continue
        if not isinstance(target, list):
            errors.append(f"Cargo.toml router: {path!r} maps every method to {target!r}; list method/function pairs")
            continue
        for entry in target:
            method = str(entry.get("method", "")).upper()
            if method != "OPTIONS":
                routes.add((method, path, entry.get("function")))
    return routes


def check_events(functions: dict[str, dict], errors: list[str]) -> int:
    owned: dict[str, list[tuple[str, object]]] = {name: [] for name in functions}
    files = sorted(EVENTS.glob("*.json"))
    for file in files:
        name = file.name[: -len(".json")].split(".", 1)[0]
        try:
            doc = json.loads(file.read_text())
            route_key = doc.get("routeKey")
        except (ValueError, AttributeError) as e:
            errors.append(f"events/{file.name}: not a JSON object ({e})")
            continue
        if name not in functions:
            errors.append(f"events/{file.name}: no function named {name!r} in template.yaml")
            continue
        if functions[name]["queue"]:
            records = doc.get("Records") if isinstance(doc, dict) else None
            if not records or any(r.get("eventSource") != "aws:sqs" or not r.get("messageId") or "body" not in r for r in records):
                errors.append(f"events/{file.name}: an SQS event needs Records with eventSource aws:sqs, a messageId and a body")
            owned[name].append((file.name, None))
            continue
        if functions[name]["rotation"]:
            steps = {"createSecret", "setSecret", "testSecret", "finishSecret"}
            if doc.get("Step") not in steps or not doc.get("SecretId") or not doc.get("ClientRequestToken"):
                errors.append(f"events/{file.name}: a rotation event needs SecretId, ClientRequestToken and a Step in {sorted(steps)}")
            continue
        routes = {f"{m} {p}" for m, p in functions[name]["routes"]}
        if route_key not in routes:
            errors.append(f"events/{file.name}: routeKey {route_key!r} is not a route of {name} ({', '.join(sorted(routes))})")
        owned[name].append((file.name, route_key))
    for name, info in sorted(functions.items()):
        if info["queue"] and not owned[name]:
            errors.append(f"{name}: no events/{name}.<variant>.json SQS event")
        if info["rotation"] and not owned[name] and not any(f.name.startswith(f"{name}.") for f in files):
            errors.append(f"{name}: no events/{name}.<step>.json rotation event")
        for method, path in sorted(info["routes"]):
            if not any(rk == f"{method} {path}" for _, rk in owned[name]):
                errors.append(f"{name}: no events/{name}.json or events/{name}.<variant>.json with routeKey '{method} {path}'")
    return len(files)


def leading_keys(name: str, st: dict, index: bool, errors: list[str]) -> list[str]:
    """The partition keys a DynamoDB statement allows, as permissions.json lists them.

    Every DynamoDB statement must carry exactly one condition,
    ForAllValues:StringLike {dynamodb:LeadingKeys: [...]}: each key of the request matches one
    of the patterns. (ForAnyValue would let one matching key carry others; a statement with no
    condition reaches every item.) Table patterns are a type prefix and `*` (`USER#*`) or an
    exact key; index patterns are the index's partition key values.
    """
    condition = st.get("Condition") or {}
    keys = (condition.get("ForAllValues:StringLike") or {}).get("dynamodb:LeadingKeys")
    if set(condition) != {"ForAllValues:StringLike"} or set(condition["ForAllValues:StringLike"]) != {"dynamodb:LeadingKeys"} or not keys:
        errors.append(
            f"{name}: statement {st.get('Sid', '?')} needs exactly the condition "
            "ForAllValues:StringLike: {dynamodb:LeadingKeys: [...]}"
        )
        return []
    out = []
    for k in as_list(keys):
        if not isinstance(k, str) or (k.count("*") > 1 or ("*" in k and not k.endswith("#*"))):
            errors.append(f"{name}: LeadingKeys pattern {k!r} must be a literal key or a type prefix ending in '#*'")
            continue
        out.append(f"dynamodb:LeadingKeys on users-by-id {k}" if index else f"dynamodb:LeadingKeys {k}")
    return out


def check_policies(functions: dict[str, dict], permissions: dict, errors: list[str]) -> None:
    if set(permissions) != set(functions):
        missing = sorted(set(functions) - set(permissions))
        extra = sorted(set(permissions) - set(functions))
        errors.append(f"infra/permissions.json: functions missing {missing}, unknown {extra}")
    for name, info in sorted(functions.items()):
        actions: set[str] = set()
        pollers: set[str] = set()
        for st in info["statements"]:
            if st.get("Effect") != "Allow":
                continue
            if "NotAction" in st or "NotResource" in st:
                errors.append(f"{name}: NotAction/NotResource statements are not allowed")
                continue
            st_actions = [a for a in as_list(st.get("Action", [])) if isinstance(a, str)]
            resources = as_list(st.get("Resource", []))
            for a in st_actions:
                if "*" in a:
                    errors.append(f"{name}: wildcard action {a!r}")
            if "*" in resources:
                errors.append(f"{name}: statement {st.get('Sid', '?')} allows Resource '*'")
            dynamo = [a for a in st_actions if a.startswith("dynamodb:")]
            on_index = resources == [INDEX_ARN]
            if dynamo and on_index and dynamo != ["dynamodb:Query"]:
                errors.append(f"{name}: only dynamodb:Query, alone in its statement, may be on ${{Table.Arn}}/index/users-by-id")
            elif dynamo and not on_index and resources != [TABLE_ARN]:
                errors.append(f"{name}: {', '.join(dynamo)} must be on !GetAtt Table.Arn (or Query alone on the users-by-id index)")
            if dynamo:
                actions.update(leading_keys(name, st, on_index, errors))
            sqs_actions = [a for a in st_actions if a.startswith("sqs:")]
            if sqs_actions:
                queues = [r["Fn::GetAtt"][0] for r in resources if isinstance(r, dict) and "Fn::GetAtt" in r]
                if len(resources) != 1 or len(queues) != 1 or resources[0] != {"Fn::GetAtt": [queues[0], "Arn"]} or queues[0] not in SQS_QUEUES:
                    errors.append(f"{name}: sqs actions must be on one queue of the template, !GetAtt <queue>.Arn")
                    continue
                if set(sqs_actions) & POLLER_ACTIONS:
                    if set(st_actions) != POLLER_ACTIONS or queues[0] != info["queue"]:
                        errors.append(
                            f"{name}: {sorted(POLLER_ACTIONS)} are the poller's, alone in one statement on the "
                            f"function's own event source queue ({info['queue']})"
                        )
                    pollers.add(queues[0])
                    continue
            secret_actions = [a for a in st_actions if a.startswith("secretsmanager:")]
            if secret_actions:
                refs = [r.get("Ref") for r in resources if isinstance(r, dict)]
                if len(resources) != 1 or len(refs) != 1 or refs[0] not in SECRETS:
                    errors.append(f"{name}: secretsmanager actions must be on one secret, !Ref of one of {sorted(SECRETS)}")
                    continue
                st_actions = [a for a in st_actions if a not in secret_actions]
                st_actions += [f"{a} on {refs[0]}" for a in secret_actions]
            actions.update(st_actions)
        if info["queue"] and info["queue"] not in pollers:
            errors.append(f"{name}: needs a statement with {sorted(POLLER_ACTIONS)} on !GetAtt {info['queue']}.Arn for its event source")
        expected = set(permissions.get(name, []))
        if actions != expected:
            errors.append(
                f"{name}: IAM actions differ from infra/permissions.json: "
                f"template has extra {sorted(actions - expected)}, lacks {sorted(expected - actions)}"
            )


def main() -> int:
    errors: list[str] = []
    template = yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)
    cargo = tomllib.loads(CARGO.read_text())
    permissions = json.loads(PERMISSIONS.read_text())

    timeout = ((template.get("Globals") or {}).get("Function") or {}).get("Timeout")
    if isinstance(timeout, int):
        GLOBAL_TIMEOUT["value"] = timeout
    SQS_QUEUES.update(n for n, r in template.get("Resources", {}).items() if r.get("Type") == "AWS::SQS::Queue")
    functions = template_functions(template, errors)

    members = {m.split("/", 1)[1] for m in cargo.get("workspace", {}).get("members", []) if m.startswith("functions/")}
    if members != set(functions):
        errors.append(
            f"template functions {sorted(functions)} differ from the workspace's functions/* {sorted(members)}"
        )

    template_routes = {(m, p, name) for name, info in functions.items() for m, p in info["routes"]}
    local_routes = router_routes(cargo, errors)
    fmt = lambda routes: ", ".join(f"{m} {p} -> {f}" for m, p, f in sorted(routes, key=lambda r: (r[1], r[0]))) or "none"
    if template_routes != local_routes:
        errors.append(
            "routes differ between template.yaml and the Cargo.toml router:\n"
            f"    only in template.yaml: {fmt(template_routes - local_routes)}\n"
            f"    only in Cargo.toml:    {fmt(local_routes - template_routes)}"
        )

    if CATCH_ALL.get("template") != CATCH_ALL.get("router"):
        errors.append(
            f"unmatched routes go to {CATCH_ALL.get('template')!r} in the template ($default) "
            f"but to {CATCH_ALL.get('router')!r} in the Cargo.toml router (/{{*path}})"
        )
    n_events = check_events(functions, errors)
    check_policies(functions, permissions, errors)

    if errors:
        print("template check FAILED:", file=sys.stderr)
        for e in errors:
            print(f"  - {e}", file=sys.stderr)
        return 1
    print(
        f"template: {len(template_routes)} routes, {len(functions)} functions, "
        f"{n_events} event files, policies match infra/permissions.json"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
