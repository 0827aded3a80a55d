//! AUTH and ACL: users are cluster-wide (the metadata group, `exec::meta`); what a connection
//! may run is checked before dispatch (`dispatch::authorize`).

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;

use super::{bulk, upper};
use crate::cmd::acl::{
    self, ACL_ENTRY, CATEGORIES, DEFAULT_USER, Perms, User, category_rows, encode_rules, hide_passwords,
};
use crate::cmd::{self, Prepared};
use crate::exec::dispatch::{client_info, refresh_user};
use crate::exec::meta;
use crate::exec::session::ConnState;
use crate::node::Node;
use crate::resp::frame::Frame;

pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

/// How long a node waits for its replica of the metadata group to apply a user its leader
/// already knows.
const CATCH_UP: Duration = Duration::from_secs(2);

/// AUTH [username] password
pub(super) async fn auth(node: &Node, conn: &mut ConnState, args: &[Bytes]) -> Frame {
    if args.len() > 3 {
        return Frame::error("ERR syntax error");
    }
    let (user, password) = match args {
        [_, password] => {
            let open = node.acl.user(DEFAULT_USER.as_bytes()).0.is_some_and(|p| p.user.nopass);
            if open {
                return Frame::error(
                    "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
                );
            }
            (Bytes::from_static(DEFAULT_USER.as_bytes()), password)
        }
        [_, user, password] => (user.clone(), password),
        _ => return Frame::error("ERR syntax error"),
    };
    match authenticate(node, conn, &user, password).await {
        true => Frame::ok(),
        false => Frame::error(WRONGPASS),
    }
}

/// Checks `user`'s password and, when it matches an enabled user, makes the connection that
/// user. A user this node's replica does not know yet (created a moment ago through another
/// node) is checked by the metadata group's leader, then awaited here.
pub(super) async fn authenticate(node: &Node, conn: &mut ConnState, user: &Bytes, password: &[u8]) -> bool {
    let valid = |node: &Node| {
        node.acl
            .user(user)
            .0
            .filter(|p| p.user.enabled && p.user.password_matches(password))
    };
    let mut found = valid(node);
    if found.is_none() && conn.may_forward {
        let ask = [
            Bytes::from_static(b"AUTH"),
            user.clone(),
            Bytes::copy_from_slice(password),
        ];
        if meta::ask_leader(node, &ask).await == Some(Frame::ok()) {
            let deadline = tokio::time::Instant::now() + CATCH_UP;
            while found.is_none() && tokio::time::Instant::now() < deadline {
                let applied = node.meta().next_apply();
                tokio::pin!(applied);
                applied.as_mut().enable();
                found = valid(node);
                if found.is_none() {
                    let _ = tokio::time::timeout_at(deadline, applied).await;
                    // `follow_users` recompiles after the apply; give it its turn.
                    tokio::task::yield_now().await;
                    found = valid(node);
                }
            }
        }
    }
    match found {
        Some(perms) => {
            conn.auth_user = Some(perms.user.name.clone());
            conn.user = Some(perms);
            conn.acl_version = node.acl.version();
            true
        }
        None => {
            let context = if conn.multi.is_some() { "multi" } else { "toplevel" };
            node.acl.log_denial(
                "auth",
                context,
                Bytes::from_static(b"AUTH"),
                user.clone(),
                client_info(conn),
            );
            false
        }
    }
}

const HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Print this help.",
];

pub(super) async fn execute(node: &Node, conn: &mut ConnState, p: &Prepared, args: &[Bytes]) -> Frame {
    let Some(sub) = p.sub else {
        return cmd::unknown_command(args);
    };
    match sub.name {
        "acl|setuser" => setuser(node, conn, args).await,
        "acl|deluser" => deluser(node, conn, args).await,
        "acl|getuser" => getuser(node, &args[2]),
        "acl|list" => Frame::Array(node.acl.users().iter().map(|u| bulk(list_line(&u.user))).collect()),
        "acl|users" => Frame::Array(
            node.acl
                .users()
                .iter()
                .map(|u| Frame::Bulk(u.user.name.clone()))
                .collect(),
        ),
        "acl|whoami" => Frame::Bulk(conn.user_name()),
        "acl|cat" => cat(args),
        "acl|genpass" => genpass(args),
        "acl|dryrun" => dryrun(node, args),
        "acl|log" => log(node, args),
        "acl|load" => load(node, conn).await,
        "acl|save" => save(node),
        "acl|help" => Frame::Array(HELP.iter().map(|l| Frame::Simple((*l).into())).collect()),
        _ => cmd::unknown_command(args),
    }
}

/// `user <name> <rules>`: one line of ACL LIST and of the ACL file.
fn list_line(u: &User) -> String {
    format!("user {} {}", String::from_utf8_lossy(&u.name), u.describe())
}

