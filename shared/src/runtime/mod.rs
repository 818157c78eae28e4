//! The request pipeline every function shares, and the function's `main`: build the state
//! once (cold start, [`backend`]), then for each request check the path and method, answer
//! preflights, refuse bodies that are not JSON, apply the per-client limit ([`limits`]), run
//! the endpoint, map its error, and add the CORS, cache and security headers.

pub mod backend;
pub mod limits;
pub mod mailer;
pub mod rotation;

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{service_fn, Body, Request, Response};

use crate::endpoints::{self, HandlerFuture};
use crate::error::ApiError;
use crate::routes::{BodyRule, Endpoint};
use crate::state::AppState;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Runs the endpoint logic of a request.
pub type Dispatch = for<'a> fn(&'a AppState, Endpoint, &'a Request) -> HandlerFuture<'a>;

/// Handles one request for `endpoint`; never fails, every error becomes its response.
pub async fn handle(state: &AppState, endpoint: Endpoint, req: Request) -> Response<Body> {
    respond(state, endpoint, req, |state, endpoint, req| {
        Box::pin(endpoints::dispatch(state, endpoint, req))
    })
    .await
}

/// [`handle`] with the endpoint logic given by `dispatch`.
pub async fn respond(
    state: &AppState,
    endpoint: Endpoint,
    req: Request,
    dispatch: Dispatch,
) -> Response<Body> {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .filter(|o| state.config.cors_origins.iter().any(|allowed| allowed == o))
        .map(str::to_string);

    let mut resp = if !serves_path(&req, endpoint) {
        // The catch-all route (`$default`) gets every method API Gateway has no route for, so a
        // wrong method on a known path (`PUT /auth/login`) arrives here: 405 with that path's
        // methods, as its own function would answer.
        match Endpoint::ALL.iter().copied().find(|e| serves_path(&req, *e)) {
            Some(known) if !serves_method(&req, known) => {
                with_allow(ApiError::MethodNotAllowed.into_response(), known)
            }
            _ => ApiError::NotFound.into_response(),
        }
    } else if req.method() == Method::OPTIONS {
        preflight(endpoint)
    } else if req.method() != endpoint.method() {
        with_allow(ApiError::MethodNotAllowed.into_response(), endpoint)
    } else if !json_or_no_body(endpoint, &req) {
        // Before the per-client limit: a request a page could make a browser send without a
        // CORS preflight (a `text/plain` POST) counts against nothing.
        tracing::info!(endpoint = endpoint.function(), status = 415, "request refused");
        ApiError::UnsupportedMediaType.into_response()
    } else {
        let result = match limits::limit_client(state, endpoint, &req).await {
            Ok(()) => dispatch(state, endpoint, &req).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(resp) => resp,
            Err(err) => {
                if err.status().is_server_error() {
                    tracing::error!(endpoint = endpoint.function(), error = %err, "request failed");
                } else {
                    tracing::info!(
                        endpoint = endpoint.function(),
                        status = err.status().as_u16(),
                        "request refused"
                    );
                }
                err.into_response()
            }
        }
    };

    let headers = resp.headers_mut();
    // Nothing is cached unless the endpoint says so (the public discovery documents do).
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    // No response is sniffed into another type, framed, or allowed to load anything; the docs
    // page sets its own policy.
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(API_CSP));
    if let Some(origin) = origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Link, Retry-After, WWW-Authenticate"),
        );
        if req.method() == Method::OPTIONS {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("authorization, content-type"),
            );
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        }
    }
    resp
}

/// The Content-Security-Policy of every response but the docs page: JSON loads nothing and is
/// never framed.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// Whether the request's content type is JSON, or it has no body and its endpoint needs none.
/// Anything else is 415: a body of another type (`text/plain`, a form) is one a page can make
/// a browser send cross-origin without a CORS preflight.
fn json_or_no_body(endpoint: Endpoint, req: &Request) -> bool {
    crate::http::has_json_content_type(req)
        || (endpoint.body() == BodyRule::Optional && crate::http::body_is_empty(req))
}

/// Whether the request's path is the endpoint's (a stage prefix such as `/prod` allowed).
/// Which of a function's `endpoints` a request is for: the one with its path and method (two
/// may share a path, as `POST` and `DELETE /auth/mfa/totp` do), else one with its path (the
/// answer is then 405 or a preflight).
fn endpoint_for(endpoints: &[Endpoint], req: &Request) -> Option<Endpoint> {
    let on_path = || endpoints.iter().copied().filter(|e| serves_path(req, *e));
    on_path()
        .find(|e| e.method() == req.method())
        .or_else(|| on_path().next())
}

fn serves_path(req: &Request, endpoint: Endpoint) -> bool {
    endpoint.serves(req.uri().path())
}

/// Whether some endpoint on `endpoint`'s path answers the request's method (preflights too).
fn serves_method(req: &Request, endpoint: Endpoint) -> bool {
    req.method() == Method::OPTIONS
        || Endpoint::ALL
            .iter()
            .any(|e| e.path() == endpoint.path() && e.method() == req.method())
}

