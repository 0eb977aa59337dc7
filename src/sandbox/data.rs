//! The seeded data set that examples, workflows and tests rely on (room 5001 "Finance" with
//! subfolder 5002, room 5003 "Legal", file 103 locked by Jane Auditor, file 104 read-only, the
//! connected-storage rooms, room 5004 "Projects" where the caller only creates content, the
//! caller's "My documents"): users, rooms, folders and files, plus the mutable part (lock
//! tags, title overrides, issued session tokens). Read-only structure is built once at start; bulk files
//! (`--files N`, IDs 100000.. in room 6000) are synthesised from their ID on demand, so a million
//! of them cost nothing until asked for. Only lock state and titles are kept in maps.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Display name of the caller (the owner of the sandbox API key).
pub const CALLER_NAME: &str = "Sandbox Admin";
/// The caller's e-mail, the user name that signs in as the caller.
pub const CALLER_EMAIL: &str = "admin@sandbox.test";
/// A user whose sign-in asks for a second factor (`tfa: true`, no token).
pub const TFA_EMAIL: &str = "tfa@sandbox.test";
/// The password of both users above, unless the options set another.
pub const PASSWORD: &str = "sandbox-password";
/// ID of DocSpace's "Rooms" root folder (`FolderType.VirtualRooms`), the `rootFolderId` of
/// everything in a room.
pub(crate) const ROOMS_ROOT_ID: u32 = 4;
/// `FolderType.VirtualRooms`, the `rootFolderType` of everything in a room.
pub(crate) const ROOT_FOLDER_TYPE_ROOMS: u32 = 14;
/// First ID of the `--files N` bulk files.
pub(crate) const BULK_FIRST_ID: u32 = 100_000;
/// Room holding the bulk files.
const BULK_ROOM_ID: &str = "6000";
/// Bulk IDs must stay int32: internal DocSpace IDs are, and a larger number would not be one.
const MAX_BULK_FILES: u32 = 2_147_483_647 - BULK_FIRST_ID;

/// DocSpace's `FileShare` access levels (the numbers it sends as `access`) that the data set
/// uses.
pub(crate) mod access {
    /// `None`: no share at all, the owner's own file in "My documents".
    pub const OWNER: u8 = 0;
    /// Read only: no lock or unlock.
    pub const READ: u8 = 2;
    /// Explicitly denied. `protectusers` leaves such entries out.
    pub const RESTRICT: u8 = 3;
    /// May review (suggest changes); no lock or unlock.
    pub const REVIEW: u8 = 5;
    /// Room manager: may lock, and unlock anyone's lock.
    pub const ROOM_MANAGER: u8 = 9;
    /// May edit; no lock or unlock.
    pub const EDITING: u8 = 10;
    /// Content creator: may lock only files not locked by someone else.
    pub const CONTENT_CREATOR: u8 = 11;
}

/// A portal user. The GUID is derived from the name so every run agrees.
pub(crate) struct User {
    pub id: Uuid,
    pub first: &'static str,
    pub last: &'static str,
    /// The e-mail when it is not `first.last@example.com`.
    email: Option<&'static str>,
}

impl User {
    fn new(first: &'static str, last: &'static str) -> User {
        let digest = Sha256::digest(format!("docspace-sandbox-user:{first} {last}").as_bytes());
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        User {
            id: uuid::Builder::from_random_bytes(bytes).into_uuid(),
            first,
            last,
            email: None,
        }
    }

    /// "First Last", what DocSpace shows as `displayName`/`name`/`lockedBy`.
    pub fn display_name(&self) -> String {
        format!("{} {}", self.first, self.last)
    }

    /// The `userName`: `first.last`, lower case.
    pub fn user_name(&self) -> String {
        format!("{}.{}", self.first, self.last).to_ascii_lowercase()
    }

    /// `first.last@example.com`, or the caller's sign-in address.
    pub fn email(&self) -> String {
        match self.email {
            Some(e) => e.to_string(),
            None => format!("{}@example.com", self.user_name()),
        }
    }
}

