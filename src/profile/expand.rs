//! Profile expansion: names → loaded profiles (includes followed, cycles refused) → every
//! entry resolved against the host (`Expansion`, what `profiles show` prints) → a pure-data
//! `ProfileSet` that `build` folds into its request. Host facts come only through `HostFs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::host::{HostFs, Node, glob_options};
use super::schema::{DeviceName, EntryKind, Profile, is_glob, parse_profile};
use super::search::{ProfileSource, check_name};
use super::{ProfileError, SECURE_PATH};
use crate::plan::Owner;
use crate::plan::build::{ContentFile, ExtraDir};

/// What a set of profiles adds to a jail, resolved against this host. Every path exists.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProfileSet {
    /// Profiles used, includes expanded, dependencies first (recorded in the jail's state).
    pub names: Vec<String>,
    /// Host paths of programs; `build` adds their symlink hops and ELF closure.
    pub programs: Vec<PathBuf>,
    /// Host paths of dlopen'ed libraries; `build` adds their ELF closure.
    pub libraries: Vec<PathBuf>,
    /// Host paths of data files and symlinks, globs expanded and directories walked
    /// (excludes applied); a directory only when it is empty. Copied as they are.
    pub files: Vec<PathBuf>,
    /// Directories to create, root-owned.
    pub dirs: Vec<ExtraDir>,
    /// Device names from the allowed set (`null`, `zero`, `full`, `random`, `urandom`,
    /// `tty`, `ptmx`); `build` takes their numbers from the host.
    pub devices: Vec<String>,
    /// Files written with given content.
    pub contents: Vec<ContentFile>,
    /// Bind mounts (the first profile naming a target wins).
    pub binds: Vec<crate::mounts::Bind>,
    /// Optional entries absent on this host, definitions overridden by another profile.
    pub warnings: Vec<String>,
    /// The profile that named each program, library and file (the first one, when several
    /// did), for the reasons a plan gives.
    pub origins: BTreeMap<PathBuf, String>,
    /// The libraries only optional entries named (`optional_libraries`, alternatives not
    /// required): one whose needs nothing provides is skipped with a warning, not an error.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub optional_libraries: Vec<PathBuf>,
}

/// One profile as read from its file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoadedProfile {
    pub name: String,
    pub file: PathBuf,
    pub profile: Profile,
}

/// How one entry of a profile resolved on this host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResolvedEntry {
    /// The profile that declares it.
    pub profile: String,
    /// The field it comes from (`programs`, `optional_files`, `alternatives` …).
    pub field: &'static str,
    pub kind: EntryKind,
    pub required: bool,
    /// The pattern, or the alternatives in order.
    pub candidates: Vec<String>,
    /// The candidate that exists (the first one for alternatives), if any.
    pub chosen: Option<String>,
    /// The host paths the chosen candidate names (glob matches, the PATH lookup).
    pub matched: Vec<PathBuf>,
    /// What the entry contributes: `matched`, with directories walked for files.
    pub paths: Vec<PathBuf>,
}

impl ResolvedEntry {
    /// Nothing on this host satisfies the entry.
    pub fn is_missing(&self) -> bool {
        self.matched.is_empty()
    }

    /// A sentence for errors and warnings: what was looked for and where.
    pub fn describe_missing(&self) -> String {
        let what = match self.candidates.as_slice() {
            [one] => describe_pattern(self.kind, one),
            many => format!(
                "{} (none of: {})",
                self.kind,
                many.iter()
                    .map(|c| describe_pattern(self.kind, c))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        };
        format!("profile `{}` ({}): {what}", self.profile, self.field)
    }
}

fn describe_pattern(kind: EntryKind, p: &str) -> String {
    let bare = !p.contains('/');
    match kind {
        EntryKind::Program if bare => format!(
            "program `{p}` is not in the secure PATH {}",
            SECURE_PATH.join(":")
        ),
        EntryKind::Library if bare => {
            format!("library `{p}` is not in any library directory of this host")
        }
        _ if is_glob(p) => format!("{kind} glob `{p}` matches nothing"),
        EntryKind::Program => format!("program {p} does not exist or is not executable"),
        _ => format!("{kind} {p} does not exist"),
    }
}

/// Profiles with includes expanded and every entry resolved, missing ones included.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Expansion {
    /// Profile names, dependencies first.
    pub names: Vec<String>,
    pub profiles: Vec<LoadedProfile>,
    pub entries: Vec<ResolvedEntry>,
    pub dirs: Vec<ExtraDir>,
    pub devices: Vec<String>,
    pub contents: Vec<ContentFile>,
    pub binds: Vec<crate::mounts::Bind>,
    /// Overridden definitions (a `dirs` or `write` path defined twice).
    pub overrides: Vec<String>,
}

