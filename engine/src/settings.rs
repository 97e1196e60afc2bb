//! Session settings (`SET`/`SHOW`/`current_setting`): the ones drivers read and write, with
//! PostgreSQL's defaults, and which of them are reported through ParameterStatus.

use crate::EngineError;
use crate::exec::memory::{parse_bytes, show_bytes};
use omendb_storage::types::datetime::TimeZone;
use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// (name as `SHOW` prints it, default, reported to the client in ParameterStatus).
const KNOWN: &[(&str, &str, bool)] = &[
    ("application_name", "", true),
    ("client_encoding", "UTF8", true),
    ("DateStyle", "ISO, MDY", true),
    ("IntervalStyle", "postgres", true),
    ("TimeZone", "UTC", true),
    ("integer_datetimes", "on", true),
    ("is_superuser", "on", true),
    ("server_encoding", "UTF8", true),
    ("server_version", "15.0", true),
    ("standard_conforming_strings", "on", true),
    ("session_authorization", "", true),
    ("default_transaction_read_only", "off", true),
    ("in_hot_standby", "off", true),
    ("search_path", "\"$user\", public", false),
    ("transaction_isolation", "read committed", false),
    ("default_transaction_isolation", "read committed", false),
    ("transaction_read_only", "off", false),
    ("extra_float_digits", "1", false),
    ("statement_timeout", "0", false),
    ("lock_timeout", "0", false),
    ("deadlock_timeout", "1s", false),
    ("idle_in_transaction_session_timeout", "0", false),
    ("bytea_output", "hex", false),
    ("lc_messages", "C", false),
    ("lc_monetary", "C", false),
    ("lc_numeric", "C", false),
    ("lc_time", "C", false),
    ("lc_collate", "C", false),
    ("lc_ctype", "C", false),
    ("max_identifier_length", "63", false),
    ("max_connections", "1000", false),
    ("synchronous_commit", "on", false),
    ("client_min_messages", "notice", false),
    ("row_security", "on", false),
    ("jit", "off", false),
    ("work_mem", "4MB", false),
    (QUERY_MEMORY, "4GB", false),
];

/// The longest a statement waits for rows and keys other transactions hold, whatever
/// `lock_timeout` says (55P03 after): deadlocks are detected after `deadlock_timeout` (40P01),
/// this bounds any wait the wait-for graph cannot see.
pub const LOCK_WAIT_LIMIT: Duration = Duration::from_secs(10);

/// `deadlock_timeout` when the setting cannot be read (it is validated on `SET`).
const DEFAULT_DEADLOCK_WAIT: Duration = Duration::from_secs(1);

/// The session setting that turns COPY's bulk path off.
pub const BULK_LOAD: &str = "omendb.bulk_load";

/// The session setting that bounds the memory one statement may hold (53200 past it).
pub const QUERY_MEMORY: &str = "omendb.query_memory";

/// `omendb.query_memory` when the setting cannot be read (it is validated on `SET`).
const DEFAULT_QUERY_MEMORY: u64 = 4 << 30;

/// The settings of one session.
#[derive(Debug, Clone)]
pub struct Settings {
    values: BTreeMap<String, (String, String)>,
    tz: TimeZone,
    /// What every statement reads, as last derived: a `SET` drops it, so a statement shares
    /// one list instead of copying every setting, and parses nothing.
    derived: OnceCell<Derived>,
}

/// Values derived from the settings, rebuilt after a change.
#[derive(Debug, Clone)]
struct Derived {
    all: Arc<[(String, String)]>,
    lock_wait: Duration,
    deadlock_wait: Duration,
    query_memory: u64,
    default_isolation: omendb_planner::IsolationLevel,
}

fn display_name(lower: &str) -> Option<(&'static str, &'static str, bool)> {
    KNOWN
        .iter()
        .copied()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(lower))
}

