#!/usr/bin/env python3
"""Writes each function's DynamoDB statements in template.yaml from infra/permissions.json.

  .venv/bin/python infra/iam_sync.py           rewrite the DynamoDB statements of every function
  .venv/bin/python infra/iam_sync.py --check   change nothing; exit 1 naming the functions whose
                                               statements differ from what would be written

infra/permissions.json lists, per function (its binary), what its code calls, one string per grant
(the test `each_function_policy_covers_exactly_the_calls_its_code_makes` records them and writes
the whole list to target/permissions-used.json when they differ):

  dynamodb:<Write> <key> [<attribute>,...]   PutItem, UpdateItem, DeleteItem, BatchWriteItem on
                                             items whose partition key matches <key>, naming only
                                             these top-level attributes (the item's for a put, the
                                             key's for the others, and those of the update and
                                             condition expressions; pk and sk always among them)
  dynamodb:<Read> <key>                      GetItem, BatchGetItem, Query (of a partition of the
                                             table), ConditionCheckItem (a transaction's check)
  dynamodb:Query on <index> <value>          a Query of one partition of an index
  anything else (sqs:, ses:, secretsmanager:... on <Secret>) is checked by check_template.py
  and left alone here.

<key> is a key type, `USER#*` (every partition key that starts with `USER#`), or one literal key.

What is written, per function, at the head of its Policies' Statement list (the other statements
keep their order and comments), each on !GetAtt Table.Arn with the condition
ForAllValues:StringLike dynamodb:LeadingKeys, and for writes ForAllValues:StringEquals
dynamodb:Attributes:
  * the single-item actions, grouped so that a statement grants exactly a set of actions on a set
    of key types with one attribute list (entries of one key type and attribute list merge their
    actions, then groups of the same actions and attributes merge their key types); reads first;
  * one statement per batch action (BatchGetItem, BatchWriteItem) naming every key type the
    function's batches reach: IAM authorises a batch once, for all the keys it names in the table,
    so the key types of one batch must be in one statement (and so share one attribute list);
  * one statement per index Query, on !Sub ${Table.Arn}/index/<index>.
The IAM evaluation this follows (DynamoDB developer guide, "Using IAM policy conditions for
fine-grained access control" and "Using IAM with DynamoDB transactions"): each item of a
TransactWriteItems is authorised as the PutItem, UpdateItem, DeleteItem or ConditionCheckItem it
is; dynamodb:Attributes holds the attribute names a request names, so a policy that uses it must
list the key attributes; PutItem and DeleteItem act on whole items, so an attribute list bounds
what a put may write and what a delete's condition may test, not which items a delete removes
(dynamodb:LeadingKeys does that, by partition key only).

Standard library plus PyYAML. check_template.py imports the parsing and the statements from here.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
PERMISSIONS = ROOT / "infra" / "permissions.json"

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_aws import CfnLoader  # noqa: E402

READS = {"GetItem", "BatchGetItem", "Query", "ConditionCheckItem"}
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"}
BATCHES = ("BatchGetItem", "BatchWriteItem")
TABLE_ARN = {"Fn::GetAtt": ["Table", "Arn"]}
MARKER = "# DynamoDB: written from infra/permissions.json by infra/iam_sync.py; do not edit by hand."

ENTRY = re.compile(
    r"^dynamodb:(?P<action>[A-Za-z]+) (?:on (?P<index>[A-Za-z0-9_.-]+) )?(?P<key>[^\s\[\]]+)"
    r"(?: \[(?P<attributes>[^\[\]]*)\])?$"
)
ATTRIBUTE = re.compile(r"^[A-Za-z0-9_.:-]+$")


def index_arn(index: str) -> dict:
    return {"Fn::Sub": "${Table.Arn}/index/" + index}


@dataclass(frozen=True, order=True)
class Grant:
    """One DynamoDB grant of permissions.json: an action on a key type (of an index), and for a
    write the attributes it may name."""

    action: str
    key: str
    index: str | None = None
    attributes: tuple[str, ...] | None = None

    def entry(self) -> str:
        on = f"on {self.index} " if self.index else ""
        names = f" [{','.join(self.attributes)}]" if self.attributes is not None else ""
        return f"dynamodb:{self.action} {on}{self.key}{names}"


def key_attributes(template: dict) -> set[str]:
    """The table's key attributes (pk, sk): every write names them."""
    tables = [r for r in template.get("Resources", {}).values() if r.get("Type") == "AWS::DynamoDB::Table"]
    if len(tables) != 1:
        return set()
    return {k["AttributeName"] for k in (tables[0].get("Properties") or {}).get("KeySchema", [])}


