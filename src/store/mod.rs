//! The redb store: experiments, phase events, probe samples, journal entries, analyses and the
//! schema version, in one file that one process holds at a time.

pub mod records;

use crate::safety::journal::{JournalEntry, JournalState};
use records::{Analysis, ExperimentRecord, PhaseEvent, ProbeSample};
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
};
use serde::{Serialize, de::DeserializeOwned};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = 1;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const EXPERIMENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("experiments");
const EVENTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("phase_events");
const SAMPLES: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("probe_samples");
const JOURNAL: TableDefinition<(&str, u32), &[u8]> = TableDefinition::new("journal");
const JOURNAL_OPEN: TableDefinition<(&str, u32), ()> = TableDefinition::new("journal_open");
const ANALYSES: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("analyses");

const KEY_VERSION: &str = "schema_version";
const KEY_LATCH: &str = "emergency_stop";

/// Most probe samples kept per experiment; the oldest go first.
pub const MAX_SAMPLES_PER_EXPERIMENT: u64 = 20_000;

/// Store failures, each saying what to do next.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the file.
    #[error(
        "the database {path} is held by another chaosduck process{owner}; stop it (`chaosduck stop` reaches it) or pass another --db. The file was not touched"
    )]
    Locked {
        /// The database file.
        path: PathBuf,
        /// Who holds it, as far as we know (", pid 123 (chaosduck run x.yaml)").
        owner: String,
    },
    /// Not a redb file, or damaged.
    #[error(
        "the database {path} is damaged or not a ChaosDuck database ({detail}); it was left untouched. Move it aside to start a new one, keeping it for `chaosduck recover --db` later"
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What redb said.
        detail: String,
    },
    /// Written by a newer ChaosDuck.
    #[error(
        "the database {path} has schema version {found}, newer than this build understands ({supported}); use a newer chaosduck. The file was left untouched"
    )]
    FutureVersion {
        /// The database file.
        path: PathBuf,
        /// Version in the file.
        found: u32,
        /// Highest version this build reads.
        supported: u32,
    },
    /// Filesystem trouble.
    #[error("cannot open the database {path}: {source}")]
    Io {
        /// The database file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A redb operation failed.
    #[error("database error: {0}")]
    Db(String),
    /// A stored record could not be read.
    #[error("a stored record could not be read ({0}); the file may come from another build")]
    Decode(String),
    /// A lookup found nothing.
    #[error("no experiment with id {0}; `chaosduck list` shows the ids")]
    NotFound(String),
}

fn db<E: Into<redb::Error>>(e: E) -> StoreError {
    StoreError::Db(e.into().to_string())
}

fn enc<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Decode(e.to_string()))
}

fn dec<T: DeserializeOwned>(b: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(b).map_err(|e| StoreError::Decode(e.to_string()))
}

/// A handle on the open database; cheap to clone. Every call blocks on disk: async callers use
/// `spawn_blocking`.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    path: PathBuf,
    _owner: Arc<OwnerFile>,
}

/// `<db>.owner` names the process holding the database, so a second one can say who it is.
struct OwnerFile(PathBuf);

impl Drop for OwnerFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn owner_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".owner");
    PathBuf::from(s)
}

impl Store {
    /// Opens (or creates) the database. Never deletes, truncates or recreates an existing file.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        }
        precheck(path)?;
        // A damaged file can make redb panic on open; that must become an error, not a crash.
        let opened = std::panic::catch_unwind(|| {
            let mut builder = Database::builder();
            builder.set_cache_size(32 << 20);
            builder.create(path)
        });
        let database = match opened {
            Ok(Ok(d)) => d,
            Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => {
                let owner = std::fs::read_to_string(owner_path(path))
                    .ok()
                    .map(|s| format!(", {}", s.trim()))
                    .unwrap_or_default();
                return Err(StoreError::Locked {
                    path: path.to_path_buf(),
                    owner,
                });
            }
            Ok(Err(redb::DatabaseError::Storage(redb::StorageError::Io(e))))
                if e.kind() != std::io::ErrorKind::InvalidData =>
            {
                return Err(StoreError::Io {
                    path: path.to_path_buf(),
                    source: e,
                });
            }
            Ok(Err(e)) => {
                return Err(StoreError::Corrupt {
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                });
            }
            Err(_) => {
                return Err(StoreError::Corrupt {
                    path: path.to_path_buf(),
                    detail: "redb could not read its header".into(),
                });
            }
        };
        let store = Store {
            db: Arc::new(database),
            path: path.to_path_buf(),
            _owner: Arc::new(OwnerFile(owner_path(path))),
        };
        store.check_version_and_migrate()?;
        let me = format!(
            "pid {} ({})",
            std::process::id(),
            std::env::args().collect::<Vec<_>>().join(" ")
        );
        let _ = std::fs::write(owner_path(path), me);
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_version_and_migrate(&self) -> Result<(), StoreError> {
        // Read first: a future-version file must not be written to at all.
        let found = {
            let r = self.db.begin_read().map_err(db)?;
            read_version(&r, &self.path)?
        };
        if let Some(v) = found
            && v > SCHEMA_VERSION
        {
            return Err(StoreError::FutureVersion {
                path: self.path.clone(),
                found: v,
                supported: SCHEMA_VERSION,
            });
        }
        let from = found.unwrap_or(0);
        if from == SCHEMA_VERSION {
            return Ok(());
        }
        let w = self.db.begin_write().map_err(db)?;
        // Migrations run in order inside one transaction: all or nothing.
        for v in from..SCHEMA_VERSION {
            migrate(&w, v)?;
        }
        {
            let mut meta = w.open_table(META).map_err(db)?;
            meta.insert(KEY_VERSION, SCHEMA_VERSION.to_le_bytes().as_slice())
                .map_err(db)?;
        }
        w.commit().map_err(db)?;
        Ok(())
    }

