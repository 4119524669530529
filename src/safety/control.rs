//! The control socket: `chaosduck stop` in another shell reaches the process that holds the
//! database through a Unix socket in the runtime dir, one per database file.

use crate::engine::supervisor::{StopReport, Supervisor};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// A request on the socket (one JSON line).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    /// Emergency stop.
    Stop,
    /// Liveness and run count.
    Status,
    /// Clear the emergency-stop latch.
    Reset,
}

/// A reply (one JSON line).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// The stop is done.
    Stopped(StopReport),
    /// Status.
    Status {
        /// Process id.
        pid: u32,
        /// Live runs.
        runs: Vec<String>,
    },
    /// The latch is cleared.
    Reset,
    /// Something failed.
    Error {
        /// What.
        message: String,
    },
}

/// The socket for a database file: `$XDG_RUNTIME_DIR/chaosduck/ctl-<hash>.sock`, or under the
/// temp dir when there is no runtime dir.
pub fn socket_path(db: &Path) -> PathBuf {
    let canon = std::fs::canonicalize(db).unwrap_or_else(|_| db.to_path_buf());
    // FNV-1a: stable across builds, unlike std's hasher.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in canon.as_os_str().as_encoded_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    let base = dirs::runtime_dir().unwrap_or_else(|| {
        // SAFETY: getuid has no preconditions.
        let uid = unsafe { libc::getuid() };
        std::env::temp_dir().join(format!("chaosduck-{uid}"))
    });
    base.join("chaosduck").join(format!("ctl-{h:016x}.sock"))
}

/// Listens on the socket until the returned handle is aborted. A stale socket file left by a
/// dead process is replaced; a live one means another holder (which the store lock prevents).
pub async fn serve(
    sup: Arc<Supervisor>,
    path: PathBuf,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        }
    }
    if path.exists() && UnixStream::connect(&path).await.is_err() {
        let _ = std::fs::remove_file(&path);
    }
    let listener = UnixListener::bind(&path)?;
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let sup = sup.clone();
            tokio::spawn(async move {
                if let Err(e) = handle(sup, stream).await {
                    tracing::warn!(error = %e, "control connection failed");
                }
            });
        }
    }))
}

async fn handle(sup: Arc<Supervisor>, stream: UnixStream) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut line = String::new();
    // One bounded request line.
    let n = BufReader::new(r).take(4096).read_line(&mut line).await?;
    if n == 0 {
        return Ok(());
    }
    let _guard = sup.control_lock().lock().await;
    let reply = match serde_json::from_str::<Request>(line.trim()) {
        Ok(Request::Stop) => match sup.emergency_stop("chaosduck stop").await {
            Ok(rep) => Reply::Stopped(rep),
            Err(e) => Reply::Error {
                message: e.to_string(),
            },
        },
        Ok(Request::Reset) => match sup.reset().await {
            Ok(()) => Reply::Reset,
            Err(e) => Reply::Error {
                message: e.to_string(),
            },
        },
        Ok(Request::Status) => Reply::Status {
            pid: std::process::id(),
            runs: sup.live().into_iter().collect(),
        },
        Err(e) => Reply::Error {
            message: format!("bad request: {e}"),
        },
    };
    let mut out = serde_json::to_vec(&reply).unwrap_or_default();
    out.push(b'\n');
    w.write_all(&out).await?;
    w.shutdown().await
}

/// Sends a request; `Ok(None)` when no process listens.
pub async fn request(path: &Path, req: &Request) -> std::io::Result<Option<Reply>> {
    let stream = match UnixStream::connect(path).await {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let (r, mut w) = stream.into_split();
    let mut out = serde_json::to_vec(req).map_err(std::io::Error::other)?;
    out.push(b'\n');
    w.write_all(&out).await?;
    let mut line = String::new();
    BufReader::new(r).take(1 << 20).read_line(&mut line).await?;
    serde_json::from_str(line.trim())
        .map(Some)
        .map_err(std::io::Error::other)
}

use tokio::io::AsyncReadExt as _;
