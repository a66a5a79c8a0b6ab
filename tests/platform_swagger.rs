//! The embedded platform against OpenWhisk's official swagger spec
//! (../shared/reference/openwhisk-apiv1swagger.json, copied to tests/swagger/), checked by
//! schemathesis (PyPI) through tests/swagger/check_spec.py: every operation of the spec gets
//! generated requests; no server errors, documented status codes (plus the few OpenWhisk
//! itself answers, listed in docs/platform.md), matching content types and schemas; then
//! requests that violate the schemas, which must be refused without a server error.
//!
//! The Python comes from `GALE_SCHEMATHESIS_PYTHON`, else the venv `.ci/run` makes
//! (`target/schemathesis-venv`), else `python3`. The test is skipped, saying so, only when
//! that Python cannot import schemathesis.

mod platform_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gale::platform::GUEST_KEY;
use platform_support::{config, start};

fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("GALE_SCHEMATHESIS_PYTHON") {
        return p.into();
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/schemathesis-venv/bin/python");
    if venv.exists() {
        return venv;
    }
    "python3".into()
}

/// Exit status of check_spec.py when schemathesis cannot be imported.
const SKIPPED: i32 = 77;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swagger_spec_conformance() {
    let p = start(config()).await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/swagger");
    let mut child = Command::new(python())
        .arg(dir.join("check_spec.py"))
        .env("GALE_API", p.api_host())
        .env("GALE_KEY", GUEST_KEY)
        .env("GALE_SPEC", dir.join("openwhisk-apiv1swagger.json"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tests/swagger/check_spec.py with python");
    // Bounded: the script makes a few hundred requests; two minutes is far beyond them.
    let limit = Duration::from_secs(120);
    let until = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for python") {
            break Some(s);
        }
        if Instant::now() > until {
            let _ = child.kill();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let out = child.wait_with_output().expect("python output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    p.shutdown().await;
    let Some(status) = status else {
        panic!("check_spec.py did not finish within {limit:?}:\n{text}");
    };
    if status.code() == Some(SKIPPED) {
        eprintln!(
            "SKIPPED swagger_spec_conformance: {} cannot import schemathesis \
             (.ci/run installs it: see docs/platform.md)\n{text}",
            python().display()
        );
        return;
    }
    assert!(status.success(), "swagger conformance failed:\n{text}");
    assert!(text.contains("33 operations"), "unexpected output:\n{text}");
    println!("{text}");
}
