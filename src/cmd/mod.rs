//! The command layer (docs/architecture.md, layer 2): one table checked before dispatch, then one file
//! per command family, each parsing arguments into a typed command and applying it to a
//! group's `Store`. Writes are pure functions of (store, args, time_ms) so every replica
//! applies a log entry identically.

pub mod acl;
pub mod blocking;
mod command;
mod float;
mod hashes;
mod keys;
mod lists;
pub mod parse;
mod sets;
pub(crate) use sets::{ScanOpts, parse_cursor};
mod spec;
pub use spec::{
    Begin, CommandSpec, Family, Find, Flag, Flags, KeyFlag, KeySpec, Kind, RequestPolicy, Resp3, ResponsePolicy, Tip,
    Twin, TwinArgs, TwinReply,
};
mod strings;
mod table;
pub mod txn;
mod zsets;

use bytes::Bytes;

use crate::resp::frame::Frame;
use crate::slots::{Slot, key_slot};
use crate::store::Store;
use parse::Reply;

/// The internal write the leader's expiry task proposes: `SLOTRAFT.EXPIRED key [key ...]`
/// deletes each key only if it is still expired at the entry's time. Hidden from clients.
pub const EXPIRED_DELETE: &str = "slotraft.expired";

/// The internal write FLUSHDB / FLUSHALL propose to each group the node leads: empties the
/// group's keyspace (counted as a change of every watched key it held).
pub const FLUSH_ENTRY: &str = "slotraft.flush";

/// The internal write that changes users, in the metadata group (`acl`).
pub const ACL_ENTRY: &str = "slotraft.acl";

/// Finds any row, including the internal one.
fn lookup_any(name: &[u8]) -> Option<&'static CommandSpec> {
    table::by_name().get(name)
}

/// The row of a client command, case-insensitive; `None` means unknown command.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    lookup_any(name).filter(|c| !c.is_internal())
}

/// Any row, internal entries (`slotraft.*`) included: for commands another node forwarded.
pub fn lookup_internal(name: &[u8]) -> Option<&'static CommandSpec> {
    lookup_any(name)
}

/// Redis's arity rule, with its exact error text.
pub fn check_arity(spec: &CommandSpec, argc: usize) -> Result<(), Frame> {
    let argc = i64::try_from(argc).unwrap_or(i64::MAX);
    let arity = i64::from(spec.arity);
    if (arity > 0 && argc != arity) || argc < -arity {
        return Err(arity_error(spec.name));
    }
    Ok(())
}

fn arity_error(name: &str) -> Frame {
    Frame::Error(crate::errors::wrong_arity(name))
}

/// Indexes of the key arguments: the table's first/last/step, or for `movablekeys` rows
/// (numkeys forms, SORT ... STORE, the log entries) the family's own key finder. A
/// container's keys are its subcommand's (OBJECT ENCODING key).
pub fn key_positions(spec: &CommandSpec, args: &[Bytes]) -> Vec<usize> {
    if spec.is_container() {
        return match args.get(1).and_then(|sub| spec.subcommand(sub)) {
            Some(sub) => key_positions(sub, args),
            None => Vec::new(),
        };
    }
    if let Some(find) = spec.find_keys {
        return find(args);
    }
    table_key_positions(spec, args.len())
}

fn table_key_positions(spec: &CommandSpec, argc: usize) -> Vec<usize> {
    if spec.first_key <= 0 || spec.step <= 0 {
        return Vec::new();
    }
    let argc = i64::try_from(argc).unwrap_or(i64::MAX);
    let last = if spec.last_key < 0 {
        argc + i64::from(spec.last_key)
    } else {
        i64::from(spec.last_key)
    }
    .min(argc - 1);
    let mut out = Vec::new();
    let mut i = i64::from(spec.first_key);
    while i <= last {
        if let Ok(i) = usize::try_from(i) {
            out.push(i);
        }
        i += i64::from(spec.step);
    }
    out
}

