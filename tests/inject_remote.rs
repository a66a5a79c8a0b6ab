//! `gale inject` against a platform it did not start: a `gale platform` process reached by
//! --apihost/--auth or by WSK_CONFIG_FILE, its 429 throttling, an API host that does not
//! answer, and https with a self-signed certificate (--insecure).

mod inject_support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use inject_support::{inject, inject_ok, PlatformProcess, Results, Sandbox, GUEST_KEY};

/// 12 rows 25 ms apart on pre-deployed action `f` (blocking and not, alternating).
fn twelve_rows(sb: &Sandbox) -> std::path::PathBuf {
    let mut csv = String::from("at_ms,function,blocking\n");
    for i in 0..12u32 {
        csv += &format!("{},f,{}\n", i * 25, i.is_multiple_of(2));
    }
    sb.write("twelve.csv", &csv)
}

/// The platform's rate limit is a calendar-minute window: keep a run inside one minute.
fn not_near_a_minute_boundary() {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 60_000;
    if ms > 52_000 {
        std::thread::sleep(Duration::from_millis((60_000 - ms + 200) as u64));
    }
}

#[test]
fn throttled_invocations_are_recorded_with_429() {
    let sb = Sandbox::new();
    let platform = PlatformProcess::start(&sb, &["--invocations-per-minute", "5"]);
    platform.deploy_synthetic("f");
    let trace = twelve_rows(&sb);
    not_near_a_minute_boundary();
    let (_, res) = inject_ok(
        &sb,
        &trace,
        &["--apihost", &platform.apihost, "--auth", &platform.key],
    );
    res.assert_rows_are_prefix(12);
    for r in &res.records[..5] {
        assert_eq!(r.outcome, "success", "row {}: {r:?}", r.row);
    }
    for r in &res.records[5..] {
        assert_eq!(r.outcome, "throttled", "row {}: {r:?}", r.row);
        assert_eq!(r.http_status, Some(429), "row {}", r.row);
        assert!(
            r.error.contains("Too many requests in the last minute")
                && r.error.contains("allowed: 5"),
            "row {}: error `{}`",
            r.row,
            r.error
        );
        assert!(r.sent_us.is_some(), "a throttled row was sent");
    }
    assert_eq!(res.summary_outcome("success"), 5);
    assert_eq!(res.summary_outcome("throttled"), 7);
    assert_eq!(res.summary["overall"]["errors"], 7);
    assert_remote(&res, &platform.apihost);
    assert!(
        !res.run_yaml.contains(&platform.key),
        "run.yaml shows the key"
    );
}

fn assert_remote(res: &Results, apihost: &str) {
    let y = &res.run_yaml;
    assert!(y.contains("kind: remote"), "{y}");
    assert!(y.contains(&format!("apihost: {apihost}")), "{y}");
}

#[test]
fn wsk_config_file_names_the_platform() {
    let sb = Sandbox::new();
    let platform = PlatformProcess::start(&sb, &[]);
    platform.deploy_synthetic("f");
    let props = sb.write(
        "wskprops",
        &format!("APIHOST={}\nAUTH={}\n", platform.apihost, platform.key),
    );
    let trace = twelve_rows(&sb);
    let dir = sb.join("out");
    let mut cmd = sb.gale(["inject", "--no-progress", "--quiet"]);
    cmd.arg(&trace)
        .arg("--out")
        .arg(&dir)
        .env("WSK_CONFIG_FILE", &props);
    sb.run_cmd(cmd).expect_code(0);
    let res = Results::read(&dir);
    res.assert_rows_are_prefix(12);
    res.assert_all_success();
    assert_remote(&res, &platform.apihost);
    assert!(
        res.run_yaml.contains(&*props.to_string_lossy()),
        "run.yaml says where the API host came from:\n{}",
        res.run_yaml
    );
    assert!(
        !res.run_yaml.contains(&platform.key),
        "run.yaml shows the key"
    );
}

#[test]
fn unreachable_platform_is_a_run_failure() {
    let sb = Sandbox::new();
    let trace = twelve_rows(&sb);
    let (out, _) = inject(
        &sb,
        &trace,
        "out",
        &["--apihost", "http://127.0.0.1:1", "--auth", GUEST_KEY],
    );
    out.expect_code(1);
    assert!(
        out.stderr.contains("does not answer") && out.stderr.contains("127.0.0.1:1"),
        "{}",
        out.stderr
    );
    assert!(
        out.elapsed < Duration::from_secs(15),
        "took {:?}",
        out.elapsed
    );
}

/// `--auth` alone is a usage error (exit 2): the embedded platform makes its own keys.
#[test]
fn auth_without_apihost_is_bad_usage() {
    let sb = Sandbox::new();
    let trace = twelve_rows(&sb);
    let (out, dir) = inject(&sb, &trace, "out", &["--auth", GUEST_KEY]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("--auth needs --apihost"),
        "{}",
        out.stderr
    );
    assert!(
        !dir.exists(),
        "a result directory was made for a usage error"
    );
}

