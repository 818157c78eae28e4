//! The DynamoDB backend of the suite: a fresh table, signing secret and mail queue (with its
//! dead-letter queue) per test on the local AWS server the test command starts (moto); queued
//! mail handed to the mailer's handler as SQS hands it over, and read back from moto's SES store.

use std::sync::Arc;

use authyy::clock::ManualClock;
use authyy::config::AwsSettings;
use authyy::config::Config;
use authyy::keys::{PrivateKeys, PublicKeys};
use authyy::AppState;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use serde_json::Value;

use super::{Backend, BoxFut, Inbox, TestApp};

pub struct Dynamo;

/// The local AWS server's address, from the test command.
pub fn moto_url() -> String {
    std::env::var("AUTHYY_MOTO_URL").expect(
        "AUTHYY_MOTO_URL is not set: the DynamoDB tests need the local AWS server that ./infra/test.sh starts",
    )
}

/// The table definition the test command extracted from template.yaml.
pub fn table_definition() -> Value {
    let path = std::env::var("AUTHYY_TABLE_DEFINITION")
        .expect("AUTHYY_TABLE_DEFINITION is not set: run the tests with ./infra/test.sh");
    serde_json::from_str(&std::fs::read_to_string(&path).expect("table definition file")).unwrap()
}

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        authyy::randomness::new_id().replace(['-', '_'], "x")
    )
}

/// SDK configuration for the local server, with the production HTTP client and timeouts.
pub async fn sdk_config(endpoint: &str, settings: &AwsSettings) -> SdkConfig {
    authyy::aws::config_loader(settings)
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("eu-west-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await
}

fn attr_type(t: &str) -> ScalarAttributeType {
    ScalarAttributeType::from(t)
}

fn key_schema(v: &Value) -> Vec<KeySchemaElement> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(k["AttributeName"].as_str().unwrap())
                .key_type(KeyType::from(k["KeyType"].as_str().unwrap()))
                .build()
                .unwrap()
        })
        .collect()
}

/// Creates `name` from the template's definition.
pub async fn create_table(sdk: &SdkConfig, name: &str) {
    let def = table_definition();
    let client = aws_sdk_dynamodb::Client::new(sdk);
    let mut create = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::from(def["BillingMode"].as_str().unwrap()))
        .set_key_schema(Some(key_schema(&def["KeySchema"])));
    for a in def["AttributeDefinitions"].as_array().unwrap() {
        create = create.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(a["AttributeName"].as_str().unwrap())
                .attribute_type(attr_type(a["AttributeType"].as_str().unwrap()))
                .build()
                .unwrap(),
        );
    }
    for g in def["GlobalSecondaryIndexes"].as_array().into_iter().flatten() {
        create = create.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(g["IndexName"].as_str().unwrap())
                .set_key_schema(Some(key_schema(&g["KeySchema"])))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(
                            g["Projection"]["ProjectionType"].as_str().unwrap(),
                        ))
                        .build(),
                )
                .build()
                .unwrap(),
        );
    }
    // The name is this test's own: if it exists, a retried call (the first attempt timed out
    // on a busy server) made it.
    if let Err(e) = create.send().await {
        let retried = e
            .as_service_error()
            .is_some_and(|e| e.is_resource_in_use_exception());
        assert!(retried, "create table: {e:?}");
    }
    if let Some(ttl) = def["TimeToLiveAttribute"].as_str() {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(ttl)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .expect("enable TTL");
    }
}

/// Creates a secret holding `text`.
pub async fn create_secret(sdk: &SdkConfig, name: &str, text: String) {
    aws_sdk_secretsmanager::Client::new(sdk)
        .create_secret()
        .name(name)
        .secret_string(text)
        .send()
        .await
        .expect("create secret");
}

