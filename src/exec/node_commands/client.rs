//! CLIENT and its subcommands: the connection's own name, library, reply mode, and the
//! node's registry of connections (LIST, KILL).

use bytes::Bytes;

use super::{parse_i64, upper};
use crate::cmd::Prepared;
use crate::cmd::parse::{Cursor, Reply, SYNTAX_ERROR};
use crate::exec::session::ConnState;
use crate::node::Node;
use crate::resp::frame::Frame;

pub(super) fn execute(node: &Node, conn: &mut ConnState, p: &Prepared, args: &[Bytes]) -> Frame {
    let Some(sub) = p.sub else {
        return Frame::error("ERR CLIENT needs a subcommand");
    };
    // After the subcommand's name; the table checked each subcommand's arity.
    let mut c = Cursor::new(&args[1..]);
    let reply = match sub.name {
        "client|id" => Ok(Frame::Integer(conn.id as i64)),
        "client|getname" => Ok(conn.name.clone().map_or(Frame::Null, Frame::Bulk)),
        "client|setname" => setname(conn, &mut c),
        "client|setinfo" => setinfo(conn, &mut c),
        "client|info" => {
            let line = conn.client.as_ref().map_or(String::new(), |c| c.line());
            Ok(Frame::Verbatim("txt".into(), Bytes::from(line + "\n")))
        }
        "client|list" => list(node, &mut c),
        "client|kill" => kill(node, conn, &mut c),
        "client|reply" => reply_mode(conn, &mut c),
        "client|no-evict" | "client|no-touch" => on_off(&mut c),
        _ => Ok(Frame::Integer(-1)), // client|getredir: no tracking here
    };
    reply.unwrap_or_else(|e| e)
}

fn setname(conn: &mut ConnState, c: &mut Cursor) -> Reply<Frame> {
    let name = c.next_bytes()?;
    c.finish()?;
    set_name(conn, name)?;
    Ok(Frame::ok())
}

/// Names the connection; an empty name clears it. Names with spaces, newlines or other special
/// characters are refused, as Redis refuses them: CLIENT LIST prints them unquoted.
fn set_name(conn: &mut ConnState, name: &Bytes) -> Reply<()> {
    check_name(name)?;
    conn.name = (!name.is_empty()).then(|| name.clone());
    Ok(())
}

