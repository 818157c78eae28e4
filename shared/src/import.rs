//! Importing accounts from another system (`authyy-admin import`): a JSON Lines file, one
//! account per line, with the password hash the other system made (see [`ImportedHash`] for the
//! schemes) or none.
//!
//! Two steps. [`check`] reads the whole file and lists every bad line by number; nothing is
//! written unless every line is good. [`write`] then creates the accounts in batches
//! ([`IMPORT_BATCH`]): a line whose email is registered is skipped (so a second run of the same
//! file creates nothing), and a username already taken is made unique with a numeric suffix.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use crate::domain::{AppMetadata, Email, Role, Username};
use crate::hashing::imported::ImportedHash;
use crate::store::{Imported, NewUser, StoreError, UserStore, IMPORT_BATCH};

/// One line as the file gives it; any other field is an error (a misspelt `password_hash` must
/// not import an account without its password).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    email: String,
    username: String,
    #[serde(default)]
    password_hash: Option<String>,
    #[serde(default)]
    email_verified: Option<bool>,
    #[serde(default)]
    created_at: Option<Value>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    app_metadata: Option<Value>,
}

/// A line that cannot be imported, and why (never quoting a hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based, as an editor numbers lines.
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for BadLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// An account of the file, checked. (Not `Debug`: it holds a password hash.)
pub struct Account {
    pub line: usize,
    pub new: NewUser,
}

/// Every account of a file whose lines are all good.
#[derive(Default)]
pub struct Plan {
    pub accounts: Vec<Account>,
}

/// Reads one line's account (its number for the messages), or says what is wrong with it.
fn account(line: usize, text: &str, now: i64) -> Result<Account, String> {
    let raw: Line = serde_json::from_str(text).map_err(|e| format!("not an account: {e}"))?;
    let email = Email::parse(&raw.email).map_err(|e| format!("email: {}", e.0))?;
    let username = Username::parse(&raw.username).map_err(|e| format!("username: {}", e.0))?;
    let password_hash = match raw.password_hash.as_deref() {
        None => String::new(),
        Some(text) => ImportedHash::parse(text)
            .map_err(|reason| format!("password_hash: {reason}"))?
            .as_str()
            .to_string(),
    };
    let role = match raw.role.as_deref() {
        None | Some("user") => Role::User,
        Some("admin") => Role::Admin,
        Some(_) => return Err("role: user or admin".into()),
    };
    let created_at = match raw.created_at {
        None | Some(Value::Null) => now,
        Some(value) => created_at(&value, now)?,
    };
    let app_metadata = match raw.app_metadata {
        None | Some(Value::Null) => AppMetadata::default(),
        Some(value) => AppMetadata::new(value).map_err(|e| e.0)?,
    };
    Ok(Account {
        line,
        new: NewUser {
            username,
            email,
            password_hash,
            created_at,
            app_metadata,
            role,
            email_verified: raw.email_verified.unwrap_or(false),
        },
    })
}

/// Epoch seconds, or an RFC 3339 time; not after `now`.
fn created_at(value: &Value, now: i64) -> Result<i64, String> {
    use time::format_description::well_known::Rfc3339;
    let at = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => time::OffsetDateTime::parse(s, &Rfc3339)
            .ok()
            .map(|t| t.unix_timestamp()),
        _ => None,
    };
    match at {
        Some(at) if (0..=now).contains(&at) => Ok(at),
        Some(_) => Err("created_at: before 1970 or in the future".into()),
        None => Err("created_at: epoch seconds or an RFC 3339 time".into()),
    }
}