impl Expansion {
    /// Required entries nothing on this host satisfies.
    pub fn missing_required(&self) -> Vec<&ResolvedEntry> {
        self.entries
            .iter()
            .filter(|e| e.required && e.is_missing())
            .collect()
    }

    /// Turns the expansion into the set `build` uses; fails when a required entry is missing.
    pub fn into_set(self) -> Result<ProfileSet, ProfileError> {
        let missing: Vec<String> = self
            .missing_required()
            .iter()
            .map(|e| e.describe_missing())
            .collect();
        if !missing.is_empty() {
            return Err(ProfileError::Missing(missing));
        }
        let mut warnings: Vec<String> = self
            .entries
            .iter()
            .filter(|e| e.is_missing())
            .map(|e| format!("optional entry skipped: {}", e.describe_missing()))
            .collect();
        warnings.extend(self.overrides.iter().cloned());

        let mut origins = BTreeMap::new();
        let mut take = |kind: EntryKind| -> Vec<PathBuf> {
            let mut out = Vec::new();
            for e in self.entries.iter().filter(|e| e.kind == kind) {
                for p in &e.paths {
                    if !origins.contains_key(p) {
                        origins.insert(p.clone(), e.profile.clone());
                        out.push(p.clone());
                    }
                }
            }
            out
        };
        let programs = take(EntryKind::Program);
        let libraries = take(EntryKind::Library);
        let optional_libraries: Vec<PathBuf> = libraries
            .iter()
            .filter(|p| {
                !self
                    .entries
                    .iter()
                    .any(|e| e.kind == EntryKind::Library && e.required && e.paths.contains(p))
            })
            .cloned()
            .collect();
        let files = take(EntryKind::File);
        Ok(ProfileSet {
            names: self.names,
            programs,
            libraries,
            files,
            dirs: self.dirs,
            devices: self.devices,
            contents: self.contents,
            binds: self.binds,
            warnings,
            origins,
            optional_libraries,
        })
    }
}

/// Loads `names` (and what they include) from `source`, resolves every entry against `host`
/// and returns the set `build` folds in. Errors: unreadable or invalid profile, unknown
/// name, include cycle, required entry missing on this host.
pub fn load_profiles(
    names: &[String],
    source: &dyn ProfileSource,
    host: &dyn HostFs,
) -> Result<ProfileSet, ProfileError> {
    expand_profiles(names, source, host)?.into_set()
}

/// Like `load_profiles`, but keeps the per-entry detail and does not fail on missing
/// required entries (`profiles show` reports them).
pub fn expand_profiles(
    names: &[String],
    source: &dyn ProfileSource,
    host: &dyn HostFs,
) -> Result<Expansion, ProfileError> {
    let profiles = load_tree(names, source)?;
    let mut x = Expansion {
        names: profiles.iter().map(|p| p.name.clone()).collect(),
        profiles: Vec::new(),
        entries: Vec::new(),
        dirs: Vec::new(),
        devices: Vec::new(),
        contents: Vec::new(),
        binds: Vec::new(),
        overrides: Vec::new(),
    };
    let mut devices = BTreeSet::new();
    for lp in &profiles {
        resolve_entries(lp, host, &mut x.entries)?;
        merge_dirs(lp, &mut x.dirs, &mut x.overrides);
        merge_contents(lp, &mut x.contents, &mut x.overrides);
        devices.extend(lp.profile.devices.iter().copied());
        for b in &lp.profile.binds {
            if x.binds.iter().any(|old| old.dst == b.dst) {
                x.overrides.push(format!(
                    "profile {}: bind target {} is already bound",
                    lp.name, b.dst
                ));
            } else {
                x.binds.push(b.clone());
            }
        }
    }
    x.devices = DeviceName::ALL
        .iter()
        .filter(|d| devices.contains(d))
        .map(|d| d.as_str().to_string())
        .collect();
    x.profiles = profiles;
    Ok(x)
}

