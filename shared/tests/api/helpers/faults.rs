//! An SDK interceptor that counts DynamoDB calls and, from the Nth call on (or for the calls
//! about one item), sends every request to a closed port: a real connection failure, as when
//! DynamoDB becomes unreachable mid-request. It can also answer transactions as DynamoDB does
//! when one of their items is throttled, without applying them.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextMut, BeforeSerializationInterceptorContextRef,
    BeforeTransmitInterceptorContextMut,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// Marks a call whose answer is to be a throttled transaction's, of this many items.
#[derive(Debug, Clone)]
struct Throttled(usize);

impl Storable for Throttled {
    type Storer = StoreReplace<Self>;
}

/// Another request's work, run in the middle of one: see [`Faults::before_call_naming`].
pub struct Interleaved(String, Box<dyn FnOnce() + Send>);

impl std::fmt::Debug for Interleaved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Interleaved({:?})", self.0)
    }
}

#[derive(Debug, Default)]
pub struct Faults {
    calls: AtomicUsize,
    /// 0: never fail.
    fail_from: AtomicUsize,
    failing: AtomicBool,
    /// Requests whose body contains this fail, whatever their number.
    matching: Mutex<Option<String>>,
    /// Calls of this operation (`BatchWriteItem`) fail.
    operation: Mutex<Option<String>>,
    /// Every transaction is answered as throttled.
    throttle_transactions: AtomicBool,
    /// Transactions whose request names this text are answered as throttled.
    throttle_matching: Mutex<Option<String>>,
    closed_port: u16,
    /// Runs once, before the first call whose request names its text.
    interleaved: Mutex<Option<Interleaved>>,
    /// Read and write request units the counted calls would consume in DynamoDB on demand,
    /// in thousandths ([`request_units`]).
    read_milli: AtomicUsize,
    write_milli: AtomicUsize,
}

impl Faults {
    pub fn new(fail_from: usize) -> Arc<Faults> {
        Arc::new(Faults {
            fail_from: AtomicUsize::new(fail_from),
            closed_port: closed_port(),
            ..Faults::default()
        })
    }

    /// The DynamoDB calls made since the last [`Faults::fail_from`] (the AWS benchmark, which
    /// includes this file, counts calls per request with it).
    #[allow(dead_code)]
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The (read, write) request units of the calls since the last [`Faults::fail_from`].
    #[allow(dead_code)]
    pub fn request_units(&self) -> (f64, f64) {
        let units = |a: &AtomicUsize| a.load(Ordering::SeqCst) as f64 / 1000.0;
        (units(&self.read_milli), units(&self.write_milli))
    }

    /// From now on, every call whose request names `text` (a key, an address) fails.
    #[allow(dead_code)]
    pub fn fail_matching(&self, text: &str) {
        *self.matching.lock().unwrap() = Some(text.to_string());
    }

    /// From now on, every call of `operation` (`BatchWriteItem`) fails.
    #[allow(dead_code)]
    pub fn fail_operation(&self, operation: &str) {
        *self.operation.lock().unwrap() = Some(operation.to_string());
    }

    /// From now on, every TransactWriteItems call is answered as DynamoDB answers a transaction
    /// one of whose items was throttled (cancelled, reason `ThrottlingError`), and nothing of it
    /// is applied; or, with `false`, transactions go through again.
    #[allow(dead_code)]
    pub fn throttle_transactions(&self, on: bool) {
        self.throttle_transactions.store(on, Ordering::SeqCst);
    }

    /// From now on, the transactions whose request names `text` (an item's key prefix) are
    /// answered as [`Faults::throttle_transactions`] answers every one.
    #[allow(dead_code)]
    pub fn throttle_transactions_naming(&self, text: &str) {
        *self.throttle_matching.lock().unwrap() = Some(text.to_string());
    }

    /// Before the first call whose request names `text` is sent, `work` runs to its end (once),
    /// as a request that came in between what a store read and what it writes. `work` may block
    /// on async code with `tokio::task::block_in_place` (the tests' runtime has two workers).
    #[allow(dead_code)]
    pub fn before_call_naming(&self, text: &str, work: impl FnOnce() + Send + 'static) {
        *self.interleaved.lock().unwrap() = Some(Interleaved(text.to_string(), Box::new(work)));
    }

    /// From now on, the `n`th DynamoDB call and every later one fail (counting from now).
    pub fn fail_from(&self, n: usize) {
        self.calls.store(0, Ordering::SeqCst);
        self.read_milli.store(0, Ordering::SeqCst);
        self.write_milli.store(0, Ordering::SeqCst);
        self.failing.store(false, Ordering::SeqCst);
        self.fail_from.store(n, Ordering::SeqCst);
    }
}

/// A loopback port nothing listens on.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[derive(Debug, Clone)]
pub struct FaultInterceptor(pub Arc<Faults>);