    fn write<T>(
        &self,
        durable: bool,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut w = self.db.begin_write().map_err(db)?;
        w.set_durability(if durable {
            Durability::Immediate
        } else {
            Durability::None
        })
        .map_err(|e| StoreError::Db(e.to_string()))?;
        let out = f(&w)?;
        w.commit().map_err(db)?;
        Ok(out)
    }

    /// Inserts or replaces an experiment record (durable).
    pub fn put_experiment(&self, rec: &ExperimentRecord) -> Result<(), StoreError> {
        let bytes = enc(rec)?;
        self.write(true, |w| {
            w.open_table(EXPERIMENTS)
                .map_err(db)?
                .insert(rec.id.as_str(), bytes.as_slice())
                .map_err(db)?;
            Ok(())
        })
    }

    /// One experiment.
    pub fn experiment(&self, id: &str) -> Result<ExperimentRecord, StoreError> {
        let r = self.db.begin_read().map_err(db)?;
        let t = r.open_table(EXPERIMENTS).map_err(db)?;
        match t.get(id).map_err(db)? {
            Some(v) => dec(v.value()),
            None => Err(StoreError::NotFound(id.to_string())),
        }
    }

    /// Resolves an id prefix (as printed by `list`) to the full id.
    pub fn resolve_id(&self, prefix: &str) -> Result<String, StoreError> {
        let r = self.db.begin_read().map_err(db)?;
        let t = r.open_table(EXPERIMENTS).map_err(db)?;
        let mut found = Vec::new();
        for item in t.range(prefix..).map_err(db)? {
            let (k, _) = item.map_err(db)?;
            let k = k.value().to_string();
            if !k.starts_with(prefix) {
                break;
            }
            found.push(k);
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(StoreError::NotFound(prefix.to_string())),
            n => Err(StoreError::Db(format!(
                "id prefix {prefix:?} matches {n} experiments; give more characters"
            ))),
        }
    }

    /// Every experiment, newest first.
    pub fn experiments(&self) -> Result<Vec<ExperimentRecord>, StoreError> {
        let r = self.db.begin_read().map_err(db)?;
        let t = r.open_table(EXPERIMENTS).map_err(db)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(db)? {
            let (_, v) = item.map_err(db)?;
            out.push(dec::<ExperimentRecord>(v.value())?);
        }
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(out)
    }

    /// Appends a phase event (durable, so observers see every phase).
    pub fn append_event(&self, id: &str, ev: &PhaseEvent) -> Result<(), StoreError> {
        self.append_next(EVENTS, id, &enc(ev)?)
    }

    /// Appends a record under the next sequence number of an experiment, durably.
    fn append_next(
        &self,
        def: TableDefinition<(&str, u64), &[u8]>,
        id: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        self.write(true, |w| {
            let mut t = w.open_table(def).map_err(db)?;
            let next = t
                .range((id, 0u64)..=(id, u64::MAX))
                .map_err(db)?
                .next_back()
                .transpose()
                .map_err(db)?
                .map_or(0, |(k, _)| k.value().1 + 1);
            t.insert((id, next), bytes).map_err(db)?;
            Ok(())
        })
    }

