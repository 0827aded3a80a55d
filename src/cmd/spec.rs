//! What one row of the command table says, typed: the executor decides by these fields (its
//! family, its flags, the shape RESP3 gives its reply, its subcommands, its blocking twin),
//! never by a name or a text, and COMMAND INFO / DOCS print them as Redis 7.2 does.

use bytes::Bytes;

/// Where a command is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Reads a group's store (after a linearizable-read check on the leader).
    Read,
    /// Goes through the group's Raft log, then `apply_write`.
    Write,
    /// Answered by the node itself (PING, INFO, CLUSTER ...), never by a store.
    Node,
}

/// The command's family: Redis's doc group for client commands (COMMAND DOCS `group`), and the
/// family file that parses and runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    String,
    Bitmap,
    Generic,
    Hash,
    List,
    Set,
    SortedSet,
    PubSub,
    Transactions,
    Connection,
    Server,
    Cluster,
    /// Log entries the node makes itself (EXEC's, a batch's, WATCH's clock read, a flush):
    /// hidden from clients, each read by its own code in `cmd`.
    Internal,
}

impl Family {
    /// Redis's name of the group.
    pub fn group(self) -> &'static str {
        match self {
            Family::String => "string",
            Family::Bitmap => "bitmap",
            Family::Generic => "generic",
            Family::Hash => "hash",
            Family::List => "list",
            Family::Set => "set",
            Family::SortedSet => "sorted-set",
            Family::PubSub => "pubsub",
            Family::Transactions => "transactions",
            Family::Connection => "connection",
            Family::Server => "server",
            Family::Cluster => "cluster",
            Family::Internal => "internal",
        }
    }
}

/// One command flag. Redis's flags are shown by COMMAND in this order; the last ones are
/// slotraft's own and never shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Flag {
    Write,
    Readonly,
    Denyoom,
    Admin,
    Pubsub,
    Noscript,
    Blocking,
    Loading,
    Stale,
    SkipSlowlog,
    Fast,
    NoAuth,
    Movablekeys,
    AllowBusy,
    /// Redis's `protected` (DEBUG): set, but hidden from COMMAND as Redis hides it.
    Protected,
    /// Runs at once inside MULTI instead of being queued (MULTI, EXEC, DISCARD, WATCH, QUIT,
    /// RESET), as Redis's `processCommand` lets them.
    RunsInMulti,
    /// Allowed on a RESP2 connection that has subscriptions.
    WhileSubscribed,
}

impl Flag {
    /// Redis's name, or `None` for a flag COMMAND does not show.
    pub fn redis_name(self) -> Option<&'static str> {
        Some(match self {
            Flag::Write => "write",
            Flag::Readonly => "readonly",
            Flag::Denyoom => "denyoom",
            Flag::Admin => "admin",
            Flag::Pubsub => "pubsub",
            Flag::Noscript => "noscript",
            Flag::Blocking => "blocking",
            Flag::Loading => "loading",
            Flag::Stale => "stale",
            Flag::SkipSlowlog => "skip_slowlog",
            Flag::Fast => "fast",
            Flag::NoAuth => "no_auth",
            Flag::Movablekeys => "movablekeys",
            Flag::AllowBusy => "allow_busy",
            Flag::Protected | Flag::RunsInMulti | Flag::WhileSubscribed => return None,
        })
    }

    const ALL: [Flag; 17] = [
        Flag::Write,
        Flag::Readonly,
        Flag::Denyoom,
        Flag::Admin,
        Flag::Pubsub,
        Flag::Noscript,
        Flag::Blocking,
        Flag::Loading,
        Flag::Stale,
        Flag::SkipSlowlog,
        Flag::Fast,
        Flag::NoAuth,
        Flag::Movablekeys,
        Flag::AllowBusy,
        Flag::Protected,
        Flag::RunsInMulti,
        Flag::WhileSubscribed,
    ];
}

/// A set of flags, built in const context from a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Flags(u32);