def parse_grants(name: str, entries: list, keys: set[str], errors: list[str]) -> tuple[list[Grant], set[str]]:
    """A function's permissions.json entries: its DynamoDB grants (checked) and the other entries."""
    grants: list[Grant] = []
    others: set[str] = set()
    for e in entries:
        if not isinstance(e, str):
            errors.append(f"infra/permissions.json: {name}: {e!r} is not a string")
            continue
        if not e.startswith("dynamodb:"):
            others.add(e)
            continue
        m = ENTRY.match(e)
        if not m:
            errors.append(f"infra/permissions.json: {name}: {e!r} is not 'dynamodb:<Action> [on <index> ]<key>[ [attr,...]]'")
            continue
        action, index, key, listed = m["action"], m["index"], m["key"], m["attributes"]
        attributes = None if listed is None else tuple(sorted(a for a in listed.split(",") if a))
        where = f"infra/permissions.json: {name}: {e!r}"
        if action not in READS | WRITES:
            errors.append(f"{where}: {action} is no item action this model grants ({', '.join(sorted(READS | WRITES))})")
            continue
        if index and action != "Query":
            errors.append(f"{where}: only Query is granted on an index")
            continue
        if key.count("*") > 1 or ("*" in key and not key.endswith("#*")):
            errors.append(f"{where}: the key must be a literal key or a type prefix ending in '#*'")
            continue
        if action in WRITES and attributes is None:
            errors.append(f"{where}: a write lists the attributes it names, [attr,...]")
            continue
        if action in READS and attributes is not None:
            errors.append(f"{where}: a read lists no attributes")
            continue
        if attributes is not None:
            bad = [a for a in attributes if not ATTRIBUTE.match(a)]
            if bad or len(set(attributes)) != len(attributes):
                errors.append(f"{where}: attribute names must be distinct plain names, not {bad or 'repeated'}")
                continue
            if not keys <= set(attributes):
                errors.append(f"{where}: a write names the key attributes {sorted(keys)}, which its list must hold")
                continue
        grants.append(Grant(action, key, index, attributes))
    seen: dict[tuple, Grant] = {}
    for g in grants:
        if (g.action, g.index, g.key) in seen:
            errors.append(f"infra/permissions.json: {name}: {g.action} on {g.key} is listed twice; one entry per action and key")
        seen[(g.action, g.index, g.key)] = g
    for batch in BATCHES:
        lists = {g.attributes for g in grants if g.action == batch and not g.index}
        if len(lists) > 1:
            errors.append(
                f"infra/permissions.json: {name}: every {batch} entry must carry the same attributes "
                "(IAM authorises a batch against one statement)"
            )
    return grants, others