    /// The phase events of one experiment, oldest first.
    pub fn events(&self, id: &str) -> Result<Vec<PhaseEvent>, StoreError> {
        self.read_range(EVENTS, id)
    }

    fn read_range<T: DeserializeOwned>(
        &self,
        def: TableDefinition<(&str, u64), &[u8]>,
        id: &str,
    ) -> Result<Vec<T>, StoreError> {
        let r = self.db.begin_read().map_err(db)?;
        let t = r.open_table(def).map_err(db)?;
        let mut out = Vec::new();
        for item in t.range((id, 0u64)..=(id, u64::MAX)).map_err(db)? {
            let (_, v) = item.map_err(db)?;
            out.push(dec(v.value())?);
        }
        Ok(out)
    }

    /// Appends probe samples, dropping the oldest beyond the per-experiment bound. Not fsynced
    /// on its own: the next durable commit carries it.
    pub fn append_samples(&self, id: &str, samples: &[ProbeSample]) -> Result<(), StoreError> {
        let encoded: Vec<Vec<u8>> = samples.iter().map(enc).collect::<Result<_, _>>()?;
        self.write(false, |w| {
            let mut t = w.open_table(SAMPLES).map_err(db)?;
            let (first, next) = {
                let mut r = t.range((id, 0u64)..=(id, u64::MAX)).map_err(db)?;
                let first = r.next().transpose().map_err(db)?.map(|(k, _)| k.value().1);
                let last = r
                    .next_back()
                    .transpose()
                    .map_err(db)?
                    .map(|(k, _)| k.value().1)
                    .or(first);
                (first.unwrap_or(0), last.map_or(0, |l| l + 1))
            };
            for (i, b) in encoded.iter().enumerate() {
                t.insert((id, next + i as u64), b.as_slice()).map_err(db)?;
            }
            let end = next + encoded.len() as u64;
            if end.saturating_sub(first) > MAX_SAMPLES_PER_EXPERIMENT {
                let cut = end - MAX_SAMPLES_PER_EXPERIMENT;
                t.retain_in((id, first)..(id, cut), |_, _| false)
                    .map_err(db)?;
            }
            Ok(())
        })
    }

    /// The probe samples of one experiment, oldest first.
    pub fn samples(&self, id: &str) -> Result<Vec<ProbeSample>, StoreError> {
        self.read_range(SAMPLES, id)
    }

    /// Stores an AI analysis.
    pub fn append_analysis(&self, id: &str, a: &Analysis) -> Result<(), StoreError> {
        self.append_next(ANALYSES, id, &enc(a)?)
    }

    /// The analyses of one experiment.
    pub fn analyses(&self, id: &str) -> Result<Vec<Analysis>, StoreError> {
        self.read_range(ANALYSES, id)
    }

    /// Writes a journal entry and its open-index row in one durable commit. Returns once the
    /// entry is on disk: only then may the mutation it guards begin.
    pub fn journal_put(&self, e: &JournalEntry) -> Result<(), StoreError> {
        let bytes = enc(e)?;
        self.write(true, |w| {
            let key = (e.experiment_id.as_str(), e.seq);
            w.open_table(JOURNAL)
                .map_err(db)?
                .insert(key, bytes.as_slice())
                .map_err(db)?;
            let mut open = w.open_table(JOURNAL_OPEN).map_err(db)?;
            if e.state.is_open() {
                open.insert(key, ()).map_err(db)?;
            } else {
                open.remove(key).map_err(db)?;
            }
            Ok(())
        })
    }

    /// The journal of one experiment, in mutation order.
    pub fn journal(&self, id: &str) -> Result<Vec<JournalEntry>, StoreError> {
        let r = self.db.begin_read().map_err(db)?;
        let t = r.open_table(JOURNAL).map_err(db)?;
        let mut out = Vec::new();
        for item in t.range((id, 0u32)..=(id, u32::MAX)).map_err(db)? {
            let (_, v) = item.map_err(db)?;
            out.push(dec(v.value())?);
        }
        Ok(out)
    }

    /// How many entries still need their undo (reads only the open index).
    pub fn open_journal_count(&self) -> Result<usize, StoreError> {
        let r = self.db.begin_read().map_err(db)?;
        let idx = r.open_table(JOURNAL_OPEN).map_err(db)?;
        Ok(usize::try_from(idx.len().map_err(db)?).unwrap_or(usize::MAX))
    }