/// Redis 7's reply to an unknown command: name and arguments quoted, each cut so the
/// argument list stays under 128 bytes, CR/LF turned into spaces.
pub fn unknown_command(args: &[Bytes]) -> Frame {
    let name = args.first().map(|n| &n[..n.len().min(128)]).unwrap_or_default();
    let mut listed: Vec<u8> = Vec::new();
    for arg in args.iter().skip(1) {
        if listed.len() >= 128 {
            break;
        }
        let room = 128 - listed.len();
        listed.push(b'\'');
        listed.extend_from_slice(&arg[..arg.len().min(room)]);
        listed.extend_from_slice(b"' ");
    }
    let mut msg = b"ERR unknown command '".to_vec();
    msg.extend_from_slice(name);
    msg.extend_from_slice(b"', with args beginning with: ");
    msg.extend_from_slice(&listed);
    for b in &mut msg {
        if *b == b'\r' || *b == b'\n' {
            *b = b' ';
        }
    }
    Frame::Error(String::from_utf8_lossy(&msg).into_owned())
}

/// A parsed write, ready to apply.
enum WriteCmd<'a> {
    Strings(strings::Write<'a>),
    Keys(keys::Write),
    Hashes(hashes::Write),
    Lists(lists::Write),
    Sets(sets::Write),
    ZSets(zsets::Write),
}

fn parse_write<'a>(spec: &CommandSpec, args: &'a [Bytes]) -> Reply<WriteCmd<'a>> {
    match spec.family {
        Family::String | Family::Bitmap => strings::parse_write(spec.name, args).map(WriteCmd::Strings),
        Family::Generic => keys::parse_write(spec.name, args).map(WriteCmd::Keys),
        Family::Hash => hashes::parse_write(spec.name, args).map(WriteCmd::Hashes),
        Family::List => lists::parse_write(spec.name, args).map(WriteCmd::Lists),
        Family::Set => sets::parse_write(spec.name, args).map(WriteCmd::Sets),
        Family::SortedSet => zsets::parse_write(spec.name, args).map(WriteCmd::ZSets),
        _ => Err(not_served(spec.name)),
    }
}

fn not_served(name: &str) -> Frame {
    Frame::Error(format!("ERR command '{name}' is not served by a group's store"))
}

/// A command as the table reads it, once, before it runs: everything the executor asks `cmd`
/// about it later (its row, its subcommand's, where its keys are and their slots). Built
/// where the command arrives and carried along to the path that runs it, so the table is
/// read once per command on the node that serves it. The apply on every replica reads the
/// log entry afresh (`apply_write`), never this.
#[derive(Clone, Debug)]
pub struct Prepared {
    /// The row the command names (`config` for CONFIG GET).
    pub spec: &'static CommandSpec,
    /// A container's subcommand row (`config|get`); `None` for other commands.
    pub sub: Option<&'static CommandSpec>,
    /// Positions of the key arguments, in order.
    pub keys: Vec<usize>,
    /// The slot of each key, in the same order.
    pub slots: Vec<Slot>,
}

impl Prepared {
    /// The row that decides how the command runs: the subcommand's, else the command's.
    pub fn row(&self) -> &'static CommandSpec {
        self.sub.unwrap_or(self.spec)
    }

    /// Where the command is served: its row's kind, except that a client's read or write
    /// that names no key (see `keyless`) is the node's to answer, as Redis serves a command
    /// without keys where it arrives: it touches no group.
    pub fn kind(&self) -> Kind {
        if self.spec.kind != Kind::Node && self.keys.is_empty() && !self.spec.is_internal() {
            return Kind::Node;
        }
        self.spec.kind
    }

    pub fn is_write(&self) -> bool {
        self.spec.kind == Kind::Write
    }

    /// One of the node's own log entries (`slotraft.exec`, `slotraft.watch`) built by the
    /// executor, routed to `slots`: the entry's own arguments are not read again for its keys.
    pub fn entry(name: &str, slots: Vec<Slot>) -> Result<Prepared, Frame> {
        let spec = lookup_any(name.as_bytes()).ok_or_else(|| Frame::Error(format!("ERR {name} is not available")))?;
        Ok(Prepared {
            spec,
            sub: None,
            keys: Vec::new(),
            slots,
        })
    }

    /// The reply as a RESP3 client wants it (see `reshape_for_resp3`).
    pub fn reshape_for_resp3(&self, args: &[Bytes], reply: Frame) -> Frame {
        reshape_for_resp3(self.spec, args, reply)
    }
}

/// Reads a client's command against the table: its row (and a container's subcommand row),
/// Redis's arity rule for both, and its keys' positions and slots. The errors are Redis's:
/// unknown command, unknown subcommand, wrong number of arguments.
pub fn prepare(args: &[Bytes]) -> Result<Prepared, Frame> {
    let spec = args
        .first()
        .and_then(|n| lookup(n))
        .ok_or_else(|| unknown_command(args))?;
    prepare_row(spec, args)
}

