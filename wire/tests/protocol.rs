//! The protocol state machine against a scripted backend: startup variations, SCRAM, simple and
//! extended query, errors, pipelining and malformed input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod protocol_support;

use omendb_wire::WireConfig;
use omendb_wire::auth::AuthConfig;
use protocol_support::*;

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------- startup

#[test]
fn trust_startup_reports_parameters_and_key() {
    let (out, result, log) = exchange(&startup(&[
        ("user", "alice"),
        ("database", "shop"),
        ("application_name", "psql"),
        ("TimeZone", "UTC"),
        ("options", "-c search_path=public"),
    ]));
    result.unwrap();
    assert_eq!(out[0], "R0");
    for expected in [
        "S application_name=psql",
        "S client_encoding=UTF8",
        "S DateStyle=ISO, MDY",
        "S integer_datetimes=on",
        "S IntervalStyle=postgres",
        "S is_superuser=on",
        "S server_encoding=UTF8",
        "S session_authorization=alice",
        "S standard_conforming_strings=on",
        "S TimeZone=UTC",
    ] {
        assert!(out.iter().any(|m| m == expected), "{expected} in {out:?}");
    }
    let version = out
        .iter()
        .find(|m| m.starts_with("S server_version="))
        .unwrap();
    assert!(version.starts_with("S server_version=15."), "{version}");
    assert_eq!(&out[out.len() - 2..], strs(&["K 4242 777", "Z I"]));
    assert_eq!(log.connected, vec![("alice".into(), "shop".into())]);
    assert_eq!(
        log.startup_parameters,
        vec![
            ("TimeZone".into(), "UTC".into()),
            ("application_name".into(), "psql".into()),
            ("search_path".into(), "public".into()),
        ]
    );
}

#[test]
fn database_defaults_to_user() {
    let (_, result, log) = exchange(&startup(&[("user", "bob")]));
    result.unwrap();
    assert_eq!(log.connected, vec![("bob".into(), "bob".into())]);
}

#[test]
fn missing_user_is_fatal_28000() {
    let (out, result, _) = exchange(&startup(&[("database", "x")]));
    assert!(result.is_err());
    assert_eq!(
        out,
        strs(&["E FATAL 28000 no PostgreSQL user name specified in startup packet"])
    );
}

#[test]
fn ssl_and_gss_requests_are_refused_then_startup_proceeds() {
    let config = WireConfig::new(AuthConfig::trust());
    let (got, result, _) = connect(&config, ScriptConnector::new(), |mut c| async move {
        c.send(&gss_request()).await;
        let gss = c.recv_byte().await;
        c.send(&ssl_request()).await;
        let ssl = c.recv_byte().await;
        c.send(&startup(&[("user", "u")])).await;
        let rest = c.recv_until_ready().await;
        c.send(&terminate()).await;
        (gss, ssl, rest)
    });
    result.unwrap();
    assert_eq!((got.0, got.1), (Some(b'N'), Some(b'N')));
    assert_eq!(got.2.last().unwrap(), "Z I");
}

#[test]
fn newer_minor_version_is_negotiated_down() {
    let (out, result, log) = exchange(&startup_version(
        3,
        2,
        &[("user", "u"), ("_pq_.compression", "on")],
    ));
    result.unwrap();
    assert_eq!(out[0], "v 3.0 _pq_.compression");
    assert_eq!(out[1], "R0");
    assert!(log.startup_parameters.is_empty());
}

#[test]
fn old_protocol_is_refused() {
    let (out, result, _) = exchange(&startup_version(2, 0, &[("user", "u")]));
    assert!(result.is_err());
    assert_eq!(
        out,
        strs(&["E FATAL 0A000 unsupported frontend protocol 2.0: server supports 3.0 to 3.0"])
    );
}

