//! Property-based fuzzing (proptest, stable Rust) of everything that parses client input: request
//! bodies, bearer tokens, list cursors and query parameters, emails. Each property runs a bounded
//! number of generated cases in the normal `cargo test` (`AUTHYY_FUZZ_CASES`, default 256) and
//! asserts what the API promises: no panic, and through the whole pipeline (`authyy::handle`,
//! as a function runs it) a 4xx or a success, never a 5xx, whatever the body or the headers.

use std::future::Future;

use authyy::wire::{
    ForgotPasswordRequest, FromJson, LoginRequest, LogoutRequest, ResetPasswordRequest, SignupRequest,
};
use lambda_http::http::{HeaderName, HeaderValue};
use lambda_http::{Body, Request};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunConfig, TestRunner};

use crate::helpers::sqlite::Sqlite;
use crate::helpers::*;

/// Endpoints that read a JSON body.
const WITH_BODY: [Endpoint; 5] = [
    Endpoint::Signup,
    Endpoint::Login,
    Endpoint::ForgotPassword,
    Endpoint::ResetPassword,
    Endpoint::Logout,
];

fn cases() -> u32 {
    std::env::var("AUTHYY_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// Runs `property` over `strategy` for the bounded number of cases, each case inside a
/// runtime that stays up for the whole run (the app is built once).
fn fuzz<S, F, Fut>(strategy: S, property: F)
where
    S: Strategy,
    S::Value: Clone + std::fmt::Debug,
    F: Fn(TestApp, S::Value) -> Fut,
    Fut: Future<Output = TestApp>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cell = std::cell::RefCell::new(Some(
        rt.block_on(Sqlite::app(with(|c| c.ip_limits_enabled = false))),
    ));
    let mut runner = TestRunner::new(RunConfig {
        cases: cases(),
        failure_persistence: None,
        ..RunConfig::default()
    });
    let result = runner.run(&strategy, |value| {
        let app = cell.borrow_mut().take().expect("the app");
        let app = rt.block_on(property(app, value));
        *cell.borrow_mut() = Some(app);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Any JSON value, biased towards objects with the API's field names.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,40}".prop_map(Value::from),
        "[a-z0-9._%+-]{1,20}@[a-z0-9-]{1,12}\\.[a-z]{2,6}".prop_map(Value::from),
        "[A-Za-z0-9 !-~]{0,140}".prop_map(Value::from),
    ];
    let key = prop_oneof![
        Just("username".to_string()),
        Just("email".to_string()),
        Just("password".to_string()),
        Just("token".to_string()),
        Just("all".to_string()),
        "\\PC{0,12}",
    ];
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Raw body bytes: arbitrary bytes, or the text of a JSON value, possibly cut short.
fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        (json_value(), any::<prop::sample::Index>()).prop_map(|(v, cut)| {
            let text = v.to_string().into_bytes();
            if cut.index(4) == 0 {
                text[..cut.index(text.len() + 1)].to_vec()
            } else {
                text
            }
        }),
    ]
}

/// A fresh access token of one fuzzing user (signed up on first use), an admin if `admin`.
async fn token(app: &TestApp, admin: bool) -> String {
    let email = "fuzz_user@example.com";
    let r = app.signup("fuzz_user", email, STRONG).await;
    if r.status == 201 && admin {
        app.make_admin(r.body["id"].as_u64().unwrap()).await;
    }
    app.clock.advance_ms(1);
    access(&app.login(email, STRONG).await)
}

fn with_body(mut req: Request, bytes: Vec<u8>) -> Request {
    *req.body_mut() = match String::from_utf8(bytes) {
        Ok(text) => Body::Text(text),
        Err(e) => Body::Binary(e.into_bytes()),
    };
    req
}

fn post(endpoint: Endpoint, headers: &[(&str, &str)]) -> Request {
    event(
        endpoint.method().as_str(),
        endpoint.path(),
        "",
        headers,
        Some(""),
        "192.0.2.1",
    )
}

#[test]
fn every_request_body_parser_refuses_any_bytes_with_a_4xx_and_never_panics() {
    fuzz(body_bytes(), |app, bytes| async move {
        let req = with_body(post(Endpoint::Signup, &[]), bytes);
        let check = |r: Result<(), authyy::error::ApiError>| {
            if let Err(e) = r {
                assert!(e.status().is_client_error(), "{e:?}");
            }
        };
        check(authyy::http::body::<SignupRequest>(&req).map(drop));
        check(authyy::http::body::<LoginRequest>(&req).map(drop));
        check(authyy::http::body::<ForgotPasswordRequest>(&req).map(drop));
        check(authyy::http::body::<ResetPasswordRequest>(&req).map(drop));
        check(authyy::http::body::<LogoutRequest>(&req).map(drop));
        check(authyy::http::optional_body::<LogoutRequest>(&req).map(drop));
        app
    });
}

#[test]
fn every_json_object_is_parsed_or_refused_field_by_field() {
    fuzz(json_value(), |app, value| async move {
        if let Value::Object(map) = &value {
            for errors in [
                SignupRequest::from_json(map).err(),
                LoginRequest::from_json(map).err(),
                ForgotPasswordRequest::from_json(map).err(),
                ResetPasswordRequest::from_json(map).err(),
                LogoutRequest::from_json(map).err(),
            ]
            .into_iter()
            .flatten()
            {
                assert!(!errors.is_empty());
                for e in errors {
                    assert_eq!(e.loc[0], "body", "{e:?}");
                    assert!(!e.msg.is_empty());
                }
            }
        }
        app
    });
}

#[test]
fn any_body_to_any_body_endpoint_through_the_pipeline_is_never_a_5xx() {
    let strategy = (prop::sample::select(WITH_BODY.to_vec()), body_bytes());
    fuzz(strategy, |app, (endpoint, bytes)| async move {
        let auth = format!("Bearer {}", token(&app, false).await);
        let req = with_body(post(endpoint, &[("authorization", &auth)]), bytes);
        let r = app.call(endpoint, req).await;
        assert!(
            r.status < 500,
            "{}: {} {:?}",
            endpoint.route_key(),
            r.status,
            r.body
        );
        app.clock.advance_ms(1);
        app
    });
}

/// Header values an HTTP client can send (visible ASCII, spaces and tabs, obs-text bytes).
fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(prop_oneof![0x20u8..0x7f, Just(b'\t'), 0x80u8..=0xff], 0..200),
        "(Bearer|bearer|Basic|BEARER)( {0,3})[A-Za-z0-9._~+/=-]{0,120}".prop_map(String::into_bytes),
        jwt_like().prop_map(|t| format!("Bearer {t}").into_bytes()),
    ]
}

