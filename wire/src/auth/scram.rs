//! The server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it: no channel
//! binding (there is no TLS yet), the user name taken from the startup packet, 4096 PBKDF2
//! iterations.
//!
//! Passwords are used as UTF-8 bytes without SASLprep normalisation, which is the same thing for
//! ASCII passwords. The client's proof is checked in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The one mechanism offered.
pub const MECHANISM: &str = "SCRAM-SHA-256";
/// PostgreSQL's default `scram_iterations`.
pub const ITERATIONS: u32 = 4096;
const SALT_LEN: usize = 16;
/// PostgreSQL's SCRAM_RAW_NONCE_LEN.
const NONCE_LEN: usize = 18;
/// SHA-256's input block: HMAC keys are padded or hashed to this length.
const HMAC_BLOCK: usize = 64;
type Key = [u8; 32];

/// What the server keeps of a password: enough to verify a proof, not enough to log in with.
#[derive(Clone)]
pub struct ScramSecret {
    salt: Vec<u8>,
    iterations: u32,
    stored_key: Key,
    server_key: Key,
}

impl std::fmt::Debug for ScramSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ScramSecret(..)")
    }
}

impl ScramSecret {
    pub fn new(password: &str, salt: &[u8], iterations: u32) -> ScramSecret {
        let salted = salted_password(password.as_bytes(), salt, iterations);
        let client_key = hmac(&salted, &[b"Client Key"]);
        ScramSecret {
            salt: salt.to_vec(),
            iterations,
            stored_key: Sha256::digest(client_key).into(),
            server_key: hmac(&salted, &[b"Server Key"]),
        }
    }

    /// A secret for `password` with a fresh random salt.
    pub fn generate(password: &str) -> ScramSecret {
        let mut salt = [0u8; SALT_LEN];
        rand::rng().fill_bytes(&mut salt);
        ScramSecret::new(password, &salt, ITERATIONS)
    }

    /// A secret no password matches, for users that have none.
    pub fn decoy() -> ScramSecret {
        let mut secret = ScramSecret::generate("");
        rand::rng().fill_bytes(&mut secret.stored_key);
        secret
    }
}

/// `Hi()` of RFC 5802: PBKDF2-HMAC-SHA-256 with one block of output.
pub fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> Key {
    let mut u = hmac(password, &[salt, &1u32.to_be_bytes()]);
    let mut result = u;
    for _ in 1..iterations {
        u = hmac(password, &[&u]);
        result.iter_mut().zip(u).for_each(|(r, x)| *r ^= x);
    }
    result
}

/// HMAC-SHA-256 of the concatenated `parts`.
pub fn hmac(key: &[u8], parts: &[&[u8]]) -> Key {
    // HMAC pads a short key with zeros to the block size and hashes a long one first; doing it
    // here gives a key of exactly the block size, which cannot fail to initialise the MAC.
    let mut block = [0u8; HMAC_BLOCK];
    if key.len() > HMAC_BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Why an exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    /// The client broke the SCRAM message syntax (08P01).
    #[error("malformed SCRAM message: {0}")]
    Malformed(&'static str),
    /// The proof is wrong: wrong password (28P01).
    #[error("password does not match")]
    WrongPassword,
}

/// One exchange: client-first → server-first, client-final → server-final.
pub struct ScramServer<'a> {
    secret: &'a ScramSecret,
    state: State,
}

enum State {
    AwaitClientFirst,
    AwaitClientFinal {
        /// `client-first-message-bare ,server-first-message ,` — the AuthMessage prefix.
        auth_prefix: String,
        gs2_header: String,
        nonce: String,
    },
    Done,
}