impl Flags {
    pub const fn of(flags: &[Flag]) -> Flags {
        let mut bits = 0;
        let mut i = 0;
        while i < flags.len() {
            bits |= 1 << flags[i] as u8;
            i += 1;
        }
        Flags(bits)
    }

    pub const fn with(self, flag: Flag) -> Flags {
        Flags(self.0 | 1 << flag as u8)
    }

    pub const fn has(self, flag: Flag) -> bool {
        self.0 & (1 << flag as u8) != 0
    }

    /// The flags COMMAND shows, in Redis's order.
    pub fn redis_names(self) -> impl Iterator<Item = &'static str> {
        Flag::ALL
            .into_iter()
            .filter(move |f| self.has(*f))
            .filter_map(Flag::redis_name)
    }
}

/// Where a cluster client sends a command (Redis's `request_policy` tip).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestPolicy {
    AllNodes,
    AllShards,
    MultiShard,
    Special,
}

/// How a cluster client folds the replies of several nodes (`response_policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponsePolicy {
    OneSucceeded,
    AllSucceeded,
    AggLogicalAnd,
    AggLogicalOr,
    AggMin,
    AggMax,
    AggSum,
    Special,
}

/// A command tip (COMMAND INFO's eighth element): what clients and proxies learn about
/// routing the command and the nature of its reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tip {
    NondeterministicOutput,
    NondeterministicOutputOrder,
    Request(RequestPolicy),
    Response(ResponsePolicy),
}

impl Tip {
    /// As Redis prints it.
    pub fn text(self) -> &'static str {
        match self {
            Tip::NondeterministicOutput => "nondeterministic_output",
            Tip::NondeterministicOutputOrder => "nondeterministic_output_order",
            Tip::Request(p) => match p {
                RequestPolicy::AllNodes => "request_policy:all_nodes",
                RequestPolicy::AllShards => "request_policy:all_shards",
                RequestPolicy::MultiShard => "request_policy:multi_shard",
                RequestPolicy::Special => "request_policy:special",
            },
            Tip::Response(p) => match p {
                ResponsePolicy::OneSucceeded => "response_policy:one_succeeded",
                ResponsePolicy::AllSucceeded => "response_policy:all_succeeded",
                ResponsePolicy::AggLogicalAnd => "response_policy:agg_logical_and",
                ResponsePolicy::AggLogicalOr => "response_policy:agg_logical_or",
                ResponsePolicy::AggMin => "response_policy:agg_min",
                ResponsePolicy::AggMax => "response_policy:agg_max",
                ResponsePolicy::AggSum => "response_policy:agg_sum",
                ResponsePolicy::Special => "response_policy:special",
            },
        }
    }
}

/// A key specification's flag, in the order Redis prints them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFlag {
    Ro,
    Rw,
    Ow,
    Rm,
    Access,
    Update,
    Insert,
    Delete,
    NotKey,
    Incomplete,
    VariableFlags,
}

impl KeyFlag {
    pub fn text(self) -> &'static str {
        match self {
            KeyFlag::Ro => "RO",
            KeyFlag::Rw => "RW",
            KeyFlag::Ow => "OW",
            KeyFlag::Rm => "RM",
            KeyFlag::Access => "access",
            KeyFlag::Update => "update",
            KeyFlag::Insert => "insert",
            KeyFlag::Delete => "delete",
            KeyFlag::NotKey => "not_key",
            KeyFlag::Incomplete => "incomplete",
            KeyFlag::VariableFlags => "variable_flags",
        }
    }
}

/// Where the search for a key specification's keys starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Begin {
    /// At this argument.
    Index(i32),
    /// After this keyword, searched from `startfrom` (negative: from the end).
    Keyword(&'static str, i32),
    Unknown,
}

/// How a key specification's keys are found from where the search began.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Find {
    /// `(lastkey, keystep, limit)`: keys up to `lastkey` after the start (negative: from
    /// the end), every `keystep`-th.
    Range(i32, i32, i32),
    /// `(keynumidx, firstkey, keystep)`: the key count at `keynumidx` after the start, the
    /// first key at `firstkey` after it.
    Keynum(i32, i32, i32),
    Unknown,
}

