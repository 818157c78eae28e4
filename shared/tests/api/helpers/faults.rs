//! An SDK interceptor that counts DynamoDB calls and, from the Nth call on, sends every request
//! to a closed port: a real connection failure, as when DynamoDB becomes unreachable mid-request.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

#[derive(Debug, Default)]
pub struct Faults {
    calls: AtomicUsize,
    /// 0: never fail.
    fail_from: AtomicUsize,
    failing: AtomicBool,
    closed_port: u16,
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

    /// From now on, the `n`th DynamoDB call and every later one fail (counting from now).
    pub fn fail_from(&self, n: usize) {
        self.calls.store(0, Ordering::SeqCst);
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
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if self.0.failing.load(Ordering::SeqCst) {
            let uri = format!("http://127.0.0.1:{}/", self.0.closed_port);
            context.request_mut().set_uri(uri.as_str())?;
        }
        Ok(())
    }
}

/// A DynamoDB client of `sdk` whose calls go through `faults`.
pub fn dynamo_client(sdk: &aws_config::SdkConfig, faults: &Arc<Faults>) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(sdk)
        .interceptor(FaultInterceptor(faults.clone()))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}