/// As `prepare`, for a command another node forwarded: the node's own log entries
/// (`slotraft.exec`, `slotraft.watch`) are known too.
pub fn prepare_internal(args: &[Bytes]) -> Result<Prepared, Frame> {
    let spec = args
        .first()
        .and_then(|n| lookup_any(n))
        .ok_or_else(|| unknown_command(args))?;
    prepare_row(spec, args)
}

fn prepare_row(spec: &'static CommandSpec, args: &[Bytes]) -> Result<Prepared, Frame> {
    check_arity(spec, args.len())?;
    let sub = match args.get(1) {
        Some(name) if spec.is_container() => {
            let sub = spec.subcommand(name).ok_or_else(|| unknown_subcommand(spec, name))?;
            check_arity(sub, args.len())?;
            Some(sub)
        }
        _ => None,
    };
    let keys = key_positions(sub.unwrap_or(spec), args);
    let slots = keys.iter().map(|&i| key_slot(&args[i])).collect();
    Ok(Prepared { spec, sub, keys, slots })
}

/// Redis 7's reply to a subcommand a container does not have (the name cut at 128 bytes).
fn unknown_subcommand(container: &CommandSpec, sub: &[u8]) -> Frame {
    Frame::Error(format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        String::from_utf8_lossy(&sub[..sub.len().min(128)]),
        container.name.to_ascii_uppercase()
    ))
}

/// Parses a prepared write without executing it, so syntax errors are answered before
/// anything is proposed to Raft. Other kinds pass (the table's checks were `prepare`'s).
/// Largest log entry one write (a command, or a whole transaction) may make, counting each
/// argument's bytes and a 16-byte allowance for its framing: room for one argument of
/// `proto-max-bulk-len`'s default, 512 MiB. Every AppendEntries frame must carry at least one
/// entry, so `wire::MAX_MESSAGE_BYTES` is larger (a compile-time check there).
pub const MAX_ENTRY_BYTES: usize = 520 << 20;

/// The bytes `args` count for against `MAX_ENTRY_BYTES`.
pub fn entry_bytes(args: &[Bytes]) -> usize {
    args.iter().map(|a| a.len() + 16).sum()
}

/// Checks a write before it is proposed: what `apply` would refuse for its syntax, and its
/// size, so that nothing enters the log that every replica would refuse or could not receive.
pub fn validate(prepared: &Prepared, args: &[Bytes]) -> Result<(), Frame> {
    let size = entry_bytes(args);
    if size > MAX_ENTRY_BYTES {
        return Err(Frame::Error(format!(
            "ERR write too large to replicate ({size} bytes with its transaction or arguments; the limit is {MAX_ENTRY_BYTES})"
        )));
    }
    let spec = prepared.spec;
    if spec.name == txn::EXEC_ENTRY {
        txn::Transaction::decode(args)?;
    } else if spec.name == txn::BATCH_ENTRY {
        txn::decode_batch(args)?;
    } else if spec.kind == Kind::Write && spec.name != FLUSH_ENTRY && spec.name != acl::ACL_ENTRY {
        parse_write(spec, args)?;
    }
    Ok(())
}

/// The reply of a client's data command that names no key: a numkeys Redis's key finders
/// cannot use (ZUNION 0 k, LMPOP abc k LEFT), or a keyless subcommand (OBJECT HELP). Redis
/// serves such a command where it arrives, and as it touches no key no group is needed: a
/// read runs against an empty store, a write answers its argument error. `None` when the
/// command has keys, or is a write that parses (none is known): it is routed as usual.
pub fn keyless(spec: &'static CommandSpec, args: &[Bytes]) -> Option<Frame> {
    if !key_positions(spec, args).is_empty() || spec.is_internal() {
        return None;
    }
    match spec.kind {
        Kind::Read => Some(read(&Store::new(), spec, args, 0)),
        Kind::Write => parse_write(spec, args).err(),
        Kind::Node => None,
    }
}

fn checked_spec(args: &[Bytes]) -> Result<&'static CommandSpec, Frame> {
    let spec = args
        .first()
        .and_then(|n| lookup_any(n))
        .ok_or_else(|| unknown_command(args))?;
    check_arity(spec, args.len())?;
    Ok(spec)
}

/// Runs a Read command. Keys past their deadline at `now_ms` are absent (lazy expiry
/// without mutation, since reads do not go through the log).
pub fn execute_read(store: &Store, args: &[Bytes], now_ms: u64) -> Frame {
    match checked_spec(args) {
        Ok(spec) => read(store, spec, args, now_ms),
        Err(e) => e,
    }
}

