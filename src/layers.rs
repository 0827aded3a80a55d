//! The layering rules of docs/architecture.md, checked on the source itself: every file's
//! `crate::` and `super::` paths are read (comments, strings and `#[cfg(test)]` items left
//! out), resolved to the module they name, and the test fails on an import circle between
//! files, an import from a lower layer to a higher one, or a protobuf type named outside the
//! wire and its services. A parent naming a child module through `mod` or a relative path is
//! containment, not an import, and is not counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom to top: a module may import from its own top-level module and from
/// layers below its own, never from a layer above or from another module of its layer.
const LAYERS: &[&[&str]] = &[
    &["resp", "slots", "ids", "errors"],
    &["store"],
    &["cmd"],
    &["config"],
    &["cluster", "tls"],
    &["wire"],
    &["raft"],
    &["node"],
    &["exec"],
    &["server", "rpc"],
];

/// The modules that may name protobuf types (`wire::pb`).
const PROTOBUF_ALLOWED: &[&str] = &["wire", "rpc"];

/// Files that must stay free of I/O, with what they may import besides their own module.
const PURE: &[(&str, &[&str])] = &[("cluster::route", &["slots", "ids", "config", "cluster"])];

fn layer_of(module: &str) -> Option<usize> {
    let top = module.split("::").next()?;
    LAYERS.iter().position(|l| l.contains(&top))
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

/// `src/exec/dispatch.rs` → `exec::dispatch`, `src/exec/mod.rs` → `exec`, `src/lib.rs` → ``.
fn module_path(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts.join("::")
}

/// The library's source files, but for this test-only file and the binaries' entry points.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            // Binaries are crates of their own, built on the library.
            if p.file_name().is_some_and(|n| n != "bin") {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs")
            && p.file_name().is_some_and(|n| n != "main.rs" && n != "layers.rs")
        {
            out.push(p);
        }
    }
}

