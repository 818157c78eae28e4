#!/usr/bin/env python3
"""Consistency check of template.yaml against the rest of the repository.

Fails (exit 1, naming every problem) unless:
  * the (method, path, function) routes of the template's functions equal those of the local
    router in Cargo.toml ([workspace.metadata.lambda.watch.router], without OPTIONS entries and
    the /{*path} catch-all), and the template's functions are the workspace's functions/*;
  * every function has a sample event events/<function>.json or events/<function>.<variant>.json
    whose routeKey is its route, and no event file names an unknown function or a wrong route;
  * each function's IAM grants (inline policy statements) equal infra/permissions.json, no more
    and no less, with no wildcard actions or resources, and Secrets Manager actions on one named
    secret each (the private SigningKeySecret or the PublicKeysSecret), as permissions.json lists
    them ("... on <secret>");
  * DynamoDB is granted by (action, key type, attributes): permissions.json lists
    "dynamodb:<Action> <key> [attr,...]" for the writes (PutItem, UpdateItem, DeleteItem,
    BatchWriteItem; the attributes always hold the key attributes pk and sk), "dynamodb:<Action>
    <key>" for the reads (GetItem, BatchGetItem, Query, ConditionCheckItem) and "dynamodb:Query on
    <index> <value>" for an index; each DynamoDB statement is on !GetAtt Table.Arn (or a Query
    alone on !Sub ${Table.Arn}/index/<index>), holds only reads or only writes, and carries exactly
    ForAllValues:StringLike {dynamodb:LeadingKeys: [...]} plus, for writes,
    ForAllValues:StringEquals {dynamodb:Attributes: [...]}; its grants are each of its actions on
    each of its keys with its attributes, one statement per grant, and a batch action in one
    statement (IAM authorises a batch against one statement, for every key it names); the
    statements are the ones infra/iam_sync.py writes from permissions.json; a function's inline
    policy stays within IAM's 10,240 characters once deployed;
  * a function without routes is the rotation function of a RotationSchedule, with rotation
    events (events/<function>.<step>.json), or a queue consumer: the target of an
    AWS::Lambda::EventSourceMapping from an SQS queue of the template that reports partial batch
    failures (ReportBatchItemFailures), whose queue is encrypted, has a visibility timeout of at
    least 6 times the function's timeout and a dead-letter queue (RedrivePolicy) that keeps
    messages 14 days, with SQS events (events/<function>.<variant>.json, Records from aws:sqs);
  * sqs actions are on !GetAtt <queue>.Arn of a queue of the template; a consumer's poller
    statement (sqs:ReceiveMessage, DeleteMessage, GetQueueAttributes on its own queue, which
    Lambda uses, not the code) is required and is not part of infra/permissions.json;
  * a queue that functions send to has one AWS::SQS::QueuePolicy whose Deny of sqs:SendMessage to
    Principal "*" spares (ArnNotEquals aws:PrincipalArn) exactly the roles of the functions
    permissions.json grants sqs:SendMessage (!GetAtt <Function>Role.Arn) and the account root,
    and no statement of it allows sending;
  * the HttpApi's CorsConfiguration.AllowMethods holds every method a route uses (API Gateway
    answers preflights itself, from it), and the AllowedOrigins parameter has no Default.

Standard library plus PyYAML (installed with cfn-lint). Run: .venv/bin/python infra/check_template.py
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
CARGO = ROOT / "Cargo.toml"
EVENTS = ROOT / "events"
PERMISSIONS = ROOT / "infra" / "permissions.json"

# Secrets Manager actions are granted per secret, and permissions.json names the secret:
# "secretsmanager:GetSecretValue on SigningKeySecret".
SECRETS = {"SigningKeySecret", "PublicKeysSecret"}
# What Lambda's SQS poller needs of the consumer's role, on the consumer's queue only.
POLLER_ACTIONS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
DLQ_RETENTION = 14 * 24 * 3600


# The one CloudFormation-aware YAML loader, shared with the table-definition reader; the
# DynamoDB grant model and statement layout, shared with the script that writes the statements.
from local_aws import CfnLoader  # noqa: E402
from iam_sync import BATCHES, READS, TABLE_ARN, WRITES, Grant, key_attributes, parse_grants, sync  # noqa: E402


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
# Queue -> the functions whose policies allow sqs:SendMessage on it.
SENDERS: dict[str, set[str]] = defaultdict(set)


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


def dynamodb_grants(name: str, st: dict, actions: list[str], resources: list, keys: set[str], errors: list[str]) -> set[Grant]:
    """The grants of permissions.json a DynamoDB statement makes: each of its actions on each key
    type of its condition, with its attribute list for writes.

    A statement carries ForAllValues:StringLike {dynamodb:LeadingKeys: [...]} (each partition key
    of the request matches one pattern; ForAnyValue would let one matching key carry others, no
    condition reaches every item) and, exactly when its actions are writes,
    ForAllValues:StringEquals {dynamodb:Attributes: [...]}, which must hold the key attributes.
    Reads and writes are not mixed in one statement.
    """
    sid = st.get("Sid", "?")
    condition = st.get("Condition") or {}
    dynamo = [a.removeprefix("dynamodb:") for a in actions]
    on_index = len(resources) == 1 and isinstance(resources[0], dict) and str(resources[0].get("Fn::Sub", "")).startswith("${Table.Arn}/index/")
    index = resources[0]["Fn::Sub"].removeprefix("${Table.Arn}/index/") if on_index else None
    if on_index and dynamo != ["Query"]:
        errors.append(f"{name}: statement {sid}: only dynamodb:Query, alone in its statement, may be on an index")
        return set()
    if not on_index and resources != [TABLE_ARN]:
        errors.append(f"{name}: statement {sid}: {', '.join(actions)} must be on !GetAtt Table.Arn (or Query alone on an index)")
        return set()
    unknown = [a for a in dynamo if a not in READS | WRITES]
    if unknown:
        errors.append(f"{name}: statement {sid}: {unknown} are not item actions this model grants ({sorted(READS | WRITES)})")
        return set()
    writes = [a for a in dynamo if a in WRITES]
    if writes and len(writes) != len(dynamo):
        errors.append(f"{name}: statement {sid} mixes reads and writes; each has its own statement")
        return set()
    expected = {"ForAllValues:StringLike"} | ({"ForAllValues:StringEquals"} if writes else set())
    like = condition.get("ForAllValues:StringLike") if isinstance(condition, dict) else None
    equals = condition.get("ForAllValues:StringEquals") if isinstance(condition, dict) else None
    if (
        not isinstance(condition, dict)
        or set(condition) != expected
        or not isinstance(like, dict)
        or set(like) != {"dynamodb:LeadingKeys"}
        or not like["dynamodb:LeadingKeys"]
        or (writes and (not isinstance(equals, dict) or set(equals) != {"dynamodb:Attributes"}))
    ):
        errors.append(
            f"{name}: statement {sid} needs exactly the condition ForAllValues:StringLike "
            "{dynamodb:LeadingKeys: [...]}" + (" and ForAllValues:StringEquals {dynamodb:Attributes: [...]}" if writes else "")
        )
        return set()
    attributes = None
    if writes:
        listed = as_list(equals["dynamodb:Attributes"])
        if not listed or not all(isinstance(a, str) and a and "*" not in a for a in listed):
            errors.append(f"{name}: statement {sid}: dynamodb:Attributes must list plain attribute names")
            return set()
        if not keys <= set(listed):
            errors.append(f"{name}: statement {sid}: dynamodb:Attributes must hold the key attributes {sorted(keys)}")
        attributes = tuple(sorted(set(listed)))
    out = set()
    for k in as_list(like["dynamodb:LeadingKeys"]):
        if not isinstance(k, str) or k.count("*") > 1 or ("*" in k and not k.endswith("#*")):
            errors.append(f"{name}: statement {sid}: LeadingKeys pattern {k!r} must be a literal key or a type prefix ending in '#*'")
            continue
        out.update(Grant(a, k, index, attributes) for a in dynamo)
    return out


def check_policies(functions: dict[str, dict], permissions: dict, keys: set[str], errors: list[str]) -> None:
    if set(permissions) != set(functions):
        missing = sorted(set(functions) - set(permissions))
        extra = sorted(set(permissions) - set(functions))
        errors.append(f"infra/permissions.json: functions missing {missing}, unknown {extra}")
    for name, info in sorted(functions.items()):
        actions: set[str] = set()
        grants: set[Grant] = set()
        granted_by: dict[tuple, list[str]] = defaultdict(list)
        batch_statements: dict[str, list[str]] = defaultdict(list)
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
            if dynamo:
                if len(dynamo) != len(st_actions):
                    errors.append(f"{name}: statement {st.get('Sid', '?')} mixes DynamoDB with other services")
                    continue
                made = dynamodb_grants(name, st, dynamo, resources, keys, errors)
                for g in made:
                    granted_by[(g.action, g.index, g.key)].append(st.get("Sid", "?"))
                for a in dynamo:
                    if a.removeprefix("dynamodb:") in BATCHES:
                        batch_statements[a].append(st.get("Sid", "?"))
                grants |= made
                continue
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
                if "sqs:SendMessage" in sqs_actions:
                    SENDERS[queues[0]].add(name)
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
        for (action, index, key), sids in sorted(granted_by.items(), key=str):
            if len(sids) > 1:
                errors.append(f"{name}: {action} on {key} is granted by several statements ({', '.join(sids)}); one grant, one statement")
        for action, sids in sorted(batch_statements.items()):
            if len(sids) > 1:
                errors.append(
                    f"{name}: {action} is in several statements ({', '.join(sids)}); IAM authorises a batch "
                    "against one statement, which must name every key type the function's batches reach"
                )
        expected_grants, expected_actions = parse_grants(name, permissions.get(name, []), keys, errors)
        expected = {g.entry() for g in expected_grants} | expected_actions
        have = {g.entry() for g in grants} | actions
        if have != expected:
            errors.append(
                f"{name}: IAM grants differ from infra/permissions.json: "
                f"template has extra {sorted(have - expected)}, lacks {sorted(expected - have)}"
            )
        size = policy_size(info["statements"])
        if size > ROLE_POLICY_LIMIT:
            errors.append(
                f"{name}: its inline policy comes to about {size} characters once deployed, over IAM's "
                f"{ROLE_POLICY_LIMIT} for a role's inline policies"
            )


# A role's inline policies may hold 10,240 characters, not counting white space (IAM quotas).
ROLE_POLICY_LIMIT = 10240
# What an intrinsic becomes once deployed, at its longest likely: an ARN with a long stack name.
ARN_ESTIMATE = "arn:aws:dynamodb:ap-southeast-2:123456789012:table/" + "x" * 80


def policy_size(statements: list[dict]) -> int:
    """The policy's deployed size (without white space), intrinsics counted as long ARNs."""

    def resolve(v):
        if isinstance(v, dict):
            if len(v) == 1 and next(iter(v)) in ("Ref", "Fn::GetAtt", "Fn::Sub", "Fn::If", "Fn::Join"):
                return ARN_ESTIMATE
            return {k: resolve(x) for k, x in v.items()}
        if isinstance(v, list):
            return [resolve(x) for x in v]
        return v

    document = {"Version": "2012-10-17", "Statement": resolve(statements)}
    return len(json.dumps(document, separators=(",", ":")))


