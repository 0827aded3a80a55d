//! Users and what they may run (Redis 7's ACL), kept in the metadata group's store so that every
//! node holds the same users (docs/architecture.md, "Security").
//!
//! A user is the rules that made it (`User`), applied in order as Redis applies them. The
//! metadata group's log carries `slotraft.acl` entries that change users; applying one is a
//! pure function of the store and the entry, as for every other write. A clear password never
//! enters the log: the node that takes `ACL SETUSER alice >secret` proposes `#<sha256>`.
//! Permissions are compiled from a user against the command table (`Perms`) where commands
//! are checked, never on the apply path.

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::spec::{CommandSpec, Flag, KeyFlag};
use super::{Prepared, all_rows, lookup};
use crate::resp::frame::Frame;
use crate::store::scan::glob_match;
use crate::store::{Store, Value};

/// The metadata group's entry that changes users (`super::ACL_ENTRY`): `slotraft.acl SETUSER name base rule...`
/// (`base`: the rules, `encode_rules`' bytes, the user starts from if it does not exist yet:
/// none for a new user, the configured default user's for `default`), `slotraft.acl DELUSER
/// name...`, `slotraft.acl LOAD name encoded-rules [name encoded-rules ...]` (every user
/// replaced).
pub use super::ACL_ENTRY;

/// Where the users live in the metadata group's store: one hash, a field per user, whose value
/// is the user's rules (`encode_rules`).
const USERS_KEY: &[u8] = b"acl:users";

/// Redis's categories, in Redis's order (ACL CAT).
pub const CATEGORIES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// The name of the user every connection starts as.
pub const DEFAULT_USER: &str = "default";

/// Which kind of access a key pattern gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPerm {
    ReadWrite,
    Read,
    Write,
}

impl KeyPerm {
    fn allows(self, read: bool, write: bool) -> bool {
        match self {
            KeyPerm::ReadWrite => true,
            KeyPerm::Read => !write,
            KeyPerm::Write => !read,
        }
    }
}

/// One user as its rules made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: Bytes,
    pub enabled: bool,
    pub nopass: bool,
    /// `sanitize-payload` (true) or `skip-sanitize-payload` (false), when set.
    pub sanitize: Option<bool>,
    /// SHA-256 of each password, lowercase hex, in the order they were added.
    pub passwords: Vec<String>,
    /// Whether the rules start from `+@all` (the user may run commands added later).
    pub all_commands: bool,
    /// The command rules after the start, as Redis 7.2 keeps them: `+get`, `-@write`,
    /// `+config|get`, lowercase, each command or category at most once (its last rule).
    pub command_rules: Vec<String>,
    pub all_keys: bool,
    pub keys: Vec<(KeyPerm, Bytes)>,
    pub all_channels: bool,
    pub channels: Vec<Bytes>,
}

/// Why a rule was refused; `text` is Redis's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleError {
    Syntax,
    UnknownCommand,
    KeyAfterAll,
    ChannelAfterAll,
    NoSuchPassword,
    BadHash,
    FirstArg,
}

impl RuleError {
    pub fn text(self) -> &'static str {
        match self {
            RuleError::Syntax => "Syntax error",
            RuleError::UnknownCommand => "Unknown command or category name in ACL",
            RuleError::KeyAfterAll => {
                "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
            }
            RuleError::ChannelAfterAll => {
                "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"
            }
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => {
                "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
            }
            RuleError::FirstArg => "Allowing first-arg of a subcommand is not supported",
        }
    }

    /// ACL SETUSER's reply for this error at `rule`.
    pub fn reply(self, rule: &[u8]) -> Frame {
        Frame::Error(format!(
            "ERR Error in ACL SETUSER modifier '{}': {}",
            String::from_utf8_lossy(rule),
            self.text()
        ))
    }
}