/// Runs a Read command whose row is known (`Prepared::spec`).
pub fn read(store: &Store, spec: &CommandSpec, args: &[Bytes], now_ms: u64) -> Frame {
    if spec.kind != Kind::Read {
        return not_served(spec.name);
    }
    let reply = match spec.family {
        Family::String | Family::Bitmap => strings::read(spec.name, store, args, now_ms),
        Family::Generic => keys::read(spec.name, store, args, now_ms),
        Family::Hash => hashes::read(spec.name, store, args, now_ms),
        Family::List => lists::read(spec.name, store, args, now_ms),
        Family::Set => sets::read(spec.name, store, args, now_ms),
        Family::SortedSet => zsets::read(spec.name, store, args, now_ms),
        Family::Internal if spec.name == txn::WATCH_CLOCK => {
            let clock = Frame::Integer(i64::try_from(store.watch_seen()).unwrap_or(i64::MAX));
            let expired = args[1..]
                .iter()
                .map(|k| Frame::Integer(i64::from(store.is_expired_at(k, now_ms))));
            Ok(Frame::Array(std::iter::once(clock).chain(expired).collect()))
        }
        _ => Err(not_served(spec.name)),
    };
    reply.unwrap_or_else(|e| e)
}

/// Applies a Write command from the log. Deterministic: the only time is `time_ms` (the
/// entry's), relative TTLs become absolute here, and keys expired at `time_ms` are deleted
/// before the command sees them. A Read command is answered as a read at `time_ms`.
pub fn apply_write(store: &mut Store, args: &[Bytes], time_ms: u64) -> Frame {
    apply_entry(store, args, time_ms, Answer::Wanted)
}

/// Whether a client waits for an entry's reply: only on the node that proposed it, never on
/// a follower or during replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Wanted,
    Unwanted,
}

/// `apply_write`, with reads (inside a transaction) run only when the reply is `Wanted`: a
/// read changes nothing, so a follower or a replay skips it and its place in the reply is a
/// null nobody sees. Reads then never cost the apply path of every replica.
pub fn apply_entry(store: &mut Store, args: &[Bytes], time_ms: u64, answer: Answer) -> Frame {
    let spec = match checked_spec(args) {
        Ok(s) => s,
        Err(e) => return e,
    };
    match spec.kind {
        Kind::Read if answer == Answer::Unwanted => return Frame::Null,
        Kind::Read => return read(store, spec, args, time_ms),
        Kind::Node => return not_served(spec.name),
        Kind::Write if spec.name == txn::EXEC_ENTRY => return txn::apply(store, args, time_ms, answer),
        Kind::Write if spec.name == txn::BATCH_ENTRY => return txn::apply_batch(store, args, time_ms, answer),
        Kind::Write if spec.name == acl::ACL_ENTRY => return acl::apply(store, args),
        Kind::Write if spec.name == FLUSH_ENTRY => {
            store.flush();
            return Frame::ok();
        }
        Kind::Write => {}
    }
    let cmd = match parse_write(spec, args) {
        Ok(c) => c,
        Err(e) => return e,
    };
    // Keys past their deadline are deleted before the command reads them; a command that reads
    // none (a plain SET) skips the lookup, one hash probe (and its cache misses) per key.
    let blind = matches!(&cmd, WriteCmd::Strings(w) if w.overwrites_blindly());
    if spec.name != EXPIRED_DELETE && !blind {
        for i in key_positions(spec, args) {
            store.expire_if_needed(&args[i], time_ms);
        }
    }
    let reply = match cmd {
        WriteCmd::Strings(c) => c.apply(store, time_ms),
        WriteCmd::Keys(c) => c.apply(store, time_ms),
        WriteCmd::Hashes(c) => c.apply(store),
        WriteCmd::Lists(c) => c.apply(store),
        WriteCmd::Sets(c) => c.apply(store, time_ms),
        WriteCmd::ZSets(c) => c.apply(store, time_ms),
    };
    reply.unwrap_or_else(|e| e)
}

