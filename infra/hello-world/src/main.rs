//! The floor `./infra/bench.sh` measures every function against: a `lambda_http` function that
//! answers every request with a small JSON body, built with the same profile and the same
//! `lambda_http` and `tokio` as the functions.

use lambda_http::{service_fn, Body, Error, Request, Response};

async fn hello(_req: Request) -> Result<Response<Body>, Error> {
    let mut resp = Response::new(Body::from(r#"{"message":"hello"}"#));
    resp.headers_mut().insert(
        "content-type",
        lambda_http::http::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(hello)).await
}