/// SHA-256 of a password, lowercase hex: how passwords are kept and compared.
pub fn hash_password(password: &[u8]) -> String {
    let digest = Sha256::digest(password);
    let mut hex = String::with_capacity(64);
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

fn is_hash(h: &[u8]) -> bool {
    h.len() == 64 && h.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// Compares two equal-length byte strings in time that does not depend on where they differ.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Replaces clear passwords in `rules` by their hashes (`>p` → `#h`, `<p` → `!h`), so the log
/// and the ACL file never hold them.
pub fn hide_passwords(rules: &[Bytes]) -> Vec<Bytes> {
    rules
        .iter()
        .map(|r| match r.first() {
            Some(b'>') => Bytes::from(format!("#{}", hash_password(&r[1..]))),
            Some(b'<') => Bytes::from(format!("!{}", hash_password(&r[1..]))),
            _ => r.clone(),
        })
        .collect()
}

impl User {
    /// A user ACL SETUSER makes before its rules: off, no password, no command, no key, no
    /// channel (Redis 7's `acl-pubsub-default resetchannels`).
    pub fn new(name: &[u8]) -> User {
        User {
            name: Bytes::copy_from_slice(name),
            enabled: false,
            nopass: false,
            sanitize: None,
            passwords: Vec::new(),
            all_commands: false,
            command_rules: Vec::new(),
            all_keys: false,
            keys: Vec::new(),
            all_channels: false,
            channels: Vec::new(),
        }
    }

    /// The default user before any ACL change: everything, with `requirepass`'s password if one
    /// is configured, none needed otherwise.
    pub fn default_user(requirepass: Option<&[u8]>) -> User {
        let mut u = User::new(DEFAULT_USER.as_bytes());
        u.enabled = true;
        u.all_commands = true;
        u.all_keys = true;
        u.all_channels = true;
        match requirepass {
            Some(p) if !p.is_empty() => u.passwords.push(hash_password(p)),
            _ => u.nopass = true,
        }
        u
    }

    /// Applies rules in order; on an error the user is unchanged and the error names the rule.
    pub fn apply_rules(&mut self, rules: &[Bytes]) -> Result<(), (RuleError, Bytes)> {
        let mut next = self.clone();
        for r in rules {
            next.apply_rule(r).map_err(|e| (e, r.clone()))?;
        }
        *self = next;
        Ok(())
    }

    /// Applies one rule, as Redis's `ACLSetUser` does.
    pub fn apply_rule(&mut self, rule: &[u8]) -> Result<(), RuleError> {
        let lower = rule.to_ascii_lowercase();
        match lower.as_slice() {
            b"on" => self.enabled = true,
            b"off" => self.enabled = false,
            b"nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            b"resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            b"allkeys" => self.allow_all_keys(),
            b"resetkeys" => {
                self.all_keys = false;
                self.keys.clear();
            }
            b"allchannels" => self.allow_all_channels(),
            b"resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
            }
            b"allcommands" | b"+@all" => self.reset_commands(true),
            b"nocommands" | b"-@all" => self.reset_commands(false),
            b"sanitize-payload" => self.sanitize = Some(true),
            b"skip-sanitize-payload" => self.sanitize = Some(false),
            b"clearselectors" => {}
            b"reset" => {
                for r in ["resetpass", "resetkeys", "resetchannels", "off", "-@all"] {
                    self.apply_rule(r.as_bytes())?;
                }
                self.sanitize = Some(true);
            }
            _ => match rule.first() {
                Some(b'>') => {
                    let h = hash_password(&rule[1..]);
                    self.add_password(h);
                }
                Some(b'#') => {
                    if !is_hash(&rule[1..]) {
                        return Err(RuleError::BadHash);
                    }
                    self.add_password(String::from_utf8_lossy(&rule[1..]).into_owned());
                }
                Some(b'<') => self.remove_password(&hash_password(&rule[1..]))?,
                Some(b'!') => {
                    if !is_hash(&rule[1..]) {
                        return Err(RuleError::BadHash);
                    }
                    self.remove_password(&String::from_utf8_lossy(&rule[1..]))?;
                }
                Some(b'~') => self.add_key_pattern(KeyPerm::ReadWrite, &rule[1..])?,
                Some(b'%') => {
                    let tilde = rule.iter().position(|&c| c == b'~').ok_or(RuleError::Syntax)?;
                    let (mut read, mut write) = (false, false);
                    for c in &rule[1..tilde] {
                        match c.to_ascii_uppercase() {
                            b'R' => read = true,
                            b'W' => write = true,
                            _ => return Err(RuleError::Syntax),
                        }
                    }
                    let perm = match (read, write) {
                        (true, true) => KeyPerm::ReadWrite,
                        (true, false) => KeyPerm::Read,
                        (false, true) => KeyPerm::Write,
                        (false, false) => return Err(RuleError::Syntax),
                    };
                    self.add_key_pattern(perm, &rule[tilde + 1..])?;
                }
                Some(b'&') => self.add_channel(&rule[1..])?,
                Some(&sign @ (b'+' | b'-')) => self.command_rule(sign == b'+', &lower[1..])?,
                _ => return Err(RuleError::Syntax),
            },
        }
        Ok(())
    }

    fn add_password(&mut self, hash: String) {
        self.nopass = false;
        if !self.passwords.contains(&hash) {
            self.passwords.push(hash);
        }
    }

    fn remove_password(&mut self, hash: &str) -> Result<(), RuleError> {
        self.nopass = false;
        let before = self.passwords.len();
        self.passwords.retain(|p| p != hash);
        if self.passwords.len() == before {
            return Err(RuleError::NoSuchPassword);
        }
        Ok(())
    }

    fn allow_all_keys(&mut self) {
        self.all_keys = true;
        self.keys.clear();
    }

    fn add_key_pattern(&mut self, perm: KeyPerm, pattern: &[u8]) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeyAfterAll);
        }
        if perm == KeyPerm::ReadWrite && pattern == b"*" {
            self.allow_all_keys();
            return Ok(());
        }
        match self.keys.iter_mut().find(|(_, p)| p == pattern) {
            // The same pattern again widens what it gives, as Redis merges the flags.
            Some((p, _)) if *p != perm => *p = KeyPerm::ReadWrite,
            Some(_) => {}
            None => self.keys.push((perm, Bytes::copy_from_slice(pattern))),
        }
        Ok(())
    }

    fn allow_all_channels(&mut self) {
        self.all_channels = true;
        self.channels.clear();
    }

    fn add_channel(&mut self, pattern: &[u8]) -> Result<(), RuleError> {
        if self.all_channels {
            return Err(RuleError::ChannelAfterAll);
        }
        if pattern == b"*" {
            self.allow_all_channels();
        } else if !self.channels.iter().any(|c| c == pattern) {
            self.channels.push(Bytes::copy_from_slice(pattern));
        }
        Ok(())
    }

    fn reset_commands(&mut self, all: bool) {
        self.all_commands = all;
        self.command_rules.clear();
    }

    /// `+name`, `-name`, `+@category`, `-@category` (`name` lowercase, without its sign).
    fn command_rule(&mut self, allow: bool, name: &[u8]) -> Result<(), RuleError> {
        let name = std::str::from_utf8(name).map_err(|_| RuleError::UnknownCommand)?;
        if let Some(cat) = name.strip_prefix('@') {
            if !CATEGORIES.contains(&cat) {
                return Err(RuleError::UnknownCommand);
            }
        } else {
            known_command(name)?;
        }
        // The same command or category named again: its last rule is the one that counts.
        self.command_rules.retain(|r| &r[1..] != name);
        self.command_rules
            .push(format!("{}{name}", if allow { '+' } else { '-' }));
        Ok(())
    }

    /// The rules that make this user again, in Redis's order (ACL LIST without `user name`).
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self.flags().into_iter().map(str::to_owned).collect();
        parts.extend(self.passwords.iter().map(|h| format!("#{h}")));
        let keys = self.describe_keys();
        if !keys.is_empty() {
            parts.push(keys);
        }
        if self.all_channels {
            parts.push("&*".into());
        } else {
            parts.push("resetchannels".into());
            parts.extend(self.channels.iter().map(|c| format!("&{}", String::from_utf8_lossy(c))));
        }
        parts.push(self.describe_commands());
        parts.join(" ")
    }

    /// ACL GETUSER's flags.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut f = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            f.push("nopass");
        }
        match self.sanitize {
            Some(false) => f.push("skip-sanitize-payload"),
            Some(true) => f.push("sanitize-payload"),
            None => {}
        }
        f
    }

    /// ACL GETUSER's `keys`.
    pub fn describe_keys(&self) -> String {
        if self.all_keys {
            return "~*".into();
        }
        let one = |(perm, p): &(KeyPerm, Bytes)| {
            let prefix = match perm {
                KeyPerm::ReadWrite => "~",
                KeyPerm::Read => "%R~",
                KeyPerm::Write => "%W~",
            };
            format!("{prefix}{}", String::from_utf8_lossy(p))
        };
        self.keys.iter().map(one).collect::<Vec<_>>().join(" ")
    }

    /// ACL GETUSER's `channels`.
    pub fn describe_channels(&self) -> String {
        if self.all_channels {
            return "&*".into();
        }
        let chans: Vec<String> = self
            .channels
            .iter()
            .map(|c| format!("&{}", String::from_utf8_lossy(c)))
            .collect();
        chans.join(" ")
    }

    /// ACL GETUSER's `commands`.
    pub fn describe_commands(&self) -> String {
        let mut s = String::from(if self.all_commands { "+@all" } else { "-@all" });
        for r in &self.command_rules {
            s.push(' ');
            s.push_str(r);
        }
        s
    }

    /// The rules that rebuild this user from `User::new`, binary-safe (patterns may hold any
    /// byte): the form users are stored in.
    pub fn rules(&self) -> Vec<Bytes> {
        let mut r: Vec<Bytes> = self
            .flags()
            .into_iter()
            .map(|f| Bytes::from_static(f.as_bytes()))
            .collect();
        r.extend(self.passwords.iter().map(|h| Bytes::from(format!("#{h}"))));
        if self.all_keys {
            r.push(Bytes::from_static(b"allkeys"));
        }
        for (perm, p) in &self.keys {
            let prefix: &[u8] = match perm {
                KeyPerm::ReadWrite => b"~",
                KeyPerm::Read => b"%R~",
                KeyPerm::Write => b"%W~",
            };
            r.push([prefix, p].concat().into());
        }
        if self.all_channels {
            r.push(Bytes::from_static(b"allchannels"));
        }
        r.extend(self.channels.iter().map(|c| Bytes::from([b"&", &c[..]].concat())));
        r.push(Bytes::from(if self.all_commands { "+@all" } else { "-@all" }));
        r.extend(self.command_rules.iter().map(|c| Bytes::from(c.clone())));
        r
    }

    /// Whether `password` is one of this user's (any password when `nopass`).
    pub fn password_matches(&self, password: &[u8]) -> bool {
        if self.nopass {
            return true;
        }
        let h = hash_password(password);
        // Every stored hash is compared, in constant time each.
        self.passwords
            .iter()
            .fold(false, |ok, p| same_bytes(p.as_bytes(), h.as_bytes()) | ok)
    }
}