/// RESP3 clients get (member, score) and (field, value) replies as pairs, as Redis 7 sends
/// them: the flat reply every replica computes is nested here, at the connection's edge, as
/// the row's `resp3` says.
pub fn reshape_for_resp3(spec: &CommandSpec, args: &[Bytes], reply: Frame) -> Frame {
    let Frame::Array(items) = reply else { return reply };
    let paired = match spec.resp3 {
        Resp3::Flat => false,
        Resp3::PairsWith(option) => args[1..].iter().any(|a| a.eq_ignore_ascii_case(option.as_bytes())),
        Resp3::PairsWithCount => args.len() == 3,
    };
    if !paired || items.len() % 2 != 0 {
        return Frame::Array(items);
    }
    let mut pairs = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        pairs.push(Frame::Array(vec![a, b]));
    }
    Frame::Array(pairs)
}

/// COMMAND (full list), COMMAND COUNT / INFO / DOCS / LIST / GETKEYS, from the table.
pub fn command_reply(args: &[Bytes]) -> Frame {
    command::command_reply(args)
}

/// Every client-visible row, subcommands included: for tests that check the table whole.
pub fn all_rows() -> impl Iterator<Item = &'static CommandSpec> {
    table::COMMANDS
        .iter()
        .flat_map(|c| std::iter::once(c).chain(c.subcommands.iter()))
}