#[test]
fn cancel_request_is_forwarded_and_closes() {
    let (out, result, log) = exchange(&cancel_request(4242, 777));
    result.unwrap();
    assert!(out.is_empty());
    assert_eq!(log.cancels, vec![(4242, 777)]);
    assert!(log.connected.is_empty());
}

#[test]
fn rejected_startup_parameter_is_fatal() {
    let config = WireConfig::new(AuthConfig::trust());
    let mut connector = ScriptConnector::new();
    connector.reject_parameter = Some("bogus".into());
    let (out, result, _) = connect(&config, connector, |mut c| async move {
        c.send(&startup(&[("user", "u"), ("bogus", "1")])).await;
        c.recv_all().await
    });
    assert!(result.is_err());
    assert_eq!(
        out,
        strs(&[
            "R0",
            "E FATAL 42704 unrecognized configuration parameter \"bogus\""
        ])
    );
}

#[test]
fn replication_connections_are_refused() {
    let (out, _, _) = exchange(&startup(&[("user", "u"), ("replication", "database")]));
    assert_eq!(
        out,
        strs(&["E FATAL 0A000 replication connections are not supported"])
    );
}

// ---------------------------------------------------------------- SCRAM

mod scram_client {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;
    use omendb_wire::auth::scram::{hmac, salted_password};
    use sha2::{Digest, Sha256};

    /// client-final-message for `password`, RFC 5802 §3.
    pub fn client_final(password: &str, client_first_bare: &str, server_first: &str) -> String {
        let attrs: Vec<&str> = server_first.split(',').collect();
        let nonce = &attrs[0][2..];
        let salt = B64.decode(&attrs[1][2..]).unwrap();
        let iterations: u32 = attrs[2][2..].parse().unwrap();
        let salted = salted_password(password.as_bytes(), &salt, iterations);
        let client_key = hmac(&salted, &[b"Client Key"]);
        let stored: [u8; 32] = Sha256::digest(client_key).into();
        let without_proof = format!("c=biws,r={nonce}");
        let auth = format!("{client_first_bare},{server_first},{without_proof}");
        let sig = hmac(&stored, &[auth.as_bytes()]);
        let mut proof = client_key;
        proof.iter_mut().zip(sig).for_each(|(p, s)| *p ^= s);
        format!("{without_proof},p={}", B64.encode(proof))
    }

    /// The server signature the client expects in SASLFinal.
    pub fn server_signature(password: &str, auth_message: &str, server_first: &str) -> String {
        let attrs: Vec<&str> = server_first.split(',').collect();
        let salt = B64.decode(&attrs[1][2..]).unwrap();
        let salted = salted_password(password.as_bytes(), &salt, 4096);
        let server_key = hmac(&salted, &[b"Server Key"]);
        format!(
            "v={}",
            B64.encode(hmac(&server_key, &[auth_message.as_bytes()]))
        )
    }
}

fn sasl_initial(mechanism: &str, data: &[u8]) -> Vec<u8> {
    let mut body = mechanism.as_bytes().to_vec();
    body.push(0);
    body.extend_from_slice(&(data.len() as i32).to_be_bytes());
    body.extend_from_slice(data);
    msg(b'p', &body)
}

