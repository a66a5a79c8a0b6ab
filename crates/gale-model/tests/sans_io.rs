//! The model is sans-I/O by construction: its dependencies are a fixed list of pure crates,
//! and its code names no clock, file, socket, process, thread or async runtime. A change
//! that adds one fails here, before it can make `gale simulate` and `gale platform` diverge.

use std::path::Path;

/// Pure computation only: placement's seeded RNG.
const ALLOWED_DEPENDENCIES: [&str; 2] = ["rand", "rand_chacha"];

/// Paths that would let the model read time or touch the outside world.
const FORBIDDEN: [&str; 14] = [
    "std::time",
    "Instant",
    "SystemTime",
    "std::fs",
    "std::net",
    "std::io",
    "std::process",
    "std::thread",
    "std::env",
    "tokio",
    "println!",
    "eprintln!",
    "print!",
    "dbg!",
];

#[test]
fn only_pure_dependencies() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .expect("the crate's manifest");
    let mut section = String::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        let deps = section.ends_with("dependencies]") || section.contains("dependencies.");
        if !deps || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name = line.split(['=', ' ']).next().unwrap_or_default();
        assert!(
            section == "[dev-dependencies]" || ALLOWED_DEPENDENCIES.contains(&name),
            "{section} adds `{name}`: the model takes only {ALLOWED_DEPENDENCIES:?} (no I/O, no clock)"
        );
    }
}

#[test]
fn no_clock_and_no_io_in_the_sources() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    for entry in std::fs::read_dir(&src).expect("src/") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a source file");
        for (n, line) in text.lines().enumerate() {
            // Comments may say what the model does not do.
            let code = line.split("//").next().unwrap_or_default();
            for word in FORBIDDEN {
                assert!(
                    !code.contains(word),
                    "{}:{}: `{word}` in the model: time is an argument and I/O belongs to \
                     the driver",
                    path.display(),
                    n + 1
                );
            }
        }
        checked += 1;
    }
    assert!(
        checked >= 10,
        "found only {checked} source files in {}",
        src.display()
    );
}