/// Three dot-separated base64url segments, the first often a real-looking JOSE header.
fn jwt_like() -> impl Strategy<Value = String> {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let header = prop_oneof![
        Just(r#"{"alg":"none","typ":"JWT"}"#.to_string()),
        Just(r#"{"alg":"HS256","typ":"JWT"}"#.to_string()),
        Just(r#"{"alg":"RS256","kid":"k1"}"#.to_string()),
        json_value().prop_map(|v| v.to_string()),
    ];
    (header, json_value(), prop::collection::vec(any::<u8>(), 0..64)).prop_map(move |(h, claims, sig)| {
        format!(
            "{}.{}.{}",
            b64(h.as_bytes()),
            b64(claims.to_string().as_bytes()),
            b64(&sig)
        )
    })
}

#[test]
fn any_string_as_an_access_or_refresh_token_is_refused_without_a_panic() {
    let strategy = prop_oneof![jwt_like(), "\\PC{0,200}"];
    fuzz(strategy, |app, token| async move {
        let issuer = app.state.config.issuer.clone();
        assert!(app.state.tokens.verify_access(&token, &issuer).await.is_err());
        assert!(app.state.tokens.verify_refresh(&token).await.is_err());
        app
    });
}

#[test]
fn any_headers_on_any_endpoint_through_the_pipeline_are_never_a_5xx() {
    let names = prop::sample::select(vec![
        "authorization",
        "content-type",
        "origin",
        "x-forwarded-for",
        "cookie",
    ]);
    let strategy = (
        prop::sample::select(Endpoint::ALL.to_vec()),
        prop::collection::vec((names, header_value()), 0..4),
    );
    fuzz(strategy, |app, (endpoint, headers)| async move {
        let mut req = event(
            endpoint.method().as_str(),
            endpoint.path(),
            "",
            &[],
            None,
            "192.0.2.1",
        );
        for (name, value) in headers {
            if let Ok(v) = HeaderValue::from_bytes(&value) {
                req.headers_mut().insert(HeaderName::from_static(name), v);
            }
        }
        let r = app.call(endpoint, req).await;
        assert!(
            r.status < 500,
            "{}: {} {:?}",
            endpoint.route_key(),
            r.status,
            r.body
        );
        app
    });
}

#[test]
fn any_list_query_cursor_limit_or_email_is_a_4xx_or_a_page_never_a_5xx() {
    let value = prop_oneof![
        "\\PC{0,60}",
        "[A-Za-z0-9_-]{0,24}",
        any::<i64>().prop_map(|n| n.to_string()),
        "[a-z0-9.+-]{1,20}@[a-z0-9-]{1,10}\\.[a-z]{2,4}",
    ];
    let param = prop::sample::select(vec!["cursor", "limit", "email"]);
    let strategy = prop::collection::vec((param, value), 0..4);
    fuzz(strategy, |app, params| async move {
        let access = token(&app, true).await;
        let mut qs = serde_json::Map::new();
        for (k, v) in &params {
            qs.insert(k.to_string(), Value::from(v.as_str()));
        }
        let mut req = event(
            "GET",
            "/auth/users",
            "",
            &[("authorization", &format!("Bearer {access}"))],
            None,
            "192.0.2.1",
        );
        req = lambda_http::RequestExt::with_query_string_parameters(
            req,
            qs.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect::<std::collections::HashMap<_, _>>(),
        );
        let r = app.call(Endpoint::ListUsers, req).await;
        assert!(
            r.status < 500 && r.status != 401,
            "{params:?}: {} {:?}",
            r.status,
            r.body
        );
        app.clock.advance_ms(1);
        app
    });
}

#[test]
fn any_string_as_an_email_or_a_cursor_parses_idempotently_or_is_refused() {
    fuzz(
        prop_oneof!["\\PC{0,300}", "[ -~]{0,64}@[ -~]{0,64}"],
        |app, raw| async move {
            if let Ok(email) = authyy::domain::Email::parse(&raw) {
                assert_eq!(authyy::domain::Email::parse(email.as_str()).unwrap(), email);
                assert!(email.as_str().len() <= authyy::domain::Email::MAX_LEN);
            }
            let _ = authyy::endpoints::users::decode_cursor(&raw);
            app
        },
    );
}