/// Run a SCRAM login as `user` with `password` against a server with `config`.
fn scram_login(config: &WireConfig, user: &str, password: &str) -> (Vec<String>, bool) {
    let (user, password) = (user.to_string(), password.to_string());
    let (out, result, _) = connect(config, ScriptConnector::new(), |mut c| async move {
        let mut seen = Vec::new();
        c.send(&startup(&[("user", &user)])).await;
        let (kind, body) = c.recv_raw().await.unwrap();
        assert_eq!(kind, b'R');
        assert_eq!(&body[..4], &10i32.to_be_bytes());
        assert_eq!(&body[4..], b"SCRAM-SHA-256\0\0");
        let bare = "n=,r=fyko+d2lbbFgONRv9qkxdawL";
        c.send(&sasl_initial(
            "SCRAM-SHA-256",
            format!("n,,{bare}").as_bytes(),
        ))
        .await;
        let (kind, body) = c.recv_raw().await.unwrap();
        assert_eq!((kind, &body[..4]), (b'R', &11i32.to_be_bytes()[..]));
        let server_first = String::from_utf8(body[4..].to_vec()).unwrap();
        assert!(server_first.starts_with("r=fyko+d2lbbFgONRv9qkxdawL"));
        let last = scram_client::client_final(&password, bare, &server_first);
        c.send(&msg(b'p', last.as_bytes())).await;
        if let Some((kind, body)) = c.recv_raw().await {
            if kind == b'R' && body[..4] == 12i32.to_be_bytes() {
                let without_proof = last.rsplit_once(",p=").unwrap().0;
                let auth = format!("{bare},{server_first},{without_proof}");
                let expected = scram_client::server_signature(&password, &auth, &server_first);
                assert_eq!(String::from_utf8(body[4..].to_vec()).unwrap(), expected);
                seen.push("R12".to_string());
            } else {
                seen.push(render(kind, &body));
            }
        }
        seen.extend(c.recv_until_ready().await);
        c.send(&terminate()).await;
        seen
    });
    (out, result.is_ok())
}

#[test]
fn scram_success() {
    let config = WireConfig::new(AuthConfig::with_passwords(Some("s3cret"), &[]));
    let (out, ok) = scram_login(&config, "alice", "s3cret");
    assert!(ok);
    assert_eq!(&out[..2], strs(&["R12", "R0"]));
    assert_eq!(out.last().unwrap(), "Z I");
}

#[test]
fn scram_wrong_password_is_28p01() {
    let config = WireConfig::new(AuthConfig::with_passwords(Some("s3cret"), &[]));
    let (out, ok) = scram_login(&config, "alice", "guess");
    assert!(!ok);
    assert_eq!(
        out,
        strs(&["E FATAL 28P01 password authentication failed for user \"alice\""])
    );
}

#[test]
fn scram_users_file_and_unknown_user() {
    let users = vec![("alice".to_string(), "a-pw".to_string())];
    let config = WireConfig::new(AuthConfig::with_passwords(None, &users));
    assert!(scram_login(&config, "alice", "a-pw").1);
    // An unknown user runs the whole exchange and fails like a wrong password.
    let (out, ok) = scram_login(&config, "mallory", "a-pw");
    assert!(!ok);
    assert_eq!(
        out,
        strs(&["E FATAL 28P01 password authentication failed for user \"mallory\""])
    );
}

#[test]
fn scram_wrong_mechanism_and_garbage() {
    let config = WireConfig::new(AuthConfig::with_passwords(Some("pw"), &[]));
    for bad in [
        sasl_initial("SCRAM-SHA-1", b"n,,n=,r=abc"),
        sasl_initial("SCRAM-SHA-256", b"p=tls-unique,,n=,r=abc"),
        msg(b'p', b"SCRAM-SHA-256\0\x7f\xff\xff\xff"),
        msg(b'p', b""),
        query("select 1"),
    ] {
        let (out, result, log) = connect(&config, ScriptConnector::new(), |mut c| async move {
            c.send(&startup(&[("user", "u")])).await;
            c.recv().await;
            c.send(&bad).await;
            c.recv_all().await
        });
        assert!(result.is_err());
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(out[0].starts_with("E FATAL 08P01"), "{out:?}");
        assert!(log.connected.is_empty());
    }
}

#[test]
fn client_leaving_during_auth_is_quiet() {
    let config = WireConfig::new(AuthConfig::with_passwords(Some("pw"), &[]));
    let (_, result, log) = connect(&config, ScriptConnector::new(), |mut c| async move {
        c.send(&startup(&[("user", "u")])).await;
        c.recv().await
    });
    result.unwrap();
    assert!(log.connected.is_empty());
}

// ---------------------------------------------------------------- simple query

