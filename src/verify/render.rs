//! Rendering of a verify report (pure): the table for people (every string escaped: details
//! carry what the session printed) and the JSON for scripts (exact strings).

use super::{Report, Status};
use crate::escape::text;

/// The table: a header line, one line per check (status, name, detail), a summary.
pub fn table(r: &Report) -> String {
    let width = r
        .checks
        .iter()
        .map(|c| text(&c.name).chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut out = format!(
        "verify {}@{} port {} (jail {})\n",
        text(&r.user),
        text(&r.host),
        r.port,
        text(&r.jail.display().to_string())
    );
    out.push_str(&format!("{:<7}{:<width$}  DETAIL\n", "STATUS", "CHECK"));
    for c in &r.checks {
        out.push_str(&format!(
            "{:<7}{:<width$}  {}\n",
            c.status.label(),
            text(&c.name),
            text(&c.detail)
        ));
    }
    let count = |s: Status| r.checks.iter().filter(|c| c.status == s).count();
    out.push_str(&format!(
        "{}: {} passed, {} failed, {} warnings, {} not applicable\n",
        if r.passed { "PASSED" } else { "FAILED" },
        count(Status::Pass),
        count(Status::Fail),
        count(Status::Warn),
        count(Status::NotApplicable)
    ));
    out
}

/// `{"user","host","port","jail","checks":[{"name","status","detail"}],"passed"}`.
pub fn json(r: &Report) -> String {
    serde_json::to_string_pretty(r).expect("a report always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::Check;
    use std::path::PathBuf;

    #[test]
    fn table_lines() {
        let mut r = Report::new("imsad", "127.0.0.1", 22, PathBuf::from("/srv/j"));
        r.push(Check::pass("login", "ed25519 key accepted"));
        r.push(Check::fail("no /proc", "/proc exists"));
        r.finish();
        let t = table(&r);
        assert!(t.contains("PASS   login     ed25519 key accepted"), "{t}");
        assert!(t.contains("FAIL   no /proc  /proc exists"), "{t}");
        assert!(t.ends_with("FAILED: 1 passed, 1 failed, 0 warnings, 0 not applicable\n"));
    }

    #[test]
    fn session_text_is_escaped() {
        let mut r = Report::new("u", "h", 22, PathBuf::from("/j"));
        r.push(Check::fail("no /proc", "x\n\x1b[32mPASS   fake"));
        let t = table(&r);
        assert!(t.contains("x\\n\\x1b[32mPASS   fake"), "{t}");
        assert!(!t.contains('\x1b'));
        assert_eq!(t.lines().count(), 4, "{t}");
    }
}
