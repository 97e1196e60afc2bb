use super::*;
use pgwire::messages::SslNegotiationMetaMessage;

fn startup_packet(code: i32, params: &[(&str, &str)]) -> Vec<u8> {
    let mut body = code.to_be_bytes().to_vec();
    for (k, v) in params {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut packet = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    packet.extend(body);
    packet
}

fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    m.extend_from_slice(body);
    m
}

fn ready_decoder() -> Decoder {
    let mut d = Decoder::new();
    let mut buf = BytesMut::from(&startup_packet(3 << 16, &[("user", "u")])[..]);
    assert!(matches!(
        d.decode(&mut buf),
        Ok(Some(Decoded::Message(FrontendMessage::Startup(_))))
    ));
    assert!(!d.in_startup());
    d
}

fn decode_one(d: &mut Decoder, bytes: &[u8]) -> Result<Option<Decoded>, WireError> {
    let mut buf = BytesMut::from(bytes);
    d.decode(&mut buf)
}

#[test]
fn ssl_then_gss_then_startup() {
    let mut d = Decoder::new();
    let mut buf = BytesMut::new();
    for code in [80_877_103i32, 80_877_104] {
        buf.extend_from_slice(&8i32.to_be_bytes());
        buf.extend_from_slice(&code.to_be_bytes());
    }
    buf.extend_from_slice(&startup_packet(
        3 << 16,
        &[("user", "alice"), ("database", "db")],
    ));
    assert!(matches!(
        d.decode(&mut buf),
        Ok(Some(Decoded::Message(FrontendMessage::SslNegotiation(
            SslNegotiationMetaMessage::PostgresSsl(_)
        ))))
    ));
    assert!(matches!(
        d.decode(&mut buf),
        Ok(Some(Decoded::Message(FrontendMessage::SslNegotiation(
            SslNegotiationMetaMessage::PostgresGss(_)
        ))))
    ));
    let Ok(Some(Decoded::Message(FrontendMessage::Startup(s)))) = d.decode(&mut buf) else {
        panic!("expected startup");
    };
    assert_eq!(s.parameters.get("user").map(String::as_str), Some("alice"));
    assert_eq!(s.parameters.get("database").map(String::as_str), Some("db"));
    assert!(buf.is_empty());
    assert!(!d.in_startup());
}

#[test]
fn cancel_request() {
    let mut d = Decoder::new();
    let mut packet = 16i32.to_be_bytes().to_vec();
    packet.extend_from_slice(&80_877_102i32.to_be_bytes());
    packet.extend_from_slice(&42i32.to_be_bytes());
    packet.extend_from_slice(&7i32.to_be_bytes());
    let Ok(Some(Decoded::Message(FrontendMessage::CancelRequest(c)))) = decode_one(&mut d, &packet)
    else {
        panic!("expected cancel");
    };
    assert_eq!((c.pid, c.secret_key.as_i32()), (42, Some(7)));
}

#[test]
fn startup_waits_for_whole_packet() {
    let mut d = Decoder::new();
    let packet = startup_packet(3 << 16, &[("user", "u")]);
    let mut buf = BytesMut::new();
    for &b in &packet[..packet.len() - 1] {
        buf.extend_from_slice(&[b]);
        assert!(matches!(d.decode(&mut buf), Ok(None)));
    }
    buf.extend_from_slice(&packet[packet.len() - 1..]);
    assert!(matches!(d.decode(&mut buf), Ok(Some(_))));
}

#[test]
fn bad_startup_packets_are_fatal() {
    for len in [0i32, 3, 7, 10_001, i32::MAX, -1] {
        let mut d = Decoder::new();
        let mut packet = len.to_be_bytes().to_vec();
        packet.extend_from_slice(&(3i32 << 16).to_be_bytes());
        assert!(decode_one(&mut d, &packet).is_err(), "length {len}");
    }
    // Protocol 2.0 is refused with 0A000.
    let e = decode_one(&mut Decoder::new(), &startup_packet(2 << 16, &[])).unwrap_err();
    assert_eq!(e.sqlstate(), "0A000");
    assert!(e.is_fatal());
    // No terminator.
    let mut packet = startup_packet(3 << 16, &[("user", "u")]);
    packet.pop();
    packet[3] -= 1;
    assert!(decode_one(&mut Decoder::new(), &packet).is_err());
    // An SSL request with a body.
    let mut packet = 12i32.to_be_bytes().to_vec();
    packet.extend_from_slice(&80_877_103i32.to_be_bytes());
    packet.extend_from_slice(&[0; 4]);
    assert!(decode_one(&mut Decoder::new(), &packet).is_err());
}

