//! `authyy-admin`: operate an authyy deployment's users from the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use authyy::clock::rfc3339;
use authyy::domain::{Email, Role, User};
use authyy::sqlite::SqliteStore;
use authyy::store::{Store, UserStore};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "authyy-admin", about = "Manage authyy users: promote, demote, list")]
struct Cli {
    /// The SQLite file of local mode.
    #[arg(
        long,
        env = "AUTH_SQLITE_PATH",
        default_value = ".local/authyy.sqlite3",
        global = true
    )]
    sqlite: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Give an existing user the admin role.
    Promote {
        /// The user's email address.
        email: String,
    },
    /// Take the admin role from a user.
    Demote {
        /// The user's email address.
        email: String,
    },
    /// List users in id order.
    List {
        /// How many users to show.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

fn print_user(u: &User) {
    println!(
        "{:>6}  {:<24} {:<32} {:<5} {}{}",
        u.id,
        u.username,
        u.email,
        u.role.as_str(),
        rfc3339(u.created_at),
        if u.disabled { "  disabled" } else { "" }
    );
}

async fn set_role(store: &dyn Store, raw_email: &str, role: Role) -> Result<(), String> {
    let email = Email::parse(raw_email).map_err(|e| format!("{raw_email:?}: {e}"))?;
    let user = store
        .user_by_email(&email)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user with the email {email}"))?;
    store.set_role(user.id, role).await.map_err(|e| e.to_string())?;
    println!("{} (id {}) is now {}", user.email, user.id, role.as_str());
    Ok(())
}

async fn run(cli: Cli) -> Result<(), String> {
    if !cli.sqlite.exists() {
        return Err(format!(
            "no database at {}: start the API once (or pass --sqlite PATH)",
            cli.sqlite.display()
        ));
    }
    let store = SqliteStore::open(&cli.sqlite).map_err(|e| e.to_string())?;
    match cli.command {
        Command::Promote { email } => set_role(&store, &email, Role::Admin).await,
        Command::Demote { email } => set_role(&store, &email, Role::User).await,
        Command::List { limit } => {
            let page = store.list_users(None, limit).await.map_err(|e| e.to_string())?;
            page.users.iter().for_each(print_user);
            Ok(())
        }
    }
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