    /// Every entry that still needs its undo (intent, applied or failed), across experiments,
    /// read through the small open index rather than the whole journal.
    pub fn open_journal(&self) -> Result<Vec<JournalEntry>, StoreError> {
        let r = self.db.begin_read().map_err(db)?;
        let idx = r.open_table(JOURNAL_OPEN).map_err(db)?;
        let t = r.open_table(JOURNAL).map_err(db)?;
        let mut out = Vec::new();
        for item in idx.iter().map_err(db)? {
            let (k, _) = item.map_err(db)?;
            let (id, seq) = k.value();
            if let Some(v) = t.get((id, seq)).map_err(db)? {
                let e: JournalEntry = dec(v.value())?;
                if e.state != JournalState::Reverted {
                    out.push(e);
                }
            }
        }
        Ok(out)
    }

    /// Whether the emergency stop is latched, and why.
    pub fn emergency_latch(&self) -> Result<Option<String>, StoreError> {
        let r = self.db.begin_read().map_err(db)?;
        let t = r.open_table(META).map_err(db)?;
        Ok(t.get(KEY_LATCH)
            .map_err(db)?
            .map(|v| String::from_utf8_lossy(v.value()).into_owned()))
    }

    /// Latches (Some) or resets (None) the emergency stop, durably.
    pub fn set_emergency_latch(&self, reason: Option<&str>) -> Result<(), StoreError> {
        self.write(true, |w| {
            let mut t = w.open_table(META).map_err(db)?;
            match reason {
                Some(r) => {
                    t.insert(KEY_LATCH, r.as_bytes()).map_err(db)?;
                }
                None => {
                    t.remove(KEY_LATCH).map_err(db)?;
                }
            }
            Ok(())
        })
    }
}

fn read_version(r: &redb::ReadTransaction, path: &Path) -> Result<Option<u32>, StoreError> {
    match r.open_table(META) {
        Ok(t) => match t.get(KEY_VERSION).map_err(db)? {
            Some(v) => {
                let arr: [u8; 4] = v.value().try_into().map_err(|_| StoreError::Corrupt {
                    path: path.to_path_buf(),
                    detail: "schema version record has the wrong size".into(),
                })?;
                Ok(Some(u32::from_le_bytes(arr)))
            }
            None => Ok(None),
        },
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(None),
        Err(e) => Err(db(e)),
    }
}

/// Looks at an existing file without writing a byte: a damaged, foreign, locked or newer file is
/// refused before the writable open (which would touch its header).
fn precheck(path: &Path) -> Result<(), StoreError> {
    match std::fs::metadata(path) {
        Ok(m) if m.len() > 0 => {}
        _ => return Ok(()),
    }
    let corrupt = |detail: String| StoreError::Corrupt {
        path: path.to_path_buf(),
        detail,
    };
    let opened = std::panic::catch_unwind(|| Database::builder().open_read_only(path));
    let ro = match opened {
        Err(_) => return Err(corrupt("redb could not read its header".into())),
        Ok(Ok(d)) => d,
        // After a crash the file needs repair, which only the writable open does.
        Ok(Err(redb::DatabaseError::RepairAborted)) => return Ok(()),
        Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => {
            let owner = std::fs::read_to_string(owner_path(path))
                .ok()
                .map(|s| format!(", {}", s.trim()))
                .unwrap_or_default();
            return Err(StoreError::Locked {
                path: path.to_path_buf(),
                owner,
            });
        }
        Ok(Err(redb::DatabaseError::Storage(redb::StorageError::Io(e))))
            if e.kind() != std::io::ErrorKind::InvalidData =>
        {
            return Err(StoreError::Io {
                path: path.to_path_buf(),
                source: e,
            });
        }
        Ok(Err(e)) => return Err(corrupt(e.to_string())),
    };
    let r = ro.begin_read().map_err(db)?;
    if let Some(v) = read_version(&r, path)?
        && v > SCHEMA_VERSION
    {
        return Err(StoreError::FutureVersion {
            path: path.to_path_buf(),
            found: v,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// One migration step from version `from` to `from + 1`.
fn migrate(w: &redb::WriteTransaction, from: u32) -> Result<(), StoreError> {
    match from {
        0 => {
            // Version 1: create every table.
            w.open_table(META).map_err(db)?;
            w.open_table(EXPERIMENTS).map_err(db)?;
            w.open_table(EVENTS).map_err(db)?;
            w.open_table(SAMPLES).map_err(db)?;
            w.open_table(JOURNAL).map_err(db)?;
            w.open_table(JOURNAL_OPEN).map_err(db)?;
            w.open_table(ANALYSES).map_err(db)?;
            Ok(())
        }
        v => Err(StoreError::Db(format!(
            "no migration from schema version {v}"
        ))),
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
