//! The connection's own commands: PING, ECHO, QUIT, SELECT, HELLO, RESET.

use bytes::Bytes;

use super::{REDIS_VERSION, bulk, parse_i64, upper};
use crate::cmd::parse::{Cursor, Reply};
use crate::errors::wrong_arity;
use crate::exec::pubsub;
use crate::exec::session::ConnState;
use crate::node::Node;
use crate::resp::encode::Protocol;
use crate::resp::frame::Frame;

/// PING [message]
pub(super) fn ping(conn: &ConnState, args: &[Bytes]) -> Frame {
    let mut c = Cursor::new(args);
    let message = c.next_bytes().ok().cloned();
    // A subscribed RESP2 connection gets PING's answer in the shape of a message.
    if conn.protocol == Protocol::Resp2 && !conn.subscriptions.is_empty() {
        return Frame::Array(vec![bulk("pong"), Frame::Bulk(message.unwrap_or_default())]);
    }
    if c.finish().is_err() {
        return Frame::Error(wrong_arity("ping"));
    }
    match message {
        None => Frame::Simple("PONG".into()),
        Some(m) => Frame::Bulk(m),
    }
}

pub(super) fn echo(args: &[Bytes]) -> Frame {
    Frame::Bulk(args[1].clone())
}

pub(super) fn quit(conn: &mut ConnState) -> Frame {
    conn.quit = true;
    Frame::ok()
}

/// SELECT index: a cluster has database 0 only.
pub(super) fn select(args: &[Bytes]) -> Frame {
    match parse_i64(&args[1]) {
        Some(0) => Frame::ok(),
        Some(_) => Frame::error("ERR SELECT is not allowed in cluster mode"),
        None => Frame::error("ERR value is not an integer or out of range"),
    }
}

pub(super) fn reset(node: &Node, conn: &mut ConnState) -> Frame {
    pubsub::unsubscribe_all(node, conn);
    conn.reset();
    Frame::Simple("RESET".into())
}

/// What HELLO asks for: a protocol, credentials, a name.
#[derive(Debug, PartialEq)]
struct Hello {
    proto: Protocol,
    auth: Option<(Bytes, Bytes)>,
    name: Option<Bytes>,
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
pub(super) async fn hello(node: &Node, conn: &mut ConnState, args: &[Bytes]) -> Frame {
    let h = match read_hello(conn, args) {
        Ok(h) => h,
        Err(e) => return e,
    };
    match &h.auth {
        Some((user, password)) if !super::acl::authenticate(node, conn, user, password).await => {
            return Frame::error(super::acl::WRONGPASS);
        }
        Some(_) => {}
        None if conn.user.is_none() => {
            return Frame::error(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
            );
        }
        None => {}
    }
    greet(node, conn, h.proto, h.name)
}

fn read_hello(conn: &ConnState, args: &[Bytes]) -> Reply<Hello> {
    let mut c = Cursor::new(args);
    let mut proto = conn.protocol;
    if !c.is_done() {
        proto = match parse_i64(c.next_bytes()?) {
            Some(2) => Protocol::Resp2,
            Some(3) => Protocol::Resp3,
            Some(_) => return Err(Frame::error("NOPROTO unsupported protocol version")),
            None => return Err(Frame::error("ERR Protocol version is not an integer or out of range")),
        };
    }
    let mut name = None;
    let mut auth = None;
    while !c.is_done() {
        let option = c.next_bytes()?;
        match upper(option).as_str() {
            "AUTH" if c.remaining() >= 2 => {
                let user = c.next_bytes()?.clone();
                auth = Some((user, c.next_bytes()?.clone()));
            }
            "SETNAME" if c.remaining() >= 1 => {
                let n = c.next_bytes()?;
                // Checked before anything changes, as Redis does.
                super::client::check_name(n)?;
                name = Some(n.clone());
            }
            _ => {
                return Err(Frame::Error(format!(
                    "ERR Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(option)
                )));
            }
        }
    }
    c.finish()?;
    Ok(Hello { proto, auth, name })
}

fn greet(node: &Node, conn: &mut ConnState, proto: Protocol, name: Option<Bytes>) -> Frame {
    conn.protocol = proto;
    if let Some(n) = name {
        conn.name = (!n.is_empty()).then_some(n);
    }
    let role = if node.view.read().led_by(node.id).next().is_some() {
        "master"
    } else {
        "replica"
    };
    Frame::Map(vec![
        (bulk("server"), bulk("redis")),
        (bulk("version"), bulk(REDIS_VERSION)),
        (
            bulk("proto"),
            Frame::Integer(if proto == Protocol::Resp3 { 3 } else { 2 }),
        ),
        (bulk("id"), Frame::Integer(conn.id as i64)),
        (bulk("mode"), bulk("cluster")),
        (bulk("role"), bulk(role)),
        (bulk("modules"), Frame::Array(vec![])),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<Bytes> {
        v.iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect()
    }

    fn conn() -> ConnState {
        ConnState::new(1, std::net::SocketAddr::from(([127, 0, 0, 1], 1)))
    }

    #[test]
    fn select_and_hello_read_integers_as_string2ll() {
        let not_int = Frame::error("ERR value is not an integer or out of range");
        assert_eq!(select(&args(&["select", "0"])), Frame::ok());
        for bad in ["00", "+0", "-0", " 0", "0 ", "x"] {
            assert_eq!(select(&args(&["select", bad])), not_int, "{bad:?}");
        }
        assert_eq!(
            select(&args(&["select", "1"])),
            Frame::error("ERR SELECT is not allowed in cluster mode")
        );
        for bad in ["03", "+3"] {
            assert_eq!(
                read_hello(&conn(), &args(&["hello", bad])),
                Err(Frame::error("ERR Protocol version is not an integer or out of range")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn ping_and_hello_read_their_arguments_as_redis_does() {
        let c = conn();
        assert_eq!(ping(&c, &args(&["ping"])), Frame::Simple("PONG".into()));
        assert_eq!(ping(&c, &args(&["ping", "x"])), bulk("x"));
        assert_eq!(
            ping(&c, &args(&["ping", "x", "y"])),
            Frame::error("ERR wrong number of arguments for 'ping' command")
        );
        let hello = |v: &[&str]| read_hello(&c, &args(v));
        assert_eq!(
            hello(&["hello"]),
            Ok(Hello {
                proto: Protocol::Resp2,
                auth: None,
                name: None
            })
        );
        assert_eq!(
            hello(&["hello", "3", "auth", "u", "p", "setname", "n"]),
            Ok(Hello {
                proto: Protocol::Resp3,
                auth: Some((Bytes::from_static(b"u"), Bytes::from_static(b"p"))),
                name: Some(Bytes::from_static(b"n"))
            })
        );
        assert_eq!(
            hello(&["hello", "4"]),
            Err(Frame::error("NOPROTO unsupported protocol version"))
        );
        assert_eq!(
            hello(&["hello", "x"]),
            Err(Frame::error("ERR Protocol version is not an integer or out of range"))
        );
        assert_eq!(
            hello(&["hello", "3", "auth", "u"]),
            Err(Frame::error("ERR Syntax error in HELLO option 'auth'"))
        );
        assert_eq!(
            hello(&["hello", "3", "setname"]),
            Err(Frame::error("ERR Syntax error in HELLO option 'setname'"))
        );
        for bad in ["a b", "a\nb", "caf\u{e9}"] {
            assert_eq!(
                hello(&["hello", "3", "setname", bad]),
                Err(Frame::error(
                    "ERR Client names cannot contain spaces, newlines or special characters."
                )),
                "{bad:?}"
            );
        }
    }
}
