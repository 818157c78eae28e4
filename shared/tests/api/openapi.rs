//! The OpenAPI description the docs function serves covers the whole API, generated from the
//! code; the docs page renders it.

use crate::helpers::sqlite::Sqlite;
use crate::helpers::*;

/// The statuses the API gives each route (as docs/api.md lists them).
fn contract(e: Endpoint) -> &'static [u16] {
    match e {
        Endpoint::Signup => &[201, 409, 413, 415, 422, 429, 503],
        Endpoint::Login => &[200, 401, 403, 413, 415, 422, 429, 503],
        Endpoint::Me => &[200, 401, 503],
        Endpoint::ListUsers => &[200, 400, 401, 403, 422, 503],
        Endpoint::Refresh => &[200, 401, 503],
        Endpoint::ForgotPassword => &[200, 413, 415, 422, 429, 503],
        Endpoint::ResetPassword => &[200, 400, 413, 415, 422, 503],
        Endpoint::VerifyEmail => &[200, 400, 409, 413, 415, 422, 503],
        Endpoint::ResendVerification => &[200, 413, 415, 422, 429, 503],
        Endpoint::Logout => &[200, 401, 413, 415, 422, 503],
        Endpoint::ChangePassword => &[200, 400, 401, 403, 413, 415, 422, 429, 503],
        Endpoint::ListSessions => &[200, 401, 503],
        Endpoint::EndSession => &[204, 401, 404, 503],
        Endpoint::ChangeEmail => &[202, 400, 401, 403, 413, 415, 422, 429, 503],
        Endpoint::DeleteAccount => &[204, 400, 401, 403, 413, 415, 422, 429, 503],
        Endpoint::StartTotp => &[200, 401, 403, 413, 415, 503],
        Endpoint::ConfirmTotp => &[200, 400, 401, 403, 404, 413, 415, 422, 429, 503],
        Endpoint::DisableTotp => &[204, 400, 401, 403, 404, 413, 415, 422, 429, 503],
        Endpoint::RecoveryCodes => &[200, 400, 401, 403, 404, 413, 415, 422, 429, 503],
        Endpoint::LoginMfa => &[200, 400, 401, 413, 415, 422, 429, 503],
        Endpoint::PasskeyRegisterOptions => &[200, 401, 403, 413, 415, 429, 503],
        Endpoint::RegisterPasskey => &[201, 400, 401, 403, 409, 413, 415, 422, 429, 503],
        Endpoint::ListPasskeys => &[200, 401, 503],
        Endpoint::DeletePasskey => &[204, 400, 401, 403, 404, 413, 415, 422, 429, 503],
        Endpoint::PasskeyLoginOptions => &[200, 413, 415, 429, 503],
        Endpoint::PasskeyLogin => &[200, 401, 403, 413, 415, 422, 429, 503],
        Endpoint::OAuthAuthorize => &[302, 400, 422, 503],
        Endpoint::OAuthCallback => &[302, 400, 503],
        Endpoint::OAuthToken => &[200, 400, 403, 413, 415, 422, 429, 503],
        Endpoint::ListIdentities => &[200, 401, 503],
        Endpoint::LinkIdentity => &[200, 400, 401, 403, 413, 415, 422, 429, 503],
        Endpoint::CompleteLink => &[200, 400, 401, 409, 413, 415, 422, 503],
        Endpoint::DeleteIdentity => &[204, 400, 401, 403, 404, 409, 413, 415, 422, 429, 503],
        Endpoint::AdminGetUser => &[200, 401, 403, 404, 503],
        Endpoint::AdminUpdateUser => &[200, 401, 403, 404, 409, 413, 415, 422, 503],
        Endpoint::AdminEndSessions => &[204, 401, 403, 404, 503],
        Endpoint::MyEvents => &[200, 400, 401, 422, 503],
        Endpoint::AdminUserEvents => &[200, 400, 401, 403, 404, 422, 503],
        Endpoint::AdminDeleteUser => &[204, 401, 403, 404, 409, 503],
        Endpoint::OpenApi | Endpoint::Docs | Endpoint::OpenIdConfiguration => &[200],
        Endpoint::Jwks => &[200, 503],
    }
}