/// Creates the private and the public secret of `settings`, holding `keys`.
pub async fn create_key_secrets(sdk: &SdkConfig, settings: &AwsSettings, keys: &PrivateKeys) {
    create_secret(sdk, &settings.signing_secret_id, keys.to_json()).await;
    let public = keys
        .rsa
        .as_ref()
        .map_or_else(|| r#"{"keys": []}"#.to_string(), |l| PublicKeys::of(l).to_json());
    create_secret(sdk, &settings.public_keys_secret_id, public).await;
}

/// What the template gives the mail queue: a dead-letter queue after this many receives.
pub const MAX_RECEIVE_COUNT: u32 = 5;

/// Creates a mail queue and its dead-letter queue, as the template does; returns their URLs.
pub async fn create_mail_queue(sdk: &SdkConfig, name: &str) -> (String, String) {
    use aws_sdk_sqs::types::QueueAttributeName;
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let dlq = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
        .send()
        .await
        .expect("create dead-letter queue")
        .queue_url
        .unwrap();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("dead-letter queue ARN")
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let redrive = serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT});
    let queue = sqs
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::VisibilityTimeout, "180")
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .expect("create mail queue")
        .queue_url
        .unwrap();
    (queue, dlq)
}

pub const SENDER_DOMAIN: &str = "authyy.test";

async fn ensure_sender_domain(sdk: &SdkConfig) {
    let ses = aws_sdk_sesv2::Client::new(sdk);
    // Already there after the first test: that is fine.
    let _ = ses
        .create_email_identity()
        .email_identity(SENDER_DOMAIN)
        .send()
        .await;
}

/// A table, the two key secrets, a mail queue and a sender of its own: everything a test needs
/// on the local server.
pub struct Fixture {
    pub sdk: SdkConfig,
    pub settings: AwsSettings,
    pub sender: String,
    /// The mail queue's dead-letter queue.
    pub dead_letter_url: String,
}

impl Fixture {
    pub async fn new() -> Fixture {
        let fixture = Fixture::new_empty().await;
        create_key_secrets(&fixture.sdk, &fixture.settings, super::test_keys()).await;
        fixture
    }

    /// A table, a mail queue and a sender, and no key secrets yet.
    pub async fn new_empty() -> Fixture {
        let mut settings = AwsSettings::new(
            unique("authyy-test"),
            unique("authyy-test-keys"),
            unique("authyy-test-public-keys"),
        );
        let sdk = sdk_config(&moto_url(), &settings).await;
        create_table(&sdk, &settings.table_name).await;
        let (queue, dead_letter_url) = create_mail_queue(&sdk, &unique("authyy-test-mail")).await;
        settings.mail_queue_url = queue;
        ensure_sender_domain(&sdk).await;
        Fixture {
            sdk,
            settings,
            sender: format!("{}@{SENDER_DOMAIN}", unique("sender")),
            dead_letter_url,
        }
    }

    /// The inbox of this fixture's sender, handing over this fixture's queue.
    pub fn inbox(&self) -> MotoInbox {
        MotoInbox {
            sender: self.sender.clone(),
            queue: Some((
                aws_sdk_sqs::Client::new(&self.sdk),
                self.settings.mail_queue_url.clone(),
            )),
        }
    }

    pub fn state(&self, mut config: Config, clock: Arc<ManualClock>) -> AppState {
        config.mail_from = self.sender.clone();
        AppState::aws(config, &self.settings, &self.sdk, clock).unwrap()
    }

    /// The two key secrets, as the functions read them.
    pub fn key_store(&self) -> authyy::keys::secrets_manager::SecretsManagerKeys {
        authyy::keys::secrets_manager::SecretsManagerKeys::new(
            aws_sdk_secretsmanager::Client::new(&self.sdk),
            self.settings.signing_secret_id.clone(),
            self.settings.public_keys_secret_id.clone(),
        )
    }

    /// The state with its DynamoDB client replaced (to count or fail its calls).
    pub fn state_with_dynamo(
        &self,
        config: Config,
        clock: Arc<ManualClock>,
        client: aws_sdk_dynamodb::Client,
    ) -> AppState {
        let mut state = self.state(config, clock);
        state.set_store(Arc::new(authyy::store::dynamo::DynamoStore::new(
            client,
            self.settings.table_name.clone(),
        )));
        state
    }
}

/// Mail sent through the local server's SES, read back from its state dump; and the mail queue
/// (client and URL), drained as the mailer function's event source mapping does.
pub struct MotoInbox {
    pub sender: String,
    pub queue: Option<(aws_sdk_sqs::Client, String)>,
}