def kind(key: str) -> str:
    """USER#* -> User; COUNTER#users -> CounterUsers (for Sids, which are alphanumeric)."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", key) if part)


def statements(grants: list[Grant]) -> list[dict]:
    """The DynamoDB statements that grant exactly `grants` (see the module's docstring)."""
    table = [g for g in grants if g.index is None]
    by_key: dict[tuple, set[str]] = defaultdict(set)
    for g in table:
        if g.action not in BATCHES:
            by_key[(g.key, g.attributes)].add(g.action)
    by_actions: dict[tuple, list[str]] = defaultdict(list)
    for (key, attributes), actions in by_key.items():
        by_actions[(tuple(sorted(actions)), attributes)].append(key)
    groups = sorted(
        ((actions, tuple(sorted(keys)), attributes) for (actions, attributes), keys in by_actions.items()),
        key=lambda g: (g[2] is not None, g[1], g[0], g[2] or ()),
    )
    out: list[dict] = []
    sids: set[str] = set()

    def add(sid: str, actions, resource, keys, attributes):
        n, unique = 2, sid
        while unique in sids:
            unique, n = f"{sid}{n}", n + 1
        sids.add(unique)
        condition = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(keys)}}
        if attributes is not None:
            condition["ForAllValues:StringEquals"] = {"dynamodb:Attributes": list(attributes)}
        out.append(
            {
                "Sid": unique,
                "Effect": "Allow",
                "Action": [f"dynamodb:{a}" for a in actions],
                "Resource": resource,
                "Condition": condition,
            }
        )

    for actions, keys, attributes in groups:
        verb = "Read" if attributes is None else "".join(a.removesuffix("Item") for a in actions)
        add("Table" + verb + "".join(kind(k) for k in keys), actions, TABLE_ARN, keys, attributes)
    for batch in BATCHES:
        mine = [g for g in table if g.action == batch]
        if mine:
            keys = sorted({g.key for g in mine})
            add("Table" + batch.removesuffix("Item"), (batch,), TABLE_ARN, keys, mine[0].attributes)
    indexes: dict[str, list[str]] = defaultdict(list)
    for g in grants:
        if g.index:
            indexes[g.index].append(g.key)
    for index, keys in sorted(indexes.items()):
        add(kind(index), ("Query",), index_arn(index), sorted(keys), None)
    return out


def quoted(value: str) -> str:
    return json.dumps(value)


