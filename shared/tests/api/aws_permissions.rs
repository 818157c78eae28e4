//! Each function's IAM policy (infra/permissions.json, which the template checks hold to) covers
//! exactly the AWS calls its code makes: every endpoint is driven through its paths with every
//! SDK call recorded, and the record is compared with the list, both ways.
//!
//! DynamoDB is recorded as IAM authorises it: one grant per action, partition key type and, for
//! the writes, the attributes the request names (`dynamodb:Attributes`), e.g.
//! `dynamodb:UpdateItem USER#* [pk,revoked,sk]`. The whole record is written to
//! `target/permissions-used.json` in permissions.json's own format, so that after a change of
//! the store the list is regenerated with a copy (and the template with infra/iam_sync.py).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::helpers::dynamo::Fixture;
use crate::helpers::{access, refresh, test_config, TestApp, STRONG, STRONG2};
use authyy::clock::Clock;
use authyy::clock::ManualClock;
use authyy::keys::secrets_manager::{rotation_step, RotationEvent, SecretsManagerKeys};
use authyy::keys::CachedKeys;
use authyy::mail::SesTransport;
use authyy::queue::SqsQueue;
use authyy::store::dynamo::DynamoStore;
use authyy::tokens::TokenIssuer;
use authyy::Endpoint;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::Value;

/// What a function does (or may do), as permissions.json lists it: each grant without its
/// attribute list (`dynamodb:UpdateItem USER#*`, `sqs:SendMessage`), and the attributes of the
/// DynamoDB writes (`None` for every other grant).
type Grants = BTreeMap<String, Option<BTreeSet<String>>>;

/// The DynamoDB actions granted with an attribute list (`dynamodb:Attributes`): the writes.
/// Reads are granted without one: they send no projection, so IAM would see only their key
/// attributes, and a list would not bound what they read.
const WRITES: [&str; 4] = ["PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"];

/// The actions IAM authorises once for all the keys of a table in the request (one statement
/// must name every key type the function's batches reach, and one attribute list).
const BATCHES: [&str; 2] = ["BatchGetItem", "BatchWriteItem"];

/// Grants the code holds but no request here exercises, with the reason: added to the record.
const UNEXERCISED: [(&str, &str, &str); 1] = [(
    "refresh",
    "dynamodb:GetItem SESSIONS#*",
    "a refresh that lost a race reads the rotated token back; no request here races",
)];

fn add(grants: &mut Grants, grant: String, attributes: Option<BTreeSet<String>>) {
    match (grants.entry(grant).or_insert(None), attributes) {
        (slot @ None, attributes) => *slot = attributes,
        (Some(seen), Some(attributes)) => seen.extend(attributes),
        (Some(_), None) => {}
    }
}

fn merge(into: &mut Grants, from: &Grants) {
    for (grant, attributes) in from {
        add(into, grant.clone(), attributes.clone());
    }
}

/// A grant as permissions.json writes it: `dynamodb:PutItem EMAIL#* [email,pk,sk]`.
fn entry(grant: &str, attributes: &Option<BTreeSet<String>>) -> String {
    match attributes {
        Some(a) => format!("{grant} [{}]", a.iter().cloned().collect::<Vec<_>>().join(",")),
        None => grant.to_string(),
    }
}

fn parse_entry(entry: &str) -> (String, Option<BTreeSet<String>>) {
    match entry.strip_suffix(']').and_then(|e| e.split_once(" [")) {
        Some((grant, list)) => (
            grant.to_string(),
            Some(
                list.split(',')
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
        ),
        None => (entry.to_string(), None),
    }
}

/// The key attributes of the table and of each index, from the template's table definition.
#[derive(Debug, Clone)]
struct Schema {
    /// The table's partition key attribute (`pk`).
    partition_key: String,
    /// Index name -> its partition key attribute.
    indexes: BTreeMap<String, String>,
}

impl Schema {
    fn from_template() -> Schema {
        let def = crate::helpers::dynamo::table_definition();
        let hash = |keys: &Value| {
            keys.as_array()
                .into_iter()
                .flatten()
                .find(|k| k["KeyType"] == "HASH")
                .and_then(|k| k["AttributeName"].as_str())
                .expect("a HASH key")
                .to_string()
        };
        Schema {
            partition_key: hash(&def["KeySchema"]),
            indexes: def["GlobalSecondaryIndexes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|g| {
                    (
                        g["IndexName"].as_str().unwrap().to_string(),
                        hash(&g["KeySchema"]),
                    )
                })
                .collect(),
        }
    }
}

/// Records the IAM grants every call needs, by the request as sent (see [`dynamo_grants`]).
#[derive(Debug, Clone)]
struct Recorder {
    service: &'static str,
    seen: Arc<Mutex<Grants>>,
    /// Secret ids by the template's logical id: Secrets Manager calls are recorded as
    /// `secretsmanager:<Operation> on <LogicalId>`, as permissions.json grants them.
    secrets: Vec<(String, &'static str)>,
    schema: Schema,
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // JSON protocols name the operation in X-Amz-Target; SES v2 is REST, named by its path.
        let request = context.request();
        let operation = match request.headers().get("x-amz-target") {
            Some(target) => target.rsplit('.').next().unwrap_or_default().to_string(),
            None if request.uri().contains("/v2/email/outbound-emails") => "SendEmail".to_string(),
            None => format!("unknown {}", request.uri()),
        };
        let body = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
            .unwrap_or_default();
        let mut seen = self.seen.lock().unwrap();
        if self.service == "dynamodb" {
            for (grant, attributes) in dynamo_grants(&operation, &body, &self.schema) {
                add(&mut seen, grant, attributes);
            }
            return Ok(());
        }
        let on = body["SecretId"]
            .as_str()
            .map(|id| {
                let name = self
                    .secrets
                    .iter()
                    .find(|(s, _)| *s == id)
                    .map_or("?", |(_, n)| n);
                format!(" on {name}")
            })
            .unwrap_or_default();
        add(&mut seen, format!("{}:{operation}{on}", self.service), None);
        Ok(())
    }
}

