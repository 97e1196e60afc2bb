//! From the first byte to the first ReadyForQuery: SSL/GSS refusal, CancelRequest, protocol
//! version negotiation, authentication, startup parameters, ParameterStatus and BackendKeyData.

use super::io::Io;
use super::reply;
use super::{Backend, Connector, WireConfig};
use crate::auth::Method;
use crate::auth::scram::{MECHANISM, ScramError, ScramSecret, ScramServer};
use crate::codec::{Cursor, Decoded, FrontendMessage};
use crate::error::WireError;
use bytes::BufMut;
use futures_lite::{AsyncRead, AsyncWrite};
use pgwire::messages::SslNegotiationMetaMessage;
use pgwire::messages::startup::{
    Authentication, BackendKeyData, NegotiateProtocolVersion, PasswordMessageFamily, SecretKey,
    Startup,
};

/// The reply to SSLRequest and GSSENCRequest: not supported (yet).
const REFUSE_ENCRYPTION: u8 = b'N';
/// Protocol 3.0, the newest version OmenDB speaks, as NegotiateProtocolVersion reports it.
const PROTOCOL_3_0: i32 = 3 << 16;
/// Startup parameters that name protocol extensions.
const PROTOCOL_OPTION_PREFIX: &str = "_pq_.";

/// Settings reported with ParameterStatus at startup (PostgreSQL's GUC_REPORT set), with the
/// value used when the backend does not know the setting.
fn reported_settings(config: &WireConfig, user: &str) -> [(&'static str, String); 13] {
    [
        ("application_name", String::new()),
        ("client_encoding", "UTF8".into()),
        ("DateStyle", "ISO, MDY".into()),
        ("default_transaction_read_only", "off".into()),
        ("in_hot_standby", "off".into()),
        ("integer_datetimes", "on".into()),
        ("IntervalStyle", "postgres".into()),
        ("is_superuser", "on".into()),
        ("server_encoding", "UTF8".into()),
        ("server_version", config.server_version.clone()),
        ("session_authorization", user.to_string()),
        ("standard_conforming_strings", "on".into()),
        ("TimeZone", String::new()),
    ]
}

/// The startup packet: who connects, and the settings to apply.
pub(crate) struct StartupRequest {
    pub user: String,
    pub database: String,
    pub parameters: Vec<(String, String)>,
}

/// Read until a StartupMessage; answers SSL/GSS requests and handles a CancelRequest. `None`:
/// the connection is done (cancel handled, or the client went away).
pub(crate) async fn read_startup<S, C>(
    io: &mut Io<S>,
    connector: &C,
) -> Result<Option<StartupRequest>, WireError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: Connector,
{
    loop {
        let message = match io.next().await? {
            None => return Ok(None),
            Some(Decoded::Message(message)) => message,
            Some(Decoded::Malformed { error, .. }) => return Err(error),
        };
        match message {
            FrontendMessage::SslNegotiation(
                SslNegotiationMetaMessage::PostgresSsl(_)
                | SslNegotiationMetaMessage::PostgresGss(_),
            ) => {
                io.out.put_u8(REFUSE_ENCRYPTION);
                io.flush().await?;
            }
            FrontendMessage::SslNegotiation(SslNegotiationMetaMessage::None) => {}
            FrontendMessage::CancelRequest(cancel) => {
                if let Some(secret) = cancel.secret_key.as_i32() {
                    connector.cancel(cancel.pid, secret);
                }
                return Ok(None);
            }
            FrontendMessage::Startup(startup) => return startup_request(io, startup).map(Some),
            _ => return Err(WireError::Protocol("expected a startup message".into())),
        }
    }
}

/// Check the packet and answer a newer protocol minor version or `_pq_.` options with
/// NegotiateProtocolVersion (we speak 3.0 and no extensions).
fn startup_request<S>(io: &mut Io<S>, startup: Startup) -> Result<StartupRequest, WireError> {
    let mut user = None;
    let mut database = None;
    let mut parameters = Vec::new();
    let mut unsupported = Vec::new();
    for (name, value) in startup.parameters {
        match name.as_str() {
            "user" => user = Some(value),
            "database" => database = Some(value),
            "replication" => {
                if !matches!(value.as_str(), "false" | "off" | "no" | "0") {
                    return Err(WireError::fatal(
                        "0A000",
                        "replication connections are not supported",
                    ));
                }
            }
            _ if name.starts_with(PROTOCOL_OPTION_PREFIX) => unsupported.push(name),
            _ => parameters.push((name, value)),
        }
    }
    if startup.protocol_number_minor > 0 || !unsupported.is_empty() {
        let negotiate = NegotiateProtocolVersion::new(PROTOCOL_3_0, unsupported);
        crate::codec::encode(&mut io.out, &negotiate)?;
    }
    let user = user.filter(|u| !u.is_empty()).ok_or_else(|| {
        WireError::fatal(
            "28000",
            "no PostgreSQL user name specified in startup packet",
        )
    })?;
    let database = database
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| user.clone());
    Ok(StartupRequest {
        user,
        database,
        parameters,
    })
}