/// Checks every line of `text` (blank lines are skipped): the plan, or every bad line. Two
/// lines with one email (as normalised) or one username (case-insensitively) are bad.
pub fn check(text: &str, now: i64) -> Result<Plan, Vec<BadLine>> {
    let mut plan = Plan::default();
    let mut bad = Vec::new();
    let mut emails: HashMap<String, usize> = HashMap::new();
    let mut usernames: HashMap<String, usize> = HashMap::new();
    for (index, text) in text.lines().enumerate() {
        let line = index + 1;
        if text.trim().is_empty() {
            continue;
        }
        let account = match account(line, text, now) {
            Ok(account) => account,
            Err(reason) => {
                bad.push(BadLine { line, reason });
                continue;
            }
        };
        if let Some(first) = emails.insert(account.new.email.as_str().to_string(), line) {
            bad.push(BadLine {
                line,
                reason: format!("email: also on line {first}"),
            });
            continue;
        }
        if let Some(first) = usernames.insert(account.new.username.key(), line) {
            bad.push(BadLine {
                line,
                reason: format!("username: also on line {first}"),
            });
            continue;
        }
        plan.accounts.push(account);
    }
    if bad.is_empty() {
        Ok(plan)
    } else {
        Err(bad)
    }
}

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub created: usize,
    /// Lines not imported, each with its reason.
    pub skipped: Vec<BadLine>,
    /// Lines imported under another username, which was taken: (line, asked, given).
    pub renamed: Vec<(usize, String, String)>,
}

/// How many other usernames a line whose username is taken is tried with.
const RENAME_ATTEMPTS: usize = 5;

/// Creates the plan's accounts, [`IMPORT_BATCH`] at a time; `progress` is told how many lines
/// are done after each batch. A store failure stops it: what was written stays, and a second
/// run skips it.
pub async fn write(
    store: &dyn UserStore,
    plan: Plan,
    progress: &mut dyn FnMut(usize),
) -> Result<Summary, StoreError> {
    write_with(store, plan, progress, &mut Username::with_random_suffix).await
}

/// [`write`], with the next name to try for a taken one made by `rename`.
async fn write_with(
    store: &dyn UserStore,
    plan: Plan,
    progress: &mut dyn FnMut(usize),
    rename: &mut dyn FnMut(&str) -> Username,
) -> Result<Summary, StoreError> {
    let mut summary = Summary::default();
    let mut done = 0;
    // Lines waiting to be written, with how many names each has tried.
    let mut pending: Vec<(Account, usize)> = plan.accounts.into_iter().map(|a| (a, 0)).collect();
    pending.reverse();
    while !pending.is_empty() {
        let take = pending.len().min(IMPORT_BATCH);
        let batch: Vec<(Account, usize)> = pending
            .split_off(pending.len() - take)
            .into_iter()
            .rev()
            .collect();
        let users: Vec<NewUser> = batch.iter().map(|(a, _)| a.new.clone()).collect();
        let ends = store.import_users(&users).await?;
        for ((account, tries), end) in batch.into_iter().zip(ends) {
            match end {
                Imported::Created(_) => {
                    summary.created += 1;
                    done += 1;
                }
                Imported::EmailTaken => {
                    summary.skipped.push(BadLine {
                        line: account.line,
                        reason: "email already registered".into(),
                    });
                    done += 1;
                }
                Imported::UsernameTaken if tries < RENAME_ATTEMPTS => {
                    let mut account = account;
                    let asked = summary
                        .renamed
                        .iter()
                        .position(|(line, ..)| *line == account.line)
                        .map(|i| summary.renamed.swap_remove(i).1)
                        .unwrap_or_else(|| account.new.username.as_str().to_string());
                    account.new.username = rename(&asked);
                    summary
                        .renamed
                        .push((account.line, asked, account.new.username.as_str().to_string()));
                    pending.push((account, tries + 1));
                }
                Imported::UsernameTaken => {
                    summary.renamed.retain(|(line, ..)| *line != account.line);
                    summary.skipped.push(BadLine {
                        line: account.line,
                        reason: "no free username found".into(),
                    });
                    done += 1;
                }
            }
        }
        progress(done);
    }
    summary.skipped.sort_by_key(|b| b.line);
    summary.renamed.sort();
    Ok(summary)
}