#[test]
fn simple_query_rows_commands_and_empty() {
    let (out, result, _) = exchange(&session(&[
        &query("rows 2; insert"),
        &query(""),
        &query("rows 0"),
        &terminate(),
    ]));
    result.unwrap();
    assert_eq!(
        after_startup(&out),
        strs(&[
            "T i:23:0,s:25:0",
            "D 1|row 1",
            "D 2|row 2",
            "C SELECT 2",
            "C INSERT 0 1",
            "Z I",
            "I",
            "Z I",
            "T i:23:0,s:25:0",
            "C SELECT 0",
            "Z I",
        ])
    );
}

#[test]
fn simple_query_error_stops_the_batch_and_connection_goes_on() {
    let (out, result, _) = exchange(&session(&[
        &query("insert; fail 42P01; insert"),
        &query("rows 1"),
    ]));
    result.unwrap();
    assert_eq!(
        after_startup(&out),
        strs(&[
            "C INSERT 0 1",
            "E ERROR 42P01 forced failure [detail: some detail] [hint: some hint]",
            "Z I",
            "T i:23:0,s:25:0",
            "D 1|row 1",
            "C SELECT 1",
            "Z I",
        ])
    );
}

#[test]
fn transaction_status_notices_and_parameter_changes() {
    let (out, result, _) = exchange(&session(&[
        &query("begin"),
        &query("fail 22012"),
        &query("insert"),
        &query("rollback"),
        &query("notice"),
        &query("set tz"),
    ]));
    result.unwrap();
    assert_eq!(
        after_startup(&out),
        strs(&[
            "C BEGIN",
            "Z T",
            "E ERROR 22012 forced failure [detail: some detail] [hint: some hint]",
            "Z E",
            "E ERROR 25P02 current transaction is aborted, commands ignored until end of transaction block",
            "Z E",
            "C ROLLBACK",
            "Z I",
            "N NOTICE 00000 just so you know",
            "C DO",
            "Z I",
            "C SET",
            "S TimeZone=Europe/Berlin",
            "Z I",
        ])
    );
}

#[test]
fn invalid_utf8_query_is_an_error_not_a_disconnect() {
    let (out, result, _) = exchange(&session(&[&msg(b'Q', b"select \xff\0"), &query("insert")]));
    result.unwrap();
    assert_eq!(
        after_startup(&out),
        strs(&[
            "E ERROR 22021 invalid byte sequence for encoding \"UTF8\": 0xff",
            "Z I",
            "C INSERT 0 1",
            "Z I",
        ])
    );
}

// ---------------------------------------------------------------- extended query

#[test]
fn extended_unnamed_statement_with_binary_params_and_results() {
    let (out, result, log) = exchange(&session(&[
        &parse("", "echo int4 text", &[]),
        &describe(b'S', ""),
        &bind(
            "",
            "",
            &[1, 0],
            &[Some(&7i32.to_be_bytes()), Some(b"hi")],
            &[1, 0],
        ),
        &describe(b'P', ""),
        &execute("", 0),
        &sync(),
    ]));
    result.unwrap();
    assert_eq!(
        after_startup(&out),
        strs(&[
            "1",
            "t 23,25",
            "T p1:23:0,p2:25:0",
            "2",
            "T p1:23:1,p2:25:0",
            "D \\x00000007|hi",
            "C SELECT 1",
            "Z I",
        ])
    );
    assert_eq!(
        log.executed,
        vec![(
            "echo int4 text".to_string(),
            vec!["Int32(7)".to_string(), "Text(\"hi\")".to_string()]
        )]
    );
}

#[test]
fn psycopg_style_int2_binary_param_and_null() {
    let (out, result, log) = exchange(&session(&[
        &parse("", "echo int8 text", &[21, 25]),
        &bind("", "", &[1], &[Some(&5i16.to_be_bytes()), None], &[]),
        &execute("", 0),
        &sync(),
    ]));
    result.unwrap();
    assert_eq!(
        after_startup(&out),
        strs(&["1", "2", "D 5|NULL", "C SELECT 1", "Z I"])
    );
    assert_eq!(log.executed[0].1, vec!["Int16(5)", "Null"]);
}

