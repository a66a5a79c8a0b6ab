//! Helpers shared by the platform integration tests: an in-process platform whose actions
//! run as the real `gale` binary, and a minimal keep-alive HTTP/1 client.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use gale::platform::{PlatformConfig, RunningPlatform, GUEST_KEY};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// A config for tests: port 0, actions run by the gale binary under test.
pub fn config() -> PlatformConfig {
    let mut c = PlatformConfig::new().expect("config");
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.runtime_exe = env!("CARGO_BIN_EXE_gale").into();
    c.max_blocking_wait = Duration::from_secs(20);
    c
}

/// Start a platform with `config`.
pub async fn start(config: PlatformConfig) -> RunningPlatform {
    gale::platform::start(config)
        .await
        .expect("platform starts")
}

/// A response, fully read.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// One keep-alive connection.
pub struct Client {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    pub auth: Option<String>,
}

impl Client {
    pub async fn connect(platform: &RunningPlatform) -> Client {
        let stream = tokio::net::TcpStream::connect(platform.addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        use base64::Engine;
        Client {
            sender,
            host: platform.addr.to_string(),
            auth: Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(GUEST_KEY)
            )),
        }
    }

    /// Send a request; `body` is sent as application/json when given.
    pub async fn send(&mut self, method: &str, path: &str, body: Option<&str>) -> Resp {
        self.send_with(method, path, body, &[]).await
    }

    pub async fn send_with(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut b = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host);
        if let Some(a) = &self.auth {
            b = b.header("authorization", a);
        }
        if body.is_some()
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            b = b.header("content-type", "application/json");
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b
            .body(Full::new(Bytes::from(body.unwrap_or("").to_string())))
            .unwrap();
        self.sender.ready().await.unwrap();
        let resp = tokio::time::timeout(Duration::from_secs(30), self.sender.send_request(req))
            .await
            .expect("response within 30 s")
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Resp {
            status,
            headers,
            body,
        }
    }

    /// Create or replace a synthetic action with `extra` fields merged into the PUT body.
    pub async fn put_action(&mut self, name: &str, extra: Value) -> Resp {
        let mut body = serde_json::json!({"exec": {"kind": "gale:synthetic"}});
        if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
            b.extend(e);
        }
        self.send(
            "PUT",
            &format!("/api/v1/namespaces/_/actions/{name}?overwrite=true"),
            Some(&body.to_string()),
        )
        .await
    }

    /// Blocking invoke with `params`.
    pub async fn invoke(&mut self, name: &str, params: Value) -> Resp {
        self.send(
            "POST",
            &format!("/api/v1/namespaces/_/actions/{name}?blocking=true"),
            Some(&params.to_string()),
        )
        .await
    }

    /// Poll an activation until it is stored (200) or `within` passes.
    pub async fn wait_activation(&mut self, id: &str, within: Duration) -> Resp {
        let until = Instant::now() + within;
        loop {
            let r = self
                .send(
                    "GET",
                    &format!("/api/v1/namespaces/_/activations/{id}"),
                    None,
                )
                .await;
            if r.status != 404 || Instant::now() > until {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The value of annotation `key` of an activation.
pub fn annotation<'a>(activation: &'a Value, key: &str) -> Option<&'a Value> {
    activation["annotations"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| &a["value"])
}
