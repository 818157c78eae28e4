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

/// Sends `n` wrong guesses at once, the i-th from `network(i)`; returns their statuses.
async fn concurrent_guesses(app: &std::sync::Arc<TestApp>, n: u32, network: fn(u32) -> String) -> Vec<u16> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                app.login_from(&network(i), "john@example.com", STRONG2)
                    .await
                    .status
            })
        })
        .collect();
    let mut statuses = vec![];
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses
}

/// Every guess that gets a 401 had its password verified; a 429 was refused before verifying.
fn verified(statuses: &[u16]) -> usize {
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
    statuses.iter().filter(|s| **s == 401).count()
}

async fn twenty_concurrent_wrong_guesses_verify_at_most_the_allowed_number<B: Backend>() {
    let app = std::sync::Arc::new(B::app(with(|c| c.ip_limits_enabled = false)).await);
    app.signup("john_doe", "john@example.com", STRONG).await;
    let statuses = concurrent_guesses(&app, 20, |_| "198.51.100.7".into()).await;
    let allowed = app.state.config.login_max_failures as usize;
    assert_eq!(verified(&statuses), allowed, "{statuses:?}");
    // The owner, elsewhere, is not locked out by them.
    assert_eq!(
        app.login_from("203.0.113.9", "john@example.com", STRONG)
            .await
            .status,
        200
    );
}

async fn twenty_concurrent_guesses_from_twenty_networks_verify_at_most_the_account_cap<B: Backend>() {
    let config = with(|c| {
        c.ip_limits_enabled = false;
        c.login_account_max_failures = 6;
    });
    let app = std::sync::Arc::new(B::app(config).await);
    app.signup("john_doe", "john@example.com", STRONG).await;
    let statuses = concurrent_guesses(&app, 20, |i| format!("198.51.100.{}", i + 1)).await;
    assert!(verified(&statuses) <= 6, "{statuses:?}");
    assert!(verified(&statuses) >= 1, "{statuses:?}");
}

both_backends!(
    twenty_concurrent_wrong_guesses_verify_at_most_the_allowed_number,
    twenty_concurrent_guesses_from_twenty_networks_verify_at_most_the_account_cap,
    twenty_concurrent_signups_with_one_email_give_one_201,
    ten_concurrent_refreshes_of_one_token_give_one_successor,
    ten_concurrent_resets_with_one_token_succeed_once,
);