fn with_allow(mut resp: Response<Body>, endpoint: Endpoint) -> Response<Body> {
    // Every method served on this path (GET and POST share /auth/users).
    let methods: Vec<String> = Endpoint::ALL
        .iter()
        .filter(|e| e.path() == endpoint.path())
        .map(|e| e.method().to_string())
        .chain(["OPTIONS".to_string()])
        .collect();
    if let Ok(v) = HeaderValue::from_str(&methods.join(", ")) {
        resp.headers_mut().insert(header::ALLOW, v.clone());
        resp.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_METHODS, v);
    }
    resp
}

fn preflight(endpoint: Endpoint) -> Response<Body> {
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::NO_CONTENT;
    with_allow(resp, endpoint)
}

/// The crates that log whole payloads below INFO. lambda_runtime logs every raw event (bodies
/// with passwords, tokens in headers) at TRACE (`layers::api_response`: "raw JSON event
/// received from Lambda") and streamed response headers at TRACE (`requests`); the AWS SDK's
/// orchestrator logs every request and response it transmits at TRACE ("transmitting
/// request": DynamoDB items with password hashes, SES bodies with reset links, SQS bodies,
/// signed headers), and the HTTP crates under it log at DEBUG/TRACE.
pub const RUNTIME_TARGETS: [&str; 10] = [
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http_client",
    "aws_config",
    "hyper",
    "hyper_util",
    "h2",
];

/// The log filter for `spec` (an `EnvFilter` directive string; unparsable means `info`), with
/// the runtime's own logging capped at INFO whatever the level: its errors and warnings still
/// show, its event logging never does.
pub fn log_filter<S>(spec: &str) -> impl tracing_subscriber::layer::Filter<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use tracing_subscriber::filter::{EnvFilter, FilterExt, LevelFilter, Targets};
    let requested = EnvFilter::try_new(spec).unwrap_or_else(|_| EnvFilter::new("info"));
    let runtime_cap = RUNTIME_TARGETS
        .iter()
        .fold(Targets::new().with_default(LevelFilter::TRACE), |t, target| {
            t.with_target(*target, LevelFilter::INFO)
        });
    requested.and(runtime_cap)
}

/// The one logging layer every function uses: text (or JSON) lines to `writer`, filtered by
/// [`log_filter`] for `spec`.
pub fn log_layer<S, W>(
    spec: &str,
    json: bool,
    writer: W,
) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::Layer as _;
    let layer = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        .with_writer(writer);
    let layer = if json { layer.json().boxed() } else { layer.boxed() };
    layer.with_filter(log_filter(spec)).boxed()
}

/// Logs as JSON when Lambda's advanced logging asks for it (`AWS_LAMBDA_LOG_FORMAT=JSON`).
pub fn init_tracing() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let settings = crate::config::LogSettings::from_env(&crate::config::Env::from_process());
    let _ = tracing_subscriber::registry()
        .with(log_layer(&settings.spec, settings.json, std::io::stdout))
        .try_init();
}

/// The cold start every function shares: logging, then the state the environment describes
/// (a configuration or backend that cannot be used stops the function, logged).
pub(crate) async fn start() -> Result<Arc<AppState>, lambda_http::Error> {
    init_tracing();
    AppState::from_env().await.map(Arc::new).map_err(|e| {
        tracing::error!(error = %e, "cannot start: configuration or backend unusable");
        e
    })
}

/// The whole of a function's `main`: build the state once (cold start), then serve. A function
/// serving several endpoints (docs) hands each request to the one whose path it names.
pub async fn run(endpoints: &'static [Endpoint], dispatch: Dispatch) -> Result<(), lambda_http::Error> {
    let state = start().await?;
    let Some(&first) = endpoints.first() else {
        return Err("a function must serve at least one endpoint".into());
    };
    lambda_http::run(service_fn(move |req: Request| {
        let state = state.clone();
        let endpoint = endpoint_for(endpoints, &req).unwrap_or(first);
        async move { Ok::<_, Infallible>(respond(&state, endpoint, req, dispatch).await) }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, path: &str) -> Request {
        let mut req = Request::new(Body::Empty);
        *req.method_mut() = method.parse().unwrap();
        *req.uri_mut() = path.parse().unwrap();
        req
    }

    #[test]
    fn a_request_goes_to_the_endpoint_of_its_path_and_method() {
        let mfa = [
            Endpoint::StartTotp,
            Endpoint::ConfirmTotp,
            Endpoint::DisableTotp,
            Endpoint::RecoveryCodes,
        ];
        let pick = |m, p| endpoint_for(&mfa, &request(m, p));
        assert_eq!(pick("POST", "/auth/mfa/totp"), Some(Endpoint::StartTotp));
        assert_eq!(pick("DELETE", "/auth/mfa/totp"), Some(Endpoint::DisableTotp));
        assert_eq!(
            pick("POST", "/prod/auth/mfa/totp/confirm"),
            Some(Endpoint::ConfirmTotp)
        );
        // A method no endpoint of the path has: one of the path (405), a preflight likewise.
        assert_eq!(pick("PUT", "/auth/mfa/totp"), Some(Endpoint::StartTotp));
        assert_eq!(
            pick("OPTIONS", "/auth/mfa/recovery-codes"),
            Some(Endpoint::RecoveryCodes)
        );
        assert_eq!(pick("POST", "/auth/elsewhere"), None);
    }
}
