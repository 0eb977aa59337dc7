//! The calls around a run, request by request: the sign-in and the session token it issues
//! (header and cookie), the two-factor user, the server version, the caller, the key's
//! description and permissions, and what changes with `--server-version`.

use std::time::Duration;

use docspace_batch::sandbox::{CALLER_EMAIL, PASSWORD, TFA_EMAIL};
use serde_json::json;

use super::*;

async fn sign_in(c: &Client, user: &str, password: &str) -> Answer {
    let body = json!({"userName": user, "password": password}).to_string();
    c.try_send(reqwest::Method::POST, "/authentication", Some(&body))
        .await
        .expect("POST")
}

fn at(version: [u32; 3]) -> SandboxOptions {
    SandboxOptions {
        server_version: version,
        ..SandboxOptions::default()
    }
}

#[tokio::test]
async fn a_sign_in_issues_a_token_for_the_header_and_the_cookie() {
    let sb = sandbox(SandboxOptions::default()).await;
    let anon = Client::with_auth(&sb, None);
    let a = sign_in(&anon, CALLER_EMAIL, PASSWORD).await;
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(
        (v["status"].clone(), v["statusCode"].clone()),
        (json!(0), json!(200))
    );
    let r = &v["response"];
    let token = r["token"].as_str().unwrap().to_string();
    assert!(token.len() >= 32);
    assert!(r["expires"].as_str().unwrap().ends_with("+00:00"));
    assert_eq!(
        (r["sms"].clone(), r["tfa"].clone()),
        (json!(false), json!(false))
    );
    assert!(a.header("set-cookie").unwrap().starts_with("asc_auth_key="));
    assert!(sb.tokens().contains(&token));

    let raw = Client::with_auth(&sb, Some(&token));
    assert_eq!(raw.get("/authentication").await.json()["response"], true);
    assert_eq!(raw.get("/people/@self").await.status, 200);
    assert_eq!(raw.lock("101", true).await.status, 200);
    let bearer = Client::with_auth(&sb, Some(&format!("Bearer {token}")));
    assert_eq!(
        bearer.get("/authentication").await.json()["response"],
        false
    );
    // The cookie a browser would send.
    let a = reqwest::Client::new()
        .get(format!("{}/api/2.0/people/@self", sb.url()))
        .header("Cookie", format!("theme=dark; asc_auth_key={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), 200);
    // A session has no key to describe.
    assert_eq!(raw.get("/keys/@self").await.status, 404);
}

#[tokio::test]
async fn two_factor_and_wrong_passwords_get_the_real_answers() {
    let sb = sandbox(SandboxOptions::default()).await;
    let anon = Client::with_auth(&sb, None);
    let v = sign_in(&anon, TFA_EMAIL, PASSWORD).await.json();
    let r = &v["response"];
    assert_eq!(r["tfa"], true);
    assert!(r.get("token").is_none(), "{r}");
    assert!(r["confirmUrl"].as_str().is_some());
    for (user, password) in [
        (CALLER_EMAIL, "wrong"),
        ("nobody@sandbox.test", PASSWORD),
        ("", ""),
    ] {
        let a = sign_in(&anon, user, password).await;
        assert_eq!(a.status, 401, "{user}");
        let v = a.json();
        assert_eq!(v["error"]["message"], "User authentication failed");
        assert_eq!(
            (v["status"].clone(), v["statusCode"].clone()),
            (json!(1), json!(401))
        );
        assert!(v["error"].get("type").is_none() && v["error"].get("stack").is_none());
    }
    assert!(sb.tokens().is_empty(), "no token issued");
}

#[tokio::test]
async fn version_caller_and_key() {
    let sb = sandbox(SandboxOptions {
        key_expires_in: Some(Duration::from_secs(86_400)),
        key_permissions: vec!["files:read".into(), "files:write".into()],
        ..SandboxOptions::default()
    })
    .await;
    let c = Client::new(&sb);
    let anon = Client::with_auth(&sb, None);
    let v = anon.get("/settings/version/build").await.json();
    assert_eq!(v["response"]["docSpace"], "3.7.2", "anonymous");
    assert_eq!(anon.get("/people/@self").await.status, 401);
    assert_eq!(anon.get("/keys/@self").await.status, 401);

    let me = c.get("/people/@self").await.json()["response"].clone();
    assert_eq!(me["displayName"], "Sandbox Admin");
    assert_eq!(me["email"], CALLER_EMAIL);
    assert_eq!(me["id"].as_str().unwrap().len(), 36);
    let k = c.get("/keys/@self").await.json()["response"].clone();
    assert_eq!(k["permissions"], json!(["files:read", "files:write"]));
    assert_eq!(k["isActive"], true);
    assert_eq!(
        k["keyPostfix"].as_str().unwrap(),
        &sb.api_key()[sb.api_key().len() - 4..]
    );
    assert!(k.get("key").is_none(), "never the key itself");
    let exp = k["expiresAt"].as_str().unwrap();
    assert!(exp.len() == 33 && exp.ends_with("+00:00"), "{exp}");
    let plain = sandbox(SandboxOptions::default()).await;
    let k = Client::new(&plain).get("/keys/@self").await.json()["response"].clone();
    assert!(k.get("expiresAt").is_none(), "no expiry: {k}");
    assert_eq!(k["permissions"], json!(["*"]));
}

#[tokio::test]
async fn a_key_may_do_what_its_permissions_say() {
    let sb = sandbox(SandboxOptions {
        key_permissions: vec!["files:read".into()],
        ..SandboxOptions::default()
    })
    .await;
    let c = Client::new(&sb);
    assert_eq!(c.get("/files/file/101").await.status, 200);
    assert_eq!(c.get("/files/5001").await.status, 200);
    let a = c.lock("101", true).await;
    assert_eq!(a.status, 403);
    assert!(a.body.is_empty(), "the scope check answers with no body");
    assert_eq!(sb.lock_owner("101"), None);
    let none = sandbox(SandboxOptions {
        key_permissions: vec!["rooms:read".into()],
        ..SandboxOptions::default()
    })
    .await;
    assert_eq!(Client::new(&none).get("/files/file/101").await.status, 403);
    assert_eq!(Client::new(&none).get("/people/@self").await.status, 200);
}

#[tokio::test]
async fn older_versions_behave_as_they_did() {
    let old = sandbox(at([3, 0, 0])).await;
    let c = Client::new(&old);
    let v = c.get("/settings/version/build").await.json();
    assert_eq!(v["response"]["docSpace"], "3.0.0");
    assert_eq!(
        c.get("/authentication").await.json()["response"],
        false,
        "no keys before 3.1"
    );
    let anon = Client::with_auth(&old, None);
    let token = sign_in(&anon, CALLER_EMAIL, PASSWORD).await.json()["response"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let t = Client::with_auth(&old, Some(&token));
    assert_eq!(t.get("/keys/@self").await.status, 404, "before 3.2");
    // A missing file is a 403 on every file endpoint.
    assert_error(
        &t.get("/files/file/999").await,
        403,
        "The required file was not found",
        INVALID_OP_TYPE,
    );
    assert_error(
        &t.lock("999", true).await,
        403,
        "The required file was not found",
        INVALID_OP_TYPE,
    );
    // "My documents" cannot be locked, not even by its owner.
    let f = t.get("/files/file/301").await.json()["response"].clone();
    assert_eq!(
        (f["rootFolderType"].clone(), f["security"]["Lock"].clone()),
        (json!(5), json!(false))
    );
    assert_error(
        &t.lock("301", true).await,
        403,
        "You do not have enough permissions to edit the file",
        INVALID_OP_TYPE,
    );
    // A content creator breaks Jane's lock.
    assert_eq!(
        t.get("/files/file/402").await.json()["response"]["security"]["Lock"],
        true
    );
    assert_eq!(t.lock("402", false).await.status, 200);
    assert_eq!(old.lock_owner("402"), None);

    let new = sandbox(SandboxOptions::default()).await;
    let c = Client::new(&new);
    assert_eq!(c.get("/files/file/999").await.status, 404);
    let f = c.get("/files/file/301").await.json()["response"].clone();
    assert_eq!(f["security"]["Lock"], true);
    assert_eq!(c.lock("301", true).await.status, 200);
    assert_eq!(
        c.get("/files/file/402").await.json()["response"]["security"]["Lock"],
        false
    );
    assert_eq!(c.lock("402", false).await.status, 403);
    assert_eq!(new.lock_owner("402").as_deref(), Some("Jane Auditor"));
}

#[tokio::test]
async fn my_documents_is_a_folder_of_its_own() {
    let (_sb, c) = default_sandbox().await;
    let v = c.get("/files/8000").await.json()["response"].clone();
    assert_eq!(v["total"], 3);
    assert_eq!(v["current"]["rootFolderType"], 5);
    assert_eq!(v["current"]["parentId"], 0);
    assert!(v["current"].get("isRoom").is_none());
    assert_eq!(
        v["pathParts"],
        json!([{"id": 8000, "title": "My documents"}])
    );
    assert!(v["files"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["rootFolderType"] == 5 && f["rootFolderId"] == 8000 && f["access"] == 0));
    let p = c.get("/files/5004").await.json()["response"].clone();
    assert_eq!(p["total"], 5);
    assert_eq!(p["files"][1]["lockedBy"], "Jane Auditor");
}