/// Authenticate `user`; `Ok(false)` when the client went away mid-exchange (psql does that to
/// prompt for a password, then reconnects).
pub(crate) async fn authenticate<S>(
    io: &mut Io<S>,
    config: &WireConfig,
    user: &str,
) -> Result<bool, WireError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let decoy;
    let method = if config.auth.is_trust() {
        Method::Trust
    } else {
        decoy = ScramSecret::decoy();
        config.auth.method(user, &decoy)
    };
    let (secret, known) = match method {
        Method::Trust => return Ok(true),
        Method::Scram { secret, known } => (secret, known),
    };
    crate::codec::encode(
        &mut io.out,
        &Authentication::SASL(vec![MECHANISM.to_string()]),
    )?;
    io.flush().await?;
    let Some(initial) = password_message(io).await? else {
        return Ok(false);
    };
    let client_first = sasl_initial_response(&initial)?;
    let mut server = ScramServer::new(secret);
    let server_first = server
        .server_first(client_first)
        .map_err(scram_error(user))?;
    let continuation = Authentication::SASLContinue(server_first.into_bytes().into());
    crate::codec::encode(&mut io.out, &continuation)?;
    io.flush().await?;
    let Some(client_final) = password_message(io).await? else {
        return Ok(false);
    };
    let server_final = server
        .server_final(&client_final)
        .map_err(scram_error(user))?;
    if !known {
        return Err(WireError::AuthFailed(user.to_string()));
    }
    let done = Authentication::SASLFinal(server_final.into_bytes().into());
    crate::codec::encode(&mut io.out, &done)?;
    Ok(true)
}

fn scram_error(user: &str) -> impl Fn(ScramError) -> WireError + '_ {
    move |e| match e {
        ScramError::WrongPassword => WireError::AuthFailed(user.to_string()),
        ScramError::Malformed(_) => WireError::fatal("08P01", e.to_string()),
    }
}

/// The body of the next password-family ('p') message; `None` at end of stream.
async fn password_message<S>(io: &mut Io<S>) -> Result<Option<Vec<u8>>, WireError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    match io.next().await? {
        None => Ok(None),
        Some(Decoded::Message(FrontendMessage::PasswordMessageFamily(
            PasswordMessageFamily::Raw(body),
        ))) => Ok(Some(body.to_vec())),
        Some(Decoded::Malformed { error, .. }) => Err(error),
        Some(Decoded::Message(_)) => Err(WireError::fatal(
            "08P01",
            "expected SASL response, got another message type",
        )),
    }
}