/// Checks that `name` is a command or a container's subcommand (`config|get`) of the table.
fn known_command(name: &str) -> Result<(), RuleError> {
    match name.split_once('|') {
        None => lookup(name.as_bytes()).map(|_| ()).ok_or(RuleError::UnknownCommand),
        Some((container, sub)) => {
            let c = lookup(container.as_bytes()).ok_or(RuleError::UnknownCommand)?;
            if !c.is_container() {
                // Redis 7's first-arg rules (`+select|0`): not kept here.
                return Err(RuleError::FirstArg);
            }
            c.subcommand(sub.as_bytes())
                .map(|_| ())
                .ok_or(RuleError::UnknownCommand)
        }
    }
}

/// `encode_rules`' inverse.
pub fn decode_rules(mut b: &[u8]) -> Option<Vec<Bytes>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let len = u32::from_le_bytes(b.get(..4)?.try_into().ok()?) as usize;
        out.push(Bytes::copy_from_slice(b.get(4..4 + len)?));
        b = &b[4 + len..];
    }
    Some(out)
}

/// Rules as bytes: each a 4-byte little-endian length and its bytes.
pub fn encode_rules(rules: &[Bytes]) -> Bytes {
    let mut out = Vec::with_capacity(rules.iter().map(|r| r.len() + 4).sum());
    for r in rules {
        out.extend_from_slice(&(r.len() as u32).to_le_bytes());
        out.extend_from_slice(r);
    }
    out.into()
}