#[test]
fn several_messages_per_buffer() {
    let mut d = ready_decoder();
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&message(b'Q', b"select 1\0"));
    buf.extend_from_slice(&message(b'S', b""));
    buf.extend_from_slice(&message(b'H', b""));
    buf.extend_from_slice(&message(b'X', b"")[..3]);
    let Ok(Some(Decoded::Message(FrontendMessage::Query(q)))) = d.decode(&mut buf) else {
        panic!()
    };
    assert_eq!(q.query, "select 1");
    assert!(matches!(
        d.decode(&mut buf),
        Ok(Some(Decoded::Message(FrontendMessage::Sync(_))))
    ));
    assert!(matches!(
        d.decode(&mut buf),
        Ok(Some(Decoded::Message(FrontendMessage::Flush(_))))
    ));
    assert!(matches!(d.decode(&mut buf), Ok(None)));
    buf.extend_from_slice(&message(b'X', b"")[3..]);
    assert!(matches!(
        d.decode(&mut buf),
        Ok(Some(Decoded::Message(FrontendMessage::Terminate(_))))
    ));
}

#[test]
fn unknown_type_fails_without_waiting_for_a_body() {
    let mut d = ready_decoder();
    let e = decode_one(&mut d, b"Z").unwrap_err();
    assert!(e.is_fatal());
    assert_eq!(e.sqlstate(), "08P01");
}

#[test]
fn absurd_lengths_fail_before_the_body_arrives() {
    for (kind, len) in [
        (b'Q', i32::MAX),
        (b'Q', -5),
        (b'Q', 3),
        (b'S', 10_001),
        (b'p', 70_000),
        (b'B', 0x4000_0000),
    ] {
        let mut d = ready_decoder();
        let mut bytes = vec![kind];
        bytes.extend_from_slice(&len.to_be_bytes());
        let e = decode_one(&mut d, &bytes).unwrap_err();
        assert!(e.is_fatal(), "{} {len}", kind as char);
    }
}

fn malformed(kind: u8, body: &[u8]) -> WireError {
    let mut d = ready_decoder();
    match decode_one(&mut d, &message(kind, body)) {
        Ok(Some(Decoded::Malformed { kind: k, error })) => {
            assert_eq!(k, kind);
            error
        }
        other => panic!("{} {body:?}: {other:?}", kind as char),
    }
}

#[test]
fn malformed_bodies_are_errors_not_panics() {
    assert_eq!(malformed(b'Q', b"no terminator").sqlstate(), "08P01");
    assert_eq!(malformed(b'Q', b"a\0extra").sqlstate(), "08P01");
    assert_eq!(malformed(b'Q', b"\xff\xfe\0").sqlstate(), "22021");
    // Parse: count says 5 OIDs, body has one.
    assert_eq!(
        malformed(b'P', b"\0select 1\0\0\x05\0\0\0\x17").sqlstate(),
        "08P01"
    );
    assert_eq!(malformed(b'P', b"\0select").sqlstate(), "08P01");
    // Bind: a parameter longer than the message.
    assert_eq!(
        malformed(b'B', b"\0\0\0\0\0\x01\x7f\xff\xff\xff").sqlstate(),
        "08P01"
    );
    assert_eq!(
        malformed(b'B', b"\0\0\0\0\0\x01\xff\xff\xff\xfe\0\0").sqlstate(),
        "08P01"
    );
    assert_eq!(malformed(b'B', b"\0\0\xff\xff").sqlstate(), "08P01");
    assert_eq!(malformed(b'D', b"X\0").sqlstate(), "08P01");
    assert_eq!(malformed(b'D', b"").sqlstate(), "08P01");
    assert_eq!(malformed(b'E', b"\0\0\0").sqlstate(), "08P01");
    assert_eq!(malformed(b'S', b"x").sqlstate(), "08P01");
    assert_eq!(malformed(b'F', b"").sqlstate(), "0A000");
}