#[test]
fn row_limit_suspends_and_resumes() {
    let (out, result, _) = exchange(&session(&[
        &parse("s", "rows 5", &[]),
        &bind("p", "s", &[], &[], &[]),
        &execute("p", 2),
        &execute("p", 2),
        &execute("p", 2),
        &execute("p", 2),
        &sync(),
    ]));
    result.unwrap();
    assert_eq!(
        after_startup(&out),
        strs(&[
            "1",
            "2",
            "D 1|row 1",
            "D 2|row 2",
            "s",
            "D 3|row 3",
            "D 4|row 4",
            "s",
            "D 5|row 5",
            "C SELECT 1",
            "C SELECT 0",
            "Z I",
        ])
    );
}

#[test]
fn error_discards_until_sync_and_fails_the_block() {
    let (out, result, log) = exchange(&session(&[
        &query("begin"),
        &parse("", "rows 1", &[]),
        &bind("", "nope", &[], &[], &[]),
        &execute("", 0),
        &parse("", "rows 1", &[]),
        &sync(),
        &parse("", "rows 1", &[]),
        &bind("", "", &[], &[], &[]),
        &execute("", 0),
        &sync(),
        &query("rollback"),
    ]));
    result.unwrap();
    assert_eq!(
        after_startup(&out),
        strs(&[
            "C BEGIN",
            "Z T",
            "1",
            "E ERROR 26000 prepared statement \"nope\" does not exist",
            "Z E",
            "1",
            "2",
            "E ERROR 25P02 current transaction is aborted, commands ignored until end of transaction block",
            "Z E",
            "C ROLLBACK",
            "Z I",
        ])
    );
    assert_eq!(log.failed_transactions, 2);
    assert_eq!(log.syncs, 2);
}

#[test]
fn named_statements_and_portals() {
    let (out, result, _) = exchange(&session(&[
        &parse("a", "rows 1", &[]),
        &parse("a", "rows 2", &[]),
        &sync(),
        &bind("p", "a", &[], &[], &[]),
        &bind("p", "a", &[], &[], &[]),
        &sync(),
        &close(b'S', "a"),
        &close(b'P', "never-existed"),
        &bind("", "a", &[], &[], &[]),
        &sync(),
        &execute("ghost", 0),
        &sync(),
        &describe(b'P', "ghost"),
        &sync(),
    ]));
    result.unwrap();
    assert_eq!(
        after_startup(&out),
        strs(&[
            "1",
            "E ERROR 42P05 prepared statement \"a\" already exists",
            "Z I",
            "2",
            "E ERROR 42P03 portal \"p\" already exists",
            "Z I",
            "3",
            "3",
            "E ERROR 26000 prepared statement \"a\" does not exist",
            "Z I",
            "E ERROR 34000 portal \"ghost\" does not exist",
            "Z I",
            "E ERROR 34000 portal \"ghost\" does not exist",
            "Z I",
        ])
    );
}

#[test]
fn unnamed_statement_is_replaced_by_each_parse() {
    let (out, result, _) = exchange(&session(&[
        &parse("", "rows 1", &[]),
        &parse("", "rows 2", &[]),
        &bind("", "", &[], &[], &[]),
        &execute("", 0),
        &sync(),
    ]));
    result.unwrap();
    assert_eq!(
        after_startup(&out),
        strs(&["1", "1", "2", "D 1|row 1", "D 2|row 2", "C SELECT 2", "Z I"])
    );
}

