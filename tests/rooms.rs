//! The rooms of ../shared/DESIGN.md and the arrows between them that must never exist (and
//! no library room importing src/cli/, the command line): a
//! `crate::ROOM` path in the wrong room fails here, naming the file and line. Arrows that
//! exist today and are scheduled to go are listed in `KNOWN`, each with what removes it, so
//! the list can only shrink.

use std::path::{Path, PathBuf};

/// (from room, to room): never.
const NEVER: &[(&str, &str)] = &[
    ("model", "platform"),
    ("model", "inject"),
    ("model", "monitor"),
    ("model", "backend"),
    ("model", "cgroup"),
    ("inject", "platform"),
    ("generate", "platform"),
    ("generate", "inject"),
    ("monitor", "platform"),
    ("report", "platform"),
    ("report", "inject"),
    ("report", "generate"),
    ("config", "platform"),
    ("trace", "platform"),
    ("trace", "inject"),
    // An experiment runs inject and simulate; it never reaches the platform itself, and
    // nothing below it knows it exists.
    ("experiment", "platform"),
    ("inject", "experiment"),
    ("report", "experiment"),
    ("sim", "experiment"),
    ("config", "experiment"),
];

/// Arrows that exist today, with the work that removes them; a file listed here may keep
/// the arrow, any other file may not.
const KNOWN: &[(&str, &str, &str)] = &[
    // The lifecycle-event bus is the platform's; DESIGN.md puts it in src/cgroup.
    (
        "src/monitor/local.rs",
        "platform",
        "move the event bus to src/cgroup",
    ),
    (
        "src/monitor/choose.rs",
        "platform",
        "move the event bus to src/cgroup",
    ),
    // Settings are data: the platform config's types belong beside the model (issue 13).
    (
        "src/config/platform_file.rs",
        "platform",
        "platform settings types out of src/platform",
    ),
];

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The rooms a line names through `crate::`, grouped imports included.
fn rooms_named(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level names of `crate::{a, b::c, d}`.
            let mut depth = 0;
            let mut word = String::new();
            let mut at_start = true;
            for ch in group.chars() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => at_start = true,
                    c if at_start && (c.is_alphanumeric() || c == '_') => word.push(c),
                    _ => {
                        if !word.is_empty() {
                            out.push(std::mem::take(&mut word));
                        }
                        if !ch.is_whitespace() {
                            at_start = false;
                        }
                    }
                }
            }
            if !word.is_empty() {
                out.push(word);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.push(name);
        }
    }
    out
}

#[test]
fn no_room_reaches_where_the_design_forbids() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut bad = Vec::new();
    for (from, to) in NEVER {
        let dir = root.join("src").join(from);
        if !dir.is_dir() {
            continue;
        }
        let mut files = Vec::new();
        rs_files(&dir, &mut files);
        for f in files {
            let rel = f.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&f).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if rooms_named(code).iter().any(|r| r == to)
                    && !KNOWN
                        .iter()
                        .any(|(file, room, _)| *file == rel && room == to)
                {
                    bad.push(format!("{rel}:{}: {from} → {to}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "arrows DESIGN.md forbids:\n{}",
        bad.join("\n")
    );
}

/// Library rooms take plain settings: only the command line's own module (src/cli/) and
/// the binary (src/main.rs) know clap's argument structs.
#[test]
fn no_room_but_the_command_line_imports_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rs_files(&root.join("src"), &mut files);
    let mut bad = Vec::new();
    for f in files {
        let rel = f.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        if rel.starts_with("src/cli/") || rel == "src/main.rs" || rel == "src/lib.rs" {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if rooms_named(code).iter().any(|r| r == "cli") {
                bad.push(format!("{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "library code importing the command line (take settings instead):\n{}",
        bad.join("\n")
    );
}

#[test]
fn known_arrows_still_exist() {
    // A known arrow that is gone must leave the list, so the list never excuses a new one.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (file, room, why) in KNOWN {
        let text = std::fs::read_to_string(root.join(file)).unwrap_or_default();
        assert!(
            text.lines()
                .any(|l| rooms_named(l.split("//").next().unwrap_or(""))
                    .iter()
                    .any(|r| r == room)),
            "{file} no longer reaches {room} ({why}): remove it from KNOWN"
        );
    }
}

#[test]
fn the_scanner_sees_grouped_imports() {
    assert_eq!(rooms_named("use crate::platform::X;"), ["platform"]);
    assert_eq!(
        rooms_named("use crate::{backend::Outcome, platform::{a, b}, trace};"),
        ["backend", "platform", "trace"]
    );
    assert!(rooms_named("let x = 1; // crate::platform").contains(&"platform".to_string()));
}
