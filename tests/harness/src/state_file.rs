//! The state file of a task or trigger: read whole, replaced atomically, so a kill at any moment
//! leaves either the old state or the new one, never a mix or nothing.

use anyhow::{Context, Result};
use serde_json::Value;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// The JSON in the file, or `None` when there is no file yet.
pub fn read(path: &Path) -> Result<Option<Value>> {
    match fs::read(path) {
        Ok(bytes) => {
            Ok(Some(serde_json::from_slice(&bytes).with_context(|| format!("{} is not JSON", path.display()))?))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read the state file {}", path.display())),
    }
}

/// Replaces the file with `value`: a temporary file in the same directory is written and synced,
/// renamed over the file, and the directory synced (so the rename itself survives a power cut).
pub fn write(path: &Path, value: &Value) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value)?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    let name = path.file_name().context("the state file needs a file name")?.to_string_lossy();
    let partial = dir.join(format!(".{name}.{}.partial", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).open(&partial)?;
        file.write_all(&bytes)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        drop(file);
        fs::rename(&partial, path)?;
        File::open(&dir)?.sync_all()
    })();
    written
        .inspect_err(|_| {
            let _ = fs::remove_file(&partial);
        })
        .with_context(|| format!("cannot write the state file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn replaces_the_file_whole_and_leaves_nothing_beside_it() {
        let dir = std::env::temp_dir().join(format!("psa-bridge-state-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        assert_eq!(read(&path).unwrap(), None, "no file: no state yet");
        write(&path, &json!({"since": "a", "outbox": [1, 2]})).unwrap();
        // A reader holding the old file keeps reading the old bytes while the new state goes in.
        let mut reader = File::open(&path).unwrap();
        write(&path, &json!({"since": "b", "outbox": []})).unwrap();
        let mut old = String::new();
        std::io::Read::read_to_string(&mut reader, &mut old).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&old).unwrap()["since"], "a", "the old file was changed in place");
        assert_eq!(read(&path).unwrap().unwrap(), json!({"since": "b", "outbox": []}));
        let left: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("state.json")], "temporary files left behind");
        // A state file that is not JSON is an error, not an empty state.
        fs::write(&path, b"{half").unwrap();
        assert!(read(&path).is_err());
        // Writing into a directory that does not exist fails and leaves nothing.
        assert!(write(&dir.join("missing/state.json"), &json!({})).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }
}