/// The users the metadata group's store holds (the default user only if an ACL change named
/// it), by name.
pub fn stored_users(store: &Store) -> Vec<User> {
    let Some(Value::Hash(h)) = store.get(USERS_KEY).map(|e| &e.value) else {
        return Vec::new();
    };
    let mut users: Vec<User> = h
        .iter()
        .filter_map(|(name, rules)| {
            let mut u = User::new(name);
            u.apply_rules(&decode_rules(rules)?).ok()?;
            Some(u)
        })
        .collect();
    users.sort_by(|a, b| a.name.cmp(&b.name));
    users
}

fn users_mut(store: &mut Store) -> &mut std::collections::HashMap<Bytes, Bytes> {
    if !matches!(store.get(USERS_KEY).map(|e| &e.value), Some(Value::Hash(_))) {
        store.insert(USERS_KEY, Value::Hash(Box::default()), None);
    }
    match store.value_mut(USERS_KEY) {
        Some(Value::Hash(h)) => h,
        _ => unreachable!("the users' hash was just made"),
    }
}

/// Applies a `slotraft.acl` entry to the metadata group's store (see `ACL_ENTRY`).
pub fn apply(store: &mut Store, args: &[Bytes]) -> Frame {
    let Some(op) = args.get(1) else {
        return Frame::error("ERR syntax error");
    };
    match op.to_ascii_uppercase().as_slice() {
        b"SETUSER" if args.len() >= 4 => {
            let name = &args[2];
            let users = users_mut(store);
            let start = users.get(name).unwrap_or(&args[3]);
            let mut user = User::new(name);
            if let Some(rules) = decode_rules(start) {
                let _ = user.apply_rules(&rules);
            }
            if let Err((e, rule)) = user.apply_rules(&args[4..]) {
                return e.reply(&rule);
            }
            users.insert(name.clone(), encode_rules(&user.rules()));
            Frame::ok()
        }
        b"DELUSER" => {
            let users = users_mut(store);
            let mut n = 0;
            for name in &args[2..] {
                if name.as_ref() != DEFAULT_USER.as_bytes() && users.remove(name).is_some() {
                    n += 1;
                }
            }
            Frame::Integer(n)
        }
        b"LOAD" if args.len().is_multiple_of(2) => {
            let users = users_mut(store);
            users.clear();
            for pair in args[2..].chunks(2) {
                users.insert(pair[0].clone(), pair[1].clone());
            }
            Frame::ok()
        }
        _ => Frame::error("ERR syntax error"),
    }
}

