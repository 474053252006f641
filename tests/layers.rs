//! The layers of ARCHITECTURE.md, enforced: dependencies run one way
//! (shell -> query -> protocol/report/check -> store -> redb), only `store`
//! names redb and only `query::parse` names nom.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code lines of a file (comments left out), with their numbers.
fn code_lines(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path).expect("read source");
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split("//").next().unwrap_or("").to_string()))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect()
}

/// (module path prefix, forbidden text, why)
const RULES: &[(&str, &str, &str)] = &[
    ("", "redb::", "only store names redb"),
    ("", "use redb", "only store names redb"),
    ("", "nom::", "only query::parse names nom"),
    ("", "use nom", "only query::parse names nom"),
    ("store", "crate::protocol", "store sits below protocol"),
    ("store", "crate::query", "store sits below query"),
    ("store", "crate::report", "store sits below report"),
    ("protocol", "crate::query", "protocol never sees query text or output"),
    ("protocol", "crate::report", "protocol does not depend on reports"),
    ("report", "crate::query", "report sits below query"),
    ("check", "crate::query", "check sits below query"),
    ("query", "crate::licensing", "the licensing front sits above query"),
    ("protocol", "crate::licensing", "the licensing front sits above protocol"),
    ("store", "crate::licensing", "the licensing front sits above store"),
    ("model", "crate::", "model is a leaf"),
    ("error", "crate::", "error is a leaf"),
];

fn allowed(module: &str, forbidden: &str) -> bool {
    let in_store = module == "store" || module.starts_with("store/");
    let in_parse = module == "query/parse" || module.starts_with("query/parse/");
    (forbidden.contains("redb") && in_store) || (forbidden.contains("nom") && in_parse)
}

#[test]
fn no_layer_reaches_past_the_ones_below_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(files.len() > 10, "found only {} source files", files.len());
    let mut problems = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&root).expect("under src").with_extension("");
        let module = rel.to_string_lossy().replace('\\', "/");
        for (n, line) in code_lines(f) {
            for (prefix, forbidden, why) in RULES {
                let applies = prefix.is_empty() || module == *prefix || module.starts_with(&format!("{prefix}/"));
                if applies && line.contains(forbidden) && !allowed(&module, forbidden) {
                    problems.push(format!("src/{module}.rs:{n}: '{forbidden}': {why}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "layer violations:\n{}", problems.join("\n"));
}

/// issue 13's explicit API: the internal modules are private unless the
/// `internals` feature (the project's own tests) asks for them, and the
/// shell, a user of the library like any other, names only the public API.
#[test]
fn the_public_api_is_the_pub_use_list_and_the_shell_uses_nothing_else() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib = std::fs::read_to_string(root.join("src/lib.rs")).expect("read lib.rs");
    let public_modules: Vec<&str> = lib.lines().map(str::trim).filter(|l| l.starts_with("pub mod ")).collect();
    assert_eq!(public_modules, ["pub mod $m;", "pub mod language {"], "a module made public by accident");
    let hidden = lib.find("#[cfg(feature = \"internals\")]\n        #[doc(hidden)]\n        pub mod $m;");
    assert!(hidden.is_some(), "internal modules are public only under the internals feature, hidden");
    assert!(lib.contains("#![deny(missing_docs)]"), "the public API must be documented");
    const INTERNAL: [&str; 9] =
        ["check", "clock", "licensing", "model", "protocol", "query", "report", "safe_write", "store"];
    let mut files = Vec::new();
    sources(&root.join("shell"), &mut files);
    let mut problems = Vec::new();
    for f in &files {
        for (n, line) in code_lines(f) {
            for m in INTERNAL {
                if line.contains(&format!("caldb::{m}::")) {
                    problems.push(format!("{}:{n}: names caldb::{m}", f.display()));
                }
            }
        }
    }
    assert!(problems.is_empty(), "the shell reaches past the public API:\n{}", problems.join("\n"));
}