/// A connected third-party storage provider. Its files and folders have string IDs
/// (`{selector}-{providerId}[-{path}]`, e.g. `dropbox-337-L9Cd0L7QstGL0Lkg`).
#[derive(Clone, Copy)]
pub(crate) struct Provider {
    pub key: &'static str,
    pub id: u32,
}

/// A room or folder.
pub(crate) struct Folder {
    pub id: &'static str,
    pub title: &'static str,
    /// Index of the parent folder; `None` for a room (whose parent is the Rooms root).
    pub parent: Option<usize>,
    pub provider: Option<Provider>,
    /// The caller's "My documents" (`rootFolderType` USER), not a room.
    pub personal: bool,
    /// Share records on this folder: (user index, `FileShare`).
    pub shares: Vec<(usize, u8)>,
    pub subfolders: Vec<usize>,
    /// Indices into [`DataSet::files`].
    pub files: Vec<usize>,
}

/// A seeded (non-bulk) file.
struct StaticFile {
    id: String,
    title: String,
    folder: usize,
    caller_access: u8,
    owner: usize,
    shares: Vec<(usize, u8)>,
}

/// One file as the handlers see it, whether seeded or synthesised.
pub(crate) struct FileInfo {
    /// Canonical ID (`101`, `box-12-|123`).
    pub id: String,
    pub title: String,
    pub folder: usize,
    /// The caller's `FileShare` on this file.
    pub caller_access: u8,
    /// Index of the creator.
    pub owner: usize,
    /// Share records on the file itself.
    pub shares: Vec<(usize, u8)>,
}

impl FileInfo {
    /// A stable per-file number used for sizes and dates.
    pub fn seed(&self) -> u64 {
        self.id
            .bytes()
            .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64))
    }
}

/// The whole seeded portal.
pub(crate) struct DataSet {
    pub users: Vec<User>,
    pub folders: Vec<Folder>,
    files: Vec<StaticFile>,
    file_index: HashMap<String, usize>,
    folder_index: HashMap<&'static str, usize>,
    bulk_count: u32,
    bulk_room: usize,
}

/// Index of the caller in [`DataSet::users`].
pub(crate) const CALLER: usize = 0;
const JANE: usize = 1;
const BOB: usize = 2;
const QUINN: usize = 3;
const LEGAL_MEMBERS: [usize; 5] = [4, 5, 6, 7, 8];
const PAT: usize = 9;
const VICTOR: usize = 10;

fn seeded_users() -> Vec<User> {
    [
        ("Sandbox", "Admin"),
        ("Jane", "Auditor"),
        ("Bob", "Finch"),
        ("Quinn", "Ledger"),
        ("Alice", "Brown"),
        ("Carlos", "Diaz"),
        ("Mei", "Chen"),
        ("Omar", "Haddad"),
        ("Zoe", "Turner"),
        ("Pat", "Reviewer"),
        ("Victor", "Denied"),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (f, l))| User {
        email: (i == CALLER).then_some(CALLER_EMAIL),
        ..User::new(f, l)
    })
    .collect()
}

/// Turns an ID from a URL into the key used by the maps: `0101` → `101`, strings unchanged.
pub(crate) fn canonical_id(raw: &str) -> Cow<'_, str> {
    if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        let trimmed = raw.trim_start_matches('0');
        if trimmed.len() != raw.len() {
            return Cow::Owned(if trimmed.is_empty() { "0" } else { trimmed }.to_string());
        }
    }
    Cow::Borrowed(raw)
}

