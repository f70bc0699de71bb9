//! Browser history: Chromium's `History` (Chrome, Edge, 360, QQ and the UOS/Kylin browsers
//! are Chromium inside: tables `urls` and `visits`, times in WebKit microseconds since
//! 1601-01-01) and Firefox's `places.sqlite` (`moz_places`, `moz_historyvisits`, PRTime
//! microseconds since 1970). Visits to hosts outside the internal network are the trace;
//! only host names and counts are reported, never the full addresses (a query string can
//! carry a token or a name).
//!
//! A browser keeps its database open and locked, and newer rows may sit in the `-wal`
//! file beside it. The database is therefore copied with its `-wal` and `-journal` into a
//! private temporary directory and the copy is opened: the original is never opened, and
//! the copy is opened writable so SQLite can apply the WAL and roll back a half-written
//! transaction, as the browser itself would on its next start.
//!
//! SQLite is the one the workspace already links through sqlx (a second libsqlite3-sys
//! would collide on `links = "sqlite3"`), driven by a small runtime on its own thread so
//! this works whether or not the caller is inside tokio.

use std::collections::HashMap;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::{Detail, HostVisits, Internet, MAX_HOSTS, Trace, TraceKind, TraceOptions, Traces};

/// Visits read from one database.
const MAX_VISITS: i64 = 2_000_000;

/// Which schema a history database has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Chromium,
    Firefox,
}

/// One visit: the address and its time (Unix ms).
#[derive(Debug, Clone)]
pub struct Visit {
    pub url: String,
    pub time: Option<i64>,
}

pub fn is_sqlite(path: &Path) -> bool {
    let mut head = [0u8; 16];
    fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok()
        && &head == b"SQLite format 3\0"
}

/// `--browser-profile DIR`: the History or places.sqlite in it (or the file itself).
pub fn collect_profile(dir: &Path, options: &TraceOptions, out: &mut Traces) {
    let candidates: Vec<PathBuf> = if dir.is_file() {
        vec![dir.to_path_buf()]
    } else {
        ["History", "places.sqlite"]
            .iter()
            .map(|n| dir.join(n))
            .filter(|p| p.is_file())
            .collect()
    };
    if candidates.is_empty() {
        out.traces.push(Trace::error(
            dir.display().to_string(),
            "没有浏览记录数据库（History 或 places.sqlite）",
        ));
        return;
    }
    for db in candidates {
        collect_database(&db, None, options, out);
    }
}

/// Read one database and add its trace (or an error).
pub fn collect_database(
    db: &Path,
    browser: Option<String>,
    options: &TraceOptions,
    out: &mut Traces,
) {
    let source = db.display().to_string();
    let (flavour, visits) = match read_history(db) {
        Ok(r) => r,
        Err(e) => {
            out.traces.push(Trace::error(source, e));
            return;
        }
    };
    out.notes
        .push(format!("{source}: 已读浏览记录 {} 条", visits.len()));
    let browser = browser.unwrap_or_else(|| {
        let profile = db
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match flavour {
            Flavour::Chromium => format!("Chromium ({profile})"),
            Flavour::Firefox => format!("Firefox ({profile})"),
        }
    });
    if let Some(t) = history_trace(&visits, browser, source, &options.internal_domains) {
        out.traces.push(t);
    }
}

/// The trace of a history: visits to outside hosts, by host, most visited first.
pub fn history_trace(
    visits: &[Visit],
    browser: String,
    source: String,
    internal_domains: &[String],
) -> Option<Trace> {
    let mut hosts: HashMap<String, HostVisits> = HashMap::new();
    let mut total = 0u64;
    let mut trace = Trace {
        kind: TraceKind::Internet,
        sources: vec![source],
        first_seen: None,
        last_seen: None,
        detail: Detail::Error {
            message: String::new(),
        },
        alerts: true,
    };
    for v in visits {
        let Some(host) = outside_host(&v.url, internal_domains) else {
            continue;
        };
        total += 1;
        trace.seen(v.time);
        let h = hosts.entry(host.clone()).or_insert(HostVisits {
            host,
            visits: 0,
            first: None,
            last: None,
        });
        h.visits += 1;
        if let Some(t) = v.time {
            h.first = Some(h.first.map_or(t, |f| f.min(t)));
            h.last = Some(h.last.map_or(t, |l| l.max(t)));
        }
    }
    if total == 0 {
        return None;
    }
    let mut hosts: Vec<HostVisits> = hosts.into_values().collect();
    hosts.sort_by(|a, b| b.visits.cmp(&a.visits).then(a.host.cmp(&b.host)));
    let hosts_total = hosts.len();
    hosts.truncate(MAX_HOSTS);
    trace.detail = Detail::Internet(Internet::BrowserHistory {
        browser,
        visits: total,
        hosts,
        hosts_total,
    });
    Some(trace)
}

/// The host of an http(s)/ftp/ws address when it is outside the internal network.
pub fn outside_host(url: &str, internal_domains: &[String]) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(
        scheme.to_ascii_lowercase().as_str(),
        "http" | "https" | "ftp" | "ws" | "wss"
    ) {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let hostport = authority.rsplit('@').next()?;
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next()?.to_owned()
    } else {
        hostport.split(':').next()?.to_owned()
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() {
        return None;
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return (!internal_ip(&ip)).then_some(host);
    }
    const INTERNAL_SUFFIXES: [&str; 7] = [
        "local",
        "lan",
        "localdomain",
        "internal",
        "intranet",
        "home.arpa",
        "localhost",
    ];
    let internal = !host.contains('.')
        || INTERNAL_SUFFIXES
            .iter()
            .map(|s| s.to_string())
            .chain(
                internal_domains
                    .iter()
                    .map(|d| d.trim().trim_matches('.').to_ascii_lowercase()),
            )
            .any(|s| !s.is_empty() && (host == s || host.ends_with(&format!(".{s}"))));
    (!internal).then_some(host)
}