/// A blocking call that outlasts the platform's blocking wait is answered 202; the injector
/// then fetches the activation record like a non-blocking one.
#[test]
fn blocking_call_answered_202_is_fetched() {
    let sb = Sandbox::new();
    let platform = PlatformProcess::start(&sb, &["--max-blocking-wait", "200ms"]);
    platform.deploy_synthetic("f");
    let trace = sb.write(
        "long.csv",
        "at,function,blocking,param.sleep_ms\n0,f,true,800\n0.1,f,true,0\n",
    );
    let (_, res) = inject_ok(
        &sb,
        &trace,
        &["--apihost", &platform.apihost, "--auth", &platform.key],
    );
    res.assert_rows_are_prefix(2);
    res.assert_all_success();
    let slow = &res.records[0];
    assert_eq!(slow.http_status, Some(202), "{slow:?}");
    assert_eq!(slow.activation_id.len(), 32);
    assert!(
        slow.duration_ms.is_some_and(|d| d >= 800.0),
        "the fetched record's duration: {slow:?}"
    );
    assert!(slow.cold.is_some() && slow.wait_ms.is_some(), "{slow:?}");
    assert_eq!(res.records[1].http_status, Some(200));
    // Completion is the activation's end, not the 202.
    assert!(slow.completion_us.unwrap() >= 800_000.0, "{slow:?}");
    // A remote platform's clock is estimated from the send/reply brackets; this one shares
    // the host's clock, so the estimate must be 0 within its bound.
    let field = |name: &str| -> f64 {
        let line = res
            .run_yaml
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in run.yaml:\n{}", res.run_yaml));
        line.split(':').nth(1).unwrap().trim().parse().unwrap()
    };
    assert!(res.run_yaml.contains("method: bracket"), "{}", res.run_yaml);
    assert_eq!(field("samples:"), 2.0, "{}", res.run_yaml);
    let (estimate, bound) = (field("estimate_ms:"), field("bound_ms:"));
    assert!(
        estimate.abs() <= bound + 0.001,
        "offset {estimate} ± {bound} ms does not hold 0"
    );
}

/// `--embedded` ignores the wskprops file; without it, an unreachable API host from the file
/// is named with the file it came from.
#[test]
fn embedded_flag_overrides_wsk_config_file() {
    let sb = Sandbox::new();
    let props = sb.write(
        "wskprops",
        &format!("APIHOST=http://127.0.0.1:1\nAUTH={GUEST_KEY}\n"),
    );
    let trace = twelve_rows(&sb);
    let run = |out: &str, extra: &[&str]| {
        let mut cmd = sb.gale(["inject", "--no-progress", "--quiet"]);
        cmd.arg(&trace)
            .arg("--out")
            .arg(sb.join(out))
            .args(extra)
            .env("WSK_CONFIG_FILE", &props);
        sb.run_cmd(cmd)
    };
    let out = run("remote", &[]);
    out.expect_code(1);
    assert!(
        out.stderr.contains("does not answer") && out.stderr.contains(&*props.to_string_lossy()),
        "{}",
        out.stderr
    );
    run("embedded", &["--embedded"]).expect_code(0);
    let res = Results::read(&sb.join("embedded"));
    res.assert_rows_are_prefix(12);
    res.assert_all_success();
    assert!(res.run_yaml.contains("kind: embedded"), "{}", res.run_yaml);
}

/// A TLS front for `backend` (`host:port`) with a fresh self-signed certificate, as a
/// self-hosted OpenWhisk often has; it forwards each connection's bytes both ways.
fn tls_front(backend: String) -> u16 {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.key_pair.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, backend) = (acceptor.clone(), backend.clone());
                tokio::spawn(async move {
                    // A client that refuses the certificate ends the handshake: nothing to do.
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut up = tokio::net::TcpStream::connect(backend).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
                });
            }
        });
    });
    port
}

#[test]
fn https_with_a_self_signed_certificate_needs_insecure() {
    let sb = Sandbox::new();
    let platform = PlatformProcess::start(&sb, &[]);
    platform.deploy_synthetic("f");
    let port = tls_front(platform.apihost.trim_start_matches("http://").to_string());
    let apihost = format!("https://127.0.0.1:{port}");
    let trace = twelve_rows(&sb);
    // Verified against the system's roots, the certificate is refused, and the run says so.
    let (out, _) = inject(
        &sb,
        &trace,
        "verified",
        &["--apihost", &apihost, "--auth", &platform.key],
    );
    assert_ne!(out.code(), 0, "a self-signed certificate was accepted");
    assert!(
        out.stderr.contains("invalid peer certificate") && out.stderr.contains("--insecure"),
        "the error does not name the certificate and the way out:\n{}",
        out.stderr
    );
    // With --insecure (like `wsk -i`), every call goes through TLS and succeeds.
    let (_, res) = inject_ok(
        &sb,
        &trace,
        &["--apihost", &apihost, "--auth", &platform.key, "--insecure"],
    );
    res.assert_rows_are_prefix(12);
    res.assert_all_success();
    assert_remote(&res, &apihost);
}