#[test]
fn bind_errors() {
    let (out, result, _) = exchange(&session(&[
        &parse("e", "echo int4", &[]),
        &sync(),
        // wrong number of parameters
        &bind("", "e", &[], &[], &[]),
        &sync(),
        // wrong binary length
        &bind("", "e", &[1], &[Some(&[0, 1])], &[]),
        &sync(),
        // bad format code
        &bind("", "e", &[7], &[Some(b"1")], &[]),
        &sync(),
        // two result formats for one column
        &bind("", "e", &[1], &[Some(&1i32.to_be_bytes())], &[0, 1]),
        &sync(),
        // unknown parameter type OID
        &parse("", "echo int4", &[99_999]),
        &sync(),
    ]));
    result.unwrap();
    assert_eq!(
        after_startup(&out),
        strs(&[
            "1",
            "Z I",
            "E ERROR 08P01 bind message supplies 0 parameters, but prepared statement \"e\" requires 1",
            "Z I",
            "E ERROR 22P03 incorrect binary data format in bind parameter 1",
            "Z I",
            "E ERROR 22023 unsupported format code: 7",
            "Z I",
            "E ERROR 08P01 bind message has 2 result formats but 1 results",
            "Z I",
            "E ERROR 42704 type with OID 99999 does not exist",
            "Z I",
        ])
    );
}

#[test]
fn statement_without_rows_describes_as_nodata() {
    let (out, result, _) = exchange(&session(&[
        &parse("", "insert", &[]),
        &describe(b'S', ""),
        &bind("", "", &[], &[], &[1]),
        &describe(b'P', ""),
        &execute("", 0),
        &parse("", "", &[]),
        &bind("", "", &[], &[], &[]),
        &execute("", 0),
        &sync(),
    ]));
    result.unwrap();
    assert_eq!(
        after_startup(&out),
        strs(&[
            "1",
            "t ",
            "n",
            "2",
            "n",
            "C INSERT 0 1",
            "1",
            "2",
            "I",
            "Z I"
        ])
    );
}

#[test]
fn prepare_error_is_reported() {
    let (out, _, _) = exchange(&session(&[&parse("", "badprep", &[]), &sync()]));
    assert_eq!(
        after_startup(&out),
        strs(&["E ERROR 42601 syntax error at end of input", "Z I"])
    );
}

#[test]
fn flush_sends_pending_replies_before_sync() {
    let config = WireConfig::new(AuthConfig::trust());
    let (got, result, _) = connect(&config, ScriptConnector::new(), |mut c| async move {
        c.send(&startup(&[("user", "u")])).await;
        c.recv_until_ready().await;
        c.send(&parse("", "rows 1", &[])).await;
        c.send(&bind("", "", &[], &[], &[])).await;
        c.send(&flush()).await;
        // Without Flush these would sit in the server's buffer until Sync.
        let before_sync = vec![c.recv().await.unwrap(), c.recv().await.unwrap()];
        c.send(&execute("", 0)).await;
        c.send(&sync()).await;
        let after = c.recv_until_ready().await;
        c.send(&terminate()).await;
        (before_sync, after)
    });
    result.unwrap();
    assert_eq!(got.0, strs(&["1", "2"]));
    assert_eq!(got.1, strs(&["D 1|row 1", "C SELECT 1", "Z I"]));
}

#[test]
fn pipelined_batch_is_answered_in_order() {
    let mut batch = Vec::new();
    for i in 0..50i32 {
        batch.extend(parse("", "echo int4", &[23]));
        batch.extend(bind("", "", &[1], &[Some(&i.to_be_bytes())], &[]));
        batch.extend(execute("", 0));
        batch.extend(sync());
    }
    batch.extend(query("rows 1"));
    let (out, result, _) = exchange(&session(&[&batch]));
    result.unwrap();
    let out = after_startup(&out);
    assert_eq!(out.len(), 50 * 5 + 4);
    for i in 0..50usize {
        assert_eq!(
            out[i * 5..i * 5 + 5],
            strs(&["1", "2", &format!("D {i}"), "C SELECT 1", "Z I"])
        );
    }
}

