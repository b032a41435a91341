//! The core's modules are layered (`src/lib.rs`): each uses only modules of a lower layer,
//! so that a newcomer can read them bottom up and no change to a high layer (the bus, the
//! session rules) can be needed by a low one (the protocol, the video). This test reads
//! every source file's `crate::…` paths and keeps it so; a new module must be given its
//! layer here.

use std::path::Path;

/// Lowest first. A module may use any module of a lower layer, and none of its own or a
/// higher one.
const LAYERS: &[&[&str]] = &[
    // `protocol` is the protocol crate, which the core re-exports.
    &["secret", "time", "dirs", "lang", "backoff", "protocol"],
    &["vault", "video"],
    &["inbox", "site", "audit", "pin"],
    &["bus", "acl"],
    &["enrol"],
    &["profile", "control", "notify"],
];

fn layer(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| l.contains(&module))
        .unwrap_or_else(|| panic!("module `{module}` has no layer"))
}

/// The top-level modules that a source file uses through `crate::`.
fn uses(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in source.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (i, _) in line.match_indices("crate::") {
            if i > 0 && line[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                continue; // `mimamori_crate::…` and the like
            }
            let name: String =
                line[i + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            // The crate root re-exports `Secret`.
            found.push(if name == "Secret" { "secret".to_owned() } else { name });
        }
    }
    found
}

fn visit(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            visit(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn every_module_uses_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    visit(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" {
            continue;
        }
        let source = std::fs::read_to_string(file).unwrap();
        for used in uses(&source) {
            if used != top && layer(&used) >= layer(&top) {
                wrong.push(format!("{} uses {used}", relative.display()));
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "modules that use their own layer or a higher one:\n{}", wrong.join("\n"));
    assert!(files.len() > 30, "read the sources: {files:?}");
}

#[test]
fn the_reader_finds_crate_paths() {
    let source = "use crate::bus::{Bus};\n// crate::notify in a comment\nlet s = crate::Secret::new(x); f(crate::time::now_ms());";
    assert_eq!(uses(source), ["bus", "secret", "time"]);
}
