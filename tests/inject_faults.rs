//! The injector against a misbehaving server (a raw HTTP/1.1 server on loopback, written
//! here so that it can misbehave on purpose): nothing is sent twice, nothing is invented.

mod inject_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use inject_support::{inject, Results, Sandbox};

#[derive(Clone, Copy)]
enum Misbehaviour {
    /// Read the third request of every connection, then close without answering.
    CloseOnThird,
    /// Answer invokes `200` with a body that is not an activation record.
    NotAnActivation,
}

/// Read one request; `None` when the client closed. Returns (method, path).
fn read_request(r: &mut BufReader<TcpStream>) -> Option<(String, String)> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        if h == "\r\n" || h.is_empty() {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some((method, path))
}

fn respond(w: &mut TcpStream, status: &str, body: &str) {
    let _ = write!(
        w,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
}

/// Start the server; returns its address and the count of invoke POSTs it read.
fn serve(how: Misbehaviour) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let posts = Arc::new(AtomicU64::new(0));
    let counter = posts.clone();
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(conn) = conn else { return };
            let posts = counter.clone();
            std::thread::spawn(move || {
                let mut w = conn.try_clone().unwrap();
                let mut r = BufReader::new(conn);
                let mut served = 0;
                while let Some((method, _path)) = read_request(&mut r) {
                    served += 1;
                    if method != "POST" {
                        respond(&mut w, "200 OK", "[]");
                        continue;
                    }
                    let k = posts.fetch_add(1, Ordering::SeqCst);
                    match how {
                        Misbehaviour::CloseOnThird if served == 3 => return,
                        Misbehaviour::NotAnActivation => {
                            respond(&mut w, "200 OK", "<html>fine</html>")
                        }
                        _ => {
                            let record = format!(
                                r#"{{"activationId":"{:016x}{:016x}","start":1,"end":2,"duration":1,"response":{{"status":"success","statusCode":0,"result":{{}}}},"annotations":[]}}"#,
                                n, k
                            );
                            respond(&mut w, "200 OK", &record)
                        }
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), posts)
}

fn trace(sb: &Sandbox, rows: usize) -> std::path::PathBuf {
    let mut text = String::from("at,function\n");
    for i in 0..rows {
        text.push_str(&format!("{},f\n", i as f64 * 0.002));
    }
    sb.write("t.csv", &text)
}

#[test]
fn a_request_is_never_sent_twice() {
    let sb = Sandbox::new();
    let (apihost, posts) = serve(Misbehaviour::CloseOnThird);
    let t = trace(&sb, 60);
    let (out, dir) = inject(
        &sb,
        &t,
        "out",
        &[
            "--apihost",
            &apihost,
            "--auth",
            "u:k",
            "--blocking",
            "--connections",
            "2",
        ],
    );
    out.expect_code(0);
    let res = Results::read(&dir);
    assert_eq!(res.records.len(), 60);
    // Every row was sent once, and the server read exactly one request per row.
    assert_eq!(posts.load(Ordering::SeqCst), 60, "POSTs received");
    let ok = res.with_outcome("success").len();
    let failed: Vec<_> = res
        .records
        .iter()
        .filter(|r| r.outcome != "success")
        .collect();
    assert!(
        !failed.is_empty(),
        "the server closed some requests unanswered"
    );
    assert_eq!(ok + failed.len(), 60);
    for r in failed {
        assert!(r.error.contains("may have run"), "{r:?}");
    }
}

#[test]
fn a_200_without_an_activation_record_is_not_a_success() {
    let sb = Sandbox::new();
    let (apihost, posts) = serve(Misbehaviour::NotAnActivation);
    let t = trace(&sb, 5);
    let (out, dir) = inject(
        &sb,
        &t,
        "out",
        &["--apihost", &apihost, "--auth", "u:k", "--blocking"],
    );
    out.expect_code(0);
    let res = Results::read(&dir);
    assert_eq!(posts.load(Ordering::SeqCst), 5);
    for r in &res.records {
        assert_eq!(r.outcome, "http_error", "{r:?}");
        assert!(r.error.contains("without an activation record"), "{r:?}");
    }
}
