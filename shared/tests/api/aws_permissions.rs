//! Each function's IAM policy (infra/permissions.json, which the template checks hold to) covers
//! exactly the AWS calls its code makes: every endpoint is driven through its paths with every
//! SDK call recorded, and the recorded actions are compared with the list.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use crate::helpers::dynamo::Fixture;
use crate::helpers::{access, refresh, test_config, TestApp, STRONG, STRONG2};
use authyy::clock::Clock;
use authyy::clock::ManualClock;
use authyy::keys::secrets_manager::{rotation_step, RotationEvent, SecretsManagerKeys};
use authyy::keys::CachedKeys;
use authyy::mail::SesMailer;
use authyy::queue::SqsQueue;
use authyy::store::dynamo::DynamoStore;
use authyy::tokens::TokenIssuer;
use authyy::Endpoint;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Records the IAM action of every call: `service:Operation`, and for a transaction the
/// actions of its items (IAM authorises TransactWriteItems item by item).
#[derive(Debug, Clone)]
struct Recorder {
    service: &'static str,
    seen: Arc<Mutex<BTreeSet<String>>>,
    /// Secret ids by the template's logical id: Secrets Manager calls are recorded as
    /// `secretsmanager:<Operation> on <LogicalId>`, as permissions.json grants them.
    secrets: Vec<(String, &'static str)>,
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(tx) = context.input().downcast_ref::<TransactWriteItemsInput>() {
            let mut seen = self.seen.lock().unwrap();
            for item in tx.transact_items() {
                let action = match () {
                    _ if item.put().is_some() => "PutItem",
                    _ if item.update().is_some() => "UpdateItem",
                    _ if item.delete().is_some() => "DeleteItem",
                    _ => "ConditionCheckItem",
                };
                seen.insert(format!("{}:{action}", self.service));
            }
        }
        Ok(())
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
        let on = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
            .and_then(|v| v["SecretId"].as_str().map(str::to_string))
            .map(|id| {
                let name = self
                    .secrets
                    .iter()
                    .find(|(s, _)| *s == id)
                    .map_or("?", |(_, n)| n);
                format!(" on {name}")
            })
            .unwrap_or_default();
        let mut seen = self.seen.lock().unwrap();
        if operation != "TransactWriteItems" {
            seen.insert(format!("{}:{operation}{on}", self.service));
        }
        if self.service == "dynamodb" {
            let body = request
                .body()
                .bytes()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
                .unwrap_or_default();
            seen.extend(leading_keys(&operation, &body));
        }
        Ok(())
    }
}