/// One of Redis 7's key specifications (COMMAND INFO's ninth element).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpec {
    pub notes: Option<&'static str>,
    pub flags: &'static [KeyFlag],
    pub begin: Begin,
    pub find: Find,
}

/// A key specification, for the table's rows.
pub const fn ks(flags: &'static [KeyFlag], begin: Begin, find: Find) -> KeySpec {
    KeySpec {
        notes: None,
        flags,
        begin,
        find,
    }
}

impl KeySpec {
    pub const fn notes(self, notes: &'static str) -> KeySpec {
        KeySpec {
            notes: Some(notes),
            ..self
        }
    }

    /// The key positions this spec names in `args`, read as Redis's `getKeysUsingKeySpecs`
    /// reads them (positions past the end skipped): `None` when it cannot tell (an unknown
    /// search, a count that is not one). What a client that routes by key specs computes.
    pub fn positions(&self, args: &[Bytes]) -> Option<Vec<usize>> {
        let argc = i64::try_from(args.len()).ok()?;
        let mut first = match self.begin {
            Begin::Index(i) => i64::from(i),
            Begin::Keyword(word, from) => {
                let from = i64::from(from);
                let found = if from >= 0 {
                    (from..argc).find(|&i| args[i as usize].eq_ignore_ascii_case(word.as_bytes()))
                } else {
                    (1..=argc + from)
                        .rev()
                        .find(|&i| args[i as usize].eq_ignore_ascii_case(word.as_bytes()))
                };
                found? + 1
            }
            Begin::Unknown => return None,
        };
        let (last, step) = match self.find {
            Find::Range(lastkey, step, limit) => {
                let lastkey = i64::from(lastkey);
                let last = if lastkey >= 0 {
                    first + lastkey
                } else if limit == 0 {
                    argc + lastkey
                } else {
                    first + (argc - first) / i64::from(limit) + lastkey
                };
                (last, i64::from(step))
            }
            Find::Keynum(idx, firstkey, step) => {
                let at = usize::try_from(first + i64::from(idx)).ok()?;
                let n = super::parse::parse_i64(args.get(at)?).filter(|&n| n >= 0)?;
                first += i64::from(firstkey);
                (first + n - 1, i64::from(step))
            }
            Find::Unknown => return None,
        };
        let mut out = Vec::new();
        let mut i = first;
        while i <= last {
            if let Ok(k) = usize::try_from(i)
                && k < args.len()
            {
                out.push(k);
            }
            i += step.max(1);
        }
        Some(out)
    }
}

/// How RESP3 reshapes a reply every replica computed flat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resp3 {
    /// Sent as it is.
    Flat,
    /// (member, score) or (field, value) pairs when this option is given (WITHSCORES).
    PairsWith(&'static str),
    /// Pairs when a count argument follows the key (ZPOPMIN key count).
    PairsWithCount,
}

/// How a non-blocking twin's reply becomes the blocking command's reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TwinReply {
    /// Same reply (BLMOVE, BRPOPLPUSH, BLMPOP, BZMPOP).
    Same,
    /// LMPOP's `[key, [value]]` as BLPOP's `[key, value]`.
    KeyValue,
    /// ZMPOP's `[key, [[member, score]]]` as BZPOPMIN's `[key, member, score]`.
    KeyMemberScore,
}

/// Where a blocking command's timeout stands, and what its twin's arguments are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TwinArgs {
    /// `BLPOP key [key ...] timeout` → `LMPOP numkeys key [key ...] <end>`.
    KeysThenTimeout(&'static str),
    /// `BLMOVE a b c d timeout` → `LMOVE a b c d`.
    ArgsThenTimeout,
    /// `BLMPOP timeout rest...` → `LMPOP rest...`.
    TimeoutFirst,
}

/// A blocking command's non-blocking twin: what it runs each time it looks for data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Twin {
    /// The twin's name (a row of the table).
    pub command: &'static str,
    pub args: TwinArgs,
    pub reply: TwinReply,
    /// Only the first key is a source a push can wake (BLMOVE's destination is not).
    pub first_key_wakes: bool,
}

