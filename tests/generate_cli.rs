//! `gale generate` command line: the example config runs, checkpoints that do not belong are
//! refused with exit code 2 and a clear message, a finished run is left alone, help teaches.

mod generate_support;
mod inject_support;

use std::path::{Path, PathBuf};

use generate_support::{checkpoint_state, Dataset};
use inject_support::Sandbox;

fn small_config(sb: &Sandbox, seed: u64) -> PathBuf {
    sb.write(
        &format!("small-{seed}.yml"),
        &format!(
            "seed: {seed}\nfunctions:\n  - {{name: f, runs: 6, space: {{cpu_ms: {{uniform: [0.1, 1]}}}}}}\n"
        ),
    )
}

fn generate(sb: &Sandbox, cfg: &Path, out: &Path, extra: &[&str]) -> inject_support::Outcome {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "generate".as_ref(),
        cfg.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ];
    args.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
    sb.run(args)
}

/// Copy a result directory, its `plots/` subdirectory included.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn the_example_config_produces_its_dataset() {
    let sb = Sandbox::new();
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/generator.yml");
    let out = sb.join("example");
    let end = generate(&sb, &cfg, &out, &[]);
    end.expect_code(0);
    let d = Dataset::read(&out);
    assert_eq!(d.rows.len(), 40 * 2 + 60 + 15);
    assert!(d.column("outcome").iter().all(|o| *o == "success"));
    assert!(d.header.iter().any(|h| h == "p.input"));
    // coldy is updated (a new `gale-cold` annotation) before every run: all 15 are cold starts.
    let cold = d.column("cold");
    let f = d.column("function");
    assert!(f
        .iter()
        .zip(&cold)
        .filter(|(f, _)| **f == "coldy")
        .all(|(_, c)| *c == "true"));
    for name in ["run.yaml", "checkpoint.json", "dataset.csv"] {
        assert!(out.join(name).is_file(), "{name}");
    }
    assert_eq!(checkpoint_state(&out)["finished"], true);
}

#[test]
fn foreign_corrupt_and_truncated_checkpoints_are_refused() {
    let sb = Sandbox::new();
    let cfg = small_config(&sb, 1);
    let done = sb.join("done");
    generate(&sb, &cfg, &done, &[]).expect_code(0);

    // A finished run resumed: nothing to do.
    let end = generate(&sb, &cfg, &done, &["--resume"]);
    end.expect_code(0);
    assert!(end.stdout.contains("already complete"), "{}", end.stdout);
    // Without --resume, a directory holding a checkpoint is not overwritten.
    let end = generate(&sb, &cfg, &done, &[]);
    end.expect_code(2);
    assert!(end.stderr.contains("add --resume"), "{}", end.stderr);

    // Another config (here: another seed) is refused.
    let other = small_config(&sb, 2);
    let end = generate(&sb, &other, &done, &["--resume"]);
    end.expect_code(2);
    assert!(
        end.stderr.contains("belongs to another config"),
        "{}",
        end.stderr
    );
    let end = generate(&sb, &cfg, &done, &["--resume", "--seed", "9"]);
    end.expect_code(2);
    assert!(
        end.stderr.contains("belongs to another config"),
        "{}",
        end.stderr
    );

    let good = std::fs::read_to_string(done.join("checkpoint.json")).unwrap();
    let cases: [(&str, String, &str); 4] = [
        (
            "flipped",
            good.replacen("\"next_row\":6", "\"next_row\":5", 1),
            "corrupt checkpoint",
        ),
        (
            "truncated",
            good[..good.len() * 2 / 3].to_string(),
            "corrupt checkpoint",
        ),
        (
            "foreign",
            "{\"rows\": 3}\n".to_string(),
            "not a gale generate checkpoint",
        ),
        ("empty", String::new(), "corrupt checkpoint"),
    ];
    for (name, text, message) in cases {
        assert_ne!(text, good, "{name}: the case must change the file");
        let dir = sb.join(name);
        copy_dir(&done, &dir);
        std::fs::write(dir.join("checkpoint.json"), text).unwrap();
        let end = generate(&sb, &cfg, &dir, &["--resume"]);
        end.expect_code(2);
        assert!(end.stderr.contains(message), "{name}: {}", end.stderr);
        assert!(
            end.stderr.contains("checkpoint.json"),
            "{name}: names the file"
        );
    }

    // A dataset shorter than its checkpoint says: rows were lost, refuse.
    let dir = sb.join("short");
    copy_dir(&done, &dir);
    let data = std::fs::read(dir.join("dataset.csv")).unwrap();
    std::fs::write(dir.join("dataset.csv"), &data[..data.len() - 10]).unwrap();
    let end = generate(&sb, &cfg, &dir, &["--resume"]);
    end.expect_code(2);
    assert!(end.stderr.contains("rows are missing"), "{}", end.stderr);

    // A non-empty directory without a checkpoint is not a run to resume or overwrite.
    let dir = sb.join("stranger");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let end = generate(&sb, &cfg, &dir, &["--resume"]);
    end.expect_code(2);
    assert!(
        end.stderr.contains("has no checkpoint.json"),
        "{}",
        end.stderr
    );
}