async fn openapi(path: &str) -> Value {
    let app = Sqlite::app(test_config()).await;
    let r = app
        .call(Endpoint::OpenApi, event("GET", path, "", &[], None, "192.0.2.1"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    r.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_describes_every_route_with_its_schemas_and_errors() {
    let doc = openapi("/auth/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for e in Endpoint::ALL {
        let op = &doc["paths"][e.path()][e.method().as_str().to_lowercase()];
        assert!(op.is_object(), "{} is not described", e.route_key());
        let responses = op["responses"].as_object().unwrap();
        for status in contract(e) {
            assert!(
                responses.contains_key(&status.to_string()),
                "{} lacks {status}",
                e.route_key()
            );
        }
        for (status, response) in responses {
            // 204 has no body, nor has a redirect.
            if e != Endpoint::OpenApi && e != Endpoint::Docs && status != "204" && status != "302" {
                let schema = &response["content"]["application/json"]["schema"];
                assert!(
                    schema.is_object(),
                    "{} {status} has no JSON schema",
                    e.route_key()
                );
            }
        }
        if let Some(body) = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str() {
            let name = body.rsplit('/').next().unwrap();
            assert!(schemas.contains_key(name), "{name} is not in components");
        }
    }
    for name in [
        "SignupRequest",
        "LoginRequest",
        "TokenEnvelope",
        "UserOut",
        "ErrorOut",
        "ValidationErrorOut",
    ] {
        assert!(schemas.contains_key(name), "{name}");
    }
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    // For the test command's validator.
    if let Ok(out) = std::env::var("AUTHYY_OPENAPI_OUT") {
        std::fs::write(out, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_server_keeps_the_stage_prefix() {
    assert_eq!(openapi("/auth/openapi.json").await["servers"][0]["url"], "/");
    assert_eq!(
        openapi("/prod/auth/openapi.json").await["servers"][0]["url"],
        "/prod"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docs_page_renders_swagger_ui_over_openapi_json() {
    let app = Sqlite::app(test_config()).await;
    let r = app
        .call(
            Endpoint::Docs,
            event("GET", "/auth/docs", "", &[], None, "192.0.2.1"),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let html = r.body.as_str().unwrap();
    assert!(html.contains("SwaggerUIBundle") && html.contains(r#"url: "openapi.json""#));
}

fn body_schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    &doc["components"]["schemas"][name]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_states_the_constraints_the_api_enforces() {
    let doc = openapi("/auth/openapi.json").await;
    let email = |schema: &Value| {
        assert_eq!(schema["format"], "email", "{schema}");
        assert_eq!(schema["maxLength"], 254, "{schema}");
    };
    let signup = &body_schema(&doc, "SignupRequest")["properties"];
    assert_eq!(signup["username"]["minLength"], 3);
    assert_eq!(signup["username"]["maxLength"], 32);
    assert_eq!(
        signup["username"]["pattern"],
        authyy::wire::request::USERNAME_PATTERN
    );
    email(&signup["email"]);
    assert_eq!(signup["password"]["minLength"], 8);
    assert_eq!(signup["password"]["maxLength"], 128);
    let login = &body_schema(&doc, "LoginRequest")["properties"];
    email(&login["email"]);
    assert_eq!(login["password"]["minLength"], 1);
    assert_eq!(login["password"]["maxLength"], 128);
    email(&body_schema(&doc, "ForgotPasswordRequest")["properties"]["email"]);
    let reset = &body_schema(&doc, "ResetPasswordRequest")["properties"];
    assert_eq!(reset["password"]["minLength"], 8);
    assert_eq!(reset["token"]["maxLength"], 128);
    let params = doc["paths"]["/auth/users"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let param = |name: &str| &params.iter().find(|p| p["name"] == name).unwrap()["schema"];
    assert_eq!(param("limit")["minimum"], 1);
    assert_eq!(param("limit")["maximum"], 200);
    email(param("email"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_logout_all_is_an_optional_boolean_not_nullable() {
    let doc = openapi("/auth/openapi.json").await;
    let logout = body_schema(&doc, "LogoutRequest");
    assert_eq!(logout["properties"]["all"]["type"], "boolean");
    assert!(logout["required"].as_array().is_none_or(|r| r.is_empty()));
    let body = &doc["paths"]["/auth/logout"]["post"]["requestBody"];
    assert_ne!(body["required"], true, "the logout body is optional");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_loc_items_are_strings_or_integers() {
    let doc = openapi("/auth/openapi.json").await;
    let items = &body_schema(&doc, "FieldError")["properties"]["loc"]["items"];
    let item = match items["$ref"].as_str() {
        Some(r) => body_schema(&doc, r.rsplit('/').next().unwrap()),
        None => items,
    };
    let types: Vec<&str> = item["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["string", "integer"], "{item}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_415_429_and_their_headers_where_routes_answer_them() {
    let doc = openapi("/auth/openapi.json").await;
    for e in Endpoint::ALL {
        let op = &doc["paths"][e.path()][e.method().as_str().to_lowercase()];
        let responses = &op["responses"];
        if op["requestBody"].is_object() {
            assert!(responses["415"].is_object(), "{} lacks 415", e.route_key());
            assert!(responses["413"].is_object(), "{} lacks 413", e.route_key());
            assert!(responses["422"].is_object(), "{} lacks 422", e.route_key());
        }
        if responses["429"].is_object() {
            assert!(responses["429"]["headers"]["Retry-After"].is_object());
        }
        if responses["401"].is_object() {
            assert!(responses["401"]["headers"]["WWW-Authenticate"].is_object());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_links_lead_from_signup_to_login_to_the_authenticated_routes() {
    let doc = openapi("/auth/openapi.json").await;
    let op_ids: Vec<&str> = Endpoint::ALL
        .iter()
        .filter_map(|e| doc["paths"][e.path()][e.method().as_str().to_lowercase()]["operationId"].as_str())
        .collect();
    let links = |path: &str, status: &str| doc["paths"][path]["post"]["responses"][status]["links"].clone();
    let signup = links("/auth/users", "201");
    assert_eq!(signup["LogIn"]["operationId"], "login");
    assert_eq!(
        signup["LogIn"]["requestBody"],
        json!({"email": "$request.body#/email", "password": "$request.body#/password"})
    );
    for path in ["/auth/login", "/auth/tokens"] {
        let l = links(path, "200");
        for (name, op, token) in [
            ("Me", "me", "access/access_token"),
            ("Refresh", "refresh", "refresh/refresh_token"),
            ("LogOut", "logout", "access/access_token"),
        ] {
            assert_eq!(l[name]["operationId"], op, "{path} {name}");
            assert!(op_ids.contains(&op), "{op} is not an operation");
            assert_eq!(
                l[name]["parameters"]["header.Authorization"],
                format!("Bearer {{$response.body#/tokens/{token}}}")
            );
        }
    }
}

/// Every example in the description is one the API accepts.
async fn openapi_examples_are_accepted_by_the_api<B: Backend>() {
    let doc = openapi("/auth/openapi.json").await;
    let example = |name: &str| body_schema(&doc, name)["example"].clone();
    let app = app::<B>().await;
    let r = app.post(Endpoint::Signup, example("SignupRequest")).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = app.post(Endpoint::Login, example("LoginRequest")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let logout = example("LogoutRequest").to_string();
    let r = app.raw(Endpoint::Logout, Some(&logout), Some(&access(&r))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app
        .post(Endpoint::ForgotPassword, example("ForgotPasswordRequest"))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    // The reset example's password passes the policy for the example user (with a real token).
    let mut reset = example("ResetPasswordRequest");
    reset["token"] = json!(app.reset_token("john@example.com").await);
    let r = app.post(Endpoint::ResetPassword, reset).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// The logout body is optional: JSON `null` is the same as no body, as the schema allows it.
async fn logout_with_a_null_body_is_logout_without_a_body<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.user("john_doe").await;
    let r = app.raw(Endpoint::Logout, Some("null"), Some(&access1)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["message"], "Logged out.");
    assert_eq!(app.me(&access1).await.status, 401);
}

/// `all` is a boolean when present: `null` is refused as the schema refuses it.
async fn logout_with_all_null_is_422<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, _) = app.user("john_doe").await;
    let r = app
        .raw(Endpoint::Logout, Some(r#"{"all": null}"#), Some(&access1))
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert_eq!(r.body["detail"][0]["loc"], json!(["body", "all"]));
    assert_eq!(r.body["detail"][0]["type"], "bool_type");
    assert_eq!(app.me(&access1).await.status, 200);
}

/// An empty login password: "at least 1 character", not "1 characters".
async fn empty_login_password_message_is_singular<B: Backend>() {
    let app = app::<B>().await;
    let r = app.login("john@example.com", "").await;
    assert_eq!(r.status, 422);
    assert_eq!(
        r.body["detail"][0]["msg"],
        "Value error, password must be at least 1 character"
    );
}

both_backends!(
    openapi_examples_are_accepted_by_the_api,
    logout_with_a_null_body_is_logout_without_a_body,
    logout_with_all_null_is_422,
    empty_login_password_message_is_singular,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operation_requires_a_body_exactly_when_its_route_does() {
    let doc = openapi("/auth/openapi.json").await;
    for e in Endpoint::ALL {
        let op = &doc["paths"][e.path()][e.method().as_str().to_lowercase()];
        let required = op["requestBody"]["required"].as_bool().unwrap_or(false);
        assert_eq!(
            required,
            e.body() == authyy::routes::BodyRule::Json,
            "{}",
            e.route_key()
        );
    }
}
