//! The `omendb` server: command-line options and the connection handler the shard runtime calls
//! for every accepted socket.
//!
//! Must never let one connection's failure reach another: a connection's errors end that
//! connection only, and are logged, not propagated.

use crate::auth::{AuthConfig, parse_users_file};
use crate::session::{self, EngineConnector, WireConfig};
use omendb_engine::ShardRef;
use omendb_engine::runtime::TcpStream;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

pub const USAGE: &str = "\
Usage: omendb [OPTIONS]

Options:
  --port PORT        TCP port to listen on (default 5432)
  --listen ADDR      IP address to listen on, localhost, or * for all (default 127.0.0.1)
  --data-dir DIR     data directory (default ./omendb-data)
  --shards N         shards, one per core (default: number of cores)
  --sync on|off      on: a commit is acknowledged after its WAL records are fdatasync'ed (default);
                     off: acknowledged before (benchmarks only; a crash loses recent commits)
  --password PW      require SCRAM-SHA-256 authentication with this password for every user
  --users FILE       require SCRAM-SHA-256 authentication; FILE has one user:password per line
  --index KIND       primary-key index: learned (default), btree or static-learned
  --log LEVEL        log filter: error, warn, info, debug, trace or a tracing directive (default info)
  -h, --help         print this help
  -V, --version      print the version
";

/// What the command line asks for.
#[derive(Debug, PartialEq)]
pub enum Command {
    Serve(Options),
    Help,
    Version,
}

/// The server's settings, each with its default.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub port: u16,
    pub listen: IpAddr,
    pub data_dir: PathBuf,
    /// `None`: one per core.
    pub shards: Option<usize>,
    /// fdatasync the WAL before acknowledging a commit.
    pub sync: bool,
    pub password: Option<String>,
    pub users_file: Option<PathBuf>,
    pub log: String,
    /// The row store's primary-key index.
    pub index: omendb_learned::index::IndexKind,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            port: 5432,
            listen: IpAddr::from([127, 0, 0, 1]),
            data_dir: PathBuf::from("./omendb-data"),
            shards: None,
            sync: true,
            password: None,
            users_file: None,
            log: "info".to_string(),
            index: omendb_learned::index::IndexKind::default(),
        }
    }
}

impl Options {
    pub fn address(&self) -> SocketAddr {
        SocketAddr::new(self.listen, self.port)
    }

    /// The authentication these options ask for (reads the users file).
    pub fn auth(&self) -> Result<AuthConfig, String> {
        let users = match &self.users_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read users file {}: {e}", path.display()))?;
                parse_users_file(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => Vec::new(),
        };
        if self.password.is_none() && users.is_empty() {
            return Ok(AuthConfig::trust());
        }
        Ok(AuthConfig::with_passwords(self.password.as_deref(), &users))
    }
}

/// Parse the arguments after the program name. `--flag value` and `--flag=value` both work.
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Command, String> {
    let mut options = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--port" => options.port = parse_value(&flag, &value()?)?,
            "--listen" => options.listen = parse_listen(&value()?)?,
            "--data-dir" => options.data_dir = PathBuf::from(value()?),
            "--shards" => {
                let shards: usize = parse_value(&flag, &value()?)?;
                if shards == 0 {
                    return Err("--shards must be at least 1".into());
                }
                options.shards = Some(shards);
            }
            "--sync" => {
                options.sync = match value()?.as_str() {
                    "on" => true,
                    "off" => false,
                    other => return Err(format!("--sync must be on or off, not {other:?}")),
                }
            }
            "--password" => options.password = Some(value()?),
            "--users" => options.users_file = Some(PathBuf::from(value()?)),
            "--log" => options.log = value()?,
            "--index" => {
                use omendb_learned::index::IndexKind;
                options.index = match value()?.as_str() {
                    "learned" => IndexKind::Learned,
                    "btree" => IndexKind::BTree,
                    "static-learned" => IndexKind::StaticLearned,
                    other => {
                        return Err(format!(
                            "--index must be learned, btree or static-learned, not {other}"
                        ));
                    }
                };
            }
            _ => return Err(format!("unknown option {arg}")),
        }
    }
    Ok(Command::Serve(options))
}

/// An IP address, or `localhost` / `*` (every IPv4 interface) as PostgreSQL's
/// `listen_addresses` accepts them.
fn parse_listen(value: &str) -> Result<IpAddr, String> {
    match value {
        "localhost" => Ok(IpAddr::from([127, 0, 0, 1])),
        "*" => Ok(IpAddr::from([0, 0, 0, 0])),
        _ => parse_value("--listen", value),
    }
}

fn parse_value<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("invalid value for {flag}: {value:?}"))
}

/// Serve one accepted connection with a session on `shard`. Logs how it ended.
pub async fn handle_connection(shard: ShardRef, stream: TcpStream, config: Arc<WireConfig>) {
    let peer = stream.peer_addr().ok();
    let connector = EngineConnector { shard };
    match session::run(stream, &connector, &config).await {
        Ok(()) => tracing::debug!(?peer, "connection closed"),
        Err(e) => tracing::debug!(?peer, "connection ended: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults() {
        assert_eq!(
            parse_args(args(&[])),
            Ok(Command::Serve(Options::default()))
        );
    }

    #[test]
    fn every_flag() {
        let got = parse_args(args(&[
            "--port",
            "6000",
            "--listen=0.0.0.0",
            "--data-dir",
            "/tmp/x",
            "--shards=3",
            "--sync=off",
            "--password",
            "pw",
            "--users",
            "u.txt",
            "--log",
            "debug",
        ]))
        .unwrap();
        let Command::Serve(o) = got else {
            panic!("{got:?}")
        };
        assert_eq!(o.port, 6000);
        assert_eq!(o.listen, IpAddr::from([0, 0, 0, 0]));
        assert_eq!(o.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(o.shards, Some(3));
        assert!(!o.sync);
        assert_eq!(o.password.as_deref(), Some("pw"));
        assert_eq!(o.users_file, Some(PathBuf::from("u.txt")));
        assert_eq!(o.log, "debug");
    }

    #[test]
    fn bad_flags_are_errors() {
        for bad in [
            &["--port"][..],
            &["--port", "x"],
            &["--port", "70000"],
            &["--listen", "example.com"],
            &["--shards", "0"],
            &["--sync", "maybe"],
            &["--frobnicate"],
            &["stray"],
        ] {
            assert!(parse_args(args(bad)).is_err(), "{bad:?}");
        }
        let Ok(Command::Serve(o)) = parse_args(args(&["--listen", "*"])) else {
            panic!()
        };
        assert_eq!(o.listen, IpAddr::from([0, 0, 0, 0]));
        assert_eq!(parse_args(args(&["--help"])), Ok(Command::Help));
        assert_eq!(parse_args(args(&["-V"])), Ok(Command::Version));
    }
}