#[test]
fn config_errors_and_samples_without_monitor_exit_2() {
    let sb = Sandbox::new();
    let bad = sb.write(
        "bad.yml",
        "functions:\n  - name: f\n    runs: 3\n    space:\n      n: {log_uniform: [0, 10]}\n",
    );
    let end = generate(&sb, &bad, &sb.join("o"), &[]);
    end.expect_code(2);
    assert!(end.stderr.contains("bad.yml:5"), "{}", end.stderr);
    assert!(end.stderr.contains("space.n"), "{}", end.stderr);
    assert!(!sb.join("o").exists(), "nothing written for a bad config");

    let cfg = small_config(&sb, 1);
    let end = generate(&sb, &cfg, &sb.join("o"), &["--samples", "--no-monitor"]);
    end.expect_code(2);
    assert!(end.stderr.contains("--no-monitor"), "{}", end.stderr);
}

#[test]
fn help_teaches() {
    let sb = Sandbox::new();
    let end = sb.run(["generate", "--help"]);
    end.expect_code(0);
    for needle in [
        "--resume",
        "--checkpoint-every",
        "--checkpoint-interval",
        "Examples:",
        "config/generator.yml",
        "130",
    ] {
        assert!(
            end.stdout.contains(needle),
            "help lacks {needle}:\n{}",
            end.stdout
        );
    }
}

/// Two runs on one output directory would interleave rows: the second is refused while the
/// first holds the directory, and a dataset rewritten by another tool is never cut.
#[test]
fn one_run_per_directory_and_no_cut_of_a_rewritten_dataset() {
    let sb = Sandbox::new();
    // Slow enough to be caught running: a pause after every row.
    let cfg = sb.write(
        "slow.yml",
        "seed: 1\nfunctions:\n  - {name: f, runs: 40, pause: 100ms, space: {cpu_ms: {uniform: [0.1, 1]}}}\n",
    );
    let out = sb.join("busy");
    let mut first = sb.gale([
        "generate".as_ref(),
        cfg.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--no-monitor".as_ref(),
    ]);
    first.stdout(std::process::Stdio::null());
    let first = sb.spawn(first);
    first.wait_for_stderr("writing", std::time::Duration::from_secs(30));
    let second = generate(&sb, &cfg, &out, &["--resume", "--no-monitor"]);
    second.expect_code(2);
    assert!(
        second.stderr.contains("another `gale generate` is writing"),
        "{}",
        second.stderr
    );
    first.signal(libc::SIGINT);
    first
        .wait(std::time::Duration::from_secs(60))
        .expect_code(130);

    // Rewritten with CRLF line ends: same rows, other offsets. Resume refuses and leaves it.
    let data = out.join("dataset.csv");
    let crlf = std::fs::read_to_string(&data)
        .unwrap()
        .replace('\n', "\r\n");
    std::fs::write(&data, &crlf).unwrap();
    let end = generate(&sb, &cfg, &out, &["--resume", "--no-monitor"]);
    end.expect_code(2);
    assert!(
        end.stderr.contains("changed after the checkpoint"),
        "{}",
        end.stderr
    );
    assert_eq!(std::fs::read_to_string(&data).unwrap(), crlf);
}