/// Reads an ACL file's text in Redis's syntax: `user <name> <rule> ...` per line, blank lines
/// allowed. Every user is checked before any is taken; an error gives the line (from 1). A
/// `default` user in the file is described whole, from `reset`.
pub fn parse_acl_file(text: &str, configured_default: &User) -> Result<Vec<User>, (usize, String)> {
    let mut users: Vec<User> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = |m: String| (i + 1, m);
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        if words[0] != "user" || words.len() < 2 {
            return Err(at("should start with user keyword".into()));
        }
        let name = words[1].as_bytes();
        if users.iter().any(|u| u.name == name) {
            return Err(at(format!("Duplicate user '{}' found", words[1])));
        }
        let mut user = User::new(name);
        if name == DEFAULT_USER.as_bytes() {
            user.sanitize = configured_default.sanitize;
        }
        let rules: Vec<Bytes> = words[2..]
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect();
        user.apply_rules(&rules).map_err(|(e, r)| {
            at(format!(
                "Error in applying operation '{}': {}",
                String::from_utf8_lossy(&r),
                e.text()
            ))
        })?;
        users.push(user);
    }
    Ok(users)
}

/// Whether the store holds users (an ACL change was ever made).
pub fn has_users(store: &Store) -> bool {
    store.get(USERS_KEY).is_some()
}

/// The `slotraft.acl LOAD` entry that makes `users` every user.
pub fn load_entry(users: &[User]) -> Vec<Bytes> {
    let mut entry = vec![Bytes::from_static(ACL_ENTRY.as_bytes()), Bytes::from_static(b"LOAD")];
    for u in users {
        entry.push(u.name.clone());
        entry.push(encode_rules(&u.rules()));
    }
    entry
}

/// A command's place in the permission bitmap: every client row, subcommands included.
fn command_index() -> &'static HashMap<&'static str, usize> {
    static INDEX: OnceLock<HashMap<&'static str, usize>> = OnceLock::new();
    INDEX.get_or_init(|| all_rows().enumerate().map(|(i, r)| (r.name, i)).collect())
}

/// The rows a command rule names: the row and, for a container, its subcommands.
fn rows_named(name: &str) -> Vec<&'static CommandSpec> {
    all_rows()
        .filter(|r| r.name == name || r.name.strip_prefix(name).is_some_and(|rest| rest.starts_with('|')))
        .collect()
}

/// Whether `row` is in the category `cat` (without its `@`).
pub fn in_category(row: &CommandSpec, cat: &str) -> bool {
    super::command::acl_categories(row)
        .iter()
        .any(|c| c.strip_prefix('@') == Some(cat))
}

/// The client rows of category `cat`, subcommands included (ACL CAT category).
pub fn category_rows(cat: &str) -> Vec<&'static CommandSpec> {
    all_rows()
        .filter(|r| !r.is_container() && in_category(r, cat))
        .collect()
}

/// What a user may run, compiled from its rules against the table.
#[derive(Debug)]
pub struct Perms {
    pub user: User,
    /// Set bits: the rows (`command_index`) the user may run.
    commands: Vec<u64>,
    /// Every command, key and channel: nothing to check per command.
    pub unrestricted: bool,
}

/// Why a command was refused (`Denied::reply`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denied {
    Command(String),
    Key(Bytes),
    Channel(Bytes),
}

impl Denied {
    /// The `-NOPERM` error a client gets, as Redis 7.2 writes it.
    pub fn reply(&self, user: &[u8]) -> Frame {
        Frame::Error(match self {
            Denied::Command(c) => format!(
                "NOPERM User {} has no permissions to run the '{c}' command",
                String::from_utf8_lossy(user)
            ),
            Denied::Key(_) => "NOPERM No permissions to access a key".into(),
            Denied::Channel(_) => "NOPERM No permissions to access a channel".into(),
        })
    }