impl DataSet {
    /// Builds the data set with `bulk` extra files in room 6000.
    pub fn new(bulk: u32) -> DataSet {
        let mut ds = DataSet {
            users: seeded_users(),
            folders: Vec::new(),
            files: Vec::new(),
            file_index: HashMap::new(),
            folder_index: HashMap::new(),
            bulk_count: bulk.min(MAX_BULK_FILES),
            bulk_room: 0,
        };
        let rm = access::ROOM_MANAGER;
        // Finance: Jane may lock (she holds 103), Bob creates content; Q4 adds Quinn.
        let finance = ds.folder(
            "5001",
            "Finance",
            None,
            None,
            vec![(CALLER, rm), (JANE, rm), (BOB, access::CONTENT_CREATOR)],
        );
        for n in 101..=150 {
            let (owner, caller_access, shares) = match n {
                103 => (JANE, rm, vec![]),
                104 => (CALLER, access::READ, vec![]),
                105 => (CALLER, rm, vec![(PAT, access::REVIEW)]),
                _ => (CALLER, rm, vec![]),
            };
            ds.file(
                n.to_string(),
                format!("Invoice-{n}.xlsx"),
                finance,
                caller_access,
                owner,
                shares,
            );
        }
        let q4 = ds.folder(
            "5002",
            "Q4",
            Some(finance),
            None,
            vec![(QUINN, access::EDITING)],
        );
        for n in 151..=160 {
            ds.file(
                n.to_string(),
                format!("Q4-Report-{n}.docx"),
                q4,
                rm,
                CALLER,
                vec![],
            );
        }
        let mut legal_shares = vec![(CALLER, rm)];
        legal_shares.extend(LEGAL_MEMBERS.iter().map(|&u| (u, access::EDITING)));
        let legal = ds.folder("5003", "Legal", None, None, legal_shares);
        for n in 201..=220 {
            // Victor is explicitly denied on 202: `protectusers` skips Restrict entries.
            let shares = if n == 202 {
                vec![(VICTOR, access::RESTRICT)]
            } else {
                vec![]
            };
            ds.file(
                n.to_string(),
                format!("Contract-{n}.docx"),
                legal,
                rm,
                CALLER,
                shares,
            );
        }
        ds.connected_storage();
        ds.version_sensitive();
        ds.bulk_room = ds.folder(BULK_ROOM_ID, "Bulk", None, None, vec![(CALLER, rm)]);
        ds
    }

    /// Rooms `dropbox-337` and `box-12` with string IDs. Box IDs hold a `|` (`box-12-|123`),
    /// which clients must percent-encode.
    fn connected_storage(&mut self) {
        let rm = access::ROOM_MANAGER;
        let dropbox = Some(Provider {
            key: "DropboxV2",
            id: 337,
        });
        let room = self.folder(
            "dropbox-337",
            "Dropbox",
            None,
            dropbox,
            vec![(CALLER, rm), (JANE, access::EDITING)],
        );
        for (id, title) in [
            ("dropbox-337-L9Cd0L7QstGL0Lkg", "Новый документ.docx"),
            ("dropbox-337-L2J1ZGdldC54bHN4", "budget.xlsx"),
        ] {
            self.file(id.into(), title.into(), room, rm, CALLER, vec![]);
        }
        let sub = self.folder("dropbox-337-LzEyMw", "123", Some(room), dropbox, vec![]);
        let (id, title) = ("dropbox-337-LzEyMy9ub3Rlcy5kb2N4", "notes.docx");
        self.file(id.into(), title.into(), sub, rm, CALLER, vec![]);
        let bx = Some(Provider { key: "Box", id: 12 });
        let room = self.folder("box-12", "Box", None, bx, vec![(CALLER, rm)]);
        for (id, title) in [
            ("box-12-|123", "Scan 123.pdf"),
            ("box-12-|124", "Minutes.docx"),
        ] {
            self.file(id.into(), title.into(), room, rm, CALLER, vec![]);
        }
    }

    /// Room 5004 "Projects", where the caller only creates content (Jane holds the lock on
    /// 402), and the caller's "My documents" (folder 8000, files 301-303): where older DocSpace
    /// releases lock differently.
    fn version_sensitive(&mut self) {
        let shares = vec![
            (CALLER, access::CONTENT_CREATOR),
            (JANE, access::ROOM_MANAGER),
        ];
        let projects = self.folder("5004", "Projects", None, None, shares);
        for n in 401..=405 {
            let (title, cc) = (format!("Plan-{n}.docx"), access::CONTENT_CREATOR);
            self.file(n.to_string(), title, projects, cc, JANE, vec![]);
        }
        let mine = self.folder("8000", "My documents", None, None, vec![]);
        self.folders[mine].personal = true;
        for n in 301..=303 {
            let title = format!("Draft-{n}.docx");
            self.file(n.to_string(), title, mine, access::OWNER, CALLER, vec![]);
        }
    }