def check_cors(template: dict, functions: dict[str, dict], errors: list[str]) -> None:
    """API Gateway answers a browser's preflight itself, from CorsConfiguration: every method a
    route uses must be in AllowMethods (or it allows "*"), or browsers cannot call that route."""
    # Every route is on HttpApi (template_functions holds them to ApiId: !Ref HttpApi).
    for api_name in ("HttpApi",):
        api = template.get("Resources", {}).get(api_name) or {}
        cors = (api.get("Properties") or {}).get("CorsConfiguration")
        if not isinstance(cors, dict):
            errors.append(f"{api_name}: needs a CorsConfiguration (browsers call the API from other origins)")
            continue
        allowed = {str(m).upper() for m in as_list(cors.get("AllowMethods") or [])}
        for name, info in sorted(functions.items()):
            for method, path in sorted(info["routes"]):
                if "*" not in allowed and (method == "ANY" or method not in allowed):
                    errors.append(
                        f"{api_name}: CorsConfiguration.AllowMethods {sorted(allowed)} lacks {method}, "
                        f"which {method} {path} ({name}) uses: browsers' preflights would be refused"
                    )
    origins = (template.get("Parameters") or {}).get("AllowedOrigins")
    if not isinstance(origins, dict):
        errors.append("Parameters: needs AllowedOrigins (the browser origins CORS allows)")
    elif "Default" in origins:
        errors.append("Parameters.AllowedOrigins: no Default; whoever deploys names their own origins")