#[test]
fn large_results_stream_out() {
    let (out, result, _) = exchange(&session(&[&query("rows 20000")]));
    result.unwrap();
    let out = after_startup(&out);
    assert_eq!(out.len(), 20_003);
    assert_eq!(out[20_000], "D 20000|row 20000");
}

#[test]
fn copy_messages_outside_copy_are_ignored() {
    let (out, result, _) = exchange(&session(&[
        &msg(b'd', b"1\t2\n"),
        &msg(b'c', b""),
        &msg(b'f', b"oops\0"),
        &query("insert"),
    ]));
    result.unwrap();
    assert_eq!(after_startup(&out), strs(&["C INSERT 0 1", "Z I"]));
}

// ---------------------------------------------------------------- malformed input

#[test]
fn unknown_message_type_is_fatal() {
    let (out, result, _) = exchange(&session(&[&msg(b'W', b"")]));
    assert!(result.is_err());
    assert_eq!(
        after_startup(&out),
        strs(&["E FATAL 08P01 invalid frontend message type 87"])
    );
}

#[test]
fn absurd_length_is_fatal_at_once() {
    let config = WireConfig::new(AuthConfig::trust());
    let (out, result, _) = connect(&config, ScriptConnector::new(), |mut c| async move {
        c.send(&startup(&[("user", "u")])).await;
        c.recv_until_ready().await;
        // A 2 GiB query: refused from the header alone, while the client is still connected.
        c.send(b"Q\x7f\xff\xff\xff").await;
        c.recv_all().await
    });
    assert!(result.is_err());
    assert_eq!(
        out,
        strs(&["E FATAL 08P01 invalid message length 2147483647 for message type 81"])
    );
}

#[test]
fn truncated_message_then_eof_closes_quietly() {
    let mut input = session(&[]);
    input.extend(&query("rows 1")[..7]);
    let (out, result, _) = exchange(&input);
    result.unwrap();
    assert!(after_startup(&out).is_empty());
}

#[test]
fn malformed_extended_message_skips_to_sync() {
    let (out, result, _) = exchange(&session(&[
        &msg(b'B', b"\0\0\0\x01\0\x01\x7f\xff\xff\xff"),
        &execute("", 0),
        &sync(),
        &query("insert"),
    ]));
    result.unwrap();
    assert_eq!(
        after_startup(&out),
        strs(&[
            "E ERROR 08P01 invalid message format",
            "Z I",
            "C INSERT 0 1",
            "Z I",
        ])
    );
}

#[test]
fn malformed_messages_while_skipping_are_ignored() {
    let (out, result, _) = exchange(&session(&[
        &bind("", "nope", &[], &[], &[]),
        &msg(b'B', b"\0\0\0\x01"),
        &msg(b'Q', b"no terminator"),
        &sync(),
    ]));
    result.unwrap();
    assert_eq!(
        after_startup(&out),
        strs(&[
            "E ERROR 26000 prepared statement \"nope\" does not exist",
            "Z I",
        ])
    );
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Random bytes after a good startup: the session ends with an error or at EOF, and
        /// never panics or hangs.
        #[test]
        fn random_bytes_after_startup(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let (out, _, _) = exchange(&session(&[&bytes]));
            prop_assert!(out.iter().any(|m| m == "Z I"));
        }

        /// Valid message types with random bodies.
        #[test]
        fn random_bodies(parts in proptest::collection::vec(
            (proptest::sample::select(b"QPBCDEHSdcf".to_vec()),
             proptest::collection::vec(any::<u8>(), 0..40)), 0..12)) {
            let mut input = Vec::new();
            for (kind, body) in parts {
                input.extend(msg(kind, &body));
            }
            let (_, _, _) = exchange(&session(&[&input]));
        }

        /// Random bytes instead of a startup packet.
        #[test]
        fn random_startup(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let (_, _, _) = exchange(&bytes);
        }
    }
}