/// Private, loopback, link-local and unique-local addresses: the internal network.
pub fn internal_ip(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.is_unspecified()
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (seg & 0xfe00) == 0xfc00
                || (seg & 0xffc0) == 0xfe80
        }
    }
}

/// Copy `db` (with `-wal`, `-journal`) aside and read its visits.
pub fn read_history(db: &Path) -> Result<(Flavour, Vec<Visit>), String> {
    if !is_sqlite(db) {
        return Err("不是 SQLite 数据库（浏览记录文件已损坏或不是浏览记录）".into());
    }
    let copy = TempCopy::new(db).map_err(|e| format!("无法复制到临时目录：{e}"))?;
    let path = copy.db.clone();
    // sqlx is async; a runtime of its own on its own thread, so a caller inside tokio does
    // not meet "cannot start a runtime from within a runtime".
    let result = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(read_copy(&path))
    })
    .join()
    .unwrap_or_else(|_| Err("读取时出错".into()));
    drop(copy);
    result
}

async fn read_copy(path: &Path) -> Result<(Flavour, Vec<Visit>), String> {
    use sqlx::{ConnectOptions, Row};
    let sqlite_err = |e: sqlx::Error| format!("SQLite 无法读取（{e}）");
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(false)
        .connect()
        .await
        .map_err(sqlite_err)?;
    let tables: Vec<String> = sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table'")
        .fetch_all(&mut conn)
        .await
        .map_err(sqlite_err)?
        .iter()
        .filter_map(|r| r.try_get::<String, _>(0).ok())
        .collect();
    let has = |t: &str| tables.iter().any(|x| x == t);
    let (flavour, sql) = if has("urls") && has("visits") {
        // Every visit (WebKit microseconds to Unix ms); and the addresses whose visits Chromium has already pruned (after 90
        // days) with the last visit time it keeps on `urls`.
        (
            Flavour::Chromium,
            "SELECT u.url, (v.visit_time - 11644473600000000) / 1000 FROM visits v \
             JOIN urls u ON u.id = v.url \
             UNION ALL SELECT url, CASE WHEN last_visit_time > 0 \
             THEN (last_visit_time - 11644473600000000) / 1000 END FROM urls \
             WHERE id NOT IN (SELECT url FROM visits) LIMIT $1",
        )
    } else if has("moz_places") && has("moz_historyvisits") {
        (
            Flavour::Firefox,
            "SELECT p.url, v.visit_date / 1000 FROM moz_historyvisits v \
             JOIN moz_places p ON p.id = v.place_id \
             UNION ALL SELECT url, last_visit_date / 1000 FROM moz_places \
             WHERE last_visit_date IS NOT NULL \
             AND id NOT IN (SELECT place_id FROM moz_historyvisits) LIMIT $1",
        )
    } else {
        return Err("SQLite 数据库，但不是 Chromium 或 Firefox 的浏览记录".into());
    };
    let rows = sqlx::query(sql)
        .bind(MAX_VISITS)
        .fetch_all(&mut conn)
        .await
        .map_err(sqlite_err)?;
    let visits = rows
        .iter()
        .filter_map(|r| {
            let url: Option<String> = r.try_get(0).ok()?;
            let time: Option<i64> = r.try_get(1).ok()?;
            Some(Visit {
                url: url?,
                time: time.filter(|&t| t > 0),
            })
        })
        .collect();
    Ok((flavour, visits))
}

/// A private copy of a database and its side files, removed on drop.
struct TempCopy {
    dir: PathBuf,
    db: PathBuf,
}

impl TempCopy {
    fn new(db: &Path) -> std::io::Result<TempCopy> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "baomi-traces-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // Another user's history: only we may read the copy.
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
        }
        let copy = TempCopy {
            db: dir.join("history.sqlite"),
            dir,
        };
        fs::copy(db, &copy.db)?;
        for side in ["-wal", "-journal"] {
            let mut from = db.as_os_str().to_owned();
            from.push(side);
            let from = PathBuf::from(from);
            if from.is_file() {
                let mut to = copy.db.as_os_str().to_owned();
                to.push(side);
                fs::copy(&from, PathBuf::from(to))?;
            }
        }
        Ok(copy)
    }
}

impl Drop for TempCopy {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_hosts() {
        let internal = vec!["unit.gov.cn".to_owned()];
        let o = |u: &str| outside_host(u, &internal);
        assert_eq!(
            o("https://www.baidu.com/s?wd=x").as_deref(),
            Some("www.baidu.com")
        );
        assert_eq!(
            o("http://user:pw@Mail.QQ.com:8080/").as_deref(),
            Some("mail.qq.com")
        );
        assert_eq!(o("https://oa.unit.gov.cn/x"), None);
        assert_eq!(o("http://192.168.1.10/"), None);
        assert_eq!(o("http://10.0.0.1:8080/"), None);
        assert_eq!(o("http://intranet/"), None);
        assert_eq!(o("http://[fd00::1]/"), None);
        assert_eq!(o("http://[2400:3200::1]/").as_deref(), Some("2400:3200::1"));
        assert_eq!(
            o("http://114.114.114.114/").as_deref(),
            Some("114.114.114.114")
        );
        assert_eq!(o("chrome://settings/"), None);
        assert_eq!(o("file:///home/u/a.html"), None);
        assert_eq!(o("about:blank"), None);
    }
}
