//! What each subcommand does.

use anyhow::Context;
use parchment_core::keys::Ed25519SecretKey;
use parchment_core::rand_core::OsRng;
use poem_openapi::types::ToJSON;

use crate::api::users::{CreatedUser, RoleInfo};
use crate::app;
use crate::clock::{Clock, SystemClock};
use crate::config::{AdminCommand, Cli, Command, DbArgs, FederationCommand, ServeArgs};
use crate::service::sessions;
use crate::service::users::{self, CreateUser};
use crate::store::Store;

/// Runs the subcommand on the command line (`serve` when there is none).
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli
        .command
        .unwrap_or_else(|| Command::Serve(Box::new(ServeArgs::defaults())));
    match command {
        Command::Serve(args) => serve(&cli.db, &args).await,
        Command::Migrate => {
            let store = open_store(&cli.db).await?;
            store.close().await;
            println!("migrations applied");
            Ok(())
        }
        Command::Keygen => {
            let key = Ed25519SecretKey::generate(&mut OsRng);
            println!("{}", key.export_base64().as_str());
            Ok(())
        }
        Command::Openapi { html } => {
            if html {
                println!("{}", app::docs_html());
            } else {
                println!("{}", app::openapi_document());
            }
            Ok(())
        }
        Command::Admin(admin) => run_admin(&cli.db, admin).await,
        Command::Backup {
            to,
            server_key_file,
        } => {
            let done = crate::backup::backup(&cli.db, &to, server_key_file.as_deref()).await?;
            println!("{done}");
            Ok(())
        }
        Command::Restore {
            from,
            server_key_file,
        } => {
            let done = crate::backup::restore(&cli.db, &from, server_key_file.as_deref()).await?;
            println!("{done}");
            Ok(())
        }
        Command::Doctor(args) => {
            let findings = crate::doctor::run(&cli.db, &args.serve, args.peer.as_deref()).await;
            print!("{}", crate::doctor::report(&findings));
            if findings
                .iter()
                .any(|f| f.verdict == crate::doctor::Verdict::Fail)
            {
                anyhow::bail!("the configuration has problems (FAIL above)");
            }
            Ok(())
        }
    }
}

async fn open_store(db: &DbArgs) -> anyhow::Result<Store> {
    let store = Store::connect(&db.url())
        .await
        .context("connecting to the database")?;
    store.migrate().await.context("applying migrations")?;
    Ok(store)
}

async fn serve(db: &DbArgs, args: &ServeArgs) -> anyhow::Result<()> {
    let store = open_store(db).await?;
    let state = app::build_state(store.clone(), args, &db.data_dir)?;
    let bound = app::bind(args.bind).await?;
    app::serve(bound, state, args, app::shutdown_signal()).await?;
    store.close().await;
    Ok(())
}

async fn run_admin(db: &DbArgs, command: AdminCommand) -> anyhow::Result<()> {
    let store = open_store(db).await?;
    let result = match command {
        AdminCommand::CreateUser {
            email,
            first_name,
            last_name,
            role,
        } => {
            let (row, roles) = users::create(
                &store,
                CreateUser {
                    email: &email,
                    first_name: Some(&first_name),
                    last_name: Some(&last_name),
                    picture: None,
                    roles: vec![role],
                },
                SystemClock.now_ms(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            let created = CreatedUser {
                user: row.into(),
                roles: roles.into_iter().map(RoleInfo::from).collect(),
            };
            println!("{}", created.to_json_string());
            Ok(())
        }
        AdminCommand::IssueToken { email, ttl_days } => {
            let (_, normalized) =
                users::normalize_email(&email).map_err(|e| anyhow::anyhow!("{e}"))?;
            let user = store
                .user_by_email(&normalized)
                .await?
                .with_context(|| format!("no user with email {email}"))?;
            let ttl_ms = i64::from(ttl_days.max(1)) * 24 * 3600 * 1000;
            let created = sessions::create(
                &store,
                &user.id,
                ttl_ms,
                Some("parchment-server admin issue-token"),
                None,
                SystemClock.now_ms(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", created.token);
            Ok(())
        }
        AdminCommand::Federation(FederationCommand::Unpin { domain }) => {
            let host = domain.trim().to_ascii_lowercase();
            if store.unpin_peer(&host).await? {
                tracing::warn!(peer = %host, "peer server pin removed by the operator");
                println!("unpinned {host}; its next manifest will be pinned");
            } else {
                println!("no pin for {host}");
            }
            Ok(())
        }
    };
    store.close().await;
    result
}