#[test]
fn extended_messages_decode() {
    let mut d = ready_decoder();
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&message(b'P', b"s1\0select $1\0\0\x01\0\0\0\x17"));
    buf.extend_from_slice(&message(
        b'B',
        b"p1\0s1\0\0\x01\0\x01\0\x02\0\0\0\x04\0\0\0\x07\xff\xff\xff\xff\0\x01\0\x01",
    ));
    buf.extend_from_slice(&message(b'D', b"Pp1\0"));
    buf.extend_from_slice(&message(b'E', b"p1\0\0\0\0\x0a"));
    buf.extend_from_slice(&message(b'C', b"S\0"));
    let Ok(Some(Decoded::Message(FrontendMessage::Parse(p)))) = d.decode(&mut buf) else {
        panic!()
    };
    assert_eq!(
        (p.name.as_deref(), p.query.as_str()),
        (Some("s1"), "select $1")
    );
    assert_eq!(p.type_oids, vec![23]);
    let Ok(Some(Decoded::Message(FrontendMessage::Bind(b)))) = d.decode(&mut buf) else {
        panic!()
    };
    assert_eq!(b.parameter_format_codes, vec![1]);
    assert_eq!(b.parameters.len(), 2);
    assert_eq!(b.parameters[0].as_deref(), Some(&[0, 0, 0, 7][..]));
    assert_eq!(b.parameters[1], None);
    assert_eq!(b.result_column_format_codes, vec![1]);
    let Ok(Some(Decoded::Message(FrontendMessage::Describe(x)))) = d.decode(&mut buf) else {
        panic!()
    };
    assert_eq!((x.target_type, x.name.as_deref()), (b'P', Some("p1")));
    let Ok(Some(Decoded::Message(FrontendMessage::Execute(e)))) = d.decode(&mut buf) else {
        panic!()
    };
    assert_eq!((e.name.as_deref(), e.max_rows), (Some("p1"), 10));
    let Ok(Some(Decoded::Message(FrontendMessage::Close(c)))) = d.decode(&mut buf) else {
        panic!()
    };
    assert_eq!((c.target_type, c.name), (b'S', None));
}

#[test]
fn fuzz_entry_point_survives_garbage() {
    assert_eq!(decode_frontend(&[]), (0, false));
    let mut stream = startup_packet(3 << 16, &[("user", "u")]);
    stream.extend(message(b'Q', b"select 1\0"));
    stream.extend(b"\xde\xad\xbe\xef");
    assert_eq!(decode_frontend(&stream), (2, true));
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn random_bytes_from_the_start(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            decode_frontend(&bytes);
        }

        #[test]
        fn random_bytes_after_startup(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut stream = startup_packet(3 << 16, &[("user", "u")]);
            stream.extend(bytes);
            decode_frontend(&stream);
        }

        /// Well-typed messages with random bodies: the body checks, not pgwire, must catch them.
        #[test]
        fn random_bodies(kind in proptest::sample::select(b"QPBCDEHSXpdcf".to_vec()),
                         body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut d = ready_decoder();
            let mut buf = BytesMut::from(&message(kind, &body)[..]);
            let _ = d.decode(&mut buf);
        }
    }
}

/// The length a read makes room for: the whole frame of a regular message once its header is
/// in and valid, nothing during startup, for a partial header, or for a header decode refuses.
#[test]
fn frame_len_is_known_from_a_valid_header() {
    let fresh = Decoder::new();
    let startup = startup_packet(3 << 16, &[("user", "u")]);
    assert_eq!(fresh.frame_len(&BytesMut::from(&startup[..])), None);
    let d = ready_decoder();
    let copy = message(b'd', &[b'x'; 1000]);
    assert_eq!(d.frame_len(&BytesMut::from(&copy[..3])), None);
    assert_eq!(d.frame_len(&BytesMut::from(&copy[..5])), Some(1005));
    assert_eq!(d.frame_len(&BytesMut::from(&copy[..])), Some(1005));
    let mut short = copy[..5].to_vec();
    short[1..5].copy_from_slice(&2i32.to_be_bytes());
    assert_eq!(d.frame_len(&BytesMut::from(&short[..])), None);
    assert_eq!(d.frame_len(&BytesMut::from(&b"\x01\0\0\0\x08"[..])), None);
}