/// SASLInitialResponse: mechanism name, then the length-prefixed client-first-message.
fn sasl_initial_response(body: &[u8]) -> Result<&[u8], WireError> {
    let malformed = |_| WireError::fatal("08P01", "malformed SASLInitialResponse message");
    let mut cur = Cursor::new(body);
    let mechanism = cur.raw_cstr().map_err(malformed)?;
    if mechanism != MECHANISM.as_bytes() {
        return Err(WireError::fatal(
            "08P01",
            "client selected an invalid SASL authentication mechanism",
        ));
    }
    let len = cur.i32().map_err(malformed)?;
    let data = usize::try_from(len)
        .map_err(|_| WireError::fatal("08P01", "malformed SASLInitialResponse message"))
        .and_then(|len| cur.bytes(len).map_err(malformed))?;
    cur.end().map_err(malformed)?;
    Ok(data)
}

/// Apply the startup parameters, then greet: AuthenticationOk was sent; now ParameterStatus for
/// every reported setting, BackendKeyData and ReadyForQuery.
pub(crate) fn start_session<B: Backend>(
    io_out: &mut bytes::BytesMut,
    backend: &mut B,
    config: &WireConfig,
    request: &StartupRequest,
) -> Result<(), WireError> {
    for (name, value) in &request.parameters {
        if name == "options" {
            for (name, value) in split_options(value)? {
                apply(backend, &name, &value)?;
            }
        } else {
            apply(backend, name, value)?;
        }
    }
    // The backend's reported settings, then PostgreSQL's GUC_REPORT settings it does not have.
    let mut reported = backend.reported_settings();
    for (name, default) in reported_settings(config, &request.user) {
        if !reported.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            let value = backend.setting(name).unwrap_or_else(|| match name {
                "TimeZone" => backend.timezone().name().to_string(),
                _ => default,
            });
            reported.push((name.to_string(), value));
        }
    }
    for (name, value) in &reported {
        reply::parameter_status(io_out, name, value)?;
    }
    // Settings the startup parameters changed are already in the list above.
    backend.take_changed_parameters();
    let (pid, secret) = backend.backend_key();
    crate::codec::encode(io_out, &BackendKeyData::new(pid, SecretKey::I32(secret)))?;
    reply::ready_for_query(io_out, backend.txn_status());
    Ok(())
}

fn apply<B: Backend>(backend: &mut B, name: &str, value: &str) -> Result<(), WireError> {
    backend
        .apply_startup_parameter(name, value)
        .map_err(|e| WireError::fatal(e.sqlstate(), e.to_string()))
}

/// The `options` startup parameter as PostgreSQL reads it: words split at whitespace (a
/// backslash escapes the next character), each `-c name=value`, `-cname=value` or
/// `--name=value`; dashes in names become underscores.
pub fn split_options(options: &str) -> Result<Vec<(String, String)>, WireError> {
    let words = split_words(options);
    let mut settings = Vec::new();
    let mut words = words.iter();
    while let Some(word) = words.next() {
        let setting = if word == "-c" {
            words.next().map(String::as_str)
        } else if let Some(rest) = word.strip_prefix("--") {
            Some(rest)
        } else {
            word.strip_prefix("-c")
        };
        let Some((name, value)) = setting
            .filter(|s| !s.is_empty())
            .and_then(|s| s.split_once('='))
        else {
            return Err(WireError::fatal(
                "42601",
                format!("invalid command-line argument for server process: {word}"),
            ));
        };
        settings.push((name.replace('-', "_"), value.to_string()));
    }
    Ok(settings)
}

fn split_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            c if c.is_whitespace() => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_split_like_postgres() {
        let got =
            split_options("-c search_path=public  --statement-timeout=5s -cDateStyle=ISO,\\ DMY")
                .unwrap();
        assert_eq!(
            got,
            vec![
                ("search_path".to_string(), "public".to_string()),
                ("statement_timeout".to_string(), "5s".to_string()),
                ("DateStyle".to_string(), "ISO, DMY".to_string()),
            ]
        );
        assert!(split_options("-d 5").is_err());
        assert!(split_options("-c").is_err());
        assert!(split_options("-c novalue").is_err());
        assert_eq!(split_options("  ").unwrap(), vec![]);
    }
}