impl Settings {
    pub fn new(user: &str) -> Settings {
        let mut values = BTreeMap::new();
        for (name, default, _) in KNOWN {
            values.insert(
                name.to_ascii_lowercase(),
                (name.to_string(), default.to_string()),
            );
        }
        values.insert(
            "session_authorization".into(),
            ("session_authorization".into(), user.to_string()),
        );
        Settings {
            values,
            tz: TimeZone::utc(),
            derived: OnceCell::new(),
        }
    }

    pub fn timezone(&self) -> &TimeZone {
        &self.tz
    }

    /// Whether COPY outside a transaction block loads column segments directly
    /// (`omendb.bulk_load`, on by default; `off` sends every row through the row store).
    pub fn bulk_load(&self) -> bool {
        !matches!(
            self.get(BULK_LOAD).map(str::to_ascii_lowercase).as_deref(),
            Some("off" | "false" | "0")
        )
    }

    /// How long a statement waits for a row or key another transaction holds: `lock_timeout`
    /// when set (PostgreSQL's 0 means no limit), never more than `LOCK_WAIT_LIMIT`.
    pub fn lock_wait(&self) -> Duration {
        self.derived().lock_wait
    }

    fn parse_lock_wait(&self) -> Duration {
        match self.get("lock_timeout").and_then(parse_milliseconds) {
            Some(ms) if ms > 0 => Duration::from_millis(ms).min(LOCK_WAIT_LIMIT),
            _ => LOCK_WAIT_LIMIT,
        }
    }

    /// How long a statement waits for another transaction before it looks for a deadlock:
    /// `deadlock_timeout` (PostgreSQL's default, 1 s). A wait that gives up first (a shorter
    /// `lock_timeout`) ends with 55P03 without looking, as in PostgreSQL.
    pub fn deadlock_wait(&self) -> Duration {
        self.derived().deadlock_wait
    }

    fn parse_deadlock_wait(&self) -> Duration {
        match self.get("deadlock_timeout").and_then(parse_milliseconds) {
            Some(ms) if ms > 0 => Duration::from_millis(ms),
            _ => DEFAULT_DEADLOCK_WAIT,
        }
    }

    /// The bytes one statement may hold at once: `omendb.query_memory`.
    pub fn query_memory(&self) -> u64 {
        self.derived().query_memory
    }

    fn parse_query_memory(&self) -> u64 {
        self.get(QUERY_MEMORY)
            .and_then(parse_bytes)
            .unwrap_or(DEFAULT_QUERY_MEMORY)
    }

