//! Plan rendering: the dry-run text (one line per operation with its reason) and JSON.
//! Pure: returns strings.

use super::{Op, Plan};

/// One line per step: `verb  /path  [details]  # reason`.
pub fn render_text(plan: &Plan) -> String {
    let mut out = String::new();
    for s in &plan.steps {
        let detail = match &s.op {
            Op::MakeDir { mode, owner, .. } => {
                format!("mode {mode:04o} owner {}:{}", owner.uid, owner.gid)
            }
            Op::CopyFile { src, mode, .. } => format!("from {} mode {mode:04o}", src.display()),
            Op::Symlink { target, .. } => format!("-> {}", target.display()),
            Op::MakeDevice {
                major, minor, mode, ..
            } => format!("char {major}:{minor} mode {mode:04o}"),
            Op::WriteFile { content, mode, .. } => {
                format!("{} bytes mode {mode:04o}", content.len())
            }
            Op::Remove { expect, .. } => format!("{} placed by jailsmith", expect.name()),
        };
        out.push_str(&format!(
            "{:<8} {}  {}  # {}\n",
            s.op.verb(),
            s.op.path(),
            detail,
            s.reason
        ));
    }
    out
}

/// The plan as pretty JSON.
pub fn render_json(plan: &Plan) -> String {
    serde_json::to_string_pretty(plan).expect("plans serialise")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{JailPath, Placed, Step};

    #[test]
    fn a_removal_names_what_it_expects_to_find() {
        let plan = Plan {
            jail: "/j".into(),
            steps: vec![Step {
                op: Op::Remove {
                    path: JailPath::new("usr/bin/ls").unwrap(),
                    expect: Placed::File,
                },
                reason: "no longer needed".into(),
            }],
        };
        assert_eq!(
            render_text(&plan),
            "remove   /usr/bin/ls  regular file placed by jailsmith  # no longer needed\n"
        );
        assert!(render_json(&plan).contains(r#""op": "remove""#));
        assert!(render_json(&plan).contains(r#""expect": "file""#));
    }
}
