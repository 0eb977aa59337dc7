//! The sandbox, request by request, against an in-process [`Sandbox`] on `127.0.0.1:0`: the
//! portal contract (`contract`), the limiter, faults and request log (`limits`), what a client
//! that goes away mid-request leaves behind (`disconnect`), and the `docspace-batch sandbox`
//! process itself (`binary`). This file holds the client they share.

mod account;
mod binary;
mod contract;
mod disconnect;
mod limits;

use docspace_batch::sandbox::{Sandbox, SandboxOptions};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

/// One answer: status, headers, raw body.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A client bound to one sandbox, sending `Bearer <key>` unless told otherwise.
struct Client {
    http: reqwest::Client,
    base: String,
    auth: Option<String>,
}

impl Client {
    fn new(sb: &Sandbox) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: format!("{}/api/2.0", sb.url()),
            auth: Some(format!("Bearer {}", sb.api_key())),
        }
    }

    fn with_auth(sb: &Sandbox, auth: Option<&str>) -> Client {
        Client {
            auth: auth.map(str::to_owned),
            ..Client::new(sb)
        }
    }

    async fn try_send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&str>,
    ) -> reqwest::Result<Answer> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await?.to_vec();
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    async fn get(&self, path: &str) -> Answer {
        self.try_send(reqwest::Method::GET, path, None)
            .await
            .expect("GET")
    }

    async fn put(&self, path: &str, body: &str) -> Answer {
        self.try_send(reqwest::Method::PUT, path, Some(body))
            .await
            .expect("PUT")
    }

    async fn lock(&self, id: &str, lock: bool) -> Answer {
        self.put(
            &format!("/files/file/{id}/lock"),
            &json!({ "lockFile": lock }).to_string(),
        )
        .await
    }
}

async fn sandbox(opts: SandboxOptions) -> Sandbox {
    Sandbox::start(opts).await.expect("start sandbox")
}

async fn default_sandbox() -> (Sandbox, Client) {
    let sb = sandbox(SandboxOptions::default()).await;
    let c = Client::new(&sb);
    (sb, c)
}

fn assert_error(a: &Answer, status: u16, message: &str, ty: &str) {
    assert_eq!(a.status, status, "{}", String::from_utf8_lossy(&a.body));
    let v = a.json();
    assert_eq!(v["status"], 1);
    assert_eq!(v["statusCode"], status);
    assert_eq!(v["error"]["message"], message);
    assert_eq!(v["error"]["type"], ty);
    assert!(v["error"]["hresult"].is_i64());
    assert!(v["error"]["stack"]
        .as_str()
        .is_some_and(|s| s.starts_with("   at ")));
}

const NOT_FOUND_TYPE: &str = "ASC.Common.Web.ItemNotFoundException";
const INVALID_OP_TYPE: &str = "System.InvalidOperationException";