def check_queue_policies(template: dict, functions: dict[str, dict], permissions: dict, errors: list[str]) -> None:
    """A queue that functions send to has an AWS::SQS::QueuePolicy that denies sqs:SendMessage to
    every principal but the roles of exactly those functions (and the account root): a Deny to
    Principal "*" with ArnNotEquals aws:PrincipalArn [their roles' ARNs, the root's]. Those
    functions are the ones permissions.json grants sqs:SendMessage; receiving (the mailer's event
    source) is not touched."""
    resources = template.get("Resources", {})
    granted = {name for name, entries in permissions.items() if "sqs:SendMessage" in entries}
    role_of = {info["logical_id"] + "Role": name for name, info in functions.items()}
    root = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    for queue in sorted(SQS_QUEUES):
        senders = SENDERS.get(queue, set())
        policies = [
            (n, r.get("Properties") or {})
            for n, r in resources.items()
            if r.get("Type") == "AWS::SQS::QueuePolicy" and {"Ref": queue} in as_list((r.get("Properties") or {}).get("Queues") or [])
        ]
        if not senders and not policies:
            continue
        if senders and senders != granted:
            errors.append(f"{queue}: the functions that send to it {sorted(senders)} differ from those permissions.json grants sqs:SendMessage {sorted(granted)}")
        if len(policies) != 1:
            errors.append(f"{queue}: needs exactly one AWS::SQS::QueuePolicy (Queues: [!Ref {queue}]) restricting who sends to it")
            continue
        name, props = policies[0]
        statements = as_list((props.get("PolicyDocument") or {}).get("Statement") or [])
        denies = []
        for st in statements:
            acts = {str(a).lower() for a in as_list(st.get("Action") or [])}
            sends = bool(acts & {"sqs:sendmessage", "sqs:*", "*"}) or "NotAction" in st
            if st.get("Effect") == "Allow" and sends:
                errors.append(f"{name}: statement {st.get('Sid', '?')} allows sending; senders get it from their own role policies")
            if st.get("Effect") == "Deny" and acts == {"sqs:sendmessage"}:
                denies.append(st)
        if len(denies) != 1:
            errors.append(f"{name}: needs one Deny of sqs:SendMessage to every principal but the senders' roles")
            continue
        st = denies[0]
        condition = st.get("Condition") or {}
        arns = as_list((condition.get("ArnNotEquals") or {}).get("aws:PrincipalArn") or [])
        if (
            st.get("Principal") not in ("*", {"AWS": "*"})
            or st.get("Resource") != {"Fn::GetAtt": [queue, "Arn"]}
            or set(condition) != {"ArnNotEquals"}
            or set(condition["ArnNotEquals"]) != {"aws:PrincipalArn"}
        ):
            errors.append(
                f"{name}: the Deny must be to Principal '*', on !GetAtt {queue}.Arn, with the one condition "
                "ArnNotEquals {aws:PrincipalArn: [the senders' role ARNs]}"
            )
            continue
        roles, others = [], []
        for arn in arns:
            target = arn.get("Fn::GetAtt") if isinstance(arn, dict) else None
            if target and len(target) == 2 and target[1] == "Arn" and target[0] in role_of:
                roles.append(role_of[target[0]])
            elif arn != root:
                others.append(arn)
        if others:
            errors.append(f"{name}: the Deny also spares {others}; only the senders' roles (!GetAtt <Function>Role.Arn) and the account root")
        if set(roles) != granted:
            errors.append(
                f"{name}: the Deny spares the roles of {sorted(set(roles))}, but permissions.json grants "
                f"sqs:SendMessage to {sorted(granted)}"
            )
        for sender in granted:
            logical_id = functions.get(sender, {}).get("logical_id")
            if logical_id and "Role" in (resources[logical_id].get("Properties") or {}):
                errors.append(f"{logical_id}: sets its own Role, so {logical_id}Role (which {name} names) does not exist")


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
    keys = key_attributes(template)
    if not keys:
        errors.append("template: needs exactly one AWS::DynamoDB::Table with a KeySchema")
    check_policies(functions, permissions, keys, errors)
    check_queue_policies(template, functions, permissions, errors)
    check_cors(template, functions, errors)
    layout: list[str] = []
    _, unsynced = sync(TEMPLATE.read_text(), template, permissions, layout)
    if unsynced and not layout:
        errors.append(
            f"template.yaml: the DynamoDB statements of {', '.join(unsynced)} are not as infra/iam_sync.py "
            "writes them from infra/permissions.json (run .venv/bin/python infra/iam_sync.py)"
        )

    if errors:
        print("template check FAILED:", file=sys.stderr)
        for e in errors:
            print(f"  - {e}", file=sys.stderr)
        return 1
    print(
        f"template: {len(template_routes)} routes, {len(functions)} functions, "
        f"{n_events} event files, policies and the mail queue's senders match infra/permissions.json, "
        "CORS allows every route's method"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