impl MotoInbox {
    /// Reads `sender`'s mail; hands nothing over.
    pub fn ses_only(sender: &str) -> MotoInbox {
        MotoInbox {
            sender: sender.to_string(),
            queue: None,
        }
    }
}

/// Every message now visible on the queue at `url` (id, body, receipt handle), each received once.
pub async fn receive_all(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<(String, String, String)> {
    let mut messages = vec![];
    loop {
        let received = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .wait_time_seconds(0)
            .send()
            .await
            .expect("receive from the mail queue");
        let batch = received.messages.unwrap_or_default();
        if batch.is_empty() {
            return messages;
        }
        messages.extend(batch.into_iter().map(|m| {
            (
                m.message_id.unwrap(),
                m.body.unwrap_or_default(),
                m.receipt_handle.unwrap(),
            )
        }));
    }
}

impl Inbox for MotoInbox {
    /// As the event source mapping does: receive, invoke, delete what succeeded; what failed
    /// is made visible again at once (SQS would wait for the visibility timeout).
    fn deliver<'a>(&'a self, state: &'a AppState) -> BoxFut<'a, Vec<String>> {
        Box::pin(async move {
            let Some((sqs, url)) = &self.queue else {
                return vec![];
            };
            let received = receive_all(sqs, url).await;
            let messages: Vec<(String, String)> = received
                .iter()
                .map(|(id, body, _)| (id.clone(), body.clone()))
                .collect();
            let failed = super::mailer_batches(state, &messages).await;
            let mut bodies = vec![];
            for (id, body, receipt) in received {
                if failed.contains(&id) {
                    sqs.change_message_visibility()
                        .queue_url(url)
                        .receipt_handle(receipt)
                        .visibility_timeout(0)
                        .send()
                        .await
                        .expect("make a failed message visible again");
                    bodies.push(body);
                } else {
                    sqs.delete_message()
                        .queue_url(url)
                        .receipt_handle(receipt)
                        .send()
                        .await
                        .expect("delete a delivered message");
                }
            }
            bodies
        })
    }

    fn mails_to<'a>(&'a self, to: &'a str) -> BoxFut<'a, Vec<String>> {
        Box::pin(async move {
            // One service's dump: the whole one grows with every table the run made.
            let url = format!("{}/moto-api/data.json?service=ses", moto_url());
            let text = tokio::task::spawn_blocking(move || http_get(&url)).await.unwrap();
            let data: Value = serde_json::from_str(&text).unwrap();
            data["ses"]["Message"]
                .as_array()
                .into_iter()
                .flatten()
                // The source is `Name <address>` (or the bare address).
                .filter(|m| {
                    m["source"]
                        .as_str()
                        .is_some_and(|s| s == self.sender || s.ends_with(&format!("<{}>", self.sender)))
                })
                .filter(|m| {
                    m["destinations"]["ToAddresses"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|t| t == to))
                })
                .map(|m| m["body"].as_str().unwrap_or_default().to_string())
                .collect()
        })
    }
}

/// A plain HTTP/1.0 GET on loopback (the test needs nothing more).
fn http_get(url: &str) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(stream, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default()
}

impl Backend for Dynamo {
    fn broken_queue() -> BoxFut<'static, Arc<dyn authyy::queue::MailQueue>> {
        Box::pin(async {
            // A queue that is gone: SendMessage answers QueueDoesNotExist.
            let settings = AwsSettings::new("", "", "");
            let sdk = sdk_config(&moto_url(), &settings).await;
            let url = format!("{}/123456789012/{}", moto_url(), unique("no-such-queue"));
            Arc::new(authyy::queue::SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), url))
                as Arc<dyn authyy::queue::MailQueue>
        })
    }

    fn app(config: Config) -> BoxFut<'static, TestApp> {
        Box::pin(async move {
            let fixture = Fixture::new().await;
            let clock = Arc::new(ManualClock::default());
            let state = fixture.state(config, clock.clone());
            TestApp {
                state,
                clock,
                inbox: Arc::new(fixture.inbox()),
                keys: Some(Arc::new(fixture.key_store())),
                _guard: Box::new(()),
            }
        })
    }
}
