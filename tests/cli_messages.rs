//! What gale says to its users against a platform it did not start (a `gale platform`
//! process, treated as remote): the pre-flight check of the trace's functions, a wrong key,
//! an address in use, what was deployed, and `gale fn`.

mod inject_support;

use inject_support::{inject, PlatformProcess, Sandbox};

/// The activations the platform has recorded in the guest namespace.
fn activations(p: &PlatformProcess) -> usize {
    use base64::Engine as _;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(&p.key);
    let url = format!("{}/api/v1/namespaces/_/activations?limit=200", p.apihost);
    rt.block_on(async {
        let (status, body) = http_get(&url, &format!("Basic {auth}")).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Vec<serde_json::Value>>(&body)
            .expect("a list of activations")
            .len()
    })
}

async fn http_get(url: &str, authorization: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {authorization}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    // Chunked bodies: the JSON lies between the size lines.
    let body = if text
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = body.as_str();
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n]);
            rest = &tail[n + 2..];
        }
        out
    } else {
        body
    };
    (status, body)
}

#[test]
fn functions_missing_on_a_remote_platform_stop_the_run_before_its_first_invocation() {
    let sb = Sandbox::new();
    let platform = PlatformProcess::start(&sb, &[]);
    platform.deploy_synthetic("f");
    let remote = ["--apihost", &platform.apihost, "--auth", &platform.key];

    // A bare CSV (no declarations): every name it uses must exist.
    let trace = sb.write(
        "small.csv",
        "at,function\n0,f\n0.01,g\n0.02,f\n0.03,h\n0.04,g\n",
    );
    let (out, dir) = inject(&sb, &trace, "bare", &remote);
    out.expect_code(1);
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("gale: error:"))
        .unwrap_or_else(|| panic!("no error line:\n{}", out.stderr));
    assert!(
        line.contains("2 functions the trace invokes are not on the platform")
            && line.contains(&platform.apihost)
            && line.contains(": g, h;"),
        "{line}"
    );
    assert!(!dir.exists(), "a result directory was made");
    assert_eq!(activations(&platform), 0, "something was invoked");

    // A declared function with `deploy: false`, and a synthetic one (never deployed on a
    // remote platform), both missing; `f` exists.
    let trace = sb.write(
        "declared.yaml",
        "functions:\n  - f\n  - {name: pkgless, deploy: false}\ninvocations:\n  - {at: 0, function: f}\n  - {at: 0.01, function: pkgless}\n",
    );
    let (out, _) = inject(&sb, &trace, "declared", &remote);
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("1 function the trace invokes is not on the platform")
            && out.stderr.contains(": pkgless;"),
        "{}",
        out.stderr
    );
    assert_eq!(activations(&platform), 0, "something was invoked");

    // Everything there: the run goes.
    let trace = sb.write("ok.csv", "at,function\n0,f\n0.01,f\n");
    let (out, _) = inject(&sb, &trace, "ok", &remote);
    out.expect_code(0);
    assert_eq!(activations(&platform), 2);
}

#[test]
fn generator_actions_missing_on_a_remote_platform_stop_it_before_its_first_run() {
    let sb = Sandbox::new();
    let platform = PlatformProcess::start(&sb, &[]);
    platform.deploy_synthetic("f");
    let cfg = sb.write(
        "gen.yml",
        "functions:\n  - {name: f, runs: 2}\n  - {name: g, runs: 2}\n  - {name: h, runs: 2, memory_mb: [128, 256]}\n",
    );
    let out_dir = sb.join("ds");
    let run = |dir: &std::path::Path, cfg: &std::path::Path| {
        sb.run([
            "generate".as_ref(),
            cfg.as_os_str(),
            "--out".as_ref(),
            dir.as_os_str(),
            "--no-progress".as_ref(),
            "--no-monitor".as_ref(),
            "--apihost".as_ref(),
            platform.apihost.as_ref(),
            "--auth".as_ref(),
            platform.key.as_ref(),
        ] as [&std::ffi::OsStr; 10])
    };
    let out = run(&out_dir, &cfg);
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("3 functions the generator runs are not on the platform")
            && out.stderr.contains(": g, h-m128, h-m256;"),
        "{}",
        out.stderr
    );
    assert!(
        !out_dir.join("dataset.csv").exists(),
        "a dataset was started"
    );
    assert_eq!(activations(&platform), 0, "something was invoked");

    let cfg = sb.write("ok.yml", "functions:\n  - {name: f, runs: 2}\n");
    run(&sb.join("ok"), &cfg).expect_code(0);
    assert_eq!(activations(&platform), 2);
}

#[test]
fn a_wrong_key_is_called_wrong() {
    let sb = Sandbox::new();
    let platform = PlatformProcess::start(&sb, &[]);
    let trace = sb.write("t.csv", "at,function\n0,f\n");
    let wrong = format!("23bc46b1-71f6-4ed5-8c54-816aa4f8c502:{}", "Z".repeat(64));
    let (out, _) = inject(
        &sb,
        &trace,
        "out",
        &["--apihost", &platform.apihost, "--auth", &wrong],
    );
    out.expect_code(1);
    assert!(
        out.stderr.contains("refused the key (HTTP 401)")
            && out.stderr.contains("the key is wrong")
            && out.stderr.contains("--auth"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("does not answer"), "{}", out.stderr);
}

#[test]
fn an_address_in_use_is_said_once_with_the_address() {
    let sb = Sandbox::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = sb.run(["platform", "--listen", &addr]);
    out.expect_code(1);
    assert!(out.stderr.contains(&addr), "{}", out.stderr);
    assert_eq!(
        out.stderr.matches("Address already in use").count(),
        1,
        "{}",
        out.stderr
    );
}

#[test]
fn the_deployment_log_counts_functions_and_namespaces() {
    let sb = Sandbox::new();
    let one = sb.write("one.csv", "at,function\n0,f\n");
    let (out, _) = inject(&sb, &one, "one", &[]);
    out.expect_code(0);
    assert!(
        out.stderr.contains("deployed 1 function on"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("deployments"), "{}", out.stderr);
    // 4 functions, 3 users with their own namespaces + the run's: 4 × 4.
    let trace = sb.write(
        "many.yaml",
        "functions: [a, b, c, d]\nusers: [u1, u2, u3]\ninvocations:\n  - {at: 0, function: a, user: u1}\n",
    );
    let (out, _) = inject(&sb, &trace, "many", &[]);
    out.expect_code(0);
    assert!(
        out.stderr
            .contains("deployed 4 functions × 4 namespaces (16 deployments) on"),
        "{}",
        out.stderr
    );
}

#[test]
fn gale_fn_help_and_nodes_read_well() {
    let sb = Sandbox::new();
    let help = sb.run(["fn", "--help"]);
    help.expect_code(0);
    for example in [
        "gale fn nodes",
        "gale fn discover fib",
        "gale fn scale fib --up 3",
        "gale fn suspend fib",
    ] {
        assert!(
            help.stdout.lines().any(|l| l.trim() == example),
            "`{example}` is not on a line of its own:\n{}",
            help.stdout
        );
    }
    let platform = PlatformProcess::start(&sb, &[]);
    let out = sb.run([
        "fn",
        "nodes",
        "--apihost",
        &platform.apihost,
        "--auth",
        &platform.key,
    ]);
    out.expect_code(0);
    let header: Vec<&str> = out
        .stdout
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(header.first(), Some(&"name"), "{}", out.stdout);
    assert!(
        out.stdout
            .lines()
            .nth(1)
            .is_some_and(|l| !l.trim().is_empty()),
        "{}",
        out.stdout
    );
}
