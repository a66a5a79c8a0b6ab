//! The command line in a shell: completion scripts that bash loads and completes with, man
//! pages that `man -l` renders, and colour only on a terminal without NO_COLOR.

mod inject_support;

use std::process::Command;

use inject_support::Sandbox;

#[test]
fn bash_completes_subcommands_and_flags() {
    let sb = Sandbox::new();
    let out = sb.run(["completions", "bash"]);
    out.expect_code(0);
    let script = sb.write("gale.bash", &out.stdout);
    // Load it as bash-completion would, then ask it what follows `gale in` and
    // `gale inject --max-`.
    let probe = format!(
        r#"set -e
source {script}
complete -p gale
COMP_WORDS=(gale in); COMP_CWORD=1; COMP_LINE="gale in"; COMP_POINT=${{#COMP_LINE}}
_gale gale in gale
echo "subcommands: ${{COMPREPLY[*]}}"
COMP_WORDS=(gale inject --max-); COMP_CWORD=2; COMP_LINE="gale inject --max-"; COMP_POINT=${{#COMP_LINE}}
_gale gale --max- inject
echo "flags: ${{COMPREPLY[*]}}"
"#,
        script = script.display()
    );
    let o = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &probe])
        .output()
        .expect("bash");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "bash could not load the completions:\n{text}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        text.contains("complete") && text.contains("_gale"),
        "{text}"
    );
    let line = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line:\n{text}"))
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(line("subcommands: "), ["inject"], "{text}");
    let flags = line("flags: ");
    for f in ["--max-in-flight", "--max-invocations"] {
        assert!(flags.iter().any(|x| x == f), "{f} not offered: {flags:?}");
    }
}

#[test]
fn every_shell_gets_a_script() {
    let sb = Sandbox::new();
    for (shell, marker) in [
        ("zsh", "#compdef gale"),
        ("fish", "complete -c gale -n"),
        ("elvish", "edit:completion:arg-completer[gale]"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let out = sb.run(["completions", shell]);
        out.expect_code(0);
        assert!(out.stdout.contains(marker), "{shell}: no `{marker}`");
        assert!(
            out.stdout.contains("inject") && out.stdout.contains("closed-loop"),
            "{shell}"
        );
    }
    // A reader that stops early is not an error.
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{} completions bash | head -1; exit ${{PIPESTATUS:-0}}",
            env!("CARGO_BIN_EXE_gale")
        ))
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = sb.run(["completions", "tcsh"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("bash") && out.stderr.contains("powershell"),
        "{}",
        out.stderr
    );
}

/// `man -l FILE`, rendered as plain text (no pager, no terminal).
fn man(sb: &Sandbox, page: &str) -> String {
    let path = sb.write("page.1", page);
    let o = Command::new("man")
        .arg("-l")
        .arg(&path)
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "100")
        .env("MAN_KEEP_FORMATTING", "")
        .output()
        .expect("man");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "man -l failed: {stderr}");
    assert!(
        !stderr.contains("warning"),
        "groff warns about the page: {stderr}"
    );
    // Overstrikes (bold, underline) removed, as `col -b` would.
    let raw = String::from_utf8_lossy(&o.stdout);
    let mut text = String::new();
    for c in raw.chars() {
        if c == '\u{8}' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    text
}

#[test]
fn the_man_pages_render() {
    let sb = Sandbox::new();
    let out = sb.run(["man"]);
    out.expect_code(0);
    assert!(
        out.stdout.starts_with(".ie \\n(.g") || out.stdout.contains(".TH gale 1"),
        "not roff"
    );
    let text = man(&sb, &out.stdout);
    for w in [
        "NAME",
        "SYNOPSIS",
        "gale",
        "inject",
        "completions",
        "Replay a trace",
    ] {
        assert!(
            text.contains(w),
            "`{w}` missing from the rendered page:\n{text}"
        );
    }
    let out = sb.run(["man", "inject"]);
    out.expect_code(0);
    let text = man(&sb, &out.stdout);
    for w in [
        "gale-inject",
        "--max-in-flight",
        "--target",
        "--check",
        "open loop",
    ] {
        assert!(
            text.contains(w),
            "`{w}` missing from gale-inject(1):\n{text}"
        );
    }
    let out = sb.run(["man", "nope"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("no subcommand `nope`") && out.stderr.contains("inject"),
        "{}",
        out.stderr
    );
}

/// `gale ARGS` under a pseudo-terminal (util-linux `script`), with `env` added; what it
/// wrote to the terminal.
fn on_a_terminal(sb: &Sandbox, args: &str, env: &[(&str, &str)]) -> String {
    let log = sb.join("typescript");
    let mut cmd = Command::new("script");
    cmd.args(["-q", "-e", "-c"])
        .arg(format!("{} {args}", env!("CARGO_BIN_EXE_gale")))
        .arg(&log)
        .current_dir(sb.path())
        .env("HOME", sb.path())
        .env_remove("WSK_CONFIG_FILE")
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .env_remove("JOURNAL_STREAM")
        .env("TERM", "xterm-256color")
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().expect("script (util-linux)");
    assert!(
        o.status.success(),
        "{:?}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned()
}

/// A colour (SGR) escape sequence: ESC [ … m.
fn has_colour(text: &str) -> bool {
    text.split('\u{1b}').skip(1).any(|s| {
        s.strip_prefix('[')
            .and_then(|r| r.find(|c: char| !(c.is_ascii_digit() || c == ';')))
            .is_some_and(|i| s.as_bytes()[1 + i] == b'm')
    })
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let sb = Sandbox::new();
    sb.write("t.csv", "at,function\n0,f\n");
    // Logs (the embedded platform's start) and help, on a terminal.
    let run = |out: &str, env: &[(&str, &str)]| {
        on_a_terminal(
            &sb,
            &format!("inject t.csv --out {out} --no-progress --quiet --no-plots"),
            env,
        )
    };
    let coloured = run("a", &[]);
    assert!(coloured.contains("embedded platform on"), "{coloured}");
    assert!(
        has_colour(&coloured),
        "no colour on a terminal:\n{coloured:?}"
    );
    let plain = run("b", &[("NO_COLOR", "1")]);
    assert!(plain.contains("embedded platform on"), "{plain}");
    assert!(
        !plain.contains('\u{1b}'),
        "escape codes with NO_COLOR:\n{plain:?}"
    );
    // NO_COLOR set but empty means nothing (no-color.org).
    assert!(has_colour(&run("c", &[("NO_COLOR", "")])));

    let help = on_a_terminal(&sb, "inject --help", &[]);
    assert!(
        has_colour(&help),
        "help has no colour on a terminal:\n{help:?}"
    );
    let help = on_a_terminal(&sb, "inject --help", &[("NO_COLOR", "1")]);
    assert!(
        help.contains("--max-in-flight") && !help.contains('\u{1b}'),
        "{help:?}"
    );

    // Not a terminal: no colour whatever the environment says.
    let out = sb.run([
        "inject",
        "t.csv",
        "--out",
        "d",
        "--no-progress",
        "--quiet",
        "--no-plots",
    ]);
    out.expect_code(0);
    assert!(
        out.stderr.contains("embedded platform on") && !out.stderr.contains('\u{1b}'),
        "{:?}",
        out.stderr
    );
}