/// What a dry run finds: how many of the plan's accounts would be created, and the lines that
/// would be skipped (their email is registered). Read one account at a time.
pub async fn preview(store: &dyn UserStore, plan: &Plan) -> Result<(usize, Vec<BadLine>), StoreError> {
    let mut skipped = Vec::new();
    for account in &plan.accounts {
        if store.user_by_email(&account.new.email).await?.is_some() {
            skipped.push(BadLine {
                line: account.line,
                reason: "email already registered".into(),
            });
        }
    }
    Ok((plan.accounts.len() - skipped.len(), skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;
    const BCRYPT: &str = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";

    fn lines(lines: &[&str]) -> String {
        lines.join("\n")
    }

    fn sqlite() -> (tempfile::TempDir, crate::store::sqlite::SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::sqlite::SqliteStore::open(&dir.path().join("authyy.sqlite3")).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn a_taken_username_is_renamed_and_the_name_asked_for_is_reported() {
        let (_dir, store) = sqlite();
        let taken = r#"{"email": "first@example.com", "username": "ada"}"#;
        write(&store, check(taken, NOW).unwrap(), &mut |_| {})
            .await
            .unwrap();
        let file = lines(&[
            r#"{"email": "b@example.com", "username": "bob"}"#,
            r#"{"email": "ada@example.com", "username": "ada"}"#,
        ]);
        let mut numbers = [7, 42].into_iter();
        let summary = write_with(&store, check(&file, NOW).unwrap(), &mut |_| {}, &mut |asked| {
            Username::derived(asked, &numbers.next().unwrap().to_string())
        })
        .await
        .unwrap();
        assert_eq!(summary.created, 2);
        assert_eq!(summary.renamed, [(2, "ada".to_string(), "ada-7".to_string())]);
        assert!(summary.skipped.is_empty());
    }

    #[tokio::test]
    async fn a_line_whose_every_name_is_taken_is_skipped_after_five_renames() {
        let (_dir, store) = sqlite();
        let taken = lines(&[
            r#"{"email": "first@example.com", "username": "ada"}"#,
            r#"{"email": "second@example.com", "username": "ada-7"}"#,
        ]);
        write(&store, check(&taken, NOW).unwrap(), &mut |_| {})
            .await
            .unwrap();
        let file = lines(&[
            r#"{"email": "ada@example.com", "username": "ada"}"#,
            r#"{"email": "b@example.com", "username": "bob"}"#,
        ]);
        let mut drawn = 0;
        let mut told = Vec::new();
        let summary = write_with(
            &store,
            check(&file, NOW).unwrap(),
            &mut |done| told.push(done),
            &mut |asked| {
                drawn += 1;
                assert_eq!(asked, "ada", "each new name is made from the one asked for");
                Username::derived(asked, "7")
            },
        )
        .await
        .unwrap();
        assert_eq!(drawn, 5, "five other names tried, each from the name asked for");
        assert_eq!(summary.created, 1);
        assert!(summary.renamed.is_empty(), "{:?}", summary.renamed);
        assert_eq!(
            summary.skipped,
            [BadLine {
                line: 1,
                reason: "no free username found".into()
            }]
        );
        assert_eq!(told.last(), Some(&2), "the skipped line counts as done");
    }

    #[tokio::test]
    async fn a_dry_run_counts_what_would_be_created_and_names_what_would_be_skipped() {
        let (_dir, store) = sqlite();
        write(
            &store,
            check(r#"{"email": "old@example.com", "username": "old"}"#, NOW).unwrap(),
            &mut |_| {},
        )
        .await
        .unwrap();
        let file = lines(&[
            r#"{"email": "a@example.com", "username": "a-one"}"#,
            r#"{"email": "OLD@example.com", "username": "other"}"#,
            r#"{"email": "c@example.com", "username": "c-three"}"#,
        ]);
        let (created, skipped) = preview(&store, &check(&file, NOW).unwrap()).await.unwrap();
        assert_eq!(created, 2);
        assert_eq!(
            skipped,
            [BadLine {
                line: 2,
                reason: "email already registered".into()
            }]
        );
        assert!(
            store
                .user_by_email(&Email::parse("a@example.com").unwrap())
                .await
                .unwrap()
                .is_none(),
            "nothing written"
        );
    }

    #[tokio::test]
    async fn progress_is_told_the_lines_done_after_each_batch() {
        let (_dir, store) = sqlite();
        let file: Vec<String> = (0..IMPORT_BATCH + 5)
            .map(|i| format!(r#"{{"email": "u{i}@example.com", "username": "user{i}"}}"#))
            .collect();
        let file = file.join("\n");
        let mut told = Vec::new();
        let summary = write(&store, check(&file, NOW).unwrap(), &mut |done| told.push(done))
            .await
            .unwrap();
        assert_eq!(told, [IMPORT_BATCH, IMPORT_BATCH + 5]);
        assert_eq!(summary.created, IMPORT_BATCH + 5);
        let mut told = Vec::new();
        let again = write(&store, check(&file, NOW).unwrap(), &mut |done| told.push(done))
            .await
            .unwrap();
        assert_eq!(
            told,
            [IMPORT_BATCH, IMPORT_BATCH + 5],
            "a skipped line is done too"
        );
        assert_eq!((again.created, again.skipped.len()), (0, IMPORT_BATCH + 5));
    }

    #[test]
    fn a_good_file_is_read_with_every_field_and_its_defaults() {
        let text = lines(&[
            &format!(
                r#"{{"email": "Ada@Example.COM", "username": "ada", "password_hash": "{BCRYPT}", "email_verified": true, "created_at": "2020-01-02T03:04:05Z", "role": "admin", "app_metadata": {{"plan": "pro"}}}}"#
            ),
            "",
            r#"{"email": "bob@example.com", "username": "bob", "created_at": 1600000000}"#,
        ]);
        let plan = check(&text, NOW).unwrap();
        let [ada, bob] = &plan.accounts[..] else {
            panic!("two accounts")
        };
        assert_eq!((ada.line, bob.line), (1, 3));
        assert_eq!(ada.new.email.as_str(), "ada@example.com");
        assert_eq!(ada.new.password_hash, BCRYPT);
        assert!(ada.new.email_verified);
        assert_eq!(ada.new.role, Role::Admin);
        assert_eq!(ada.new.created_at, 1_577_934_245);
        assert_eq!(ada.new.app_metadata.to_json(), r#"{"plan":"pro"}"#);
        assert_eq!(bob.new.password_hash, "");
        assert!(!bob.new.email_verified);
        assert_eq!(bob.new.role, Role::User);
        assert_eq!(bob.new.created_at, 1_600_000_000);
    }

    #[test]
    fn every_bad_line_is_named_by_its_number() {
        let text = lines(&[
            r#"{"email": "a@example.com", "username": "alice"}"#,
            r#"{"email": "not an email", "username": "bob"}"#,
            r#"{"email": "c@example.com", "username": "-x"}"#,
            r#"{"email": "d@example.com", "username": "dora", "password_hash": "$2b$14$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}"#,
            r#"{"email": "A@example.com", "username": "alice2"}"#,
            r#"{"email": "f@example.com", "username": "ALICE"}"#,
            r#"{"email": "g@example.com", "username": "gus", "passwordHash": "x"}"#,
            r#"{"email": "h@example.com", "username": "hal", "role": "owner"}"#,
            r#"{"email": "i@example.com", "username": "ivy", "created_at": 1900000000}"#,
            r#"{"email": "j@example.com", "username": "jo3", "app_metadata": [1]}"#,
            "not json",
        ]);
        let bad = check(&text, NOW).err().unwrap();
        let numbers: Vec<usize> = bad.iter().map(|b| b.line).collect();
        assert_eq!(numbers, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        let said = |line| bad.iter().find(|b| b.line == line).unwrap().to_string();
        assert!(said(4).contains("cost 14"), "{}", said(4));
        assert!(!said(4).contains("N9qo8u"), "a hash is never quoted");
        // Emails are compared as normalised (lower-cased), usernames case-insensitively.
        assert!(said(5).contains("email: also on line 1"), "{}", said(5));
        assert!(said(6).contains("username: also on line 1"), "{}", said(6));
        assert!(said(7).contains("passwordHash"), "{}", said(7));
    }
}
