//! `authyy-admin`: operate authyy's users and signing keys from the command line, on the SQLite
//! file of local mode or on a deployed stack's DynamoDB table and Secrets Manager secret.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use authyy::admin::{self, AdminError};
use authyy::clock::{rfc3339, Clock, SystemClock};
use authyy::config::AwsSettings;
use authyy::config::{Config, Env, KeyTiming};
use authyy::domain::{Role, User};
use authyy::hashing::Hasher;
use authyy::keys::lifecycle::min_published;
use authyy::keys::rotation;
use authyy::keys::secrets_manager::SecretsManagerKeys;
use authyy::keys::KeyStore;
use authyy::store::dynamo::DynamoStore;
use authyy::store::sqlite::SqliteStore;
use authyy::store::Store;
use clap::{Parser, Subcommand};

/// Manage authyy users and signing keys.
///
/// Works on the SQLite file of local mode (the default) or, with --table, on a deployed stack's
/// DynamoDB table (and, for `keys`, its --secret and --public-secret), with the standard AWS
/// credential chain
/// (environment, profile, SSO cache, instance role) and region (AWS_REGION or the profile).
/// The table and secrets are only ever taken from the command line, never from the environment,
/// and every command first prints (on standard error) what it acts on.
#[derive(Parser)]
#[command(name = "authyy-admin", version)]
struct Cli {
    /// The SQLite file of local mode.
    #[arg(
        long,
        env = "AUTH_SQLITE_PATH",
        default_value = ".local/authyy.sqlite3",
        global = true
    )]
    sqlite: PathBuf,
    /// A deployed stack's DynamoDB table (the stack output TableName); selects the AWS backend.
    /// Never read from AUTH_TABLE_NAME, so a shell set up for a stack cannot redirect a command.
    #[arg(long, global = true)]
    table: Option<String>,
    /// The stack's private-key secret (name or ARN; the stack output SigningSecretArn).
    #[arg(long, global = true)]
    secret: Option<String>,
    /// The stack's public-key secret (name or ARN; the stack output PublicKeysSecretArn).
    #[arg(long, global = true)]
    public_secret: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a user with the admin role. The password is read from standard input
    /// (--password-stdin, piped), never from the command line or the environment.
    CreateAdmin {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Give an existing user the admin role.
    Promote {
        /// The user's email address.
        email: String,
    },
    /// Take the admin role from a user; every session of it ends at once (its access tokens
    /// carry the admin scope they were issued with).
    Demote {
        /// The user's email address.
        email: String,
    },
    /// Disable a user: they cannot log in or refresh, and every session ends at once.
    Disable {
        /// The user's email address.
        email: String,
    },
    /// Re-enable a disabled user (they log in again; ended sessions stay ended).
    Enable {
        /// The user's email address.
        email: String,
    },
    /// Mark a user's email verified by hand (for example after checking it another way).
    Verify {
        /// The user's email address.
        email: String,
    },
    /// Erase a user and everything the account owns (sessions, tokens, counters); its email
    /// and username can sign up again. There is no undo.
    Delete {
        /// The user's email address.
        email: String,
    },
    /// Show a user's security log, newest first: one line per event (time, type, actor, client
    /// address, session, details).
    Events {
        /// The user's email address.
        email: String,
        /// At most this many events.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// End every session of a user at once (access and refresh tokens stop working).
    EndSessions {
        /// The user's email address.
        email: String,
    },
    /// Show a user's app_metadata, or replace it with JSON (an object of at most 2 KiB, which
    /// access tokens carry from the next one issued; `{}` clears it).
    Metadata {
        /// The user's email address.
        email: String,
        /// The new app_metadata, e.g. '{"plan":"pro"}'. Without it, the current one is printed.
        json: Option<String>,
    },
    /// Import accounts from another system: a JSON Lines file (`-` for standard input), one
    /// account per line, `{"email", "username", "password_hash"?, "email_verified"?,
    /// "created_at"?, "role"?, "app_metadata"?}`. Every line is checked first; any bad line
    /// stops the import before anything is written. A line whose email is registered is
    /// skipped, so a second run of the same file creates nothing. See docs/migrating.md.
    Import {
        /// The file, or `-` for standard input.
        file: PathBuf,
        /// Check the file and say what would be created and skipped; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// List users in id order.
    List {
        /// How many users to show at most.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// The RSA keys that sign access tokens: list, rotate, retire.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Second factors: help a user who lost their authenticator and recovery codes.
    #[command(subcommand)]
    Mfa(MfaCommand),
}

#[derive(Subcommand)]
enum MfaCommand {
    /// Remove every second factor of a user (TOTP and recovery codes) and end every session;
    /// the user signs in with the password alone and can enrol again. Check who is asking
    /// first, by a channel other than the account's mail.
    Reset {
        /// The user's email address.
        email: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Show the next, current and previous keys, when each was published, and whether the
    /// public key set (JWKS) holds it; and flag any published key outside those three.
    List,
    /// Advance the lifecycle one step, as the scheduled rotation does: the next key signs, the
    /// current one stays published as previous, the previous one goes, and a new next key is
    /// published. Refused while the next key is younger than API Gateway's JWKS cache (2 h)
    /// plus the functions' cache plus a margin.
    Rotate,
    /// Remove a compromised key at once (its tokens die as the functions' caches expire; if it
    /// was the current key, the next one takes over). Its kid is recorded as retired, and no
    /// rotation publishes it again. Also removes a published key that is no longer in the
    /// lifecycle (`keys list` flags such a key).
    Retire {
        /// The key's kid (see `keys list`). Kids are base64url, so one in 64 begins with `-`;
        /// such a kid is taken as the value, not as an option.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
    /// Sign refresh tokens with a new HMAC key from now on; the earlier ones keep verifying.
    RotateRefreshKey,
    /// Publish exactly the next, current and previous keys: removes from the public key set
    /// (JWKS) any other key, such as one `keys list` flags. (A scheduled rotation under way
    /// publishes its new key early; removing it makes that rotation fail, to be retried.)
    Republish,
}

fn print_event(e: &authyy::domain::audit::AuditEvent) {
    let details = serde_json::to_string(&e.details).unwrap_or_default();
    println!(
        "{}  {:<26} {:<12} {:<39} {:<22} {}",
        authyy::clock::rfc3339(e.at_ms.div_euclid(1000)),
        e.kind.as_str(),
        e.actor.to_wire(),
        if e.ip.is_empty() { "-" } else { &e.ip },
        e.session_id.as_deref().unwrap_or("-"),
        details
    );
}

fn print_keys(rows: &[admin::KeyRow]) {
    println!("{:<9} {:<44} {:<21} published", "state", "kid", "since");
    for row in rows {
        println!(
            "{:<9} {:<44} {:<21} {}",
            row.state.as_str(),
            row.kid,
            rfc3339(row.published_at),
            if row.published { "yes" } else { "NO" }
        );
    }
}

/// Flags every key the public set (JWKS) publishes outside the lifecycle: verifiers accept
/// tokens it signs, though nothing should sign with it.
async fn print_strays(keys: &dyn KeyStore) -> Result<(), AdminError> {
    let published = keys.load_public().await?;
    let strays = rotation::published_outside_lifecycle(&keys.load().await?, &published);
    for kid in &strays {
        println!(
            "{:<9} {kid:<44} {:<21} yes  <- PUBLISHED BUT NOT IN THE LIFECYCLE",
            "-", "-"
        );
    }
    if !strays.is_empty() {
        println!(
            "\nWARNING: {} published key(s) are not next, current or previous; verifiers still \
             accept tokens they sign.\n  If a key was retired (or may be compromised), retire it \
             again: authyy-admin keys retire <kid>\n  Otherwise republish the lifecycle's keys \
             only: authyy-admin keys republish",
            strays.len()
        );
    }
    Ok(())
}

fn print_user(u: &User) {
    println!(
        "{:>6}  {:<24} {:<36} {:<5} {:<8} {}{}",
        u.id,
        u.username,
        u.email,
        u.role.as_str(),
        if u.email_verified { "yes" } else { "no" },
        rfc3339(u.created_at),
        if u.disabled { "  disabled" } else { "" }
    );
}

fn describe(u: &User) -> String {
    format!("{} (id {}, {})", u.email, u.id, u.role.as_str())
}

/// The password, from the first line of standard input only: not an argument (shell history,
/// `ps`), not the environment (inherited by every child, readable in /proc), not a terminal
/// (it would be echoed).
fn read_password(from_stdin: bool) -> Result<String, AdminError> {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    if !from_stdin || stdin.is_terminal() {
        return Err(AdminError::Other(
            "pipe the password on standard input and pass --password-stdin, e.g. \
             `echo \"$PASSWORD\" | authyy-admin create-admin ... --password-stdin` \
             (never as an argument or in the environment)"
                .into(),
        ));
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| AdminError::Other(format!("cannot read the password: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// The store and key store the options select.
async fn backend(cli: &Cli) -> Result<(Box<dyn Store>, Box<dyn KeyStore>), AdminError> {
    let Some(table) = &cli.table else {
        if !cli.sqlite.exists() {
            return Err(AdminError::Other(format!(
                "no database at {}: start the API once (./infra/run-local.sh), or pass --sqlite PATH or --table NAME",
                cli.sqlite.display()
            )));
        }
        // Said before opening, which applies any pending migration.
        eprintln!("authyy-admin: on the SQLite file {}", cli.sqlite.display());
        let store = SqliteStore::open(&cli.sqlite)?;
        return Ok((Box::new(store.clone()), Box::new(store)));
    };
    let settings = AwsSettings::new(
        table.clone(),
        cli.secret.clone().unwrap_or_default(),
        cli.public_secret.clone().unwrap_or_default(),
    );
    let sdk = authyy::aws::config_loader(&settings).load().await;
    let region = sdk.region().map(|r| r.to_string()).ok_or_else(|| {
        AdminError::Other("no AWS region: set AWS_REGION or a region in your AWS profile".into())
    })?;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    if let Err(e) = dynamo.describe_table().table_name(table).send().await {
        let reason = match e.as_service_error() {
            Some(s) if s.is_resource_not_found_exception() => {
                format!("no DynamoDB table named {table} in {region}")
            }
            _ => format!(
                "cannot reach the DynamoDB table {table} in {region}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(&e)
            ),
        };
        return Err(AdminError::Other(reason));
    }
    eprintln!("authyy-admin: on the DynamoDB table {table} in {region}");
    if matches!(cli.command, Command::Keys(_)) {
        eprintln!(
            "authyy-admin: with the secrets {} (private) and {} (public)",
            settings.signing_secret_id, settings.public_keys_secret_id
        );
    }
    let keys = SecretsManagerKeys::new(
        aws_sdk_secretsmanager::Client::new(&sdk),
        settings.signing_secret_id.clone(),
        settings.public_keys_secret_id.clone(),
    );
    Ok((Box::new(DynamoStore::new(dynamo, table.clone())), Box::new(keys)))
}

/// The import file's text: the file, or standard input for `-`.
fn read_import(file: &std::path::Path) -> Result<String, AdminError> {
    use std::io::Read;
    let mut text = String::new();
    let read = if file.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text)
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_string(&mut text))
    };
    read.map_err(|e| AdminError::Other(format!("cannot read {}: {e}", file.display())))?;
    Ok(text)
}

/// `import`: check every line, then write (or, with `dry_run`, say what would be written).
async fn import(
    store: &dyn Store,
    file: &std::path::Path,
    dry_run: bool,
    now: i64,
) -> Result<(), AdminError> {
    let text = read_import(file)?;
    let plan = match authyy::import::check(&text, now) {
        Ok(plan) => plan,
        Err(bad) => {
            for line in &bad {
                eprintln!("{line}");
            }
            return Err(AdminError::Other(format!(
                "{} bad line(s); nothing was imported",
                bad.len()
            )));
        }
    };
    let total = plan.accounts.len();
    if dry_run {
        let (created, skipped) = authyy::import::preview(store, &plan).await?;
        for line in &skipped {
            println!("{line}");
        }
        println!(
            "dry run: {total} account(s) read; would create {created}, skip {} (email already registered); nothing written",
            skipped.len()
        );
        return Ok(());
    }
    // A bar on a terminal only (indicatif draws nothing when standard error is not one).
    let bar = indicatif::ProgressBar::new(total as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} accounts {elapsed} (eta {eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let summary = authyy::import::write(store, plan, &mut |done| bar.set_position(done as u64)).await;
    bar.finish_and_clear();
    let summary = summary?;
    for (line, asked, given) in &summary.renamed {
        println!("line {line}: username {asked} is taken; imported as {given}");
    }
    for line in &summary.skipped {
        println!("{line}");
    }
    println!(
        "created {}, skipped {}, renamed {} (username taken)",
        summary.created,
        summary.skipped.len(),
        summary.renamed.len()
    );
    Ok(())
}

async fn run(cli: Cli) -> Result<(), AdminError> {
    if matches!(cli.command, Command::Keys(_))
        && cli.table.is_some()
        && (cli.secret.is_none() || cli.public_secret.is_none())
    {
        return Err(AdminError::Other(
            "keys on AWS need --secret and --public-secret (the stack outputs SigningSecretArn \
             and PublicKeysSecretArn)"
                .into(),
        ));
    }
    let (store, keys) = backend(&cli).await?;
    let store = store.as_ref();
    let clock = SystemClock;
    let config = Config::from_env(&Env::from_process()).map_err(|e| AdminError::Other(e.to_string()))?;
    let log = admin::OperatorLog {
        audit: store,
        retention: config.audit_retention,
    };
    match &cli.command {
        Command::CreateAdmin {
            username,
            email,
            password_stdin,
        } => {
            let password = read_password(*password_stdin)?;
            let hasher = Hasher::new(config.hash_cost).map_err(|e| AdminError::Other(e.to_string()))?;
            let user = admin::create_admin(
                store,
                &hasher,
                admin::NewAdmin {
                    username,
                    email,
                    password: &password,
                },
                config.password_min_score,
                clock.now(),
                log,
            )
            .await?;
            println!("created {}", describe(&user));
        }
        Command::Promote { email } => println!(
            "{} is now admin",
            admin::set_role(store, email, Role::Admin, clock.now_ms(), log)
                .await?
                .email
        ),
        Command::Demote { email } => println!(
            "{} is now user; every session of it has ended",
            admin::set_role(store, email, Role::User, clock.now_ms(), log)
                .await?
                .email
        ),
        Command::Metadata { email, json: None } => {
            println!("{}", admin::find(store, email).await?.app_metadata.to_json())
        }
        Command::Metadata {
            email,
            json: Some(json),
        } => {
            let user = admin::set_metadata(store, email, json, clock.now_ms(), log).await?;
            println!("{} has app_metadata {}", user.email, user.app_metadata.to_json());
        }
        Command::Disable { email } => {
            let user = admin::set_disabled(store, email, true, clock.now_ms(), log).await?;
            println!("{} is disabled; every session of it has ended", user.email);
        }
        Command::Enable { email } => {
            println!(
                "{} is enabled",
                admin::set_disabled(store, email, false, clock.now_ms(), log)
                    .await?
                    .email
            )
        }
        Command::Verify { email } => {
            println!(
                "{} is verified",
                admin::verify_email(store, email, clock.now_ms(), log)
                    .await?
                    .email
            )
        }
        Command::Delete { email } => {
            let user = admin::delete_user(store, store, email, clock.now_ms(), log).await?;
            println!("{} is deleted, with everything the account owned", user.email);
        }
        Command::Mfa(MfaCommand::Reset { email }) => {
            let user = admin::reset_mfa(store, store, email, clock.now_ms(), log).await?;
            println!(
                "{}: every second factor removed; every session has ended",
                user.email
            );
        }
        Command::EndSessions { email } => {
            let user = admin::end_sessions(store, store, email, clock.now_ms(), log).await?;
            println!("every session of {} has ended", user.email);
        }
        Command::Events { email, limit, json } => {
            let (user, events) = admin::events(store, store, email, *limit, clock.now()).await?;
            if *json {
                for e in &events {
                    println!(
                        "{}",
                        serde_json::to_string(e).map_err(|e| AdminError::Other(e.to_string()))?
                    );
                }
            } else {
                eprintln!("security log of {} (newest first)", describe(&user));
                events.iter().for_each(print_event);
                println!("{} event(s)", events.len());
            }
        }
        Command::Import { file, dry_run } => import(store, file, *dry_run, clock.now()).await?,
        Command::List { limit } => {
            let users = admin::list(store, *limit).await?;
            println!(
                "{:>6}  {:<24} {:<36} {:<5} {:<8} created",
                "id", "username", "email", "role", "verified"
            );
            users.iter().for_each(print_user);
            println!("{} user(s)", users.len());
        }
        Command::Keys(KeysCommand::List) => {
            print_keys(&admin::list_keys(keys.as_ref()).await?);
            print_strays(keys.as_ref()).await?;
        }
        Command::Keys(KeysCommand::Republish) => {
            let published = rotation::republish(keys.as_ref()).await?;
            print_keys(&admin::list_keys(keys.as_ref()).await?);
            println!(
                "published {} key(s), the lifecycle's only",
                published.kids().len()
            );
        }
        Command::Keys(KeysCommand::Rotate) => {
            let timing =
                KeyTiming::from_env(&Env::from_process()).map_err(|e| AdminError::Other(e.to_string()))?;
            let min = min_published(timing.key_cache, timing.access_ttl);
            print_keys(&admin::rotate_keys(keys.as_ref(), clock.now(), min).await?);
        }
        Command::Keys(KeysCommand::RotateRefreshKey) => {
            let kids = admin::rotate_refresh_key(keys.as_ref(), clock.now()).await?;
            println!(
                "refresh tokens are signed with {}; verifying with {}",
                kids.first().map_or("?", String::as_str),
                kids.join(", ")
            );
        }
        Command::Keys(KeysCommand::Retire { kid }) => {
            print_keys(&admin::retire_key(keys.as_ref(), kid, clock.now()).await?);
            println!("retired {kid}; its tokens are refused once the functions' key caches expire");
        }
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authyy-admin: {e}");
            ExitCode::FAILURE
        }
    }
}
