//! How every command prints its result: its report as text lines for people, or as one
//! JSON object (`--json`) on stdout; lines that tell progress go to stderr when stdout
//! carries JSON. The reports are the library's; this file only prints them.

use serde::Serialize;

/// The report as one pretty-printed JSON object on stdout.
pub fn json(report: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(report)?);
    Ok(())
}

/// The report: JSON with `json`, else its text `lines`, one per line on stdout.
pub fn report<R: Serialize>(
    r: &R,
    json: bool,
    lines: impl FnOnce(&R) -> Vec<String>,
) -> anyhow::Result<()> {
    if json {
        return self::json(r);
    }
    for line in lines(r) {
        println!("{line}");
    }
    Ok(())
}

/// Where a use case's lines go as they happen: stdout, or stderr when stdout is JSON.
pub fn progress(json: bool) -> impl Fn(&str) {
    move |line| {
        if json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
}

/// Each warning on stderr.
pub fn warnings(warnings: &[String]) {
    for w in warnings {
        eprintln!("jailsmith: warning: {w}");
    }
}
