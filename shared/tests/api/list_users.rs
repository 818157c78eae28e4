//! The admin listing: `GET /auth/users`, paging, email lookup and the admin role.

use crate::helpers::*;

async fn list_users_needs_a_token<B: Backend>() {
    let app = app::<B>().await;
    assert_eq!(app.raw(Endpoint::ListUsers, None, None).await.status, 401);
}

async fn list_users_is_403_for_non_admins<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, _) = app.user("john_doe").await;
    let r = app.get(Endpoint::ListUsers, &access).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.detail(), "Admin privileges required");
}

async fn list_users_pages_with_link_and_cursor<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, id) = app.user("admin").await;
    app.make_admin(id).await;
    for i in 0..4 {
        app.signup(&format!("user{i}"), &format!("user{i}@example.com"), STRONG)
            .await;
    }
    let r = app.get(Endpoint::ListUsers, &access).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.as_array().unwrap().len(), 5);
    assert!(r.header("link").is_none());

    let mut seen = vec![];
    let mut query = "limit=2".to_string();
    loop {
        let r = app.get_query(Endpoint::ListUsers, &query, &access).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let page = r.body.as_array().unwrap();
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|u| u["id"].as_u64().unwrap()));
        let Some(link) = r.header("link") else { break };
        assert!(link.ends_with("rel=\"next\""), "{link}");
        let url = &link[link.find('<').unwrap() + 1..link.find('>').unwrap()];
        query = url.split_once('?').unwrap().1.to_string();
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "id order");
    assert_eq!(seen.len(), 5);
}

async fn list_users_link_keeps_the_stage_prefix<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, id) = app.user("admin").await;
    app.make_admin(id).await;
    app.signup("other", "other@example.com", STRONG).await;
    let auth = format!("Bearer {access}");
    let req = event(
        "GET",
        "/prod/auth/users",
        "limit=1",
        &[("authorization", &auth)],
        None,
        "192.0.2.1",
    );
    let r = app.call(Endpoint::ListUsers, req).await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("link")
        .unwrap()
        .starts_with("</prod/auth/users?limit=1&cursor="));
}

async fn list_users_with_bad_cursor_is_400<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, id) = app.user("admin").await;
    app.make_admin(id).await;
    let r = app
        .get_query(Endpoint::ListUsers, "cursor=%%%garbage", &access)
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.detail(), "Invalid cursor");
}

async fn list_users_limit_out_of_range_is_422<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, id) = app.user("admin").await;
    app.make_admin(id).await;
    for q in ["limit=0", "limit=201", "limit=abc", "limit=-1"] {
        assert_eq!(
            app.get_query(Endpoint::ListUsers, q, &access).await.status,
            422,
            "{q}"
        );
    }
    assert_eq!(
        app.get_query(Endpoint::ListUsers, "limit=200", &access)
            .await
            .status,
        200
    );
}

async fn demoted_admin_is_refused_at_once<B: Backend>() {
    let app = app::<B>().await;
    let (access, _, id) = app.user("admin").await;
    app.make_admin(id).await;
    assert_eq!(app.get(Endpoint::ListUsers, &access).await.status, 200);
    app.state
        .users
        .set_role(id, authyy::domain::Role::User, 0)
        .await
        .unwrap();
    assert_eq!(app.get(Endpoint::ListUsers, &access).await.status, 403);
}

async fn list_users_finds_one_user_by_exact_email<B: Backend>() {
    let app = app::<B>().await;
    let (access1, _, id) = app.user("admin").await;
    app.make_admin(id).await;
    app.signup("john_doe", "john@example.com", STRONG).await;
    let r = app
        .get_query(Endpoint::ListUsers, "email=JOHN%40example.com", &access1)
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let found = r.body.as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["username"], "john_doe");
    assert_eq!(found[0]["role"], "user");
    let r = app
        .get_query(Endpoint::ListUsers, "email=nobody%40example.com", &access1)
        .await;
    assert_eq!(r.body, json!([]));
    let r = app
        .get_query(Endpoint::ListUsers, "email=not-an-email", &access1)
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(r.body["detail"][0]["loc"], json!(["query", "email"]));
}

both_backends!(
    list_users_needs_a_token,
    list_users_is_403_for_non_admins,
    list_users_pages_with_link_and_cursor,
    list_users_link_keeps_the_stage_prefix,
    list_users_with_bad_cursor_is_400,
    list_users_limit_out_of_range_is_422,
    demoted_admin_is_refused_at_once,
    list_users_finds_one_user_by_exact_email,
);