/// The partition key as permissions.json grants it (the IAM condition `dynamodb:LeadingKeys`):
/// the key's type prefix, up to its first `#` (`USER#*`), or the whole key if it has none.
fn leading_key(pk: &str) -> String {
    match pk.split_once('#') {
        Some((kind, _)) => format!("{kind}#*"),
        None => pk.to_string(),
    }
}

/// The top-level attributes an expression names, as IAM counts them for `dynamodb:Attributes`:
/// `#name` placeholders resolved through ExpressionAttributeNames, a nested path (`a.b[0]`)
/// counted as its first element; `:values`, function names and keywords left out.
fn expression_attributes(expression: &str, names: &Value) -> Vec<String> {
    const KEYWORDS: [&str; 9] = [
        "SET", "REMOVE", "ADD", "DELETE", "AND", "OR", "NOT", "BETWEEN", "IN",
    ];
    let chars: Vec<char> = expression.chars().collect();
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let (mut out, mut i, mut after_dot) = (vec![], 0, false);
    while i < chars.len() {
        let c = chars[i];
        if !(word(c) || c == '#' || c == ':') {
            if c == '.' {
                after_dot = true;
            } else if !c.is_whitespace() {
                after_dot = false;
            }
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        while i < chars.len() && word(chars[i]) {
            i += 1;
        }
        let token: String = chars[start..i].iter().collect();
        let call = chars[i..].iter().find(|c| !c.is_whitespace()) == Some(&'(');
        let nested = std::mem::replace(&mut after_dot, false);
        if c == ':' || c.is_ascii_digit() || nested || call {
            continue;
        }
        if c == '#' {
            out.push(
                names[&token]
                    .as_str()
                    .map_or_else(|| format!("?{token}"), str::to_string),
            );
        } else if !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(&token)) {
            out.push(token);
        }
    }
    out
}

/// The value a key condition binds to `key` (`pk = :pk AND begins_with(sk, :sk)`).
fn key_condition_value<'a>(request: &'a Value, key: &str) -> Option<&'a str> {
    let condition = request["KeyConditionExpression"].as_str()?;
    let names = &request["ExpressionAttributeNames"];
    condition.match_indices('=').find_map(|(at, _)| {
        let before = &condition[..at];
        if before.ends_with(['<', '>', '!']) {
            return None;
        }
        let left = before.split_whitespace().last()?;
        let left = if left.starts_with('#') {
            names[left].as_str()?
        } else {
            left
        };
        let right = condition[at + 1..].split_whitespace().next()?;
        (left == key)
            .then(|| request["ExpressionAttributeValues"][right]["S"].as_str())
            .flatten()
    })
}

/// The grants one DynamoDB request needs, as IAM authorises it: its action (each item of a
/// TransactWriteItems as its own PutItem, UpdateItem, DeleteItem or ConditionCheckItem), the
/// type of each partition key it reaches (`dynamodb:LeadingKeys`), and for the writes the
/// top-level attributes it names (`dynamodb:Attributes`): the item's for a put, the key's for
/// the others, and those of its update and condition expressions.
/// DynamoDB refuses a request whose `ExpressionAttributeValues` or `ExpressionAttributeNames`
/// hold an entry no expression uses (the local server lets it pass inside a transaction): each
/// must appear in one, as a whole placeholder.
fn assert_values_used(action: &str, request: &Value) {
    let text: Vec<&str> = [
        "UpdateExpression",
        "ConditionExpression",
        "KeyConditionExpression",
        "FilterExpression",
        "ProjectionExpression",
    ]
    .iter()
    .filter_map(|e| request[*e].as_str())
    .collect();
    let text = text.join(" ");
    for map in ["ExpressionAttributeValues", "ExpressionAttributeNames"] {
        for placeholder in request[map].as_object().into_iter().flatten().map(|(k, _)| k) {
            let used = text.match_indices(placeholder.as_str()).any(|(at, _)| {
                text[at + placeholder.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
            });
            assert!(
                used,
                "{action}: {placeholder} is in no expression of {text:?} (DynamoDB refuses it)"
            );
        }
    }
}

fn dynamo_grants(operation: &str, body: &Value, schema: &Schema) -> Vec<(String, Option<BTreeSet<String>>)> {
    let pk = &schema.partition_key;
    let one = |action: &str, request: &Value| {
        assert_values_used(action, request);
        let (item, key) = match action {
            "PutItem" => (&request["Item"], &request["Item"]),
            _ => (&request["Key"], &request["Key"]),
        };
        let leading = item[pk]["S"]
            .as_str()
            .map_or_else(|| "?".to_string(), leading_key);
        let attributes = WRITES.contains(&action).then(|| {
            let names = &request["ExpressionAttributeNames"];
            let mut attributes: BTreeSet<String> = key
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k.clone())
                .collect();
            for expression in ["UpdateExpression", "ConditionExpression"] {
                if let Some(e) = request[expression].as_str() {
                    attributes.extend(expression_attributes(e, names));
                }
            }
            attributes
        });
        (format!("dynamodb:{action} {leading}"), attributes)
    };
    let tables = |field: &str| -> Vec<Value> {
        body["RequestItems"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, v)| v[field].clone())
            .collect()
    };
    match operation {
        "GetItem" | "PutItem" | "UpdateItem" | "DeleteItem" => vec![one(operation, body)],
        "BatchGetItem" => tables("Keys")
            .iter()
            .flat_map(|keys| keys.as_array().cloned().unwrap_or_default())
            .map(|key| one("BatchGetItem", &serde_json::json!({ "Key": key })))
            .collect(),
        "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(_, requests)| requests.as_array().cloned().unwrap_or_default())
            .map(|r| match (&r["PutRequest"], &r["DeleteRequest"]) {
                (Value::Null, delete) => one("BatchWriteItem", delete),
                (put, _) => {
                    let (grant, attributes) = one("PutItem", put);
                    (
                        grant.replace("dynamodb:PutItem", "dynamodb:BatchWriteItem"),
                        attributes,
                    )
                }
            })
            .collect(),
        "TransactWriteItems" | "TransactGetItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|item| {
                let (kind, request) = item
                    .as_object()
                    .and_then(|o| o.iter().next())
                    .expect("a transaction item");
                let action = match kind.as_str() {
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "Delete" => "DeleteItem",
                    "ConditionCheck" => "ConditionCheckItem",
                    "Get" => "GetItem",
                    other => panic!("unknown transaction item {other}"),
                };
                one(action, request)
            })
            .collect(),
        "Query" => {
            let index = body["IndexName"].as_str();
            let key = index
                .map_or(Some(pk), |i| schema.indexes.get(i))
                .expect("an index of the table");
            let value = key_condition_value(body, key).unwrap_or("?");
            let grant = match index {
                // A partition of the table, granted by its key's type prefix; one of an index,
                // by its partition key value exactly.
                None => format!("dynamodb:Query {}", leading_key(value)),
                Some(index) => format!("dynamodb:Query on {index} {value}"),
            };
            vec![(grant, None)]
        }
        other => vec![(format!("dynamodb:{other} (no key condition)"), None)],
    }
}

