//! Connections to the server under test (any PostgreSQL-wire server).
//!
//! Owns connecting, creating the target database when it does not exist yet (so PostgreSQL runs
//! keep their TPC-H tables apart from other users of the same instance), and asking the server
//! what it is. It must never change server settings.

use anyhow::{Context, Result};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Config, NoTls};

/// A new connection whose connection task runs on the current tokio runtime.
pub async fn connect(url: &str) -> Result<Client> {
    let config: Config = url
        .parse()
        .with_context(|| format!("{url} is not a connection URL"))?;
    connect_config(&config)
        .await
        .with_context(|| format!("connect to {url}"))
}

async fn connect_config(config: &Config) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        // The connection ends with an error when the server closes it; the client's next call
        // reports that error, so nothing is lost by dropping it here.
        let _ = connection.await;
    });
    Ok(client)
}

/// Connects to `url`; when its database does not exist, creates it through the server's
/// `postgres` database first.
pub async fn connect_creating_db(url: &str) -> Result<Client> {
    let config: Config = url
        .parse()
        .with_context(|| format!("{url} is not a connection URL"))?;
    match connect_config(&config).await {
        Ok(client) => Ok(client),
        Err(e) if e.code() == Some(&SqlState::INVALID_CATALOG_NAME) => {
            let db = config.get_dbname().unwrap_or("postgres").to_owned();
            let mut admin = config.clone();
            admin.dbname("postgres");
            let client = connect_config(&admin)
                .await
                .with_context(|| format!("connect to {url} (database postgres)"))?;
            let quoted = db.replace('"', "\"\"");
            client
                .batch_execute(&format!("CREATE DATABASE \"{quoted}\""))
                .await
                .with_context(|| format!("create database {db}"))?;
            connect(url).await
        }
        Err(e) => Err(e).with_context(|| format!("connect to {url}")),
    }
}

/// The server's `version()` text, or `SHOW server_version` where `version()` is missing.
pub async fn server_version(client: &Client) -> String {
    for query in ["SELECT version()", "SHOW server_version"] {
        if let Ok(messages) = client.simple_query(query).await {
            let answer = super::answer::Answer::from_messages(&messages);
            if let Some(Some(v)) = answer.rows.first().and_then(|r| r.first()) {
                return v.clone();
            }
        }
    }
    "unknown".to_owned()
}

/// Whether the server says it is PostgreSQL itself (for reports only).
pub fn is_postgresql(version: &str) -> bool {
    version.starts_with("PostgreSQL") && !version.contains("OmenDB")
}