def render(statement_list: list[dict], indent: int) -> list[str]:
    """Statements as YAML lines, items at `indent` (the template's own layout)."""
    p = " " * indent
    lines = [p + MARKER]
    for st in statement_list:
        lines.append(f"{p}- Sid: {st['Sid']}")
        lines.append(f"{p}  Effect: Allow")
        actions = st["Action"]
        if len(actions) == 1:
            lines.append(f"{p}  Action: {actions[0]}")
        else:
            lines.append(f"{p}  Action:")
            lines.extend(f"{p}    - {a}" for a in actions)
        resource = st["Resource"]
        if resource == TABLE_ARN:
            lines.append(f"{p}  Resource: !GetAtt Table.Arn")
        else:
            lines.append(f"{p}  Resource: !Sub {resource['Fn::Sub']}")
        lines.append(f"{p}  Condition:")
        lines.append(f"{p}    ForAllValues:StringLike:")
        lines.append(f"{p}      dynamodb:LeadingKeys:")
        lines.extend(f"{p}        - {quoted(k)}" for k in st["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])
        equals = st["Condition"].get("ForAllValues:StringEquals")
        if equals:
            lines.append(f"{p}    ForAllValues:StringEquals:")
            head, cont = f"{p}      dynamodb:Attributes: [", f"{p}        "
            line = head
            names = [quoted(a) for a in equals["dynamodb:Attributes"]]
            for i, name in enumerate(names):
                piece = name + ("," if i < len(names) - 1 else "]")
                if line not in (head, cont) and len(line) + 1 + len(piece) > 100:
                    lines.append(line)
                    line = cont
                line += ("" if line in (head, cont) else " ") + piece
            lines.append(line)
    return lines


# ------------------------------------------------------------------- template text


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def resource_spans(lines: list[str]) -> dict[str, tuple[int, int]]:
    """Logical id -> (first line, line after its last) of each resource, by the text."""
    start = next((i for i, l in enumerate(lines) if l.rstrip() == "Resources:"), None)
    if start is None:
        return {}
    headers = []
    end = len(lines)
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if line.strip() and not line.lstrip().startswith("#") and indent_of(line) == 0:
            end = i
            break
        m = re.match(r"^  ([A-Za-z0-9]+):\s*$", line)
        if m:
            headers.append((m.group(1), i))
    spans = {}
    for n, (logical_id, i) in enumerate(headers):
        spans[logical_id] = (i, headers[n + 1][1] if n + 1 < len(headers) else end)
    return spans


def statement_region(lines: list[str], first: int, last: int) -> tuple[int, int, int] | None:
    """(first line, line after the last, item indent) of the Statement list of the first inline
    policy of the resource at lines[first:last]."""
    policies = next((i for i in range(first, last) if re.match(r"^\s+Policies:\s*$", lines[i])), None)
    if policies is None:
        return None
    statement = next((i for i in range(policies + 1, last) if re.match(r"^\s+Statement:\s*$", lines[i])), None)
    if statement is None:
        return None
    items = indent_of(lines[statement]) + 2
    end = statement + 1
    for i in range(statement + 1, last):
        line = lines[i]
        if not line.strip() or (line.lstrip().startswith("#") and indent_of(line) >= items):
            continue
        if indent_of(line) < items or (indent_of(line) == items and not line.lstrip().startswith("- ")):
            break
        end = i + 1
    return statement + 1, end, items


def chunks(lines: list[str], items: int) -> list[list[str]]:
    """A Statement list's lines cut into its items, each with the comments just above it."""
    out: list[list[str]] = []
    pending: list[str] = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith("#") and indent_of(line) == items:
            pending.append(line)
        elif stripped.startswith("- ") and indent_of(line) == items:
            out.append(pending + [line])
            pending = []
        elif out:
            out[-1].extend(pending + [line])
            pending = []
        else:
            pending.append(line)
    if pending:
        if out:
            out[-1].extend(pending)
        else:
            out.append(pending)
    return out


def is_dynamodb(chunk: list[str], items: int) -> bool:
    text = "\n".join(l[items:] if len(l) >= items else l.strip() for l in chunk)
    try:
        (statement,) = yaml.load(text, Loader=CfnLoader)
    except (yaml.YAMLError, ValueError, TypeError):
        return False
    actions = statement.get("Action", []) if isinstance(statement, dict) else []
    actions = actions if isinstance(actions, list) else [actions]
    return any(isinstance(a, str) and a.startswith("dynamodb:") for a in actions)


def sync(text: str, template: dict, permissions: dict, errors: list[str]) -> tuple[str, list[str]]:
    """The template text with every function's DynamoDB statements written from permissions;
    and the functions whose statements changed."""
    lines = text.split("\n")
    spans = resource_spans(lines)
    keys = key_attributes(template)
    edits = []
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        binary = ((resource.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
        if binary not in permissions:
            errors.append(f"{logical_id}: its binary {binary!r} is not in infra/permissions.json")
            continue
        grants, _ = parse_grants(binary, permissions[binary], keys, errors)
        span = spans.get(logical_id)
        region = statement_region(lines, *span) if span else None
        if region is None:
            if grants:
                errors.append(f"{logical_id}: needs a Policies entry with a Statement list for its DynamoDB statements")
            continue
        first, end, items = region
        kept = [c for c in chunks(lines[first:end], items) if not is_dynamodb(c, items)]
        new = (render(statements(grants), items) if grants else []) + [l for c in kept for l in c]
        if not new:
            errors.append(f"{logical_id}: would be left with no statement; remove its Policies by hand")
            continue
        if new != lines[first:end]:
            edits.append((first, end, new, binary))
    for first, end, new, _ in sorted(edits, reverse=True):
        lines[first:end] = new
    return "\n".join(lines), sorted(b for *_, b in edits)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; fail if the template would change")
    args = parser.parse_args()
    text = TEMPLATE.read_text()
    template = yaml.load(text, Loader=CfnLoader)
    permissions = json.loads(PERMISSIONS.read_text())
    errors: list[str] = []
    new_text, changed = sync(text, template, permissions, errors)
    if errors:
        print("iam_sync FAILED:", file=sys.stderr)
        for e in errors:
            print(f"  - {e}", file=sys.stderr)
        return 1
    if args.check:
        if changed:
            print(
                "template.yaml's DynamoDB statements differ from infra/permissions.json for "
                f"{', '.join(changed)}: run .venv/bin/python infra/iam_sync.py",
                file=sys.stderr,
            )
            return 1
        print("template.yaml's DynamoDB statements are written from infra/permissions.json")
        return 0
    if changed:
        TEMPLATE.write_text(new_text)
        print(f"template.yaml: DynamoDB statements rewritten for {', '.join(changed)}")
    else:
        print("template.yaml: already in step with infra/permissions.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