    /// ACL DRYRUN's and ACL LOG's wording, which names the key or channel.
    pub fn verbose(&self, user: &[u8]) -> String {
        match self {
            Denied::Command(c) => format!(
                "User {} has no permissions to run the '{c}' command",
                String::from_utf8_lossy(user)
            ),
            Denied::Key(k) => format!("No permissions to access the '{}' key", String::from_utf8_lossy(k)),
            Denied::Channel(c) => format!("No permissions to access the '{}' channel", String::from_utf8_lossy(c)),
        }
    }

    /// ACL LOG's `reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            Denied::Command(_) => "command",
            Denied::Key(_) => "key",
            Denied::Channel(_) => "channel",
        }
    }
}

impl Perms {
    pub fn compile(user: User) -> Perms {
        let index = command_index();
        let words = index.len().div_ceil(64);
        let mut commands = vec![if user.all_commands { u64::MAX } else { 0 }; words];
        let mut set = |row: &CommandSpec, allow: bool| {
            if let Some(&i) = index.get(row.name) {
                if allow {
                    commands[i / 64] |= 1 << (i % 64);
                } else {
                    commands[i / 64] &= !(1 << (i % 64));
                }
            }
        };
        for rule in &user.command_rules {
            let allow = rule.starts_with('+');
            let name = &rule[1..];
            match name.strip_prefix('@') {
                Some(cat) => all_rows().filter(|r| in_category(r, cat)).for_each(|r| set(r, allow)),
                None => rows_named(name).into_iter().for_each(|r| set(r, allow)),
            }
        }
        let all_rows_allowed = all_rows().all(|r| {
            index
                .get(r.name)
                .is_some_and(|&i| commands[i / 64] & (1 << (i % 64)) != 0)
        });
        let unrestricted = all_rows_allowed && user.all_keys && user.all_channels;
        Perms {
            user,
            commands,
            unrestricted,
        }
    }

    /// Whether the user may run `row` (a subcommand's row for a container).
    pub fn may_run(&self, row: &CommandSpec) -> bool {
        command_index()
            .get(row.name)
            .is_some_and(|&i| self.commands[i / 64] & (1 << (i % 64)) != 0)
    }

    /// Whether the user may reach `key` for reading and/or writing.
    pub fn may_access(&self, key: &[u8], read: bool, write: bool) -> bool {
        self.user.all_keys
            || self
                .user
                .keys
                .iter()
                .any(|(perm, p)| perm.allows(read, write) && glob_match(p, key))
    }

    /// Whether the user may publish or subscribe to `channel`; `literal` for a PSUBSCRIBE
    /// pattern, which must be one of the user's patterns itself.
    pub fn may_use_channel(&self, channel: &[u8], literal: bool) -> bool {
        self.user.all_channels
            || self
                .user
                .channels
                .iter()
                .any(|p| if literal { p == channel } else { glob_match(p, channel) })
    }

    /// Checks a prepared command against the user's rules: the command, then its keys, then
    /// its channels, as Redis's `ACLCheckAllPerm`.
    pub fn check(&self, p: &Prepared, args: &[Bytes]) -> Result<(), Denied> {
        if self.unrestricted {
            return Ok(());
        }
        let row = p.row();
        if !self.may_run(row) {
            return Err(Denied::Command(row.name.to_owned()));
        }
        if !p.keys.is_empty() && !self.user.all_keys {
            let (read, write) = key_access(row);
            for &i in &p.keys {
                if !self.may_access(&args[i], read, write) {
                    return Err(Denied::Key(args[i].clone()));
                }
            }
        }
        if !self.user.all_channels {
            let (channels, literal) = channels_of(row, args);
            for c in channels {
                if !self.may_use_channel(c, literal) {
                    return Err(Denied::Channel(c.clone()));
                }
            }
        }
        Ok(())
    }
}

/// What a command does with its keys, from its key specifications (Redis's `ACLSelectorCheckKey`):
/// reads them when a spec says ACCESS, writes them when one says INSERT, UPDATE or DELETE;
/// both when none says either.
fn key_access(row: &CommandSpec) -> (bool, bool) {
    let has = |f: KeyFlag| row.key_specs.iter().any(|s| s.flags.contains(&f));
    let read = has(KeyFlag::Access);
    let write = has(KeyFlag::Insert) || has(KeyFlag::Update) || has(KeyFlag::Delete);
    if !read && !write {
        return (
            row.has(Flag::Readonly) || !row.has(Flag::Write),
            !row.has(Flag::Readonly),
        );
    }
    (read, write)
}