/// Reads and parses every profile reachable from `names`, dependencies first, each once.
fn load_tree(
    names: &[String],
    source: &dyn ProfileSource,
) -> Result<Vec<LoadedProfile>, ProfileError> {
    let mut done = Vec::new();
    let mut stack = Vec::new();
    for name in names {
        visit(name, None, source, &mut stack, &mut done)?;
    }
    Ok(done)
}

fn visit(
    name: &str,
    included_by: Option<&str>,
    source: &dyn ProfileSource,
    stack: &mut Vec<String>,
    done: &mut Vec<LoadedProfile>,
) -> Result<(), ProfileError> {
    if let Some(pos) = stack.iter().position(|n| n == name) {
        let mut cycle = stack[pos..].to_vec();
        cycle.push(name.to_string());
        return Err(ProfileError::Cycle(cycle));
    }
    if done.iter().any(|p| p.name == name) {
        return Ok(());
    }
    check_name(name)?;
    let (file, text) = source.read(name)?.ok_or_else(|| ProfileError::Unknown {
        name: name.to_string(),
        included_by: included_by.map(str::to_string),
        available: source.available(),
        searched: source.searched(),
    })?;
    let profile = parse_profile(&text, &file)?;
    stack.push(name.to_string());
    for inc in &profile.include {
        visit(inc, Some(name), source, stack, done)?;
    }
    stack.pop();
    done.push(LoadedProfile {
        name: name.to_string(),
        file,
        profile,
    });
    Ok(())
}