    /// `SHOW name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        // Names are stored lower-case; the engine asks with lower-case names on every
        // statement, so only a client's mixed-case name is copied.
        let lower = match name.bytes().any(|b| b.is_ascii_uppercase()) {
            true => Cow::Owned(name.to_ascii_lowercase()),
            false => Cow::Borrowed(name),
        };
        self.values.get(lower.as_ref()).map(|(_, v)| v.as_str())
    }

    /// `SET name = value` (`None` resets to the default). Returns the (display name, value) to
    /// report through ParameterStatus if the client must hear of it.
    pub fn set(
        &mut self,
        name: &str,
        value: Option<&str>,
    ) -> Result<Option<(String, String)>, EngineError> {
        let lower = name.to_ascii_lowercase();
        let known = display_name(&lower);
        let value = match (value, known) {
            (Some(v), _) => v.to_string(),
            (None, Some((_, default, _))) => default.to_string(),
            (None, None) => String::new(),
        };
        let value = self.validate(&lower, value)?;
        let display = match known {
            Some((n, _, _)) => n.to_string(),
            // Custom settings ("myapp.key") are allowed, as in PostgreSQL.
            None if lower.contains('.') => lower.clone(),
            None => {
                return Err(EngineError::sql(
                    "42704",
                    format!("unrecognized configuration parameter \"{name}\""),
                ));
            }
        };
        self.values.insert(lower, (display.clone(), value.clone()));
        self.derived = OnceCell::new();
        let reported = known.is_some_and(|(_, _, r)| r);
        Ok(reported.then_some((display, value)))
    }

    fn validate(&mut self, name: &str, value: String) -> Result<String, EngineError> {
        let invalid = |v: &str| {
            EngineError::sql(
                "22023",
                format!("invalid value for parameter \"{name}\": \"{v}\""),
            )
        };
        match name {
            "timezone" => {
                let tz = TimeZone::parse(&value).map_err(|_| invalid(&value))?;
                let shown = tz.name().to_string();
                self.tz = tz;
                Ok(shown)
            }
            "client_encoding" => match value
                .trim_matches(['\'', '"'])
                .to_ascii_uppercase()
                .replace('-', "")
                .as_str()
            {
                "UTF8" | "UNICODE" => Ok("UTF8".into()),
                _ => Err(EngineError::sql(
                    "0A000",
                    format!(
                        "client encoding \"{value}\" is not supported: OmenDB speaks UTF8 only"
                    ),
                )),
            },
            "datestyle" => {
                let upper = value.to_ascii_uppercase();
                if upper
                    .split(',')
                    .map(str::trim)
                    .all(|p| matches!(p, "ISO" | "MDY" | ""))
                {
                    Ok("ISO, MDY".into())
                } else {
                    Err(EngineError::sql(
                        "0A000",
                        format!("DateStyle \"{value}\" is not supported yet (only ISO, MDY)"),
                    ))
                }
            }
            "intervalstyle" if !value.eq_ignore_ascii_case("postgres") => Err(EngineError::sql(
                "0A000",
                format!("IntervalStyle \"{value}\" is not supported yet"),
            )),
            "transaction_isolation" | "default_transaction_isolation" => {
                omendb_planner::IsolationLevel::parse(&value)
                    .map(|level| level.name().to_string())
                    .map_err(|(sqlstate, message)| EngineError::sql(sqlstate, message))
            }
            "lock_timeout" => parse_milliseconds(&value)
                .map(show_milliseconds)
                .ok_or_else(|| invalid(&value)),
            // PostgreSQL's range: 1 ms up to INT_MAX ms.
            "deadlock_timeout" => parse_milliseconds(&value)
                .filter(|ms| (1..=i32::MAX as u64).contains(ms))
                .map(show_milliseconds)
                .ok_or_else(|| invalid(&value)),
            "omendb.query_memory" => parse_bytes(&value)
                .filter(|b| *b > 0)
                .map(show_bytes)
                .ok_or_else(|| invalid(&value)),
            "extra_float_digits" => value
                .trim()
                .parse::<i32>()
                .map(|_| value.trim().to_string())
                .map_err(|_| invalid(&value)),
            _ => Ok(value),
        }
    }

    /// Every setting as (lower-case name, value), for `current_setting` and `pg_settings`.
    pub fn all(&self) -> Arc<[(String, String)]> {
        self.derived().all.clone()
    }

    /// `default_transaction_isolation` (validated when set).
    pub fn default_isolation(&self) -> omendb_planner::IsolationLevel {
        self.derived().default_isolation
    }

    fn derived(&self) -> &Derived {
        self.derived.get_or_init(|| Derived {
            all: self
                .values
                .iter()
                .map(|(k, (_, v))| (k.clone(), v.clone()))
                .collect(),
            lock_wait: self.parse_lock_wait(),
            deadlock_wait: self.parse_deadlock_wait(),
            query_memory: self.parse_query_memory(),
            default_isolation: self
                .get("default_transaction_isolation")
                .and_then(|v| omendb_planner::IsolationLevel::parse(v).ok())
                .unwrap_or(omendb_planner::IsolationLevel::ReadCommitted),
        })
    }

    /// Settings reported in the startup ParameterStatus messages.
    pub fn reported(&self) -> Vec<(String, String)> {
        KNOWN
            .iter()
            .filter(|(_, _, r)| *r)
            .filter_map(|(n, _, _)| self.values.get(&n.to_ascii_lowercase()).cloned())
            .collect()
    }
}