/// The channels a command names, and whether they are patterns compared literally.
fn channels_of<'a>(row: &CommandSpec, args: &'a [Bytes]) -> (&'a [Bytes], bool) {
    match row.name {
        "publish" | "spublish" => (&args[1..2.min(args.len())], false),
        "subscribe" | "ssubscribe" => (&args[1..], false),
        "psubscribe" => (&args[1..], true),
        _ => (&[], false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::prepare;
    use crate::cmd::testing::args;

    fn user(rules: &[&str]) -> User {
        let mut u = User::new(b"alice");
        u.apply_rules(&args(rules)).expect("valid rules");
        u
    }

    #[test]
    fn rules_describe_as_redis_lists_them() {
        assert_eq!(User::new(b"alice").describe(), "off resetchannels -@all");
        assert_eq!(User::default_user(None).describe(), "on nopass ~* &* +@all");
        let u = user(&[
            "on",
            ">pw",
            "~a*",
            "%R~r*",
            "&ch*",
            "+get",
            "+@hash",
            "-hdel",
            "+config|get",
        ]);
        assert_eq!(
            u.describe(),
            "on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~a* %R~r* resetchannels &ch* -@all +get +@hash -hdel +config|get"
        );
        assert_eq!(user(&["+@all", "-set", "+set"]).describe_commands(), "+@all +set");
        assert_eq!(user(&["+get", "allcommands"]).describe_commands(), "+@all");
        assert_eq!(user(&["reset"]).describe(), "off sanitize-payload resetchannels -@all");
        assert_eq!(
            user(&[
                "on",
                "nopass",
                "allkeys",
                "allchannels",
                "reset",
                "on",
                "nopass",
                "~*",
                "&*"
            ])
            .describe(),
            "on nopass sanitize-payload ~* &* -@all"
        );
        let y = user(&[">a", ">b", "<a", "resetkeys", "%W~w", "%RW~q", "~*"]);
        assert_eq!(y.describe_keys(), "~*");
        assert_eq!(y.passwords, vec![hash_password(b"b")]);
    }

    #[test]
    fn bad_rules_are_refused_with_redis_texts_and_change_nothing() {
        let mut u = user(&["~*"]);
        let before = u.clone();
        let e = u.apply_rules(&args(&["on", "~x"])).unwrap_err();
        assert_eq!(
            e.0.reply(&e.1),
            Frame::error(
                "ERR Error in ACL SETUSER modifier '~x': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
            )
        );
        assert_eq!(u, before);
        for (rule, err) in [
            ("nosuch", RuleError::Syntax),
            ("+nosuch", RuleError::UnknownCommand),
            ("+@nosuch", RuleError::UnknownCommand),
            ("+config|nosuch", RuleError::UnknownCommand),
            ("+get|x", RuleError::FirstArg),
            ("#abc", RuleError::BadHash),
            ("<nope", RuleError::NoSuchPassword),
            ("%X~k", RuleError::Syntax),
            ("%R", RuleError::Syntax),
        ] {
            assert_eq!(User::new(b"u").apply_rule(rule.as_bytes()), Err(err), "{rule}");
        }
    }

    #[test]
    fn stored_rules_rebuild_the_same_user() {
        let u = user(&[
            "on",
            ">pw",
            "%R~a b",
            "&c\0h",
            "-@all",
            "+@read",
            "-get",
            "skip-sanitize-payload",
        ]);
        let mut again = User::new(b"alice");
        again
            .apply_rules(&decode_rules(&encode_rules(&u.rules())).unwrap())
            .unwrap();
        assert_eq!(again, u);
        assert_eq!(decode_rules(b"\x05\0\0\0ab"), None);
    }

    #[test]
    fn entries_change_the_stored_users() {
        let mut store = Store::new();
        let hidden = hide_passwords(&args(&["on", ">secret", "~*", "+@all"]));
        assert!(hidden[1].starts_with(b"#"));
        let mut set = args(&[ACL_ENTRY, "SETUSER", "bob", ""]);
        set.extend(hidden);
        assert_eq!(apply(&mut store, &set), Frame::ok());
        let bad = args(&[ACL_ENTRY, "SETUSER", "bob", "", "off", "+nosuch"]);
        assert!(matches!(apply(&mut store, &bad), Frame::Error(_)));
        let users = stored_users(&store);
        assert_eq!(users.len(), 1);
        assert!(users[0].enabled && users[0].password_matches(b"secret") && !users[0].password_matches(b"x"));
        // The default user starts from the configured one the first time a change names it.
        let base = encode_rules(&User::default_user(Some(b"pw")).rules());
        let mut set_default = vec![
            Bytes::from(ACL_ENTRY),
            Bytes::from("SETUSER"),
            Bytes::from(DEFAULT_USER),
            base,
        ];
        set_default.push(Bytes::from("-debug"));
        assert_eq!(apply(&mut store, &set_default), Frame::ok());
        let d = stored_users(&store)
            .into_iter()
            .find(|u| u.name == DEFAULT_USER)
            .unwrap();
        assert_eq!(d.describe_commands(), "+@all -debug");
        assert!(d.password_matches(b"pw"));
        let del = args(&[ACL_ENTRY, "DELUSER", "bob", "default", "nobody"]);
        assert_eq!(apply(&mut store, &del), Frame::Integer(1));
        assert_eq!(stored_users(&store).len(), 1);
    }

    #[test]
    fn acl_files_read_as_redis_reads_them() {
        let d = User::default_user(None);
        let users = parse_acl_file("user alice on >pw ~a* +get\n\nuser default on nopass ~* &* +@all\n", &d).unwrap();
        assert_eq!(users.len(), 2);
        assert_eq!(users[1].describe(), "on nopass ~* &* +@all");
        assert_eq!(
            parse_acl_file("user a on\nuser a off\n", &d),
            Err((2, "Duplicate user 'a' found".into()))
        );
        assert_eq!(
            parse_acl_file("bob on\n", &d),
            Err((1, "should start with user keyword".into()))
        );
        assert_eq!(
            parse_acl_file("user b +nosuch\n", &d),
            Err((
                1,
                "Error in applying operation '+nosuch': Unknown command or category name in ACL".into()
            ))
        );
    }

    #[test]
    fn permissions_follow_commands_keys_and_channels() {
        let p = Perms::compile(user(&[
            "on",
            "nopass",
            "+@read",
            "-strlen",
            "+config|get",
            "%R~r*",
            "~rw*",
            "&news.*",
        ]));
        assert!(!p.unrestricted);
        let check = |v: &[&str]| {
            let a = args(v);
            p.check(&prepare(&a).expect("known command"), &a)
        };
        assert_eq!(check(&["GET", "r1"]), Ok(()));
        assert_eq!(check(&["GET", "rw1"]), Ok(()));
        assert_eq!(check(&["GET", "x"]), Err(Denied::Key(Bytes::from_static(b"x"))));
        assert_eq!(check(&["STRLEN", "r1"]), Err(Denied::Command("strlen".into())));
        assert_eq!(check(&["SET", "r1", "v"]), Err(Denied::Command("set".into())));
        assert_eq!(check(&["CONFIG", "GET", "x"]), Ok(()));
        assert_eq!(
            check(&["CONFIG", "SET", "x", "y"]),
            Err(Denied::Command("config|set".into()))
        );
        let w = Perms::compile(user(&["+set", "+get", "+incr", "%W~w*", "~rw*"]));
        let wcheck = |v: &[&str]| {
            let a = args(v);
            w.check(&prepare(&a).unwrap(), &a)
        };
        assert_eq!(wcheck(&["GET", "w1"]), Err(Denied::Key(Bytes::from_static(b"w1"))));
        assert_eq!(wcheck(&["INCR", "w1"]), Err(Denied::Key(Bytes::from_static(b"w1"))));
        assert_eq!(wcheck(&["INCR", "rw1"]), Ok(()));
        let c = Perms::compile(user(&["+@pubsub", "&news.*"]));
        let ccheck = |v: &[&str]| {
            let a = args(v);
            c.check(&prepare(&a).unwrap(), &a)
        };
        assert_eq!(ccheck(&["PUBLISH", "news.a", "m"]), Ok(()));
        assert_eq!(
            ccheck(&["SUBSCRIBE", "news.a", "other"]),
            Err(Denied::Channel(Bytes::from_static(b"other")))
        );
        assert_eq!(ccheck(&["PSUBSCRIBE", "news.*"]), Ok(()));
        assert_eq!(
            ccheck(&["PSUBSCRIBE", "news.a*"]),
            Err(Denied::Channel(Bytes::from_static(b"news.a*")))
        );
        assert!(Perms::compile(User::default_user(None)).unrestricted);
        assert!(Perms::compile(user(&["+@all", "~*", "&*"])).unrestricted);
        assert!(!Perms::compile(user(&["+@all", "-debug", "~*", "&*"])).unrestricted);
    }
}
