//! Key-value storage on SQLite with Spin's own schema, so `spin up` and
//! `ai-proxy up` (and `ai-proxy kv`) share one state file.

use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub const DB_FILE: &str = "sqlite_key_value.db";

pub struct KvDb {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl KvDb {
    /// Opens (creating if needed) `<state_dir>/sqlite_key_value.db`.
    pub fn open(state_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(state_dir).with_context(|| format!("creating state dir {}", state_dir.display()))?;
        let path = state_dir.join(DB_FILE);
        let conn = Connection::open(&path).with_context(|| format!("opening {}", path.display()))?;
        // WAL lets `ai-proxy kv` read while a server writes; busy_timeout
        // waits out short write locks instead of failing.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS spin_key_value (
                store TEXT NOT NULL,
                key   TEXT NOT NULL,
                value BLOB NOT NULL,
                PRIMARY KEY (store, key)
            )",
        )?;
        Ok(KvDb {
            conn: Mutex::new(conn),
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn()
            .prepare_cached("SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2")?
            .query_row(params![store, key], |r| r.get(0))
            .optional()?)
    }

    pub fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<()> {
        self.conn()
            .prepare_cached(
                "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![store, key, value])?;
        Ok(())
    }

    pub fn delete(&self, store: &str, key: &str) -> Result<()> {
        self.conn()
            .prepare_cached("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2")?
            .execute(params![store, key])?;
        Ok(())
    }

    pub fn exists(&self, store: &str, key: &str) -> Result<bool> {
        Ok(self.get(store, key)?.is_some())
    }

    pub fn keys(&self, store: &str) -> Result<Vec<String>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1 ORDER BY key")?;
        let rows = stmt.query_map(params![store], |r| r.get(0))?;
        Ok(rows.collect::<Result<Vec<String>, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_survive_reopen_and_stores_are_separate() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = KvDb::open(dir.path()).unwrap();
            db.set("default", "a", b"1").unwrap();
            db.set("other", "a", b"2").unwrap();
            db.set("default", "a", b"3").unwrap();
        }
        let db = KvDb::open(dir.path()).unwrap();
        assert_eq!(db.get("default", "a").unwrap().as_deref(), Some(&b"3"[..]));
        assert_eq!(db.get("other", "a").unwrap().as_deref(), Some(&b"2"[..]));
        assert_eq!(db.keys("default").unwrap(), vec!["a".to_string()]);
        db.delete("default", "a").unwrap();
        assert!(!db.exists("default", "a").unwrap());
    }
}