/// A time setting in milliseconds: a bare number is milliseconds, as in PostgreSQL, or a
/// number with one of the units `ms`, `s`, `min`, `h`, `d`.
fn parse_milliseconds(value: &str) -> Option<u64> {
    const UNITS: &[(&str, u64)] = &[
        ("ms", 1),
        ("s", 1_000),
        ("min", 60_000),
        ("h", 3_600_000),
        ("d", 86_400_000),
    ];
    let v = value.trim().trim_matches(['\'', '"']).trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let number: u64 = number.parse().ok()?;
    let unit = unit.trim();
    if unit.is_empty() {
        return Some(number);
    }
    let (_, scale) = UNITS.iter().find(|(u, _)| u.eq_ignore_ascii_case(unit))?;
    number.checked_mul(*scale)
}

/// Milliseconds as `SHOW` prints them: in the largest unit that divides them, as PostgreSQL.
fn show_milliseconds(ms: u64) -> String {
    const UNITS: &[(&str, u64)] = &[
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("min", 60_000),
        ("s", 1_000),
    ];
    if ms == 0 {
        return "0".into();
    }
    match UNITS.iter().find(|(_, scale)| ms.is_multiple_of(*scale)) {
        Some((unit, scale)) => format!("{}{unit}", ms / scale),
        None => format!("{ms}ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_timeout_takes_postgres_units_and_shows_the_largest() {
        let mut s = Settings::new("u");
        assert_eq!(s.lock_wait(), LOCK_WAIT_LIMIT);
        for (set, shown, ms) in [
            ("'300ms'", "300ms", 300),
            ("1500", "1500ms", 1500),
            ("2s", "2s", 2000),
            ("0", "0", 0),
        ] {
            s.set("lock_timeout", Some(set)).unwrap();
            assert_eq!(s.get("lock_timeout"), Some(shown));
            let expected = if ms == 0 {
                LOCK_WAIT_LIMIT
            } else {
                Duration::from_millis(ms)
            };
            assert_eq!(s.lock_wait(), expected);
        }
        s.set("lock_timeout", Some("1min")).unwrap();
        assert_eq!(s.get("lock_timeout"), Some("1min"));
        assert_eq!(
            s.lock_wait(),
            LOCK_WAIT_LIMIT,
            "never above the deadlock limit"
        );
        assert!(s.set("lock_timeout", Some("soon")).is_err());
        assert!(s.set("lock_timeout", Some("5 parsecs")).is_err());
    }

    #[test]
    fn deadlock_timeout_takes_postgres_units_and_range() {
        let mut s = Settings::new("u");
        assert_eq!(s.get("deadlock_timeout"), Some("1s"));
        assert_eq!(s.deadlock_wait(), Duration::from_secs(1));
        for (set, shown, ms) in [
            ("'250ms'", "250ms", 250),
            ("2000", "2s", 2000),
            ("1min", "1min", 60_000),
        ] {
            s.set("deadlock_timeout", Some(set)).unwrap();
            assert_eq!(s.get("deadlock_timeout"), Some(shown));
            assert_eq!(s.deadlock_wait(), Duration::from_millis(ms));
        }
        // PostgreSQL's range is 1 ms to INT_MAX ms; a refused value leaves the setting as it was.
        for bad in ["0", "soon", "3000000000", "-5"] {
            assert!(s.set("deadlock_timeout", Some(bad)).is_err(), "{bad}");
        }
        assert_eq!(s.deadlock_wait(), Duration::from_millis(60_000));
        s.set("deadlock_timeout", None).unwrap();
        assert_eq!(s.deadlock_wait(), Duration::from_secs(1), "RESET");
    }

    #[test]
    fn query_memory_takes_postgres_units() {
        let mut s = Settings::new("u");
        assert_eq!(s.query_memory(), 4 << 30);
        s.set(QUERY_MEMORY, Some("'512MB'")).unwrap();
        assert_eq!(s.get(QUERY_MEMORY), Some("512MB"));
        assert_eq!(s.query_memory(), 512 << 20);
        assert!(s.set(QUERY_MEMORY, Some("lots")).is_err());
        assert!(s.set(QUERY_MEMORY, Some("0")).is_err());
        s.set(QUERY_MEMORY, None).unwrap();
        assert_eq!(s.query_memory(), 4 << 30);
    }
}
