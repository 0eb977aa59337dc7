//! The endpoints around a run rather than in it: the sign-in (`POST /api/2.0/authentication`),
//! the server version, the caller and the API key, in the shapes of DocSpace's published
//! description (`AuthenticationTokenDto`, `EmployeeFullDto`, `ApiKeyResponseDto`).
//!
//! Two users sign in: the caller (`admin@sandbox.test`) gets a session token, which the
//! sandbox then accepts as the `Authorization` value or as the `asc_auth_key` cookie; the
//! second (`tfa@sandbox.test`) has two-factor sign-in, so the answer says `tfa: true` and
//! holds no token. Any other name or password gets the real server's answer: 401 with
//! "User authentication failed" and no stack.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue, Response, StatusCode};
use axum::Extension;
use rand::Rng;
use serde_json::{json, Value};

use super::data::{CALLER, CALLER_EMAIL, TFA_EMAIL};
use super::dto::{self, Call, Exception};
use super::handlers::Portal;
use super::rules::Who;

type Resp = Response<Body>;

/// The users' password and the API key's description.
pub(crate) struct Account {
    /// The password of both users.
    pub password: String,
    /// The API key (its last four characters are its `keyPostfix`).
    pub key: String,
    /// `permissions` of the key.
    pub key_permissions: Vec<String>,
    /// `expiresAt` of the key, when it expires.
    pub key_expires_at: Option<String>,
    /// When the sandbox started: the key's `createOn`.
    pub started: String,
    /// 30 days after the start: when the seeded external links expire.
    pub links_expire: String,
}

/// A time as DocSpace's `ApiDateTime` writes it: `2025-01-15T09:30:00.0000000+00:00`.
pub(crate) fn api_date_time(t: time::OffsetDateTime) -> String {
    t.format(time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:7]+00:00"
    ))
    .unwrap_or_default()
}

/// A new opaque session token.
fn new_token() -> String {
    let mut rng = rand::rng();
    format!("{:032x}{:032x}", rng.random::<u128>(), rng.random::<u128>())
}

/// The `userName` and `password` of a sign-in body; property names bind case-insensitively.
fn credentials(body: &[u8]) -> (String, String) {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let field = |name: &str| {
        v.as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .and_then(|(_, v)| v.as_str())
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    (field("userName"), field("password"))
}

/// What DocSpace answers a failed sign-in: an `AuthenticationException`, which its error
/// handler writes without type or stack.
fn refused() -> Resp {
    let body = json!({
        "error": {"message": "User authentication failed", "hresult": 0},
        "status": 1,
        "statusCode": 401,
    });
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::UNAUTHORIZED;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// `POST /api/2.0/authentication` (`[AllowAnonymous]`): a token for the caller, `tfa: true`
/// for the two-factor user, 401 for anything else.
pub(crate) async fn sign_in(
    State(p): State<Arc<Portal>>,
    Extension(call): Extension<Call>,
    body: Bytes,
) -> Resp {
    let (user, password) = credentials(&body);
    if password != p.account.password {
        return refused();
    }
    if user.eq_ignore_ascii_case(TFA_EMAIL) {
        let confirm = format!("{}/confirm/TfaAuth?type=TfaAuth", call.base);
        let answer = json!({"sms": false, "tfa": true, "confirmUrl": confirm});
        return dto::success(&call, answer);
    }
    if !user.eq_ignore_ascii_case(CALLER_EMAIL) {
        return refused();
    }
    let token = new_token();
    p.state().tokens.insert(token.clone());
    let expires = time::OffsetDateTime::now_utc() + time::Duration::days(365);
    let answer = json!({
        "token": token,
        "expires": api_date_time(expires),
        "sms": false,
        "tfa": false,
    });
    let mut resp = dto::success(&call, answer);
    if let Ok(v) = HeaderValue::from_str(&format!("asc_auth_key={token}; path=/; HttpOnly")) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// `GET /api/2.0/settings/version/build` (`[AllowAnonymous]`): the versions the sandbox plays.
pub(crate) async fn version(Extension(call): Extension<Call>) -> Resp {
    let [a, b, c] = call.rules.version;
    let answer = json!({"docSpace": format!("{a}.{b}.{c}"), "documentServer": "9.0.3.1"});
    dto::success(&call, answer)
}

/// `GET /api/2.0/people/@self`: the caller as `EmployeeFullDto`; 401 without a credential.
pub(crate) async fn caller(State(p): State<Arc<Portal>>, Extension(call): Extension<Call>) -> Resp {
    if !call.authed {
        return dto::empty(StatusCode::UNAUTHORIZED);
    }
    let u = &p.data.users[CALLER];
    let answer = json!({
        "id": u.id.to_string(),
        "displayName": u.display_name(),
        "avatarSmall": "/static/images/default_user_photo_size_32-32.png",
        "profileUrl": format!("{}/accounts/view/{}", call.base, u.user_name()),
        "hasAvatar": false,
        "isAnonim": false,
        "firstName": u.first,
        "lastName": u.last,
        "userName": u.user_name(),
        "email": u.email(),
        "status": 1,
        "activationStatus": 1,
        "isAdmin": true,
        "isRoomAdmin": false,
        "isLDAP": false,
        "isOwner": true,
        "isVisitor": false,
        "isCollaborator": false,
        "cultureName": "en-US",
        "isSSO": false,
        "registrationDate": "2025-01-15T09:30:00.0000000+00:00",
        "hasPersonalFolder": true,
        "tfaAppEnabled": false,
    });
    dto::success(&call, answer)
}

/// `GET /api/2.0/keys/@self` (DocSpace 3.2 and later): the key that made the request as
/// `ApiKeyResponseDto`, without the key itself; a session has no key (404).
pub(crate) async fn key(State(p): State<Arc<Portal>>, Extension(call): Extension<Call>) -> Resp {
    if !call.rules.has_key_info() {
        return super::handlers::not_found().await;
    }
    match call.who {
        Who::Anonymous => return dto::empty(StatusCode::UNAUTHORIZED),
        Who::Session => return dto::error(404, "API key not found", Exception::ItemNotFound),
        Who::Key => {}
    }
    let a = &p.account;
    let caller = &p.data.users[CALLER];
    let postfix: String = a
        .key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let mut answer = json!({
        "id": uuid::Uuid::from_u128(0x5a4d_b0c5).to_string(),
        "name": "sandbox",
        "keyPostfix": postfix,
        "permissions": a.key_permissions,
        "lastUsed": a.started,
        "createOn": a.started,
        "createBy": {
            "id": caller.id.to_string(),
            "displayName": caller.display_name(),
            "hasAvatar": false,
            "isAnonim": false,
        },
        "isActive": true,
    });
    if let (Some(at), Some(o)) = (&a.key_expires_at, answer.as_object_mut()) {
        o.insert("expiresAt".into(), json!(at));
    }
    dto::success(&call, answer)
}
