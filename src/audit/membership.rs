//! Whether the jail's users are still jailed by sshd: with the group blocks (`Match Group`,
//! one group per jail and mode), a user sshd jails is a member of one of the jail's groups.
//! A `usermod -G` without `-a` takes a user out silently, and sshd then logs them in to the
//! host. Reads /etc/group once; changes nothing.

use std::path::Path;

use super::finding::{Finding, Report, Severity};
use crate::account::hostdb::{GroupIndex, HostDb};
use crate::escape::sh_quote;
use crate::state::JailState;

/// Reports every user of the state that is a member of none of the jail's groups, and a
/// recorded group that is gone or has another gid. A jail without recorded groups (per-user
/// drop-ins of an earlier version, or no users) is not judged here.
pub fn check_members(jail: &Path, state: &JailState, report: &mut Report) {
    if state.groups.is_empty() || state.users.is_empty() {
        return;
    }
    match HostDb::default().group_index() {
        Ok(ix) => judge(jail, state, &ix, report),
        Err(e) => report.push(Finding {
            severity: Severity::Warning,
            path: "/etc/group".into(),
            kind: "group-unreadable",
            what: format!("cannot tell which users sshd jails: {e}"),
            fix: "make /etc/group readable by root".into(),
            path_hex: None,
        }),
    }
}

fn judge(jail: &Path, state: &JailState, ix: &GroupIndex, report: &mut Report) {
    let names: Vec<&str> = state.groups.keys().map(String::as_str).collect();
    for (name, gid) in &state.groups {
        match ix.by_name(name) {
            Some(g) if g.gid == *gid => {}
            found => report.push(Finding {
                severity: Severity::Error,
                path: "/etc/group".into(),
                kind: "jail-group",
                what: match found {
                    Some(g) => format!(
                        "group {name} has gid {} where jailsmith created it with gid {gid}: \
                         sshd matches the name, so its members are jailed by a group jailsmith \
                         no longer owns",
                        g.gid
                    ),
                    None => format!(
                        "group {name} (gid {gid}) is gone: sshd jails none of this jail's users \
                         that were its members"
                    ),
                },
                fix: format!(
                    "jailsmith user NAME --jail {} for each of the jail's users, after removing \
                     or renaming a group of that name jailsmith did not create",
                    sh_quote(&jail.display().to_string())
                ),
                path_hex: None,
            }),
        }
    }
    for user in &state.users {
        if ix.member_of(user).any(|g| names.contains(&g.name.as_str())) {
            continue;
        }
        report.push(Finding {
            severity: Severity::Error,
            path: "/etc/group".into(),
            kind: "not-jailed",
            what: format!(
                "user {user} of this jail is a member of none of its groups ({}): sshd does not \
                 jail that user (a `usermod -G` without -a takes a user out)",
                names.join(", ")
            ),
            fix: format!(
                "jailsmith user {user} --jail {} (add --sftp-only for an sftp-only account)",
                sh_quote(&jail.display().to_string())
            ),
            path_hex: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(users: &[&str], groups: &[(&str, u32)]) -> JailState {
        let mut s: JailState = serde_json::from_value(serde_json::json!({
            "jail": "/srv/j",
            "request": {},
            "manifest": {"entries": {}},
            "updated_unix": 0
        }))
        .expect("a minimal state");
        s.users = users.iter().map(|u| u.to_string()).collect();
        s.groups = groups.iter().map(|(g, i)| (g.to_string(), *i)).collect();
        s
    }

    fn kinds(r: &Report) -> Vec<(&'static str, String)> {
        r.findings
            .iter()
            .map(|f| (f.kind, f.what.clone()))
            .collect()
    }

    #[test]
    fn a_user_out_of_every_jail_group_is_not_jailed() {
        let ix = GroupIndex::parse(
            "jailsmith-0123456789ab:x:990:ann\njailsmith-0123456789ab-sftp:x:989:bob\n",
        );
        let st = state(
            &["ann", "bob", "cy"],
            &[
                ("jailsmith-0123456789ab", 990),
                ("jailsmith-0123456789ab-sftp", 989),
            ],
        );
        let mut r = Report::default();
        judge(Path::new("/srv/j"), &st, &ix, &mut r);
        let k = kinds(&r);
        assert_eq!(k.len(), 1, "{k:?}");
        assert_eq!(k[0].0, "not-jailed");
        assert!(k[0].1.starts_with("user cy "), "{k:?}");
    }

    #[test]
    fn a_group_gone_or_with_another_gid_is_reported() {
        let ix = GroupIndex::parse("jailsmith-0123456789ab:x:991:ann\n");
        let st = state(
            &["ann"],
            &[
                ("jailsmith-0123456789ab", 990),
                ("jailsmith-0123456789ab-sftp", 989),
            ],
        );
        let mut r = Report::default();
        judge(Path::new("/srv/j"), &st, &ix, &mut r);
        let k = kinds(&r);
        assert_eq!(
            k.iter().filter(|(k, _)| *k == "jail-group").count(),
            2,
            "{k:?}"
        );
        assert!(k.iter().any(|(_, w)| w.contains("has gid 991")), "{k:?}");
        assert!(k.iter().any(|(_, w)| w.contains("is gone")), "{k:?}");
    }

    #[test]
    fn a_jail_without_recorded_groups_is_not_judged() {
        let st = state(&["ann"], &[]);
        let mut r = Report::default();
        check_members(Path::new("/srv/j"), &st, &mut r);
        assert!(r.findings.is_empty());
    }
}