impl<'a> ScramServer<'a> {
    pub fn new(secret: &'a ScramSecret) -> ScramServer<'a> {
        ScramServer {
            secret,
            state: State::AwaitClientFirst,
        }
    }

    /// Answer `client-first-message` (`n,,n=user,r=nonce`) with `server-first-message`.
    pub fn server_first(&mut self, client_first: &[u8]) -> Result<String, ScramError> {
        if !matches!(self.state, State::AwaitClientFirst) {
            return Err(ScramError::Malformed("unexpected client-first-message"));
        }
        let text =
            std::str::from_utf8(client_first).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        let (gs2_header, bare) = split_gs2_header(text)?;
        let client_nonce = parse_client_first_bare(bare)?;
        let mut raw = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut raw);
        let nonce = format!("{client_nonce}{}", BASE64.encode(raw));
        let server_first = format!(
            "r={nonce},s={},i={}",
            BASE64.encode(&self.secret.salt),
            self.secret.iterations
        );
        self.state = State::AwaitClientFinal {
            auth_prefix: format!("{bare},{server_first},"),
            gs2_header: gs2_header.to_string(),
            nonce,
        };
        Ok(server_first)
    }

    /// Check `client-final-message` (`c=biws,r=nonce,p=proof`) and answer with
    /// `server-final-message` (`v=signature`).
    pub fn server_final(&mut self, client_final: &[u8]) -> Result<String, ScramError> {
        let State::AwaitClientFinal {
            auth_prefix,
            gs2_header,
            nonce,
        } = std::mem::replace(&mut self.state, State::Done)
        else {
            return Err(ScramError::Malformed("unexpected client-final-message"));
        };
        let text =
            std::str::from_utf8(client_final).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or(ScramError::Malformed("missing proof"))?;
        let mut attrs = without_proof.split(',');
        let binding = attribute(attrs.next(), 'c')?;
        if BASE64.decode(binding).ok().as_deref() != Some(gs2_header.as_bytes()) {
            return Err(ScramError::Malformed("channel binding data does not match"));
        }
        if attribute(attrs.next(), 'r')? != nonce {
            return Err(ScramError::Malformed("nonce does not match"));
        }
        let proof: Key = BASE64
            .decode(proof)
            .ok()
            .and_then(|p| p.try_into().ok())
            .ok_or(ScramError::Malformed("invalid proof"))?;
        let auth_message = format!("{auth_prefix}{without_proof}");
        let signature = hmac(&self.secret.stored_key, &[auth_message.as_bytes()]);
        let mut client_key = proof;
        client_key
            .iter_mut()
            .zip(signature)
            .for_each(|(k, s)| *k ^= s);
        let candidate: Key = Sha256::digest(client_key).into();
        if !constant_time_eq(&candidate, &self.secret.stored_key) {
            return Err(ScramError::WrongPassword);
        }
        let server_signature = hmac(&self.secret.server_key, &[auth_message.as_bytes()]);
        Ok(format!("v={}", BASE64.encode(server_signature)))
    }
}

/// Split off the GS2 header (`n,,` or `y,,`, optionally with `a=authzid`). `p=` asks for
/// channel binding, which is not offered without TLS.
fn split_gs2_header(text: &str) -> Result<(&str, &str), ScramError> {
    let flag_end = text
        .find(',')
        .ok_or(ScramError::Malformed("missing GS2 header"))?;
    match &text[..flag_end] {
        "n" | "y" => {}
        flag if flag.starts_with("p=") => {
            return Err(ScramError::Malformed(
                "the client selected channel binding, which this server does not support",
            ));
        }
        _ => return Err(ScramError::Malformed("invalid channel binding flag")),
    }
    let authzid_end = text[flag_end + 1..]
        .find(',')
        .map(|i| flag_end + 1 + i)
        .ok_or(ScramError::Malformed("missing GS2 header"))?;
    let authzid = &text[flag_end + 1..authzid_end];
    if !authzid.is_empty() && !authzid.starts_with("a=") {
        return Err(ScramError::Malformed("invalid authorization identity"));
    }
    Ok((&text[..=authzid_end], &text[authzid_end + 1..]))
}

/// `n=user,r=nonce[,extensions]`: the user name is ignored (the startup packet's counts, as in
/// PostgreSQL); returns the client nonce.
fn parse_client_first_bare(bare: &str) -> Result<&str, ScramError> {
    let mut attrs = bare.split(',');
    let first = attrs.next().unwrap_or_default();
    if first.starts_with("m=") {
        return Err(ScramError::Malformed("unsupported mandatory extension"));
    }
    attribute(Some(first), 'n')?;
    let nonce = attribute(attrs.next(), 'r')?;
    let printable = |c: char| c.is_ascii_graphic() && c != ',';
    if nonce.is_empty() || !nonce.chars().all(printable) {
        return Err(ScramError::Malformed("invalid nonce"));
    }
    Ok(nonce)
}

