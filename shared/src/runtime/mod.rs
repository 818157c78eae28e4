//! The request pipeline every function shares, and the function's `main`: build the state
//! once (cold start, [`backend`]), then for each request check the path and method, answer
//! preflights, apply the per-client limit ([`limits`]), run the endpoint, map its error, and
//! add the CORS and cache headers.

pub mod backend;
pub mod limits;
pub mod mailer;
pub mod rotation;

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::http::{header, HeaderValue, Method, StatusCode};
use lambda_http::{service_fn, Body, Request, Response};

use crate::endpoints::{self, EndpointResult};
use crate::error::ApiError;
use crate::routes::Endpoint;
use crate::state::AppState;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
/// Runs the endpoint logic of a request.
pub type Dispatch = for<'a> fn(&'a AppState, Endpoint, &'a Request) -> BoxFuture<'a, EndpointResult>;

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
        .filter(|o| {
            state
                .config
                .cors_origins
                .iter()
                .any(|allowed| allowed == o || allowed == "*")
        })
        .map(str::to_string);

    let mut resp = if !serves_path(&req, endpoint) {
        ApiError::NotFound.into_response()
    } else if req.method() == Method::OPTIONS {
        preflight(endpoint)
    } else if req.method() != endpoint.method() {
        with_allow(ApiError::MethodNotAllowed.into_response(), endpoint)
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

/// Whether the request's path is the endpoint's (a stage prefix such as `/prod` allowed).
fn serves_path(req: &Request, endpoint: Endpoint) -> bool {
    let path = req.uri().path();
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    path == endpoint.path()
        || path
            .strip_suffix(endpoint.path())
            .and_then(|stage| stage.strip_prefix('/'))
            .is_some_and(|stage| !stage.contains('/'))
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

/// Logs as JSON when Lambda's advanced logging asks for it (`AWS_LAMBDA_LOG_FORMAT=JSON`).
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| {
            EnvFilter::try_new(
                std::env::var("AWS_LAMBDA_LOG_LEVEL")
                    .unwrap_or_else(|_| "info".into())
                    .to_lowercase(),
            )
        })
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let _ = if json {
        builder.json().without_time().try_init()
    } else {
        builder.without_time().try_init()
    };
}

/// The whole of a function's `main`: build the state once (cold start), then serve. A function
/// serving several endpoints (docs) hands each request to the one whose path it names.
pub async fn run(endpoints: &'static [Endpoint], dispatch: Dispatch) -> Result<(), lambda_http::Error> {
    init_tracing();
    let state = match AppState::from_env().await {
        Ok(state) => Arc::new(state),
        Err(e) => {
            tracing::error!(error = %e, "cannot start: configuration or backend unusable");
            return Err(e);
        }
    };
    let Some(&first) = endpoints.first() else {
        return Err("a function must serve at least one endpoint".into());
    };
    lambda_http::run(service_fn(move |req: Request| {
        let state = state.clone();
        let endpoint = endpoints
            .iter()
            .copied()
            .find(|e| serves_path(&req, *e))
            .unwrap_or(first);
        async move { Ok::<_, Infallible>(respond(&state, endpoint, req, dispatch).await) }
    }))
    .await
}