fn valid_name(name: &[u8]) -> Result<(), Frame> {
    if name.iter().any(|&c| c == b' ' || c == 0) || name.is_empty() {
        return Err(Frame::error("ERR Usernames can't contain spaces or null characters"));
    }
    Ok(())
}

/// The rules an ACL change of `name` starts from when the user does not exist yet.
fn base_rules(node: &Node, name: &[u8]) -> Bytes {
    if name == DEFAULT_USER.as_bytes() {
        encode_rules(&node.acl.configured_default().rules())
    } else {
        Bytes::new()
    }
}

/// ACL SETUSER name rule...: checked here against the user as this node knows it (errors are
/// Redis's), then the metadata group applies the rules, passwords hashed, to the user as the
/// log has it.
async fn setuser(node: &Node, conn: &ConnState, args: &[Bytes]) -> Frame {
    let name = &args[2];
    if let Err(e) = valid_name(name) {
        return e;
    }
    let rules = hide_passwords(&args[3..]);
    let mut user = node
        .acl
        .user(name)
        .0
        .map_or_else(|| User::new(name), |p| p.user.clone());
    if let Err((e, rule)) = user.apply_rules(&args[3..]) {
        return e.reply(&rule);
    }
    let mut entry = vec![
        Bytes::from_static(ACL_ENTRY.as_bytes()),
        Bytes::from_static(b"SETUSER"),
        name.clone(),
        base_rules(node, name),
    ];
    entry.extend(rules);
    meta::change(node, entry, conn.may_forward).await
}

/// ACL DELUSER name...
async fn deluser(node: &Node, conn: &mut ConnState, args: &[Bytes]) -> Frame {
    if args[2..].iter().any(|n| n.as_ref() == DEFAULT_USER.as_bytes()) {
        return Frame::error("ERR The 'default' user cannot be removed");
    }
    let mut entry = vec![Bytes::from_static(ACL_ENTRY.as_bytes()), Bytes::from_static(b"DELUSER")];
    entry.extend(args[2..].iter().cloned());
    let reply = meta::change(node, entry, conn.may_forward).await;
    // This connection may have deleted its own user: it learns it at its next command.
    conn.acl_version = 0;
    reply
}

/// ACL GETUSER name, in Redis 7's shape.
fn getuser(node: &Node, name: &[u8]) -> Frame {
    let Some(p) = node.acl.user(name).0 else {
        return Frame::Null;
    };
    let u = &p.user;
    Frame::Map(vec![
        (bulk("flags"), Frame::Array(u.flags().into_iter().map(bulk).collect())),
        (
            bulk("passwords"),
            Frame::Array(u.passwords.iter().map(|h| bulk(h.as_str())).collect()),
        ),
        (bulk("commands"), bulk(u.describe_commands())),
        (bulk("keys"), bulk(u.describe_keys())),
        (bulk("channels"), bulk(u.describe_channels())),
        (bulk("selectors"), Frame::Array(Vec::new())),
    ])
}

/// ACL CAT [category]
fn cat(args: &[Bytes]) -> Frame {
    match args.get(2) {
        None => Frame::Array(CATEGORIES.iter().map(|c| bulk(*c)).collect()),
        Some(c) => {
            let name = String::from_utf8_lossy(c).to_ascii_lowercase();
            if args.len() > 3 {
                return Frame::error("ERR syntax error");
            }
            if !CATEGORIES.contains(&name.as_str()) {
                return Frame::Error(format!("ERR Unknown category '{}'", String::from_utf8_lossy(c)));
            }
            Frame::Array(category_rows(&name).into_iter().map(|r| bulk(r.name)).collect())
        }
    }
}

/// ACL GENPASS [bits]: random bytes as lowercase hex, 4 bits a character.
fn genpass(args: &[Bytes]) -> Frame {
    let bits = match args.get(2) {
        None => 256,
        Some(b) => match super::parse_i64(b) {
            Some(n @ 1..=4096) if args.len() == 3 => n as usize,
            _ => {
                return Frame::error(
                    "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
                );
            }
        },
    };
    let chars = bits.div_ceil(4);
    let bytes: Vec<u8> = (0..chars.div_ceil(2)).map(|_| rand::random::<u8>()).collect();
    let mut hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex.truncate(chars);
    bulk(hex)
}

/// ACL DRYRUN user command [arg ...]
fn dryrun(node: &Node, args: &[Bytes]) -> Frame {
    let Some(perms) = node.acl.user(&args[2]).0 else {
        return Frame::Error(format!("ERR User '{}' not found", String::from_utf8_lossy(&args[2])));
    };
    let command = &args[3..];
    if cmd::lookup(&command[0]).is_none() {
        return Frame::Error(format!(
            "ERR Command '{}' not found",
            String::from_utf8_lossy(&command[0])
        ));
    }
    let p = match cmd::prepare(command) {
        Ok(p) => p,
        Err(e) => return e,
    };
    match check(&perms, &p, command) {
        Ok(()) => Frame::ok(),
        Err(text) => bulk(text),
    }
}