/// The value of `name=value`, which must be present and named `name`.
fn attribute(part: Option<&str>, name: char) -> Result<&str, ScramError> {
    part.and_then(|p| p.strip_prefix(name))
        .and_then(|p| p.strip_prefix('='))
        .ok_or(ScramError::Malformed("unexpected attribute"))
}

fn constant_time_eq(a: &Key, b: &Key) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a client computes (RFC 5802 §3), to drive the server in tests.
    fn client_final(password: &str, client_first_bare: &str, server_first: &str) -> String {
        let attrs: Vec<&str> = server_first.split(',').collect();
        let nonce = &attrs[0][2..];
        let salt = BASE64.decode(&attrs[1][2..]).unwrap();
        let iterations: u32 = attrs[2][2..].parse().unwrap();
        let salted = salted_password(password.as_bytes(), &salt, iterations);
        let client_key = hmac(&salted, &[b"Client Key"]);
        let stored_key: Key = Sha256::digest(client_key).into();
        let without_proof = format!("c=biws,r={nonce}");
        let auth = format!("{client_first_bare},{server_first},{without_proof}");
        let signature = hmac(&stored_key, &[auth.as_bytes()]);
        let mut proof = client_key;
        proof.iter_mut().zip(signature).for_each(|(p, s)| *p ^= s);
        format!("{without_proof},p={}", BASE64.encode(proof))
    }

    fn exchange(secret: &ScramSecret, password: &str) -> Result<String, ScramError> {
        let mut server = ScramServer::new(secret);
        let server_first = server.server_first(b"n,,n=,r=rOprNGfwEbeRWgbNEkqO")?;
        assert!(server_first.starts_with("r=rOprNGfwEbeRWgbNEkqO"));
        let last = client_final(password, "n=,r=rOprNGfwEbeRWgbNEkqO", &server_first);
        server.server_final(last.as_bytes())
    }

    #[test]
    fn right_password_verifies_and_signs() {
        let secret = ScramSecret::generate("pencil");
        let reply = exchange(&secret, "pencil").unwrap();
        assert!(reply.starts_with("v="));
    }

    #[test]
    fn wrong_password_fails() {
        let secret = ScramSecret::generate("pencil");
        assert_eq!(exchange(&secret, "pen"), Err(ScramError::WrongPassword));
        assert_eq!(
            exchange(&ScramSecret::decoy(), ""),
            Err(ScramError::WrongPassword)
        );
    }

    /// RFC 7677's test vector: user "user", password "pencil".
    #[test]
    fn rfc7677_vector() {
        let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let secret = ScramSecret::new("pencil", &salt, 4096);
        let bare = "n=user,r=rOprNGfwEbeRWgbNEkqO";
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let final_msg = client_final("pencil", bare, server_first);
        assert_eq!(
            final_msg,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        let auth = format!(
            "{bare},{server_first},c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
        );
        let v = BASE64.encode(hmac(&secret.server_key, &[auth.as_bytes()]));
        assert_eq!(v, "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    }

    #[test]
    fn malformed_messages_are_rejected() {
        let secret = ScramSecret::generate("x");
        for bad in [
            &b""[..],
            b"n",
            b"x,,n=,r=abc",
            b"p=tls-server-end-point,,n=,r=abc",
            b"n,,r=abc",
            b"n,,n=,r=",
            b"n,,m=ext,n=,r=abc",
            b"n,,n=,r=a\xffb",
        ] {
            assert!(
                matches!(
                    ScramServer::new(&secret).server_first(bad),
                    Err(ScramError::Malformed(_))
                ),
                "{bad:?}"
            );
        }
        let mut server = ScramServer::new(&secret);
        server.server_first(b"n,,n=,r=abc").unwrap();
        assert!(matches!(
            server.server_final(b"c=biws,r=wrong,p=AAAA"),
            Err(ScramError::Malformed(_))
        ));
        assert!(matches!(
            server.server_final(b"c=biws"),
            Err(ScramError::Malformed(_))
        ));
    }
}