/// The partition keys a DynamoDB request reaches, as permissions.json grants them (the IAM
/// condition `dynamodb:LeadingKeys`): `dynamodb:LeadingKeys USER#*` for the table's items (the
/// key's type prefix, up to its first `#`), `dynamodb:LeadingKeys on users-by-id USER` for a
/// Query of the index (its partition key value exactly).
fn leading_keys(operation: &str, body: &serde_json::Value) -> Vec<String> {
    if operation == "Query" && body["IndexName"].is_null() {
        // A partition of the table: `pk = :pk ...`, granted by the key's type prefix.
        let pk = body["ExpressionAttributeValues"][":pk"]["S"]
            .as_str()
            .unwrap_or("?");
        let kind = pk.split_once('#').map_or(pk, |(kind, _)| kind);
        return vec![format!("dynamodb:LeadingKeys {kind}#*")];
    }
    if operation == "Query" {
        // `gsi1pk = :u AND ...`: the value bound to the partition key's placeholder.
        let condition = body["KeyConditionExpression"].as_str().unwrap_or_default();
        let placeholder = condition
            .split_once('=')
            .map(|(_, rest)| rest.split_whitespace().next().unwrap_or_default())
            .unwrap_or_default();
        let index = body["IndexName"].as_str().unwrap_or("?");
        let value = body["ExpressionAttributeValues"][placeholder]["S"]
            .as_str()
            .unwrap_or("?");
        return vec![format!("dynamodb:LeadingKeys on {index} {value}")];
    }
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v["S"].as_str()) {
                        ("pk", Some(pk)) => out.push(match pk.split_once('#') {
                            Some((kind, _)) => format!("dynamodb:LeadingKeys {kind}#*"),
                            None => format!("dynamodb:LeadingKeys {pk}"),
                        }),
                        _ => walk(v, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = vec![];
    walk(body, &mut out);
    out
}

fn permissions() -> BTreeMap<String, BTreeSet<String>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/permissions.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_function_policy_covers_exactly_the_calls_its_code_makes() {
    let fixture = Fixture::new().await;
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let secret_names = vec![
        (fixture.settings.signing_secret_id.clone(), "SigningKeySecret"),
        (fixture.settings.public_keys_secret_id.clone(), "PublicKeysSecret"),
    ];
    let recorder = |service| Recorder {
        service,
        seen: seen.clone(),
        secrets: secret_names.clone(),
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
    let mut state = fixture.state(test_config(), clock.clone());
    // Transactions of at most 8 items, so that erasing an account shows the batch deletes that
    // follow a full transaction.
    state.set_store(Arc::new(
        DynamoStore::new(dynamo, fixture.settings.table_name.clone()).with_max_transaction_items(8),
    ));
    let sender = authyy::mail::Sender::new("authyy", &fixture.sender).unwrap();
    state.mailer = Arc::new(SesMailer::new(ses, &sender, None));
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

    let mut used: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    macro_rules! record {
        ($endpoint:expr, $request:expr) => {{
            seen.lock().unwrap().clear();
            let r = $request;
            assert!(r.status < 500, "{:?}: {:?}", $endpoint, r.body);
            used.entry($endpoint.function())
                .or_default()
                .extend(seen.lock().unwrap().iter().cloned());
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
    used.entry("mailer")
        .or_default()
        .extend(seen.lock().unwrap().iter().cloned());
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
    let id = login.body["user"]["id"].as_u64().unwrap();
    app.make_admin(id).await;
    let a = access(&login);
    record!(Endpoint::Me, app.me(&a).await);
    record!(Endpoint::ListUsers, app.get(Endpoint::ListUsers, &a).await);
    record!(
        Endpoint::ListUsers,
        app.get_query(Endpoint::ListUsers, "email=john%40example.com", &a)
            .await
    );
    let r1 = refresh(&login);
    let rotated = record!(Endpoint::Refresh, app.refresh(&r1).await);
    record!(Endpoint::Refresh, app.refresh(&r1).await); // within the grace window
    clock.advance_secs(30);
    record!(Endpoint::Refresh, app.refresh(&r1).await); // a replay: the family is revoked
    let _ = rotated;
    record!(Endpoint::ForgotPassword, app.forgot("ghost@example.com").await);
    record!(Endpoint::ForgotPassword, app.forgot("john@example.com").await);
    // The mailer function, handed both jobs: one for no account, one for john.
    seen.lock().unwrap().clear();
    assert!(app.deliver_queued().await.is_empty());
    used.entry("mailer")
        .or_default()
        .extend(seen.lock().unwrap().iter().cloned());
    let resets = crate::helpers::resets(app.inbox.mails_to("john@example.com").await);
    let token = crate::helpers::token_in(resets.last().unwrap()).unwrap();
    record!(Endpoint::ResetPassword, app.reset("bad", STRONG2).await);
    clock.advance_ms(1);
    record!(Endpoint::ResetPassword, app.reset(&token, STRONG2).await);
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
    record!(
        Endpoint::ChangePassword,
        app.change_password(&a3, STRONG2, STRONG).await
    );
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
    used.entry("mailer")
        .or_default()
        .extend(seen.lock().unwrap().iter().cloned());
    let mails = app.inbox.mails_to("john.new@example.com").await;
    let change = crate::helpers::token_in(mails.last().unwrap()).unwrap();
    record!(Endpoint::VerifyEmail, app.verify_email(&change).await);
    // ...and the notice to the old address.
    seen.lock().unwrap().clear();
    assert!(app.deliver_queued().await.is_empty());
    used.entry("mailer")
        .or_default()
        .extend(seen.lock().unwrap().iter().cloned());
    // Erasure, with a reset and an email change pending (their tokens are erased too).
    record!(Endpoint::ForgotPassword, app.forgot("john.new@example.com").await);
    record!(
        Endpoint::ChangeEmail,
        app.change_email(&a3, "john.third@example.com", STRONG).await
    );
    seen.lock().unwrap().clear();
    assert!(app.deliver_queued().await.is_empty());
    used.entry("mailer")
        .or_default()
        .extend(seen.lock().unwrap().iter().cloned());
    record!(Endpoint::DeleteAccount, app.delete_me(&a3, "wrong").await);
    let deleted = record!(Endpoint::DeleteAccount, app.delete_me(&a3, STRONG).await);
    assert_eq!(deleted.status, 204);
    record!(Endpoint::Jwks, app.raw(Endpoint::Jwks, None, None).await);
    record!(
        Endpoint::OpenIdConfiguration,
        app.raw(Endpoint::OpenIdConfiguration, None, None).await
    );

    // The rotation function's four steps (a scheduled rotation of a set with no RSA keys yet,
    // as at the first deploy, and then of one whose next key is old enough).
    for _ in 0..2 {
        seen.lock().unwrap().clear();
        let token = format!("{}{}", authyy::secrets::new_id(), authyy::secrets::new_id());
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
        used.entry("rotate-keys")
            .or_default()
            .extend(seen.lock().unwrap().iter().cloned());
    }

    let allowed = permissions();
    let functions = Endpoint::ALL.map(Endpoint::function);
    let mut problems = vec![];
    for function in functions.into_iter().chain(["rotate-keys", "mailer"]) {
        let used = used.get(function).cloned().unwrap_or_default();
        let Some(granted) = allowed.get(function) else {
            problems.push(format!("{function} is not in permissions.json"));
            continue;
        };
        let missing: Vec<_> = used.difference(granted).collect();
        if !missing.is_empty() {
            problems.push(format!("{function} calls {missing:?} without permission"));
        }
        // Only a lost race reads the rotated token back (GetItem); no request here races.
        let unused: Vec<_> = granted
            .difference(&used)
            .filter(|a| !(function == "refresh" && *a == "dynamodb:GetItem"))
            .collect();
        if !unused.is_empty() {
            problems.push(format!("{function} is granted {unused:?} it never uses"));
        }
    }
    // The whole record, to update permissions.json (and the template) from.
    assert!(
        problems.is_empty(),
        "{}\nused: {}",
        problems.join("\n"),
        serde_json::to_string_pretty(&used).unwrap()
    );
}