impl Intercept for FaultInterceptor {
    fn name(&self) -> &'static str {
        "FaultInterceptor"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let n = self.0.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let from = self.0.fail_from.load(Ordering::SeqCst);
        if from != 0 && n >= from {
            self.0.failing.store(true, Ordering::SeqCst);
        }
        Ok(())
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or_default()
            .to_string();
        if let (Some(target), Some(body)) = (request.headers().get("x-amz-target"), request.body().bytes()) {
            let (read, write) = request_units(target, body);
            self.0
                .read_milli
                .fetch_add((read * 1000.0) as usize, Ordering::SeqCst);
            self.0
                .write_milli
                .fetch_add((write * 1000.0) as usize, Ordering::SeqCst);
        }
        let body = context
            .request()
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let names = |text: &Mutex<Option<String>>| {
            text.lock()
                .unwrap()
                .as_ref()
                .is_some_and(|text| body.contains(text.as_str()))
        };
        let interleaved = {
            let mut slot = self.0.interleaved.lock().unwrap();
            match slot.as_ref() {
                Some(Interleaved(text, _)) if body.contains(text.as_str()) => slot.take(),
                _ => None,
            }
        };
        if let Some(Interleaved(_, work)) = interleaved {
            work();
        }
        let matches = names(&self.0.matching);
        let operation_fails = self.0.operation.lock().unwrap().as_deref() == Some(operation.as_str());
        if matches || operation_fails || self.0.failing.load(Ordering::SeqCst) {
            let uri = format!("http://127.0.0.1:{}/", self.0.closed_port);
            context.request_mut().set_uri(uri.as_str())?;
        } else if operation == "TransactWriteItems"
            && (self.0.throttle_transactions.load(Ordering::SeqCst) || names(&self.0.throttle_matching))
        {
            // Sent as a harmless ListTables, so that nothing is applied; answered below.
            let items = context.request().body().bytes().map_or(0, |body| {
                let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
                json["TransactItems"].as_array().map_or(0, Vec::len)
            });
            let headers = context.request_mut().headers_mut();
            headers.insert("x-amz-target", "DynamoDB_20120810.ListTables");
            cfg.interceptor_state().store_put(Throttled(items));
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(&Throttled(items)) = cfg.load::<Throttled>() {
            // DynamoDB's answer: one reason per item, the throttled one first.
            let reasons: Vec<serde_json::Value> = (0..items)
                .map(|i| match i {
                    0 => serde_json::json!({"Code": "ThrottlingError", "Message": "Throughput exceeds the current capacity of your table or index."}),
                    _ => serde_json::json!({"Code": "None"}),
                })
                .collect();
            let body = serde_json::json!({
                "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons [ThrottlingError]",
                "CancellationReasons": reasons,
            });
            let mut response = Response::new(StatusCode::try_from(400)?, SdkBody::from(body.to_string()));
            response
                .headers_mut()
                .insert("content-type", "application/x-amz-json-1.0");
            *context.response_mut() = response;
        }
        Ok(())
    }
}

/// The (read, write) request units DynamoDB on demand bills for one request (`x-amz-target`
/// `DynamoDB_20120810.<Operation>`, JSON body), by its pricing rules: a write is a unit per KB
/// of the item, a strongly consistent read a unit per 4 KB (half for an eventually consistent
/// one), and a transaction twice that for each of its items. Item sizes are taken from the
/// request where it holds the item (the JSON text, a little more than DynamoDB's own measure);
/// items that are only named (an update, a delete, a read) are taken as under 1 KB, as every
/// item of this table is but a page of listed users (a query counts one unit per call here; a
/// page of 50 users, about 15 KB, is 4 in DynamoDB).
pub fn request_units(target: &str, body: &[u8]) -> (f64, f64) {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let kb = |item: &serde_json::Value| (item.to_string().len() as f64 / 1024.0).ceil().max(1.0);
    let read = |request: &serde_json::Value| {
        if request["ConsistentRead"] == true {
            1.0
        } else {
            0.5
        }
    };
    match target.rsplit('.').next().unwrap_or_default() {
        "GetItem" | "Query" | "Scan" => (read(&json), 0.0),
        "BatchGetItem" => {
            let tables = json["RequestItems"].as_object().into_iter().flatten();
            let units = tables
                .map(|(_, t)| t["Keys"].as_array().map_or(0, Vec::len) as f64 * read(t))
                .sum();
            (units, 0.0)
        }
        "PutItem" => (0.0, kb(&json["Item"])),
        "UpdateItem" | "DeleteItem" => (0.0, 1.0),
        "BatchWriteItem" => {
            let items = json["RequestItems"].as_object().into_iter().flatten();
            (
                0.0,
                items.map(|(_, v)| v.as_array().map_or(0, Vec::len) as f64).sum(),
            )
        }
        "TransactWriteItems" => {
            let actions = json["TransactItems"].as_array().cloned().unwrap_or_default();
            let units = actions
                .iter()
                .map(|a| 2.0 * a.get("Put").map_or(1.0, |put| kb(&put["Item"])))
                .sum();
            (0.0, units)
        }
        "TransactGetItems" => {
            let items = json["TransactItems"].as_array().map_or(0, Vec::len);
            (2.0 * items as f64, 0.0)
        }
        _ => (0.0, 0.0),
    }
}

/// A DynamoDB client of `sdk` whose calls go through `faults`.
pub fn dynamo_client(sdk: &aws_config::SdkConfig, faults: &Arc<Faults>) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(sdk)
        .interceptor(FaultInterceptor(faults.clone()))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}