/// Time arithmetic shared by the families: a log time as Redis's signed milliseconds.
fn ms_i64(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

#[cfg(test)]
pub(crate) mod testing {
    //! Shared by the per-family table tests: run requests against one store at given times.
    use super::*;

    pub fn args(v: &[&str]) -> Vec<Bytes> {
        v.iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect()
    }

    pub fn bulk(s: &str) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    pub fn int(i: i64) -> Frame {
        Frame::Integer(i)
    }

    pub fn ok() -> Frame {
        Frame::ok()
    }

    pub fn err(s: &str) -> Frame {
        Frame::Error(s.into())
    }

    pub fn arr(v: &[&str]) -> Frame {
        Frame::Array(v.iter().map(|s| bulk(s)).collect())
    }

    pub const WRONGTYPE: &str = parse::WRONGTYPE;

    /// `prepare` then `validate`, as the executor runs them on a write.
    pub fn validate_args(args: &[Bytes]) -> Result<(), Frame> {
        prepare_internal(args).and_then(|p| validate(&p, args))
    }

    /// Runs each `(request, RESP2 bytes, RESP3 bytes)` in order against one store and checks
    /// the reply's exact bytes in both protocols (RESP3 reshaped as the connection does).
    pub fn run_wire(cases: &[(&[&str], &str, &str)]) {
        use crate::resp::encode::{Protocol, encode};
        let mut store = Store::new();
        for (i, (req, want2, want3)) in cases.iter().enumerate() {
            let a = args(req);
            let spec = lookup(&a[0]).expect("a known command");
            let frame = if spec.kind == Kind::Write {
                apply_write(&mut store, &a, 0)
            } else {
                execute_read(&store, &a, 0)
            };
            let mut two = bytes::BytesMut::new();
            encode(&frame, Protocol::Resp2, &mut two);
            let mut three = bytes::BytesMut::new();
            encode(&reshape_for_resp3(spec, &a, frame), Protocol::Resp3, &mut three);
            assert_eq!(String::from_utf8_lossy(&two), *want2, "case {i}: {req:?} in RESP2");
            assert_eq!(String::from_utf8_lossy(&three), *want3, "case {i}: {req:?} in RESP3");
        }
    }

    /// Runs each `(time_ms, request, expected)` in order against one store, through the
    /// same path the server uses: table lookup, arity, validate for writes, then apply.
    pub fn run(cases: &[(u64, &[&str], Frame)]) -> Store {
        let mut store = Store::new();
        for (i, (t, req, want)) in cases.iter().enumerate() {
            let a = args(req);
            let got = match lookup(&a[0]) {
                None => unknown_command(&a),
                Some(spec) => match check_arity(spec, a.len()) {
                    Err(e) => e,
                    Ok(()) if spec.kind == Kind::Write => match validate_args(&a) {
                        Err(e) => {
                            // apply must agree with validate on a bad request.
                            let mut copy = store.clone();
                            assert_eq!(apply_write(&mut copy, &a, *t), e, "case {i}: {req:?}");
                            e
                        }
                        Ok(()) => apply_write(&mut store, &a, *t),
                    },
                    Ok(()) => execute_read(&store, &a, *t),
                },
            };
            assert_eq!(&got, want, "case {i}: {req:?}");
        }
        store
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn resp3_pairs_scores_and_values() {
        let a = |v: &[&str]| {
            v.iter()
                .map(|s| Bytes::copy_from_slice(s.as_bytes()))
                .collect::<Vec<_>>()
        };
        let b = |s: &str| Frame::Bulk(Bytes::copy_from_slice(s.as_bytes()));
        let reshape = |args: &[Bytes], reply| reshape_for_resp3(lookup(&args[0]).unwrap(), args, reply);
        let flat = Frame::Array(vec![b("m"), Frame::Double(1.5), b("n"), Frame::Double(2.0)]);
        let pairs = Frame::Array(vec![
            Frame::Array(vec![b("m"), Frame::Double(1.5)]),
            Frame::Array(vec![b("n"), Frame::Double(2.0)]),
        ]);
        assert_eq!(
            reshape(&a(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]), flat.clone()),
            pairs
        );
        assert_eq!(reshape(&a(&["zpopmin", "z", "2"]), flat.clone()), pairs);
        // Without the flag, or a single ZPOPMIN, the reply stays flat.
        assert_eq!(reshape(&a(&["zrange", "z", "0", "-1"]), flat.clone()), flat);
        assert_eq!(reshape(&a(&["zpopmin", "z"]), flat.clone()), flat);
        assert_eq!(
            reshape(&a(&["zrange", "z", "0", "-1", "withscores"]), Frame::Null),
            Frame::Null
        );
    }

    #[test]
    fn lookup_is_case_insensitive_and_hides_internal() {
        assert_eq!(lookup(b"GeT").map(|c| c.name), Some("get"));
        assert!(lookup(b"nosuch").is_none());
        assert!(lookup(b"SLOTRAFT.EXPIRED").is_none());
        assert!(lookup_any(b"SLOTRAFT.EXPIRED").is_some());
        assert!(lookup(&[b'a'; 100]).is_none());
        assert!(lookup(&[0xff, 0xfe]).is_none());
    }

    #[test]
    fn arity_errors() {
        let get = lookup(b"get").unwrap();
        assert_eq!(check_arity(get, 2), Ok(()));
        assert_eq!(
            check_arity(get, 3),
            Err(err("ERR wrong number of arguments for 'get' command"))
        );
        let mset = lookup(b"mset").unwrap();
        assert_eq!(
            check_arity(mset, 2),
            Err(err("ERR wrong number of arguments for 'mset' command"))
        );
        assert_eq!(check_arity(mset, 7), Ok(()));
    }

    #[test]
    fn key_positions_follow_table() {
        let spec = |n: &str| lookup(n.as_bytes()).unwrap();
        let at = |req: &[&str]| {
            let args: Vec<Bytes> = req.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
            key_positions(spec(req[0]), &args)
        };
        assert_eq!(at(&["get", "k"]), vec![1]);
        assert_eq!(at(&["mset", "a", "1", "b", "2"]), vec![1, 3]);
        assert_eq!(at(&["mget", "a", "b", "c"]), vec![1, 2, 3]);
        assert_eq!(at(&["del", "a"]), vec![1]);
        assert_eq!(at(&["ping", "x"]), Vec::<usize>::new());
        assert_eq!(at(&["set", "k", "v", "EX", "1"]), vec![1]);
        // movablekeys rows read their numkeys (or STORE) arguments.
        assert_eq!(
            at(&["zunionstore", "d", "2", "a", "b", "weights", "1", "2"]),
            vec![1, 3, 4]
        );
        assert_eq!(at(&["zinter", "2", "a", "b"]), vec![2, 3]);
        assert_eq!(at(&["sintercard", "2", "a", "b", "limit", "1"]), vec![2, 3]);
        assert_eq!(at(&["lmpop", "2", "a", "b", "left"]), vec![2, 3]);
        assert_eq!(at(&["sort", "k", "store", "d"]), vec![1, 3]);
        assert_eq!(at(&["object", "encoding", "k"]), vec![2]);
    }

    #[test]
    fn an_unusable_numkeys_names_no_key_and_answers_redis_error() {
        let not_int = "ERR value is not an integer or out of range";
        let cases: &[(&[&str], &str)] = &[
            (
                &["LMPOP", "abc", "{t}a", "RIGHT"],
                "ERR numkeys should be greater than 0",
            ),
            (
                &["ZINTER", "-1", "{t}b"],
                "ERR at least 1 input key is needed for 'zinter' command",
            ),
            (&["SINTERCARD", "0", "{t}a"], "ERR numkeys should be greater than 0"),
            (&["ZUNION", "abc", "{t}", "{t}a"], not_int),
            (
                &["ZUNION", "0", "{t}a"],
                "ERR at least 1 input key is needed for 'zunion' command",
            ),
            (&["ZMPOP", "2147483648", "{t}e", "{t}c", "MIN"], "ERR syntax error"),
            (&["ZMPOP", "0", "{t}e", "MIN"], "ERR numkeys should be greater than 0"),
            (
                &["SINTERCARD", "2147483648", "{t}e", "{t}e", "other"],
                "ERR Number of keys can't be greater than number of args",
            ),
            (&["ZDIFF", "2147483648", "{t}e", "WITHSCORES"], "ERR syntax error"),
            (
                &["ZINTERCARD", "0", "{t}a"],
                "ERR at least 1 input key is needed for 'zintercard' command",
            ),
            (&["ZINTERSTORE", "other", "3", "{t}a", "{t}b"], "ERR syntax error"),
            (&["ZUNIONSTORE", "{t}d", "abc", "{t}a"], not_int),
        ];
        for (req, want) in cases {
            let a = args(req);
            let p = prepare(&a).unwrap();
            assert_eq!(p.slots, Vec::<Slot>::new(), "{req:?}");
            assert_eq!(p.kind(), Kind::Node, "{req:?}");
            assert_eq!(keyless(p.spec, &a), Some(err(want)), "{req:?}");
        }
        // A usable count names its keys, options included when it says so (Redis: CROSSSLOT).
        let p = prepare(&args(&["LMPOP", "3", "{t}a", "b", "LEFT"])).unwrap();
        assert_eq!((p.keys.clone(), p.kind()), (vec![2, 3, 4], Kind::Write));
        let p = prepare(&args(&["ZUNIONSTORE", "d", "1", "a"])).unwrap();
        assert_eq!((p.keys.clone(), p.kind()), (vec![1, 3], Kind::Write));
        assert_eq!(keyless(p.spec, &args(&["ZUNIONSTORE", "d", "1", "a"])), None);
        // OBJECT HELP names no key: answered without a group.
        let p = prepare(&args(&["OBJECT", "HELP"])).unwrap();
        assert_eq!(p.kind(), Kind::Node);
        let Some(Frame::Array(help)) = keyless(p.spec, &args(&["OBJECT", "HELP"])) else {
            panic!("OBJECT HELP answers its help text")
        };
        assert_eq!(help.len(), 15);
        assert_eq!(prepare(&args(&["OBJECT", "ENCODING", "k"])).unwrap().kind(), Kind::Read);
    }

    #[test]
    fn unknown_command_text() {
        assert_eq!(
            unknown_command(&args(&["foo", "a", "b"])),
            err("ERR unknown command 'foo', with args beginning with: 'a' 'b' ")
        );
        assert_eq!(
            unknown_command(&args(&["foo"])),
            err("ERR unknown command 'foo', with args beginning with: ")
        );
        assert_eq!(
            unknown_command(&args(&["fo\r\no", "x\ny"])),
            err("ERR unknown command 'fo  o', with args beginning with: 'x y' ")
        );
        let long = "x".repeat(200);
        let Frame::Error(e) = unknown_command(&args(&["foo", &long, "b"])) else {
            panic!()
        };
        assert_eq!(
            e,
            format!(
                "ERR unknown command 'foo', with args beginning with: '{}' ",
                "x".repeat(128)
            )
        );
    }

    #[test]
    fn dispatch_guards() {
        let mut s = Store::new();
        assert_eq!(
            apply_write(&mut s, &args(&["nosuch", "a"]), 0),
            err("ERR unknown command 'nosuch', with args beginning with: 'a' ")
        );
        assert_eq!(
            apply_write(&mut s, &args(&["get"]), 0),
            err("ERR wrong number of arguments for 'get' command")
        );
        assert_eq!(
            apply_write(&mut s, &args(&["ping"]), 0),
            err("ERR command 'ping' is not served by a group's store")
        );
        assert_eq!(
            apply_write(&mut s, &args(&[]), 0),
            err("ERR unknown command '', with args beginning with: ")
        );
        assert_eq!(
            execute_read(&s, &args(&["set", "a", "b"]), 0),
            err("ERR command 'set' is not served by a group's store")
        );
        assert_eq!(
            validate_args(&args(&["set", "a", "b", "nx", "xx"])),
            Err(err("ERR syntax error"))
        );
        assert_eq!(validate_args(&args(&["get", "a"])), Ok(()));
        // apply_write also answers reads, at the entry's time.
        assert_eq!(apply_write(&mut s, &args(&["get", "a"]), 0), Frame::Null);
    }

    #[test]
    fn replay_and_snapshot_restore_agree() {
        let log: &[(u64, &[&str])] = &[
            (100, &["set", "s", "1", "px", "50"]),
            (110, &["incr", "s"]),
            (120, &["rpush", "l", "a", "b", "c"]),
            (130, &["hset", "h", "f", "v", "g", "w"]),
            (140, &["expire", "l", "1"]),
            (150, &["lpop", "l"]),
            (160, &["append", "s", "x"]),
            (170, &["hdel", "h", "f"]),
            (1200, &["rpush", "l", "z"]),
            (1300, &["set", "t", "v", "keepttl"]),
            (1400, &["pexpire", "h", "10"]),
            (1500, &[EXPIRED_DELETE, "h", "t"]),
        ];
        let probe = |st: &Store| -> Vec<Frame> {
            ["s", "l", "h", "t"]
                .iter()
                .flat_map(|k| {
                    [
                        execute_read(st, &args(&["type", k]), 1500),
                        execute_read(st, &args(&["pttl", k]), 1500),
                    ]
                })
                .chain([
                    execute_read(st, &args(&["lrange", "l", "0", "-1"]), 1500),
                    execute_read(st, &args(&["get", "s"]), 1500),
                    Frame::Integer(st.len() as i64),
                    Frame::Integer(st.keys_with_deadline() as i64),
                ])
                .collect()
        };
        let (first, second) = log.split_at(6);
        let mut a = Store::new();
        let mut replies_a = Vec::new();
        for (t, req) in log {
            replies_a.push(apply_write(&mut a, &args(req), *t));
        }
        let mut b = Store::new();
        let mut replies_b = Vec::new();
        for (t, req) in first {
            replies_b.push(apply_write(&mut b, &args(req), *t));
        }
        let mut buf = Vec::new();
        b.write_snapshot(&mut buf).unwrap();
        let mut b = Store::read_snapshot(&mut buf.as_slice()).unwrap();
        for (t, req) in second {
            replies_b.push(apply_write(&mut b, &args(req), *t));
        }
        assert_eq!(replies_a, replies_b);
        assert_eq!(probe(&a), probe(&b));
        assert_eq!(probe(&a)[..2], [Frame::Simple("string".into()), Frame::Integer(-1)]);
    }

    #[test]
    fn prepare_reads_the_table_once_with_redis_errors() {
        let p = prepare(&args(&["CONFIG", "get", "timeout"])).unwrap();
        assert_eq!((p.spec.name, p.row().name), ("config", "config|get"));
        assert_eq!(
            prepare(&args(&["config", "get"])).unwrap_err(),
            err("ERR wrong number of arguments for 'config|get' command")
        );
        assert_eq!(
            prepare(&args(&["config"])).unwrap_err(),
            err("ERR wrong number of arguments for 'config' command")
        );
        assert_eq!(
            prepare(&args(&["config", "Nope"])).unwrap_err(),
            err("ERR unknown subcommand 'Nope'. Try CONFIG HELP.")
        );
        assert_eq!(
            prepare(&args(&["client", "setname"])).unwrap_err(),
            err("ERR wrong number of arguments for 'client|setname' command")
        );
        assert_eq!(
            prepare(&args(&["object", "encoding"])).unwrap_err(),
            err("ERR wrong number of arguments for 'object|encoding' command")
        );
        // COMMAND alone is a command of its own; with an argument, a subcommand.
        assert!(prepare(&args(&["command"])).unwrap().sub.is_none());
        let p = prepare(&args(&["mset", "a", "1", "b", "2"])).unwrap();
        assert_eq!(p.keys, vec![1, 3]);
        assert_eq!(
            p.slots,
            vec![crate::slots::key_slot(b"a"), crate::slots::key_slot(b"b")]
        );
        let p = prepare(&args(&["blmpop", "0", "2", "{t}a", "{t}b", "left"])).unwrap();
        assert_eq!(p.keys, vec![3, 4]);
        assert!(prepare(&args(&[EXPIRED_DELETE, "k"])).is_err());
        assert!(prepare_internal(&args(&[EXPIRED_DELETE, "k"])).is_ok());
        assert_eq!(
            prepare(&args(&["nosuch"])).unwrap_err(),
            unknown_command(&args(&["nosuch"]))
        );
    }
}