/// The source with comments, string and char literals blanked out.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if rest.starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(b' ');
        } else if rest.starts_with(b"r\"")
            || rest.starts_with(b"r#")
            || rest.starts_with(b"br\"")
            || rest.starts_with(b"br#")
        {
            let prev_ident = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
            if prev_ident {
                out.push(b[i]);
                i += 1;
                continue;
            }
            let mut j = i + if b[i] == b'b' { 2 } else { 1 };
            let mut hashes = 0;
            while j < b.len() && b[j] == b'#' {
                hashes += 1;
                j += 1;
            }
            if j >= b.len() || b[j] != b'"' {
                out.push(b[i]);
                i += 1;
                continue;
            }
            let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
            j += 1;
            while j < b.len() && !b[j..].starts_with(&close) {
                j += 1;
            }
            i = (j + close.len()).min(b.len());
            out.extend_from_slice(b"\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.extend_from_slice(b"\"\"");
        } else if b[i] == b'\'' {
            // A char literal ('a', '\n', '\'', '\u{1F600}'); otherwise a lifetime.
            if rest.len() >= 3 && rest[1] == b'\\' {
                let mut j = i + 2;
                while j < b.len() && b[j] != b'\'' {
                    j += 1;
                }
                i = j + 1;
                out.extend_from_slice(b"' '");
            } else if let Some(len) = rest
                .get(1)
                .map(|&c| match c {
                    0..0x80 => 1,
                    0xc0..0xe0 => 2,
                    0xe0..0xf0 => 3,
                    _ => 4,
                })
                .filter(|&n| rest.get(1 + n) == Some(&b'\''))
            {
                i += len + 2;
                out.extend_from_slice(b"' '");
            } else {
                out.push(b'\'');
                i += 1;
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The source without its `#[cfg(test)]` items: test code may reach anywhere.
fn without_tests(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let brace = after.find('{');
        let semi = after.find(';');
        let end = match (brace, semi) {
            (Some(b), Some(s)) if s < b => s + 1,
            (Some(b), _) => {
                let mut depth = 0;
                let mut end = after.len();
                for (k, c) in after[b..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = b + k + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (None, Some(s)) => s + 1,
            (None, None) => after.len(),
        };
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Every path a `crate::` or `super::` reference spells out, brace groups expanded, as
/// absolute module paths (`exec::dispatch::CROSSSLOT`).
fn referenced_paths(code: &str, module: &str) -> Vec<String> {
    let parent = |m: &str| m.rsplit_once("::").map_or(String::new(), |(p, _)| p.to_string());
    let b = code.as_bytes();
    let mut out = Vec::new();
    for (root_word, base) in [("crate::", String::new()), ("super::", parent(module))] {
        let mut from = 0;
        while let Some(pos) = code[from..].find(root_word) {
            let at = from + pos;
            from = at + root_word.len();
            // `crate::` must start a path: not `slotraft_crate::` or `x.crate::`.
            if at > 0 && (b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_' || b[at - 1] == b':') {
                continue;
            }
            let mut base = base.clone();
            let mut i = from;
            // `super::super::`
            while code[i..].starts_with("super::") {
                base = parent(&base);
                i += "super::".len();
            }
            expand(code, &mut i, &base, &mut out);
        }
    }
    out
}

/// Reads a path tree at `*i` (`a::b::{c, d::e}`), pushing each full path under `prefix`.
fn expand(code: &str, i: &mut usize, prefix: &str, out: &mut Vec<String>) {
    let b = code.as_bytes();
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && b[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    let join = |p: &str, s: &str| {
        if p.is_empty() {
            s.to_string()
        } else {
            format!("{p}::{s}")
        }
    };
    let mut path = prefix.to_string();
    loop {
        skip_ws(i);
        if *i < b.len() && b[*i] == b'{' {
            *i += 1;
            loop {
                skip_ws(i);
                if *i >= b.len() {
                    return;
                }
                if b[*i] == b'}' {
                    *i += 1;
                    return;
                }
                if b[*i] == b',' {
                    *i += 1;
                    continue;
                }
                let before = *i;
                expand(code, i, &path, out);
                if *i == before {
                    *i += 1;
                }
            }
        }
        let start = *i;
        while *i < b.len() && (b[*i].is_ascii_alphanumeric() || b[*i] == b'_') {
            *i += 1;
        }
        if *i == start {
            // `*` or the end of the path.
            out.push(path);
            return;
        }
        let word = &code[start..*i];
        if word != "self" {
            path = join(&path, word);
        }
        if code[*i..].starts_with("::") {
            *i += 2;
            continue;
        }
        // `as name` and the like end the path.
        out.push(path);
        return;
    }
}

/// The longest module of `modules` that `path` starts with.
fn resolve<'a>(path: &str, modules: &'a BTreeSet<String>) -> Option<&'a String> {
    let mut p = path;
    loop {
        if let Some(m) = modules.get(p) {
            return Some(m);
        }
        p = p.rsplit_once("::")?.0;
    }
}

/// Module → the modules it imports, for every file of the library.
fn import_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_path(&src, f)).collect();
    let mut graph = BTreeMap::new();
    for f in &files {
        let module = module_path(&src, f);
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let code = without_tests(&code_only(&text));
        let mut deps = BTreeSet::new();
        for path in referenced_paths(&code, &module) {
            let Some(target) = resolve(&path, &modules) else {
                continue;
            };
            // A module's own children are contained, not imported.
            let child = target.starts_with(&format!("{module}::")) || (module.is_empty() && !target.is_empty());
            if *target != module && !child {
                deps.insert(target.clone());
            }
        }
        graph.insert(module, deps);
    }
    graph
}

/// The import circles: strongly connected components of more than one module.
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Reachability closure is cheap at this size (≈ 80 files).
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.clone()];
        while let Some(m) = todo.pop() {
            for d in graph.get(&m).into_iter().flatten() {
                if seen.insert(d.clone()) {
                    todo.push(d.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> = graph.keys().map(|m| (m, reach(m))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for m in graph.keys() {
        if done.contains(m) || !reaches[m].contains(m) {
            continue;
        }
        let scc: Vec<String> = graph
            .keys()
            .filter(|o| *o == m || (reaches[m].contains(*o) && reaches[*o].contains(m)))
            .cloned()
            .collect();
        done.extend(scc.iter().cloned());
        out.push(scc);
    }
    out
}

#[test]
fn no_import_circles() {
    let found = circles(&import_graph());
    assert!(
        found.is_empty(),
        "modules that import each other in a circle: {found:#?}"
    );
}

#[test]
fn no_upward_or_sideways_imports() {
    let mut bad = Vec::new();
    for (from, deps) in import_graph() {
        if from.is_empty() {
            continue;
        }
        let Some(lf) = layer_of(&from) else {
            bad.push(format!(
                "{from}: its top-level module is in no layer (add it to LAYERS)"
            ));
            continue;
        };
        for to in deps {
            if top(&to) == top(&from) {
                continue;
            }
            match layer_of(&to) {
                Some(lt) if lt < lf => {}
                _ => bad.push(format!("{from} imports {to}")),
            }
        }
    }
    assert!(
        bad.is_empty(),
        "imports against the layers of docs/architecture.md: {bad:#?}"
    );
}

#[test]
fn protobuf_stays_at_the_edge() {
    let bad: Vec<String> = import_graph()
        .into_iter()
        .filter(|(from, deps)| !PROTOBUF_ALLOWED.contains(&top(from)) && deps.iter().any(|d| d.starts_with("wire::pb")))
        .map(|(from, _)| from)
        .collect();
    // `wire::pb` is an inline module of wire/mod.rs: look for its name in the code as well.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let named: Vec<String> = files
        .iter()
        .filter(|f| !PROTOBUF_ALLOWED.contains(&top(&module_path(&src, f))))
        .filter(|f| {
            let code = without_tests(&code_only(&std::fs::read_to_string(f).unwrap_or_default()));
            code.contains("pb::") || code.contains("wire::pb")
        })
        .map(|f| module_path(&src, f))
        .collect();
    assert!(
        bad.is_empty() && named.is_empty(),
        "protobuf named outside wire/ and rpc/: {bad:?} {named:?}"
    );
}

#[test]
fn routing_is_pure() {
    let graph = import_graph();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (module, allowed) in PURE {
        let deps = graph
            .get(*module)
            .unwrap_or_else(|| panic!("{module} is gone: update PURE"));
        for d in deps {
            assert!(allowed.contains(&top(d)), "{module} imports {d}");
        }
        let file = src.join(module.replace("::", "/")).with_extension("rs");
        let code = without_tests(&code_only(&std::fs::read_to_string(&file).unwrap_or_default()));
        for io in ["tokio", "std::fs", "std::net::Tcp", "std::io", ".await", "async "] {
            assert!(!code.contains(io), "{module} does I/O: `{io}`");
        }
    }
}

#[test]
fn the_checker_reads_paths_as_written() {
    let code = code_only(
        r#"use crate::a::{b::{self, C}, d};
        // crate::commented::out
        let s = "crate::in_a_string";
        let c = '"'; fn f<'a>(x: &'a str) { super::sib::g(); crate::e::f() }"#,
    );
    let mut got = referenced_paths(&code, "m::n");
    got.sort();
    assert_eq!(got, ["a::b", "a::b::C", "a::d", "e::f", "m::sib::g"]);
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_string(), ["b".to_string()].into()),
        ("b".to_string(), ["c".to_string()].into()),
        ("c".to_string(), ["a".to_string()].into()),
        ("d".to_string(), ["a".to_string()].into()),
    ]
    .into();
    assert_eq!(
        circles(&graph),
        vec![vec!["a".to_string(), "b".to_string(), "c".to_string()]]
    );
    assert_eq!(without_tests("x #[cfg(test)] mod t { fn y() {} } z"), "x  z");
}