/// One attribute list per batch action of a function: IAM authorises a batch once, against one
/// statement, whatever item types it reaches.
fn normalise(mut grants: Grants) -> Grants {
    for batch in BATCHES {
        let prefix = format!("dynamodb:{batch} ");
        let mut all: Option<BTreeSet<String>> = None;
        for (_, attributes) in grants.iter().filter(|(g, _)| g.starts_with(&prefix)) {
            if let Some(a) = attributes {
                all.get_or_insert_with(BTreeSet::new).extend(a.iter().cloned());
            }
        }
        for (_, attributes) in grants.iter_mut().filter(|(g, _)| g.starts_with(&prefix)) {
            *attributes = all.clone();
        }
    }
    grants
}

fn permissions_path() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/permissions.json");
    path.canonicalize().unwrap_or(path)
}

fn permissions() -> BTreeMap<String, Grants> {
    let listed: BTreeMap<String, Vec<String>> =
        serde_json::from_str(&std::fs::read_to_string(permissions_path()).unwrap()).unwrap();
    listed
        .into_iter()
        .map(|(function, entries)| {
            let mut grants = Grants::new();
            for e in entries {
                let (grant, attributes) = parse_entry(&e);
                add(&mut grants, grant, attributes);
            }
            (function, grants)
        })
        .collect()
}

/// Writes `used` as permissions.json lists grants (functions and entries in order), to
/// `target/permissions-used.json`; returns its path.
fn write_used(used: &BTreeMap<&str, Grants>) -> PathBuf {
    let listed: BTreeMap<&str, Vec<String>> = used
        .iter()
        .map(|(f, grants)| (*f, grants.iter().map(|(g, a)| entry(g, a)).collect()))
        .collect();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    std::fs::create_dir_all(&target).unwrap();
    let path = target.join("permissions-used.json");
    std::fs::write(&path, serde_json::to_string_pretty(&listed).unwrap() + "\n").unwrap();
    path.canonicalize().unwrap_or(path)
}

#[test]
fn expressions_name_their_top_level_attributes_with_placeholders_resolved() {
    let names = serde_json::json!({"#c": "count", "#r": "role"});
    let attrs = |e| expression_attributes(e, &names);
    assert_eq!(
        attrs("SET #c = if_not_exists(#c, :one) - :one, expires_at = :e"),
        ["count", "count", "expires_at"]
    );
    assert_eq!(
        attrs("SET email_verified = :t REMOVE verify_hash"),
        ["email_verified", "verify_hash"]
    );
    assert_eq!(
        attrs("attribute_exists(pk) AND NOT begins_with(sk, :p) OR #r IN (:a, :b)"),
        ["pk", "sk", "role"]
    );
    assert_eq!(
        attrs("SET a.b[0].c = :v, d[1] = list_append(d, :l)"),
        ["a", "d", "d"]
    );
    assert_eq!(attrs("#c BETWEEN :lo AND :hi"), ["count"]);
    assert_eq!(attrs("#missing = :x"), ["?#missing"]);
}