fn check(perms: &Perms, p: &Prepared, args: &[Bytes]) -> Result<(), String> {
    if perms.unrestricted || p.spec.has(cmd::Flag::NoAuth) {
        return Ok(());
    }
    perms.check(p, args).map_err(|d| d.verbose(&perms.user.name))
}

/// ACL LOG [count | RESET]
fn log(node: &Node, args: &[Bytes]) -> Frame {
    let count = match args.get(2) {
        None => 10,
        Some(a) if upper(a) == "RESET" && args.len() == 3 => {
            node.acl.reset_log();
            return Frame::ok();
        }
        Some(a) => match super::parse_i64(a) {
            Some(n) if n >= 0 && args.len() == 3 => n as usize,
            _ => return Frame::error("ERR value is out of range, must be positive"),
        },
    };
    let now = crate::node::now_ms();
    let entries = node.acl.log(count).into_iter().map(|e| {
        Frame::Map(vec![
            (bulk("count"), Frame::Integer(e.count as i64)),
            (bulk("reason"), bulk(e.reason)),
            (bulk("context"), bulk(e.context)),
            (bulk("object"), Frame::Bulk(e.object)),
            (bulk("username"), Frame::Bulk(e.username)),
            (
                bulk("age-seconds"),
                Frame::Double(now.saturating_sub(e.created_ms) as f64 / 1000.0),
            ),
            (bulk("client-info"), bulk(e.client_info)),
            (bulk("entry-id"), Frame::Integer(e.entry_id as i64)),
            (bulk("timestamp-created"), Frame::Integer(e.created_ms as i64)),
            (bulk("timestamp-last-updated"), Frame::Integer(e.updated_ms as i64)),
        ])
    });
    Frame::Array(entries.collect())
}

const NO_ACL_FILE: &str = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

/// Reads an ACL file (`cmd::acl::parse_acl_file`); an error names the file and line.
pub fn read_acl_file(path: &Path, configured_default: &User) -> Result<Vec<User>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("Error loading ACLs, opening file '{}': {e}", path.display()))?;
    acl::parse_acl_file(&text, configured_default).map_err(|(line, m)| format!("{}:{line}: {m}", path.display()))
}

/// ACL LOAD: the file replaces every user, cluster-wide.
async fn load(node: &Node, conn: &ConnState) -> Frame {
    let Some(path) = &node.config.acl_file else {
        return Frame::error(NO_ACL_FILE);
    };
    let users = match read_acl_file(path, node.acl.configured_default()) {
        Ok(u) => u,
        Err(e) => return Frame::Error(format!("ERR {e}")),
    };
    let entry = acl::load_entry(&users);
    // The file is this node's: the metadata group's leader is sent the users, not asked to
    // read a file of its own.
    meta::change(node, entry, conn.may_forward).await
}

/// ACL SAVE: every user, to this node's ACL file (written whole, then renamed over it).
fn save(node: &Node) -> Frame {
    let Some(path) = &node.config.acl_file else {
        return Frame::error(NO_ACL_FILE);
    };
    let mut text = String::new();
    for u in node.acl.users() {
        text.push_str(&list_line(&u.user));
        text.push('\n');
    }
    let tmp = path.with_extension("acl.tmp");
    let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
    match written {
        Ok(()) => Frame::ok(),
        Err(e) => {
            tracing::warn!(path = %path.display(), "ACL SAVE failed: {e}");
            Frame::error(
                "ERR There was an error trying to save the ACLs. Please check the server logs for more information",
            )
        }
    }
}

/// CONFIG SET requirepass: the default user's password, cluster-wide.
pub(super) async fn set_requirepass(node: &Node, conn: &mut ConnState, password: &[u8]) -> Frame {
    let mut rules = vec![Bytes::from_static(b"resetpass")];
    rules.push(if password.is_empty() {
        Bytes::from_static(b"nopass")
    } else {
        Bytes::from(format!("#{}", acl::hash_password(password)))
    });
    let name = Bytes::from_static(DEFAULT_USER.as_bytes());
    let mut entry = vec![
        Bytes::from_static(ACL_ENTRY.as_bytes()),
        Bytes::from_static(b"SETUSER"),
        name.clone(),
        base_rules(node, &name),
    ];
    entry.extend(rules);
    let reply = meta::change(node, entry, conn.may_forward).await;
    refresh_user(node, conn);
    reply
}

/// Redis 7's refusal of a client from another host while protected mode is on and the default
/// user needs no password.
pub const DENIED: &str = "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Set up an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.";
