//! Who may connect: trust by default, SCRAM-SHA-256 when passwords are configured.
//!
//! Holds the per-user SCRAM secrets (salted and hashed once at start-up, never the passwords)
//! and the server side of the SCRAM exchange. Must never log or keep a password or a proof.

pub mod scram;

use scram::ScramSecret;
use std::collections::HashMap;

/// How clients authenticate.
#[derive(Debug, Default)]
pub struct AuthConfig {
    /// Secrets of the users named in a users file.
    users: HashMap<String, ScramSecret>,
    /// The secret of `--password`, for every user not in `users`.
    everyone: Option<ScramSecret>,
}

/// What a connecting user must do.
#[derive(Debug)]
pub enum Method<'a> {
    /// No password configured: everyone is let in.
    Trust,
    /// Prove knowledge of this secret. `known` is false for a user that has no password: the
    /// exchange is still run (against a random secret, so it fails), so that a client cannot
    /// tell unknown users from wrong passwords.
    Scram {
        secret: &'a ScramSecret,
        known: bool,
    },
}

impl AuthConfig {
    /// Trust every client.
    pub fn trust() -> AuthConfig {
        AuthConfig::default()
    }

    /// `--password` (for every user) and/or `users` (`user`, `password` pairs, which win).
    pub fn with_passwords(everyone: Option<&str>, users: &[(String, String)]) -> AuthConfig {
        AuthConfig {
            users: users
                .iter()
                .map(|(user, password)| (user.clone(), ScramSecret::generate(password)))
                .collect(),
            everyone: everyone.map(ScramSecret::generate),
        }
    }

    pub fn is_trust(&self) -> bool {
        self.users.is_empty() && self.everyone.is_none()
    }

    /// How `user` authenticates; `decoy` is the secret to run the exchange against when the user
    /// has none.
    pub fn method<'a>(&'a self, user: &str, decoy: &'a ScramSecret) -> Method<'a> {
        if self.is_trust() {
            return Method::Trust;
        }
        match self.users.get(user).or(self.everyone.as_ref()) {
            Some(secret) => Method::Scram {
                secret,
                known: true,
            },
            None => Method::Scram {
                secret: decoy,
                known: false,
            },
        }
    }
}

/// Parse a users file: one `user:password` per line (split at the first colon); blank lines and
/// lines starting with `#` are skipped.
pub fn parse_users_file(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut users = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        match line.split_once(':') {
            Some((user, password)) if !user.is_empty() => {
                users.push((user.to_string(), password.to_string()));
            }
            _ => {
                return Err(format!("line {}: expected user:password", number + 1));
            }
        }
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_file_lines() {
        let users = parse_users_file("# admins\nalice:s3cret\n\nbob:pa:ss\r\n").unwrap();
        assert_eq!(
            users,
            vec![
                ("alice".to_string(), "s3cret".to_string()),
                ("bob".to_string(), "pa:ss".to_string())
            ]
        );
        assert!(parse_users_file("nocolon").is_err());
        assert!(parse_users_file(":pw").is_err());
    }

    #[test]
    fn method_per_user() {
        let decoy = ScramSecret::generate("decoy");
        assert!(matches!(
            AuthConfig::trust().method("x", &decoy),
            Method::Trust
        ));
        let users = vec![("alice".to_string(), "a".to_string())];
        let only_file = AuthConfig::with_passwords(None, &users);
        assert!(matches!(
            only_file.method("alice", &decoy),
            Method::Scram { known: true, .. }
        ));
        assert!(matches!(
            only_file.method("mallory", &decoy),
            Method::Scram { known: false, .. }
        ));
        let both = AuthConfig::with_passwords(Some("pw"), &users);
        assert!(matches!(
            both.method("mallory", &decoy),
            Method::Scram { known: true, .. }
        ));
    }
}