#[test]
fn writes_are_granted_with_the_attributes_they_name_and_reads_without() {
    let schema = Schema {
        partition_key: "pk".into(),
        indexes: BTreeMap::from([("users-by-id".into(), "gsi1pk".into())]),
    };
    let grants = |op, body: Value| dynamo_grants(op, &body, &schema);
    let set = |a: &[&str]| Some(a.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>());
    let key = serde_json::json!({"pk": {"S": "USER#7"}, "sk": {"S": "SESSION#x"}});
    assert_eq!(
        grants(
            "UpdateItem",
            serde_json::json!({"Key": key, "UpdateExpression": "SET #r = :r",
            "ConditionExpression": "attribute_exists(pk)", "ExpressionAttributeNames": {"#r": "role"}})
        ),
        [(
            "dynamodb:UpdateItem USER#*".to_string(),
            set(&["pk", "role", "sk"])
        )]
    );
    assert_eq!(
        grants("GetItem", serde_json::json!({"Key": key})),
        [("dynamodb:GetItem USER#*".to_string(), None)]
    );
    let tx = serde_json::json!({"TransactItems": [
        {"Put": {"Item": {"pk": {"S": "EMAIL#a@b.c"}, "sk": {"S": "EMAIL"}, "user_id": {"N": "1"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Delete": {"Key": {"pk": {"S": "RESET#h"}, "sk": {"S": "RESET"}}}},
        {"ConditionCheck": {"Key": key, "ConditionExpression": "revoked = :f"}}]});
    assert_eq!(
        grants("TransactWriteItems", tx),
        [
            (
                "dynamodb:PutItem EMAIL#*".to_string(),
                set(&["pk", "sk", "user_id"])
            ),
            ("dynamodb:DeleteItem RESET#*".to_string(), set(&["pk", "sk"])),
            ("dynamodb:ConditionCheckItem USER#*".to_string(), None),
        ]
    );
    let query = serde_json::json!({"IndexName": "users-by-id", "KeyConditionExpression": "gsi1pk = :u AND gsi1sk > :a",
        "ExpressionAttributeValues": {":u": {"S": "USER"}, ":a": {"N": "0"}}});
    assert_eq!(
        grants("Query", query),
        [("dynamodb:Query on users-by-id USER".to_string(), None)]
    );
    let partition = serde_json::json!({"KeyConditionExpression": "pk = :pk AND begins_with(sk, :sk)",
        "ExpressionAttributeValues": {":pk": {"S": "USER#7"}, ":sk": {"S": "SESSION#"}}});
    assert_eq!(
        grants("Query", partition),
        [("dynamodb:Query USER#*".to_string(), None)]
    );
    let mut batch = Grants::new();
    add(
        &mut batch,
        "dynamodb:BatchWriteItem USER#*".into(),
        set(&["pk", "sk"]),
    );
    add(
        &mut batch,
        "dynamodb:BatchWriteItem RESET#*".into(),
        set(&["pk", "sk", "x"]),
    );
    assert!(normalise(batch).values().all(|a| *a == set(&["pk", "sk", "x"])));
    assert_eq!(
        parse_entry("dynamodb:PutItem EMAIL#* [pk,sk]"),
        ("dynamodb:PutItem EMAIL#*".into(), set(&["pk", "sk"]))
    );
    assert_eq!(
        entry("dynamodb:PutItem EMAIL#*", &set(&["sk", "pk"])),
        "dynamodb:PutItem EMAIL#* [pk,sk]"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_function_policy_covers_exactly_the_calls_its_code_makes() {
    let fixture = Fixture::new().await;
    let seen = Arc::new(Mutex::new(Grants::new()));
    let schema = Schema::from_template();
    let secret_names = vec![
        (fixture.settings.signing_secret_id.clone(), "SigningKeySecret"),
        (fixture.settings.public_keys_secret_id.clone(), "PublicKeysSecret"),
    ];
    let recorder = |service| Recorder {
        service,
        seen: seen.clone(),
        secrets: secret_names.clone(),
        schema: schema.clone(),
    };
    let sdk = &fixture.sdk;
    let dynamo = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(sdk)
            .interceptor(recorder("dynamodb"))
            .build(),
    );
    let ses = aws_sdk_sesv2::Client::from_conf(
        aws_sdk_sesv2::config::Builder::from(sdk)
            .interceptor(recorder("ses"))
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(sdk)
            .interceptor(recorder("sqs"))
            .build(),
    );
    let secrets = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::config::Builder::from(sdk)
            .interceptor(recorder("secretsmanager"))
            .build(),
    );
    let clock = Arc::new(ManualClock::default());
    let mut config = test_config();
    config.oauth_providers = vec![crate::helpers::oidc::provider(true)];
    // Both hooks set: every account starts with the before-signup hook's metadata, and every
    // issuance reads what the token hook is shown (the account's factors and identities).
    config.hooks = crate::helpers::hooks::hook_settings(Some("/metadata"), Some("/claims"));
    // And the user-migration hook: login and the mailer create the accounts it finds.
    config.hooks.user_migration = Some(crate::helpers::hooks::http_hook("/migrate"));
    let mut state = fixture.state(config, clock.clone());
    // Transactions of at most 9 items, so that erasing an account shows the batch deletes that
    // follow a full transaction (its 5 core writes, with the record that outlives the account,
    // then the account's factor claims, which have no TTL and must never be left to a batch).
    state.set_store(Arc::new(
        DynamoStore::new(dynamo, fixture.settings.table_name.clone()).with_max_transaction_items(9),
    ));
    let sender = authyy::mail::Sender::new("authyy", &fixture.sender).unwrap();
    state.mail_transport = Arc::new(SesTransport::new(ses, &sender, None));
    state.queue = Arc::new(SqsQueue::new(sqs, fixture.settings.mail_queue_url.clone()));
    let keys = Arc::new(SecretsManagerKeys::new(
        secrets,
        fixture.settings.signing_secret_id.clone(),
        fixture.settings.public_keys_secret_id.clone(),
    ));
    // Read on every request, so every function is seen reading what it reads.
    let fresh = Some(std::time::Duration::ZERO);
    state.tokens = Arc::new(TokenIssuer::new(
        CachedKeys::private(keys.clone(), fresh, clock.clone()),
        CachedKeys::public(keys.clone(), fresh, clock.clone()),
        state.config.clone(),
        clock.clone(),
    ));
    let app = TestApp {
        state,
        clock: clock.clone(),
        // Receives from the queue with a client of its own: the event source mapping's calls,
        // not the mailer's.
        inbox: Arc::new(fixture.inbox()),
        keys: None,
        _guard: Box::new(()),
    };

    let mut used: BTreeMap<&str, Grants> = BTreeMap::new();
    macro_rules! record {
        ($endpoint:expr, $request:expr) => {{
            seen.lock().unwrap().clear();
            let r = $request;
            assert!(r.status < 500, "{:?}: {:?}", $endpoint, r.body);
            merge(
                used.entry($endpoint.function()).or_default(),
                &seen.lock().unwrap(),
            );
            r
        }};
    }

    record!(
        Endpoint::Signup,
        app.signup("john_doe", "john@example.com", STRONG).await
    );
    record!(
        Endpoint::Signup,
        app.signup("john_doe", "john@example.com", STRONG).await
    );
    // The mailer function, handed signup's verification job; then the link is used, and
    // resends are asked for an unknown and a (now) verified address.

    seen.lock().unwrap().clear();
    assert!(app.deliver_queued().await.is_empty());
    merge(used.entry("mailer").or_default(), &seen.lock().unwrap());
    let mails = app.inbox.mails_to("john@example.com").await;
    let verification = crate::helpers::token_in(&mails[0]).unwrap();
    record!(Endpoint::VerifyEmail, app.verify_email("bad").await);
    record!(Endpoint::VerifyEmail, app.verify_email(&verification).await);
    record!(
        Endpoint::ResendVerification,
        app.resend("ghost@example.com").await
    );
    record!(Endpoint::ResendVerification, app.resend("john@example.com").await);
    record!(Endpoint::Login, app.login("john@example.com", STRONG2).await);
    record!(Endpoint::Login, app.login("ghost@example.com", STRONG2).await);
    let login = record!(Endpoint::Login, app.login("john@example.com", STRONG).await);
    // From the device that login trusted: counted on, and cleared in, its trust item.
    let device = &login.body["device_token"];
    let body = serde_json::json!({"email": "john@example.com", "password": STRONG, "device_token": device});
    let known = record!(Endpoint::Login, app.post(Endpoint::Login, body).await);
    assert_eq!(known.body["device_token"], *device, "{:?}", known.body);
    let id = login.body["user"]["id"].as_u64().unwrap();
    app.make_admin(id).await;
    let a = access(&login);
    record!(Endpoint::Me, app.me(&a).await);
    let events = record!(Endpoint::MyEvents, app.my_events_page(&a, "").await);
    assert_eq!(events.status, 200, "{:?}", events.body);
    record!(Endpoint::ListUsers, app.get(Endpoint::ListUsers, &a).await);
    record!(
        Endpoint::ListUsers,
        app.get_query(Endpoint::ListUsers, "email=john%40example.com", &a)
            .await
    );
    let r1 = refresh(&login);
    let rotated = record!(Endpoint::Refresh, app.refresh(&r1).await);
    // The session's first token lives in the session's item; its successor has an item of
    // its own, and rotating it writes that.
    let second = record!(Endpoint::Refresh, app.refresh(&refresh(&rotated)).await);
    assert_eq!(second.status, 200, "{:?}", second.body);
    record!(Endpoint::Refresh, app.refresh(&r1).await); // within the grace window
    clock.advance_secs(30);
    record!(Endpoint::Refresh, app.refresh(&r1).await); // a replay: the family is revoked
    record!(Endpoint::ForgotPassword, app.forgot("ghost@example.com").await);
    record!(Endpoint::ForgotPassword, app.forgot("john@example.com").await);
    // The mailer function, handed both jobs: one for no account, one for john.
    seen.lock().unwrap().clear();
    assert!(app.deliver_queued().await.is_empty());
    merge(used.entry("mailer").or_default(), &seen.lock().unwrap());
    let resets = crate::helpers::resets(app.inbox.mails_to("john@example.com").await);
    let token = crate::helpers::token_in(resets.last().unwrap()).unwrap();
    // Users of an old system: one moved over at login, one at forgot-password (by the mailer),
    // and one imported with a bcrypt hash, re-hashed at its first login.
    let migrated = record!(
        Endpoint::Login,
        app.login("legacy.login@example.com", crate::migration::LEGACY_PASSWORD)
            .await
    );
    assert_eq!(migrated.status, 200, "{:?}", migrated.body);
    record!(
        Endpoint::ForgotPassword,
        app.forgot("legacy.reset@example.com").await
    );
    seen.lock().unwrap().clear();
    assert!(app.deliver_queued().await.is_empty());
    merge(used.entry("mailer").or_default(), &seen.lock().unwrap());
    assert!(app.exists("legacy.reset@example.com").await);
    let bcrypt = crate::migration::foreign_hashes(STRONG)["bcrypt_2b"].clone();
    let line =
        serde_json::json!({"email": "imported@example.com", "username": "imported", "password_hash": bcrypt});
    let plan = authyy::import::check(&line.to_string(), clock.now()).unwrap();
    authyy::import::write(app.state.users.as_ref(), plan, &mut |_| {})
        .await
        .unwrap();
    let imported = record!(Endpoint::Login, app.login("imported@example.com", STRONG).await);
    assert_eq!(imported.status, 200, "{:?}", imported.body);
    record!(Endpoint::ResetPassword, app.reset("bad", STRONG2).await);
    clock.advance_ms(1);
    // From the device that logged in above: it stays trusted with the new password.
    let device = login.body["device_token"].as_str().unwrap();
    let body = serde_json::json!({"token": token, "password": STRONG2, "device_token": device});
    let reset = record!(
        Endpoint::ResetPassword,
        app.post(Endpoint::ResetPassword, body).await
    );
    assert_eq!(reset.status, 200, "{:?}", reset.body);
    clock.advance_ms(1);
    let l1 = app.login("john@example.com", STRONG2).await;
    record!(Endpoint::Logout, app.logout(&access(&l1)).await);
    let l2 = app.login("john@example.com", STRONG2).await;
    record!(Endpoint::Logout, app.logout_all(&access(&l2)).await);
    // Self-service: a wrong and a right password each time, a session ended and one unknown.
    clock.advance_ms(1);
    let l3 = app.login("john@example.com", STRONG2).await;
    let a3 = access(&l3);
    record!(
        Endpoint::ChangePassword,
        app.change_password(&a3, "wrong", STRONG).await
    );
    let device = l3.body["device_token"].as_str().unwrap();
    let body =
        serde_json::json!({"current_password": STRONG2, "new_password": STRONG, "device_token": device});
    let changed = record!(
        Endpoint::ChangePassword,
        app.with_body_of(Endpoint::ChangePassword, body, &a3).await
    );
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    clock.advance_ms(1);
    let l4 = app.login("john@example.com", STRONG).await;
    record!(Endpoint::ListSessions, app.sessions(&a3).await);
    let sid4 = TestApp::sid_of(&access(&l4));
    record!(Endpoint::EndSession, app.end_session(&a3, &sid4).await);
    record!(Endpoint::EndSession, app.end_session(&a3, "unknown").await);
    record!(
        Endpoint::ChangeEmail,
        app.change_email(&a3, "john.new@example.com", "wrong").await
    );
    record!(
        Endpoint::ChangeEmail,
        app.change_email(&a3, "john.new@example.com", STRONG).await
    );
    // The mailer, handed the password notice and the email change's confirmation.
    seen.lock().unwrap().clear();
    assert!(app.deliver_queued().await.is_empty());
    merge(used.entry("mailer").or_default(), &seen.lock().unwrap());
    let mails = app.inbox.mails_to("john.new@example.com").await;
    let change = crate::helpers::token_in(mails.last().unwrap()).unwrap();
    record!(Endpoint::VerifyEmail, app.verify_email(&change).await);
    // ...and the notice to the old address.
    seen.lock().unwrap().clear();
    assert!(app.deliver_queued().await.is_empty());
    merge(used.entry("mailer").or_default(), &seen.lock().unwrap());
    // Erasure, with a reset and an email change pending (their tokens are erased too).
    record!(Endpoint::ForgotPassword, app.forgot("john.new@example.com").await);
    record!(
        Endpoint::ChangeEmail,
        app.change_email(&a3, "john.third@example.com", STRONG).await
    );
    seen.lock().unwrap().clear();
    assert!(app.deliver_queued().await.is_empty());
    merge(used.entry("mailer").or_default(), &seen.lock().unwrap());
    record!(Endpoint::DeleteAccount, app.delete_me(&a3, "wrong").await);
    let deleted = record!(Endpoint::DeleteAccount, app.delete_me(&a3, STRONG).await);
    assert_eq!(deleted.status, 204);
    // Second factors: enrol, both kinds of second step, new recovery codes, turn off.
    let m = app.verified_user("mfa_user").await.0;
    let secret = record!(Endpoint::StartTotp, app.start_totp(&m).await).body["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let confirmed = record!(
        Endpoint::ConfirmTotp,
        app.confirm_totp(&m, &app.code_now(&secret), STRONG).await
    );
    app.clock.advance_ms(1);
    let codes = confirmed.body["recovery_codes"].clone();
    let mfa_login = record!(Endpoint::Login, app.login("mfa_user@example.com", STRONG).await);
    let token = mfa_login.body["mfa_token"].as_str().unwrap().to_string();
    record!(Endpoint::LoginMfa, app.login_mfa(&token, "000000").await);
    let m2 = record!(
        Endpoint::LoginMfa,
        app.login_mfa(&token, &app.next_code(&secret)).await
    );
    // The password step from the device the second step trusted.
    let device = &m2.body["device_token"];
    let body =
        serde_json::json!({"email": "mfa_user@example.com", "password": STRONG, "device_token": device});
    let known = record!(Endpoint::Login, app.post(Endpoint::Login, body).await);
    assert!(known.body["mfa_token"].is_string(), "{:?}", known.body);
    let token = app.mfa_token("mfa_user@example.com").await;
    record!(
        Endpoint::LoginMfa,
        app.login_recovery(&token, codes[0].as_str().unwrap()).await
    );
    record!(Endpoint::Me, app.me(&access(&m2)).await);
    record!(
        Endpoint::RecoveryCodes,
        app.new_recovery_codes(&access(&m2), STRONG).await
    );
    record!(
        Endpoint::DisableTotp,
        app.disable_totp(&access(&m2), STRONG).await
    );
    // Passkeys: the first (with recovery codes) and a second, the list, sign-in (and a refusal),
    // removal of one and of the last, then erasure of an account that has one.
    let first = record!(Endpoint::RegisterPasskey, {
        let (r, _) = app.add_passkey_with(&access(&m2), serde_json::json!({})).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        r
    });
    let first_id = first.body["id"].as_str().unwrap().to_string();
    let made;
    record!(Endpoint::RegisterPasskey, {
        let (r, m) = app.add_passkey_with(&access(&m2), serde_json::json!({})).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        made = m;
        r
    });
    record!(
        Endpoint::PasskeyRegisterOptions,
        app.passkey_options(&access(&m2)).await
    );
    record!(Endpoint::ListPasskeys, app.list_passkeys(&access(&m2)).await);
    let mut key = made.key.clone();
    record!(
        Endpoint::PasskeyLogin,
        app.sign_in_with(&key, serde_json::json!({"tamper": true})).await
    );
    // A failed code step leaves a counter that a passkey sign-in (a completed factor) clears.
    let token = app.mfa_token("mfa_user@example.com").await;
    let spent = record!(
        Endpoint::LoginMfa,
        app.login_recovery(&token, codes[0].as_str().unwrap()).await
    );
    assert_eq!(spent.status, 400, "{:?}", spent.body);
    let p = record!(Endpoint::PasskeyLogin, app.sign_in_with_passkey(&mut key).await);
    // Again from the device it trusted: that trust is renewed.
    let options = app.passkey_login_options().await;
    let got = crate::helpers::passkeys::authenticator(
        "get",
        &crate::helpers::passkeys::getting(&options.body["publicKey"], &key, serde_json::json!({})),
    );
    let body = serde_json::json!({"challenge_id": options.body["challenge_id"], "credential": got["credential"],
        "device_token": p.body["device_token"]});
    let again = record!(
        Endpoint::PasskeyLogin,
        app.post(Endpoint::PasskeyLogin, body).await
    );
    assert_eq!(
        again.body["device_token"], p.body["device_token"],
        "{:?}",
        again.body
    );
    key["sign_count"] = serde_json::json!(key["sign_count"].as_u64().unwrap() + 1);
    record!(Endpoint::PasskeyLoginOptions, app.passkey_login_options().await);
    record!(
        Endpoint::DeletePasskey,
        app.delete_passkey(&access(&p), &first_id).await
    );
    record!(
        Endpoint::DeletePasskey,
        app.delete_passkey(&access(&p), key["credential_id"].as_str().unwrap())
            .await
    );
    record!(Endpoint::RegisterPasskey, {
        let (r, _) = app.add_passkey_with(&access(&p), serde_json::json!({})).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        r
    });
    let erased = record!(Endpoint::DeleteAccount, app.delete_me(&access(&p), STRONG).await);
    assert_eq!(erased.status, 204, "{:?}", erased.body);
    // Provider sign-ins: a new account made, then an account joined by its verified email (and
    // erased, its identity with it).
    use crate::helpers::oidc::{fragment, FRONTEND, VERIFIER};
    record!(Endpoint::OAuthAuthorize, app.oauth_authorize(FRONTEND).await);
    let back = record!(
        Endpoint::OAuthCallback,
        app.oauth_front_channel("fed@example.com").await
    );
    let code = fragment(&back, "code").expect("a code");
    let fed = record!(Endpoint::OAuthToken, app.oauth_token(&code, VERIFIER).await);
    assert_eq!(fed.status, 200, "{:?}", fed.body);
    record!(
        Endpoint::ListIdentities,
        app.get(Endpoint::ListIdentities, &access(&fed)).await
    );
    // The admin API, on that account once it also has TOTP, recovery codes and a passkey: read,
    // changed (each field, a demotion's cut-off, `disabled` on the credentials item too), its
    // sessions ended, then erased with everything it owns.
    let secret = app.start_totp(&access(&fed)).await.body["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let fed_aal2 = app
        .confirm_totp(&access(&fed), &app.code_now(&secret), STRONG)
        .await;
    assert_eq!(fed_aal2.status, 200, "{:?}", fed_aal2.body);
    let (r, _) = app
        .add_passkey_with(&access(&fed_aal2), serde_json::json!({}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let (root, _) = app.admin("root").await;
    let fed_id = fed.body["user"]["id"].as_u64().unwrap();
    let shown = record!(Endpoint::AdminGetUser, app.admin_get(&root, fed_id).await);
    assert_eq!(
        shown.body["identities"].as_array().unwrap().len(),
        1,
        "{:?}",
        shown.body
    );
    record!(Endpoint::AdminGetUser, app.admin_get(&root, 999_999).await);
    let events = record!(
        Endpoint::AdminUserEvents,
        app.admin_events_page(&root, fed_id, "limit=2").await
    );
    assert_eq!(events.status, 200, "{:?}", events.body);
    for change in [
        serde_json::json!({"app_metadata": {"plan": "pro"}, "email_verified": true}),
        serde_json::json!({"disabled": true}),
        serde_json::json!({"disabled": false, "role": "admin"}),
        serde_json::json!({"role": "user"}),
    ] {
        let r = record!(
            Endpoint::AdminUpdateUser,
            app.admin_patch(&root, fed_id, change).await
        );
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    record!(
        Endpoint::AdminUpdateUser,
        app.admin_patch(&root, 999_999, serde_json::json!({})).await
    );
    let ended = record!(
        Endpoint::AdminEndSessions,
        app.admin_end_sessions(&root, fed_id).await
    );
    assert_eq!(ended.status, 204, "{:?}", ended.body);
    let erased = record!(Endpoint::AdminDeleteUser, app.admin_delete(&root, fed_id).await);
    assert_eq!(erased.status, 204, "{:?}", erased.body);
    record!(Endpoint::AdminDeleteUser, app.admin_delete(&root, fed_id).await);
    // And an account with a password that holds every other kind of item an erasure removes:
    // failed-login counters, a session's own counter, a reset token, a pending email change with
    // its link, TOTP, recovery codes and a passkey.
    let target = app.enrolled("erased").await;
    let aal2 = access(&target.confirmed);
    let (r, _) = app.add_passkey_with(&aal2, serde_json::json!({})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(app.login(&target.email, "wrong password").await.status, 401);
    app.forgot(&target.email).await;
    app.change_email(&aal2, "erased.new@example.com", "wrong password")
        .await;
    assert_eq!(
        app.change_email(&aal2, "erased.new@example.com", STRONG)
            .await
            .status,
        202
    );
    assert!(app.deliver_queued().await.is_empty());
    let erased = record!(
        Endpoint::AdminDeleteUser,
        app.admin_delete(&root, target.id).await
    );
    assert_eq!(erased.status, 204, "{:?}", erased.body);
    // A small account's items all fit in the erasure's transaction (single deletes, where the
    // large ones above spilled into batches).
    let (_, _, small) = app.user("small").await;
    assert_eq!(app.login("small@example.com", "wrong password").await.status, 401);
    let erased = record!(Endpoint::AdminDeleteUser, app.admin_delete(&root, small).await);
    assert_eq!(erased.status, 204, "{:?}", erased.body);
    let (joined, _, joined_id) = app.user("joined").await;
    assert!(app.state.users.set_email_verified(joined_id).await.unwrap());
    let back = record!(
        Endpoint::OAuthCallback,
        app.oauth_front_channel("joined@example.com").await
    );
    assert!(fragment(&back, "code").is_some(), "{:?}", back.header("location"));
    // Another identity linked to it, and removed.
    let started = record!(
        Endpoint::LinkIdentity,
        app.oauth_link(&joined, Some(STRONG)).await
    );
    let at_provider = started.body["authorize_url"].as_str().unwrap().to_string();
    let back = tokio::task::spawn_blocking(move || {
        crate::helpers::oidc::drive(&at_provider, "extra@example.com", "consent")
    })
    .await
    .unwrap();
    let back = record!(Endpoint::OAuthCallback, app.oauth_callback(&back).await);
    let code = fragment(&back, "code").expect("a code");
    let linked = record!(Endpoint::CompleteLink, app.complete_link(&joined, &code).await);
    assert_eq!(linked.status, 200, "{:?}", linked.body);
    let unlinked = record!(
        Endpoint::DeleteIdentity,
        app.unlink(
            &joined,
            linked.body["id"].as_str().unwrap(),
            serde_json::json!({"password": STRONG})
        )
        .await
    );
    assert_eq!(unlinked.status, 204, "{:?}", unlinked.body);
    // With a second factor, a provider sign-in waits for it.
    let secret = app.start_totp(&joined).await.body["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let confirmed = app.confirm_totp(&joined, &app.code_now(&secret), STRONG).await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    clock.advance_ms(1);
    let back = record!(
        Endpoint::OAuthCallback,
        app.oauth_front_channel("joined@example.com").await
    );
    let code = fragment(&back, "code").expect("a code");
    let waits = record!(Endpoint::OAuthToken, app.oauth_token(&code, VERIFIER).await);
    assert_eq!(waits.body["mfa_required"], true, "{:?}", waits.body);
    let erased_joined = record!(
        Endpoint::DeleteAccount,
        app.delete_me(&access(&confirmed), STRONG).await
    );
    assert_eq!(erased_joined.status, 204, "{:?}", erased_joined.body);
    seen.lock().unwrap().clear();
    assert!(app.deliver_queued().await.is_empty());
    merge(used.entry("mailer").or_default(), &seen.lock().unwrap());
    record!(Endpoint::Jwks, app.raw(Endpoint::Jwks, None, None).await);
    record!(
        Endpoint::OpenIdConfiguration,
        app.raw(Endpoint::OpenIdConfiguration, None, None).await
    );

    // The rotation function's four steps (a scheduled rotation of a set with no RSA keys yet,
    // as at the first deploy, and then of one whose next key is old enough).
    for _ in 0..2 {
        seen.lock().unwrap().clear();
        let token = format!("{}{}", authyy::randomness::new_id(), authyy::randomness::new_id());
        for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
            let event = RotationEvent {
                secret_id: fixture.settings.signing_secret_id.clone(),
                client_request_token: token.clone(),
                step: step.into(),
            };
            rotation_step(&keys, &event, clock.now(), std::time::Duration::ZERO)
                .await
                .unwrap();
        }
        merge(used.entry("rotate-keys").or_default(), &seen.lock().unwrap());
    }

    for (function, grant, _why) in UNEXERCISED {
        add(used.entry(function).or_default(), grant.to_string(), None);
    }
    let functions: Vec<&str> = Endpoint::ALL
        .map(Endpoint::function)
        .into_iter()
        .chain(["rotate-keys", "mailer"])
        .collect();
    for function in &functions {
        let grants = used.remove(function).unwrap_or_default();
        used.insert(function, normalise(grants));
    }
    // The whole record, to update permissions.json (and the template) from.
    let written = write_used(&used);

    let allowed = permissions();
    let mut problems = vec![];
    for function in allowed.keys().filter(|f| !functions.contains(&f.as_str())) {
        problems.push(format!(
            "{function} is in permissions.json but is no function of the test"
        ));
    }
    for function in &functions {
        let used = &used[function];
        let Some(granted) = allowed.get(*function) else {
            problems.push(format!("{function} is not in permissions.json"));
            continue;
        };
        let missing: Vec<_> = used.keys().filter(|g| !granted.contains_key(*g)).collect();
        if !missing.is_empty() {
            problems.push(format!("{function} calls {missing:?} without permission"));
        }
        let unused: Vec<_> = granted.keys().filter(|g| !used.contains_key(*g)).collect();
        if !unused.is_empty() {
            problems.push(format!("{function} is granted {unused:?} it never uses"));
        }
        for (grant, attributes) in used {
            match granted.get(grant) {
                Some(listed) if listed != attributes => problems.push(format!(
                    "{function}: {} is used, permissions.json grants {}",
                    entry(grant, attributes),
                    entry(grant, listed)
                )),
                _ => {}
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{}\n\nThe whole record, in permissions.json's format, is in {}: copy it over {} and run \
         .venv/bin/python infra/iam_sync.py to rewrite the template's DynamoDB statements.",
        problems.join("\n"),
        written.display(),
        permissions_path().display()
    );
}
