//! Races the API allows end exactly once (conditional writes).

use crate::helpers::*;

async fn twenty_concurrent_signups_with_one_email_give_one_201<B: Backend>() {
    let app = std::sync::Arc::new(B::app(with(|c| c.ip_limits_enabled = false)).await);
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                app.signup(&format!("racer{i}"), "race@example.com", STRONG)
                    .await
                    .status
            })
        })
        .collect();
    let mut statuses = vec![];
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 19, "{statuses:?}");
}

async fn ten_concurrent_refreshes_of_one_token_give_one_successor<B: Backend>() {
    let app = std::sync::Arc::new(app::<B>().await);
    let (_, refresh1, _) = app.user("john_doe").await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (app, token) = (app.clone(), refresh1.clone());
            tokio::spawn(async move {
                let r = app.refresh(&token).await;
                (
                    r.status,
                    r.body["tokens"]["refresh"]["jti"].as_str().map(str::to_string),
                )
            })
        })
        .collect();
    let mut successors = std::collections::HashSet::new();
    for t in tasks {
        let (status, jti) = t.await.unwrap();
        assert!(status == 200 || status == 401, "{status}");
        if let Some(jti) = jti {
            successors.insert(jti);
        }
    }
    assert_eq!(successors.len(), 1, "{successors:?}");
}

async fn ten_concurrent_resets_with_one_token_succeed_once<B: Backend>() {
    let app = std::sync::Arc::new(app::<B>().await);
    app.signup("john_doe", "john@example.com", STRONG).await;
    let token = app.reset_token("john@example.com").await;
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move {
                let password = format!("{STRONG2} racer {i}");
                let r = app.reset(&token, &password).await;
                (r.status, password)
            })
        })
        .collect();
    let mut winners = vec![];
    for t in tasks {
        let (status, password) = t.await.unwrap();
        assert!(status == 200 || status == 400, "{status}");
        if status == 200 {
            winners.push(password);
        }
    }
    assert_eq!(winners.len(), 1);
    let r = app.login("john@example.com", &winners[0]).await;
    assert_eq!(
        r.status, 200,
        "the winner's password is the one set: {:?}",
        r.body
    );
}

both_backends!(
    twenty_concurrent_signups_with_one_email_give_one_201,
    ten_concurrent_refreshes_of_one_token_give_one_successor,
    ten_concurrent_resets_with_one_token_succeed_once,
);
