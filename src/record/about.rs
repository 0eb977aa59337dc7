//! What the last process learnt about the portal at its start: the server version, the
//! caller, the kind of credential, an API key's expiry and permissions, and the warnings about
//! the credential it printed. One `meta` row (`portal`, JSON), replaced by every process that
//! talks to the portal: a resume may find an upgraded server or a renewed key. The credential
//! itself is never recorded.

use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use super::{Record, RecordError};

/// The portal as the run found it; every field empty when it was not read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortalInfo {
    /// The DocSpace version `settings/version/build` reported (`docSpace`).
    #[serde(default)]
    pub server_version: Option<String>,
    /// Who the credential belongs to (`people/@self`).
    #[serde(default)]
    pub caller: Option<CallerInfo>,
    /// Which kind of credential the run used: `api_key`, `token` or `password`.
    #[serde(default)]
    pub credential: Option<String>,
    /// When the API key expires (`keys/@self` `expiresAt`, as sent); empty for a key without
    /// expiry, and when unknown.
    #[serde(default)]
    pub key_expires_at: Option<String>,
    /// The API key's permissions, when the portal said (DocSpace 3.2 and later).
    #[serde(default)]
    pub key_permissions: Option<Vec<String>>,
    /// Warnings about the credential (e.g. a key that expires soon), as printed.
    #[serde(default)]
    pub credential_warnings: Vec<String>,
}

/// The caller: `id` and display name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerInfo {
    /// The user's GUID.
    pub id: String,
    /// The display name (what `lockedBy` would show to someone else).
    pub name: String,
}

impl Record {
    /// Records what this process learnt about the portal, replacing an earlier process's.
    pub fn set_portal_info(&mut self, info: &PortalInfo) -> Result<(), RecordError> {
        let text = serde_json::to_string(info).map_err(|e| self.fail(e))?;
        self.conn
            .execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('portal', ?1)",
                [&text],
            )
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// What the last process that talked to the portal learnt; empty when none did.
    pub fn portal_info(&self) -> Result<PortalInfo, RecordError> {
        let text: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'portal'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.fail(e))?;
        match text {
            Some(t) => {
                serde_json::from_str(&t).map_err(|e| self.fail(format!("damaged portal: {e}")))
            }
            None => Ok(PortalInfo::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portal_info_round_trips_and_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Record::open(dir.path()).unwrap();
        assert_eq!(r.portal_info().unwrap(), PortalInfo::default());
        let info = PortalInfo {
            server_version: Some("3.7.2".into()),
            caller: Some(CallerInfo {
                id: "g".into(),
                name: "Sandbox Admin".into(),
            }),
            credential: Some("token".into()),
            ..PortalInfo::default()
        };
        r.set_portal_info(&info).unwrap();
        assert_eq!(r.portal_info().unwrap(), info);
        let later = PortalInfo {
            server_version: Some("3.8.0".into()),
            ..info.clone()
        };
        r.set_portal_info(&later).unwrap();
        assert_eq!(r.portal_info().unwrap(), later);
    }
}