/// The family's own reading of a `movablekeys` command's key positions.
pub type KeyFinder = fn(&[Bytes]) -> Vec<usize>;

/// One row of the command table: everything dispatch needs to know before running a
/// command, and what COMMAND tells clients.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lowercase, as Redis reports it; a subcommand's is `container|sub`.
    pub name: &'static str,
    /// Redis convention: N exactly, -N at least N (the name counts; a subcommand's counts
    /// the container's name and its own).
    pub arity: i32,
    pub flags: Flags,
    pub first_key: i32,
    /// Negative counts from the end: -1 is the last argument.
    pub last_key: i32,
    pub step: i32,
    pub kind: Kind,
    pub family: Family,
    pub summary: &'static str,
    pub since: &'static str,
    pub tips: &'static [Tip],
    pub key_specs: &'static [KeySpec],
    /// A container's subcommands (CONFIG GET is `config|get`), each a row of its own.
    pub subcommands: &'static [CommandSpec],
    /// For `movablekeys` rows: where the keys are.
    pub find_keys: Option<KeyFinder>,
    pub resp3: Resp3,
    /// For blocking rows: the non-blocking command it runs.
    pub twin: Option<Twin>,
}

impl CommandSpec {
    /// A row with what every row has; the rest is added by the builders below.
    #[allow(clippy::too_many_arguments)]
    pub const fn new(
        name: &'static str,
        arity: i32,
        flags: Flags,
        keys: (i32, i32, i32),
        kind: Kind,
        family: Family,
        since: &'static str,
        summary: &'static str,
    ) -> CommandSpec {
        CommandSpec {
            name,
            arity,
            flags,
            first_key: keys.0,
            last_key: keys.1,
            step: keys.2,
            kind,
            family,
            summary,
            since,
            tips: &[],
            key_specs: &[],
            subcommands: &[],
            find_keys: None,
            resp3: Resp3::Flat,
            twin: None,
        }
    }

    pub const fn tips(self, tips: &'static [Tip]) -> CommandSpec {
        CommandSpec { tips, ..self }
    }

    pub const fn key_specs(self, key_specs: &'static [KeySpec]) -> CommandSpec {
        CommandSpec { key_specs, ..self }
    }

    pub const fn subcommands(self, subcommands: &'static [CommandSpec]) -> CommandSpec {
        CommandSpec { subcommands, ..self }
    }

    pub const fn keys_by(self, finder: KeyFinder) -> CommandSpec {
        CommandSpec {
            find_keys: Some(finder),
            ..self
        }
    }

    pub const fn resp3(self, resp3: Resp3) -> CommandSpec {
        CommandSpec { resp3, ..self }
    }

    pub const fn twin(self, twin: Twin) -> CommandSpec {
        CommandSpec {
            twin: Some(twin),
            ..self
        }
    }

    /// CLIENT, CONFIG, OBJECT…: the real command is the subcommand (`client|list`).
    pub fn is_container(&self) -> bool {
        !self.subcommands.is_empty()
    }

    /// A container that does nothing by itself (CONFIG, CLIENT, OBJECT …: its arity asks for
    /// a subcommand), unlike COMMAND, which alone lists every command.
    pub fn needs_subcommand(&self) -> bool {
        self.is_container() && self.arity == -2
    }

    /// Log entries the node makes itself (expiry, EXEC); clients can neither see nor send them.
    pub fn is_internal(&self) -> bool {
        self.name.starts_with("slotraft.")
    }

    pub fn has(&self, flag: Flag) -> bool {
        self.flags.has(flag)
    }

    /// The subcommand `sub` names (any case).
    pub fn subcommand(&self, sub: &[u8]) -> Option<&'static CommandSpec> {
        self.subcommands.iter().find(|s| {
            s.name
                .split_once('|')
                .is_some_and(|(_, name)| name.as_bytes().eq_ignore_ascii_case(sub))
        })
    }
}