/// Resolves every host entry of one profile, in field order.
fn resolve_entries(
    lp: &LoadedProfile,
    host: &dyn HostFs,
    out: &mut Vec<ResolvedEntry>,
) -> Result<(), ProfileError> {
    let p = &lp.profile;
    let excludes = p
        .exclude
        .iter()
        .map(|e| {
            glob::Pattern::new(e).map_err(|err| ProfileError::BadEntry {
                file: lp.file.clone(),
                field: "exclude",
                entry: e.clone(),
                why: err.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let excluded = |path: &Path| {
        excludes
            .iter()
            .any(|pat| pat.matches_path_with(path, glob_options()))
    };
    let singles: [(&'static str, &Vec<String>, EntryKind, bool); 6] = [
        ("programs", &p.programs, EntryKind::Program, true),
        (
            "optional_programs",
            &p.optional_programs,
            EntryKind::Program,
            false,
        ),
        ("libraries", &p.libraries, EntryKind::Library, true),
        (
            "optional_libraries",
            &p.optional_libraries,
            EntryKind::Library,
            false,
        ),
        ("files", &p.files, EntryKind::File, true),
        ("optional_files", &p.optional_files, EntryKind::File, false),
    ];
    let start = out.len();
    for (field, list, kind, required) in singles {
        for pattern in list {
            out.push(resolve_one(
                &lp.name,
                field,
                kind,
                required,
                std::slice::from_ref(pattern),
                host,
                &excluded,
            ));
        }
    }
    for alt in &p.alternatives {
        out.push(resolve_one(
            &lp.name,
            "alternatives",
            alt.kind,
            alt.required,
            &alt.paths,
            host,
            &excluded,
        ));
    }
    out[start..].iter().try_for_each(|e| check_refused(e, host))
}

/// Refuses an entry that reaches a path no profile may copy, directly or through a link.
fn check_refused(e: &ResolvedEntry, host: &dyn HostFs) -> Result<(), ProfileError> {
    for p in e.matched.iter().chain(&e.paths) {
        let real = host.canonicalize(p);
        let hit = crate::plan::denylist::host_secret(p, &[])
            .map(|why| (None, why))
            .or_else(|| {
                let real = real.as_ref()?;
                crate::plan::denylist::host_secret(real, &[]).map(|why| (Some(real.clone()), why))
            });
        if let Some((target, why)) = hit {
            return Err(ProfileError::Refused {
                profile: e.profile.clone(),
                field: e.field,
                path: p.clone(),
                target,
                why,
            });
        }
    }
    Ok(())
}

/// Resolves one entry: the first candidate that matches anything wins.
fn resolve_one(
    profile: &str,
    field: &'static str,
    kind: EntryKind,
    required: bool,
    candidates: &[String],
    host: &dyn HostFs,
    excluded: &dyn Fn(&Path) -> bool,
) -> ResolvedEntry {
    let mut entry = ResolvedEntry {
        profile: profile.to_string(),
        field,
        kind,
        required,
        candidates: candidates.to_vec(),
        chosen: None,
        matched: Vec::new(),
        paths: Vec::new(),
    };
    for c in candidates {
        let matched = match_candidate(kind, c, host, excluded);
        if !matched.is_empty() {
            entry.paths = match kind {
                EntryKind::File => expand_files(&matched, host, excluded),
                _ => matched.clone(),
            };
            entry.chosen = Some(c.clone());
            entry.matched = matched;
            break;
        }
    }
    entry
}

/// The host paths one candidate names, excluded ones removed.
fn match_candidate(
    kind: EntryKind,
    c: &str,
    host: &dyn HostFs,
    excluded: &dyn Fn(&Path) -> bool,
) -> Vec<PathBuf> {
    let bare = !c.contains('/');
    let is_file = |p: &Path| matches!(host.stat(p), Some(Node::File { .. }));
    let is_program = |p: &PathBuf| matches!(host.stat(p), Some(Node::File { executable: true }));
    // a data file that exists, or a symlink even when it dangles (copied as a link, as
    // `--file` copies one: the JDK's src.zip, ruby's rdoc fonts)
    let is_there =
        |p: &Path| host.stat(p).is_some() || matches!(host.lstat(p), Some(Node::Symlink { .. }));
    let found: Vec<PathBuf> = match kind {
        EntryKind::Program if c == SSHD_SFTP_SERVER => {
            host.sftp_server().filter(is_program).into_iter().collect()
        }
        EntryKind::Program if bare => host.which(c).into_iter().collect(),
        EntryKind::Library if bare => host.find_library(c).into_iter().collect(),
        EntryKind::Program => {
            let p = PathBuf::from(c);
            match host.stat(&p) {
                Some(Node::File { executable: true }) => vec![p],
                _ => vec![],
            }
        }
        EntryKind::Library if is_glob(c) => {
            host.glob(c).into_iter().filter(|p| is_file(p)).collect()
        }
        EntryKind::Library => Some(PathBuf::from(c))
            .filter(|p| is_file(p))
            .into_iter()
            .collect(),
        EntryKind::File if is_glob(c) => host.glob(c).into_iter().filter(|p| is_there(p)).collect(),
        EntryKind::File => Some(PathBuf::from(c))
            .filter(|p| is_there(p))
            .into_iter()
            .collect(),
    };
    found.into_iter().filter(|p| !excluded(p)).collect()
}

/// The program candidate that stands for sshd's own `Subsystem sftp` program, as `sshd -T`
/// reports it on this host.
pub const SSHD_SFTP_SERVER: &str = "@sshd-sftp-server";

/// Files and symlinks named by matched file paths, directories walked: no directory is in the
/// result except empty ones (so they are created too); a symlink to a directory is kept and
/// walked through.
fn expand_files(
    matched: &[PathBuf],
    host: &dyn HostFs,
    excluded: &dyn Fn(&Path) -> bool,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for m in matched {
        let is_dir = host.stat(m) == Some(Node::Dir);
        let is_link = matches!(host.lstat(m), Some(Node::Symlink { .. }));
        let empty_dir = |p: &Path| host.read_dir(p).is_empty();
        if !is_dir || is_link || empty_dir(m) {
            out.push(m.clone());
        }
        if is_dir {
            out.extend(
                host.walk(m, excluded)
                    .into_iter()
                    .filter(|(p, n)| match n {
                        Node::File { .. } | Node::Symlink { .. } => true,
                        Node::Dir => empty_dir(p),
                        Node::Other => false,
                    })
                    .map(|(p, _)| p),
            );
        }
    }
    out
}

fn merge_dirs(lp: &LoadedProfile, dirs: &mut Vec<ExtraDir>, overrides: &mut Vec<String>) {
    for d in &lp.profile.dirs {
        let new = ExtraDir {
            path: d.path.clone(),
            mode: d.mode.0,
            owner: Owner::ROOT,
        };
        match dirs.iter_mut().find(|x| x.path == d.path) {
            Some(old) if *old != new => {
                overrides.push(format!(
                    "directory {} mode {:#o} replaced by profile `{}` (mode {:#o})",
                    d.path, old.mode, lp.name, new.mode
                ));
                *old = new;
            }
            Some(_) => {}
            None => dirs.push(new),
        }
    }
}

fn merge_contents(
    lp: &LoadedProfile,
    contents: &mut Vec<ContentFile>,
    overrides: &mut Vec<String>,
) {
    for w in &lp.profile.write {
        let new = ContentFile {
            path: w.path.clone(),
            content: w.content.clone(),
            mode: w.mode.0,
            reason: format!("written by profile {}", lp.name),
        };
        match contents.iter_mut().find(|x| x.path == w.path) {
            Some(old) => {
                overrides.push(format!(
                    "file {} ({}) replaced by profile `{}`",
                    w.path, old.reason, lp.name
                ));
                *old = new;
            }
            None => contents.push(new),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::host::fake::FakeHost;
    use super::*;
    use std::collections::BTreeMap;

    /// Profiles from a map, for tests.
    struct MapSource(BTreeMap<String, String>);

    fn source(items: &[(&str, &str)]) -> MapSource {
        MapSource(
            items
                .iter()
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect(),
        )
    }

    impl ProfileSource for MapSource {
        fn read(&self, name: &str) -> Result<Option<(PathBuf, String)>, ProfileError> {
            Ok(self
                .0
                .get(name)
                .map(|t| (PathBuf::from(format!("/p/{name}.toml")), t.clone())))
        }
        fn available(&self) -> Vec<String> {
            self.0.keys().cloned().collect()
        }
        fn searched(&self) -> Vec<PathBuf> {
            vec!["/p".into()]
        }
    }

    fn names(n: &[&str]) -> Vec<String> {
        n.iter().map(|s| s.to_string()).collect()
    }

    fn host() -> FakeHost {
        FakeHost::default()
            .file("/usr/bin/bash", true)
            .file("/usr/bin/ls", true)
            .symlink("/usr/bin/python3", "python3.11")
            .file("/usr/bin/python3.11", true)
            .libdir("/usr/lib/x86_64-linux-gnu")
            .file("/usr/lib/x86_64-linux-gnu/libgcc_s.so.1", false)
            .file("/usr/lib/openssh/sftp-server", true)
            .file("/usr/share/terminfo/x/xterm", false)
            .file("/usr/share/terminfo/x/xterm-256color", false)
            .file("/usr/share/terminfo/v/vt100", false)
            .file("/usr/lib/python3.11/os.py", false)
            .file("/usr/lib/python3.11/__pycache__/os.pyc", false)
            .file("/usr/lib/python3.11/lib-dynload/_ssl.so", false)
            .file("/usr/lib/python3.11/lib-dynload/_testcapi.so", false)
            .file("/usr/lib/python3.11/test/t.py", false)
            .symlink("/usr/lib/python3.11/sitecustomize.py", "/etc/x.py")
    }

    #[test]
    fn includes_are_expanded_dependencies_first_and_once() {
        let src = source(&[
            ("a", "description = \"a\"\ninclude = [\"b\", \"c\"]\n"),
            ("b", "description = \"b\"\ninclude = [\"c\"]\n"),
            ("c", "description = \"c\"\nprograms = [\"bash\"]\n"),
        ]);
        let set = load_profiles(&names(&["a"]), &src, &host()).unwrap();
        assert_eq!(set.names, names(&["c", "b", "a"]));
        assert_eq!(set.programs, vec![PathBuf::from("/usr/bin/bash")]);
    }

    #[test]
    fn include_cycle_is_named() {
        let src = source(&[
            ("a", "description = \"a\"\ninclude = [\"b\"]\n"),
            ("b", "description = \"b\"\ninclude = [\"a\"]\n"),
        ]);
        let e = load_profiles(&names(&["a"]), &src, &host()).unwrap_err();
        assert_eq!(e.to_string(), "include cycle: a → b → a");
        let src = source(&[("s", "description = \"s\"\ninclude = [\"s\"]\n")]);
        let e = load_profiles(&names(&["s"]), &src, &host()).unwrap_err();
        assert_eq!(e.to_string(), "include cycle: s → s");
    }

    #[test]
    fn unknown_profile_lists_available() {
        let src = source(&[("a", "description = \"a\"\ninclude = [\"nope\"]\n")]);
        let e = load_profiles(&names(&["a"]), &src, &host()).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("unknown profile `nope` (included by `a`)"),
            "{msg}"
        );
        assert!(msg.contains("available profiles: a"), "{msg}");
    }

    #[test]
    fn programs_by_name_and_path() {
        let src = source(&[(
            "p",
            "description = \"p\"\nprograms = [\"ls\", \"/usr/bin/python3\"]\n",
        )]);
        let set = load_profiles(&names(&["p"]), &src, &host()).unwrap();
        assert_eq!(
            set.programs,
            vec![
                PathBuf::from("/usr/bin/ls"),
                PathBuf::from("/usr/bin/python3")
            ]
        );
    }

    #[test]
    fn required_missing_is_an_error_optional_a_warning() {
        let src = source(&[(
            "p",
            "description = \"p\"\nprograms = [\"nosuch\"]\nfiles = [\"/nope/*\"]\n",
        )]);
        let e = load_profiles(&names(&["p"]), &src, &host()).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("program `nosuch` is not in the secure PATH"),
            "{msg}"
        );
        assert!(msg.contains("file glob `/nope/*` matches nothing"), "{msg}");

        let src = source(&[(
            "p",
            "description = \"p\"\noptional_programs = [\"nano\"]\noptional_libraries = [\"libx.so.1\"]\n",
        )]);
        let set = load_profiles(&names(&["p"]), &src, &host()).unwrap();
        assert_eq!(set.warnings.len(), 2, "{:?}", set.warnings);
        assert!(set.warnings[0].contains("nano"));
    }

    #[test]
    fn alternatives_take_the_first_that_exists() {
        let src = source(&[(
            "p",
            r#"description = "p"
[[alternatives]]
kind = "program"
paths = ["/usr/libexec/openssh/sftp-server", "/usr/lib/openssh/sftp-server"]
[[alternatives]]
kind = "file"
paths = ["/lib/terminfo/x/xterm*", "/usr/share/terminfo/x/xterm*"]
[[alternatives]]
kind = "library"
paths = ["/nope.so", "/also-nope.so"]
required = false
"#,
        )]);
        let x = expand_profiles(&names(&["p"]), &src, &host()).unwrap();
        assert_eq!(
            x.entries[0].chosen.as_deref(),
            Some("/usr/lib/openssh/sftp-server")
        );
        assert_eq!(x.entries[1].matched.len(), 2);
        assert!(x.entries[2].is_missing());
        let set = x.into_set().unwrap();
        assert_eq!(
            set.programs,
            vec![PathBuf::from("/usr/lib/openssh/sftp-server")]
        );
        assert_eq!(set.files.len(), 2);
        assert!(set.warnings[0].contains("none of"), "{:?}", set.warnings);

        let src = source(&[(
            "p",
            "description = \"p\"\n[[alternatives]]\nkind = \"file\"\npaths = [\"/a\", \"/b\"]\n",
        )]);
        let e = load_profiles(&names(&["p"]), &src, &host()).unwrap_err();
        assert!(
            e.to_string()
                .contains("none of: file /a does not exist; file /b does not exist"),
            "{e}"
        );
    }

    #[test]
    fn libraries_by_name_and_glob_with_excludes() {
        let src = source(&[(
            "p",
            r#"description = "p"
libraries = ["libgcc_s.so.1", "/usr/lib/python3.*/lib-dynload/*.so"]
files = ["/usr/lib/python3.*"]
exclude = ["**/__pycache__", "/usr/lib/python3.*/test", "/usr/lib/python3.*/lib-dynload/_test*"]
"#,
        )]);
        let set = load_profiles(&names(&["p"]), &src, &host()).unwrap();
        assert_eq!(
            set.libraries,
            vec![
                PathBuf::from("/usr/lib/x86_64-linux-gnu/libgcc_s.so.1"),
                PathBuf::from("/usr/lib/python3.11/lib-dynload/_ssl.so"),
            ]
        );
        // Directories are walked, excludes pruned, libraries not repeated as files.
        assert_eq!(
            set.files,
            vec![
                PathBuf::from("/usr/lib/python3.11/os.py"),
                PathBuf::from("/usr/lib/python3.11/sitecustomize.py"),
            ]
        );
    }

    #[test]
    fn host_secrets_are_refused_directly_by_glob_and_through_links() {
        let h = host()
            .file("/etc/shadow", false)
            .file("/etc/hostname", false)
            .file("/etc/ssh/ssh_host_ed25519_key", false)
            .symlink("/usr/lib/ssl/private", "/etc/ssh");
        for (field, entry) in [
            ("files", "/etc/shadow"),
            ("files", "/etc/*"),
            ("files", "/etc"),
            ("optional_files", "/usr/lib/ssl/*"),
        ] {
            let text = format!("description = \"x\"\n{field} = [\"{entry}\"]\n");
            let src = source(&[("p", text.as_str())]);
            let e = load_profiles(&names(&["p"]), &src, &h).unwrap_err();
            assert!(matches!(e, ProfileError::Refused { .. }), "{entry}: {e}");
            assert_eq!(e.exit_code(), crate::exit::REFUSED);
        }
        let src = source(&[("p", "description = \"x\"\nfiles = [\"/etc/hostname\"]\n")]);
        assert!(load_profiles(&names(&["p"]), &src, &h).is_ok());
    }

    #[test]
    fn empty_directories_are_kept_others_walked() {
        let h = host()
            .dir("/t/branches")
            .file("/t/hooks/pre-commit.sample", false)
            .dir("/empty");
        let src = source(&[("p", "description = \"p\"\nfiles = [\"/t\", \"/empty\"]\n")]);
        let set = load_profiles(&names(&["p"]), &src, &h).unwrap();
        let want: Vec<PathBuf> = ["/t/branches", "/t/hooks/pre-commit.sample", "/empty"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(set.files, want);
    }

    #[test]
    fn including_profile_overrides_writes_and_dirs() {
        let src = source(&[
            (
                "base",
                "description = \"b\"\ndevices = [\"tty\", \"null\"]\n[[write]]\npath = \"/etc/profile\"\ncontent = \"a\"\n[[dirs]]\npath = \"/tmp\"\nmode = 0o755\n",
            ),
            (
                "top",
                "description = \"t\"\ninclude = [\"base\"]\ndevices = [\"null\", \"zero\"]\n[[write]]\npath = \"/etc/profile\"\ncontent = \"b\"\n[[dirs]]\npath = \"/tmp\"\nmode = 0o1777\n",
            ),
        ]);
        let set = load_profiles(&names(&["top"]), &src, &host()).unwrap();
        assert_eq!(set.contents.len(), 1);
        assert_eq!(set.contents[0].content, "b");
        assert_eq!(set.dirs[0].mode, 0o1777);
        assert_eq!(set.devices, names(&["null", "zero", "tty"]));
        assert_eq!(set.warnings.len(), 2, "{:?}", set.warnings);
    }

    /// A RHEL 9-like host: programs in /usr/bin, libraries in /usr/lib64, sftp-server in
    /// /usr/libexec/openssh (where its sshd says it is), terminfo in /usr/share/terminfo,
    /// gconv in /usr/lib64/gconv, C.utf8 in /usr/lib/locale.
    fn rhel(sshd_answers: bool) -> FakeHost {
        let shipped = super::super::SearchPath {
            dirs: vec![],
            built_in: true,
        };
        let mut h = FakeHost::default()
            .libdir("/usr/lib64")
            .file("/usr/lib64/libgcc_s.so.1", false)
            .file("/usr/lib64/gconv/UTF-16.so", false)
            .file("/usr/lib64/gconv/gconv-modules", false)
            .file("/usr/lib/locale/C.utf8/LC_CTYPE", false)
            .symlink("/bin", "usr/bin")
            .symlink("/lib64", "usr/lib64");
        for t in [
            "x/xterm",
            "x/xterm-256color",
            "s/screen",
            "t/tmux",
            "l/linux",
            "v/vt100",
            "v/vt220",
            "d/dumb",
        ] {
            h = h.file(&format!("/usr/share/terminfo/{t}"), false);
        }
        for name in ["minimal", "basic-shell", "scp"] {
            let (file, text) = shipped.read(name).unwrap().unwrap();
            for prog in parse_profile(&text, &file).unwrap().programs {
                h = h.file(&format!("/usr/bin/{prog}"), true);
            }
        }
        if sshd_answers {
            h.sftp_server("/usr/libexec/openssh/sftp-server")
        } else {
            h.file("/usr/libexec/openssh/sftp-server", true)
        }
    }

    fn chosen_for<'a>(x: &'a Expansion, candidate: &str) -> &'a ResolvedEntry {
        x.entries
            .iter()
            .find(|e| e.candidates.iter().any(|c| c == candidate))
            .unwrap_or_else(|| panic!("no entry with candidate {candidate}"))
    }

    #[test]
    fn shipped_profiles_expand_on_a_rhel_layout() {
        let shipped = super::super::SearchPath {
            dirs: vec![],
            built_in: true,
        };
        for sshd_answers in [true, false] {
            let host = rhel(sshd_answers);
            let x = expand_profiles(&names(&["basic-shell", "scp"]), &shipped, &host).unwrap();
            let missing: Vec<String> = x
                .missing_required()
                .iter()
                .map(|e| e.describe_missing())
                .collect();
            assert!(missing.is_empty(), "{missing:?}");
            let sftp = chosen_for(&x, SSHD_SFTP_SERVER);
            let want = if sshd_answers {
                SSHD_SFTP_SERVER
            } else {
                "/usr/libexec/openssh/sftp-server"
            };
            assert_eq!(sftp.chosen.as_deref(), Some(want));
            assert_eq!(
                sftp.matched,
                vec![PathBuf::from("/usr/libexec/openssh/sftp-server")]
            );
            let xterm = chosen_for(&x, "/lib/terminfo/x/xterm");
            assert_eq!(xterm.chosen.as_deref(), Some("/usr/share/terminfo/x/xterm"));
            let gconv = chosen_for(&x, "/usr/lib64/gconv");
            assert_eq!(gconv.chosen.as_deref(), Some("/usr/lib64/gconv"));
            let locale = chosen_for(&x, "/usr/lib/locale/C.UTF-8");
            assert_eq!(locale.chosen.as_deref(), Some("/usr/lib/locale/C.utf8"));
            let libgcc = chosen_for(&x, "libgcc_s.so.1");
            assert_eq!(
                libgcc.matched,
                vec![PathBuf::from("/usr/lib64/libgcc_s.so.1")]
            );
        }
    }
}