    /// Whether `file` is in the caller's "My documents".
    pub fn is_personal(&self, file: &FileInfo) -> bool {
        self.folders[self.path_to(file.folder)[0]].personal
    }

    fn folder(
        &mut self,
        id: &'static str,
        title: &'static str,
        parent: Option<usize>,
        provider: Option<Provider>,
        shares: Vec<(usize, u8)>,
    ) -> usize {
        let idx = self.folders.len();
        self.folders.push(Folder {
            id,
            title,
            parent,
            provider,
            personal: false,
            shares,
            subfolders: Vec::new(),
            files: Vec::new(),
        });
        if let Some(p) = parent {
            self.folders[p].subfolders.push(idx);
        }
        self.folder_index.insert(id, idx);
        idx
    }

    fn file(
        &mut self,
        id: String,
        title: String,
        folder: usize,
        caller_access: u8,
        owner: usize,
        shares: Vec<(usize, u8)>,
    ) {
        let idx = self.files.len();
        self.folders[folder].files.push(idx);
        self.file_index.insert(id.clone(), idx);
        self.files.push(StaticFile {
            id,
            title,
            folder,
            caller_access,
            owner,
            shares,
        });
    }

    /// Looks a file up by its decoded URL segment; `None` when it does not exist.
    pub fn file_by_id(&self, raw: &str) -> Option<FileInfo> {
        let id = canonical_id(raw);
        if let Some(&idx) = self.file_index.get(id.as_ref()) {
            return Some(self.static_file(idx));
        }
        let n: u32 = id.parse().ok()?;
        (n >= BULK_FIRST_ID && n - BULK_FIRST_ID < self.bulk_count).then(|| self.bulk_file(n))
    }

    fn static_file(&self, idx: usize) -> FileInfo {
        let f = &self.files[idx];
        FileInfo {
            id: f.id.clone(),
            title: f.title.clone(),
            folder: f.folder,
            caller_access: f.caller_access,
            owner: f.owner,
            shares: f.shares.clone(),
        }
    }

    fn bulk_file(&self, n: u32) -> FileInfo {
        FileInfo {
            id: n.to_string(),
            title: format!("Bulk-{n}.docx"),
            folder: self.bulk_room,
            caller_access: access::ROOM_MANAGER,
            owner: CALLER,
            shares: Vec::new(),
        }
    }

    /// Looks a room or folder up by its decoded URL segment.
    pub fn folder_by_id(&self, raw: &str) -> Option<usize> {
        self.folder_index.get(canonical_id(raw).as_ref()).copied()
    }

    /// Number of files directly in a folder.
    pub fn direct_file_count(&self, folder: usize) -> u64 {
        if folder == self.bulk_room {
            self.bulk_count as u64
        } else {
            self.folders[folder].files.len() as u64
        }
    }

    /// The files of a folder, optionally of its whole subtree, as a list that can be paged
    /// without materialising bulk files.
    pub fn file_list(&self, folder: usize, subtree: bool) -> FileList {
        if folder == self.bulk_room {
            return FileList::Bulk(self.bulk_count);
        }
        let mut out = Vec::new();
        self.collect_files(folder, subtree, &mut out);
        FileList::Static(out)
    }

    fn collect_files(&self, folder: usize, subtree: bool, out: &mut Vec<usize>) {
        out.extend_from_slice(&self.folders[folder].files);
        if subtree {
            for &sub in &self.folders[folder].subfolders {
                self.collect_files(sub, true, out);
            }
        }
    }