/// Refuses a client name with spaces, newlines or other special characters, with Redis's text.
pub(super) fn check_name(name: &[u8]) -> Reply<()> {
    if name.iter().any(|&b| b <= b' ' || b > b'~') {
        return Err(Frame::error(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

/// CLIENT SETINFO LIB-NAME|LIB-VER value
fn setinfo(conn: &mut ConnState, c: &mut Cursor) -> Reply<Frame> {
    let attr = c.next_bytes()?;
    let value = c.next_bytes()?.clone();
    c.finish()?;
    if value.iter().any(|b| !(b'!'..=b'~').contains(b)) {
        return Err(Frame::error(
            "ERR lib-name and lib-ver cannot contain spaces, newlines or special characters.",
        ));
    }
    match upper(attr).as_str() {
        "LIB-NAME" => conn.lib_name = Some(value),
        "LIB-VER" => conn.lib_ver = Some(value),
        _ => {
            return Err(Frame::Error(format!(
                "ERR Unrecognized option '{}'",
                String::from_utf8_lossy(attr)
            )));
        }
    }
    Ok(Frame::ok())
}

/// CLIENT REPLY ON|OFF|SKIP
fn reply_mode(conn: &mut ConnState, c: &mut Cursor) -> Reply<Frame> {
    let mode = upper(c.next_bytes()?);
    c.finish()?;
    match mode.as_str() {
        "ON" => conn.replies_off = false,
        "OFF" => conn.replies_off = true,
        // This reply and the next command's.
        "SKIP" => conn.replies_to_skip = 2,
        _ => return Err(Frame::error(SYNTAX_ERROR)),
    }
    Ok(Frame::ok())
}

/// CLIENT NO-EVICT / NO-TOUCH ON|OFF: accepted, nothing to change here.
fn on_off(c: &mut Cursor) -> Reply<Frame> {
    let mode = upper(c.next_bytes()?);
    c.finish()?;
    match mode.as_str() {
        "ON" | "OFF" => Ok(Frame::ok()),
        _ => Err(Frame::error(SYNTAX_ERROR)),
    }
}

/// Redis's client types: every client here is `normal` or, while subscribed, `pubsub`.
fn client_type_filter(name: &[u8]) -> Result<Option<bool>, Frame> {
    match upper(name).as_str() {
        "NORMAL" => Ok(Some(false)),
        "PUBSUB" => Ok(Some(true)),
        "MASTER" | "REPLICA" | "SLAVE" => Ok(None),
        _ => Err(Frame::Error(format!(
            "ERR Unknown client type '{}'",
            String::from_utf8_lossy(name)
        ))),
    }
}

/// CLIENT LIST [TYPE type] [ID id [id ...]]
fn list(node: &Node, c: &mut Cursor) -> Reply<Frame> {
    let mut clients = node.clients.list();
    match c.peek_lower().as_deref() {
        None => {}
        Some("type") if c.remaining() == 2 => {
            c.next_bytes()?;
            match client_type_filter(c.next_bytes()?)? {
                Some(pubsub) => clients.retain(|c| c.is_pubsub() == pubsub),
                None => clients.clear(),
            }
        }
        Some("id") if c.remaining() >= 2 => {
            c.next_bytes()?;
            let mut ids = Vec::new();
            for a in c.rest() {
                match parse_i64(a) {
                    Some(id) if id > 0 => ids.push(id as u64),
                    _ => return Err(Frame::error("ERR Invalid client ID")),
                }
            }
            clients.retain(|c| ids.contains(&c.id));
        }
        _ => return Err(Frame::error(SYNTAX_ERROR)),
    }
    c.finish()?;
    let mut text = String::new();
    for c in clients {
        text.push_str(&c.line());
        text.push('\n');
    }
    Ok(Frame::Verbatim("txt".into(), Bytes::from(text)))
}

/// CLIENT KILL addr:port (old form: +OK or an error), or CLIENT KILL with filters (ID, TYPE,
/// USER, ADDR, LADDR, SKIPME, MAXAGE): the number of clients killed. A client that kills
/// itself gets its reply first.
fn kill(node: &Node, conn: &mut ConnState, c: &mut Cursor) -> Reply<Frame> {
    let old_form = c.remaining() == 1;
    let mut id = None;
    let mut pubsub_type: Option<Option<bool>> = None;
    let mut addr = None;
    let mut laddr = None;
    let mut max_age = None;
    let mut skip_me = !old_form;
    if old_form {
        addr = Some(c.next_bytes()?.clone());
    } else {
        if !c.remaining().is_multiple_of(2) {
            return Err(Frame::error(SYNTAX_ERROR));
        }
        while !c.is_done() {
            let filter = upper(c.next_bytes()?);
            let value = c.next_bytes()?;
            match filter.as_str() {
                "ID" => match parse_i64(value) {
                    Some(n) if n > 0 => id = Some(n as u64),
                    _ => return Err(Frame::error("ERR client-id should be greater than 0")),
                },
                "TYPE" => pubsub_type = Some(client_type_filter(value)?),
                "USER" if value.as_ref() == b"default" => {}
                "USER" => {
                    return Err(Frame::Error(format!(
                        "ERR No such user '{}'",
                        String::from_utf8_lossy(value)
                    )));
                }
                "ADDR" => addr = Some(value.clone()),
                "LADDR" => laddr = Some(value.clone()),
                "MAXAGE" => match parse_i64(value) {
                    Some(n) => max_age = Some(n),
                    None => return Err(Frame::error("ERR value is not an integer or out of range")),
                },
                "SKIPME" => match upper(value).as_str() {
                    "YES" => skip_me = true,
                    "NO" => skip_me = false,
                    _ => return Err(Frame::error(SYNTAX_ERROR)),
                },
                _ => return Err(Frame::error(SYNTAX_ERROR)),
            }
        }
    }
    let mut killed = 0;
    for c in node.clients.list() {
        let matches = id.is_none_or(|id| c.id == id)
            && pubsub_type.is_none_or(|t| t.is_some_and(|p| c.is_pubsub() == p))
            && addr
                .as_ref()
                .is_none_or(|a| a.as_ref() == c.addr.to_string().as_bytes())
            && laddr
                .as_ref()
                .is_none_or(|a| a.as_ref() == c.laddr.to_string().as_bytes())
            && max_age.is_none_or(|age| c.created.elapsed().as_secs() as i64 >= age);
        if !matches || (skip_me && c.id == conn.id) {
            continue;
        }
        if c.id == conn.id {
            conn.quit = true;
        } else {
            c.kill();
        }
        killed += 1;
    }
    Ok(match (old_form, killed) {
        (true, 0) => Frame::error("ERR No such client"),
        (true, _) => Frame::ok(),
        (false, n) => Frame::Integer(n),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<Bytes> {
        v.iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect()
    }

    /// Runs one of the connection's own subcommands on `conn` (the container name and the
    /// subcommand's come first, as on the wire).
    fn run(conn: &mut ConnState, v: &[&str]) -> Frame {
        let a = args(v);
        let mut c = Cursor::new(&a[1..]);
        let reply = match v[1] {
            "setname" => setname(conn, &mut c),
            "setinfo" => setinfo(conn, &mut c),
            "reply" => reply_mode(conn, &mut c),
            _ => on_off(&mut c),
        };
        reply.unwrap_or_else(|e| e)
    }

    #[test]
    fn the_connections_own_subcommands() {
        let mut conn = ConnState::new(1, std::net::SocketAddr::from(([127, 0, 0, 1], 1)));
        assert_eq!(run(&mut conn, &["client", "setname", "alpha"]), Frame::ok());
        assert_eq!(conn.name.as_deref(), Some(&b"alpha"[..]));
        assert_eq!(
            run(&mut conn, &["client", "setname", "a b"]),
            Frame::error("ERR Client names cannot contain spaces, newlines or special characters.")
        );
        assert_eq!(run(&mut conn, &["client", "setname", ""]), Frame::ok());
        assert_eq!(conn.name, None);
        assert_eq!(
            run(&mut conn, &["client", "setinfo", "LIB-NAME", "redis-py"]),
            Frame::ok()
        );
        assert_eq!(conn.lib_name.as_deref(), Some(&b"redis-py"[..]));
        assert_eq!(
            run(&mut conn, &["client", "setinfo", "lib-x", "v"]),
            Frame::error("ERR Unrecognized option 'lib-x'")
        );
        assert_eq!(run(&mut conn, &["client", "reply", "skip"]), Frame::ok());
        assert_eq!(conn.replies_to_skip, 2);
        assert_eq!(
            run(&mut conn, &["client", "reply", "maybe"]),
            Frame::error(SYNTAX_ERROR)
        );
        assert_eq!(run(&mut conn, &["client", "no-touch", "on"]), Frame::ok());
        assert_eq!(run(&mut conn, &["client", "no-evict", "x"]), Frame::error(SYNTAX_ERROR));
    }
}