    /// Item `i` of a [`FileList`].
    pub fn file_at(&self, list: &FileList, i: usize) -> Option<FileInfo> {
        match list {
            FileList::Bulk(n) => {
                let i = u32::try_from(i).ok().filter(|i| i < n)?;
                Some(self.bulk_file(BULK_FIRST_ID + i))
            }
            FileList::Static(v) => v.get(i).map(|&idx| self.static_file(idx)),
        }
    }

    /// The chain from the room down to `folder`.
    pub fn path_to(&self, folder: usize) -> Vec<usize> {
        let mut chain = vec![folder];
        let mut cur = folder;
        while let Some(p) = self.folders[cur].parent {
            chain.push(p);
            cur = p;
        }
        chain.reverse();
        chain
    }
}

/// A pageable list of files (see [`DataSet::file_list`]).
pub(crate) enum FileList {
    /// Bulk files `100000..100000+n`.
    Bulk(u32),
    /// Seeded files by index.
    Static(Vec<usize>),
}

impl FileList {
    /// Number of files.
    pub fn len(&self) -> usize {
        match self {
            FileList::Bulk(n) => *n as usize,
            FileList::Static(v) => v.len(),
        }
    }
}

/// The mutable part of the portal: lock tags (file ID → holder's display name), titles
/// changed by tests, room members set through `PUT files/rooms/{id}/share` (folder index
/// → user index → `FileShare`, 0 removing a seeded member), and the session tokens sign-ins
/// issued.
#[derive(Default)]
pub(crate) struct Mutable {
    pub locks: HashMap<String, String>,
    pub titles: HashMap<String, String>,
    pub tokens: std::collections::HashSet<String>,
    pub room_members: HashMap<usize, BTreeMap<usize, u8>>,
    /// Files whose seeded external link was revoked.
    pub revoked_links: std::collections::HashSet<String>,
}

impl Mutable {
    /// The initial state: files 103 and 402 locked by Jane Auditor (the caller is room manager
    /// in 103's room, a content creator in 402's).
    pub fn seeded() -> Mutable {
        let mut m = Mutable::default();
        m.locks.insert("103".into(), "Jane Auditor".into());
        m.locks.insert("402".into(), "Jane Auditor".into());
        m
    }

    /// The share records of `folder` now: the `seeded` ones with the members set since
    /// applied (a user set again replaces their seeded entry; access 0 removes it).
    pub fn folder_shares(&self, folder: usize, seeded: &[(usize, u8)]) -> Vec<(usize, u8)> {
        let Some(set) = self.room_members.get(&folder) else {
            return seeded.to_vec();
        };
        let mut out: Vec<(usize, u8)> = seeded
            .iter()
            .filter(|(u, _)| !set.contains_key(u))
            .copied()
            .collect();
        out.extend(set.iter().filter(|(_, &a)| a != 0).map(|(&u, &a)| (u, a)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_ids_resolve() {
        let ds = DataSet::new(3);
        for id in [
            "101",
            "0101",
            "160",
            "220",
            "box-12-|123",
            "dropbox-337-L9Cd0L7QstGL0Lkg",
        ] {
            assert!(ds.file_by_id(id).is_some(), "{id}");
        }
        for id in [
            "100",
            "161",
            "221",
            "100003",
            "box-12-%7C123",
            "box-12",
            "a/b",
            "",
        ] {
            assert!(ds.file_by_id(id).is_none(), "{id}");
        }
        assert_eq!(
            ds.file_by_id("100002").map(|f| f.title),
            Some("Bulk-100002.docx".into())
        );
        assert_eq!(
            ds.file_list(ds.folder_by_id("5001").unwrap(), true).len(),
            60
        );
    }

    #[test]
    fn a_million_bulk_files_are_free() {
        let ds = DataSet::new(1_000_000);
        assert!(ds.file_by_id("1099999").is_some());
        assert!(ds.file_by_id("1100000").is_none());
    }

    #[test]
    fn guids_are_stable_and_distinct() {
        let a = seeded_users();
        let b = seeded_users();
        assert_eq!(a[1].id, b[1].id);
        assert_ne!(a[1].id, a[2].id);
    }
}
