//! The profile file format (TOML), field by field: the reference behind `jailsmith-profile(5)`.
//! Parsing and validation of one file only; includes and host lookups live in `expand`.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ProfileError;
use crate::plan::JailPath;

/// A jail profile: one TOML file `NAME.toml` in a profile directory.
///
/// A profile lists what a jail needs besides the ELF closure of its programs: the programs
/// themselves, libraries loaded with dlopen(3), data files read at run time (terminfo,
/// locale, zoneinfo, gconv modules), extra directories, device nodes and files written with
/// given content. jailsmith adds the shared-library closure of every program and library a
/// profile names.
///
/// Entries come in two strengths. **Required** entries (`programs`, `libraries`, `files`,
/// alternatives with `required = true`) must exist on the host: when one is missing, nothing
/// is built and jailsmith names the profile and the entry. **Optional** entries
/// (`optional_programs`, `optional_libraries`, `optional_files`, alternatives with
/// `required = false`) are taken when present and reported as a warning when absent.
///
/// Unknown fields are errors, so a misspelt key never silently drops a file from a jail.
///
/// Example:
///
/// ```toml
/// description = "sftp-server and scp"
/// include = ["minimal"]
/// programs = ["scp"]
///
/// [[alternatives]]
/// kind = "program"
/// paths = ["/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server"]
/// required = true
///
/// [[dirs]]
/// path = "/tmp"
/// mode = 0o1777
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// One line saying what the profile gives a jail; shown by `jailsmith profiles list`.
    /// Required.
    pub description: String,

    /// Names of other profiles whose contents are added first, looked up in the same search
    /// path (`include = ["minimal"]`). Includes nest; a profile reached twice is taken once;
    /// a cycle is an error that names it (`a → b → a`). Where an included profile and this
    /// one both define the same `dirs` or `write` path, this profile's definition wins.
    #[serde(default)]
    pub include: Vec<String>,

    /// Required programs: a bare name (`"ls"`) is looked up in the fixed secure PATH
    /// `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` (never the caller's
    /// PATH), first executable match wins; an absolute path (`"/usr/bin/python3"`) is taken
    /// as it is. Globs are not allowed here. Each program is copied to the same path inside
    /// the jail, with every symlink hop leading to it and its shared-library closure. A
    /// program missing on the host is an error.
    #[serde(default)]
    pub programs: Vec<String>,

    /// Like `programs`, but a program absent on this host is skipped with a warning
    /// (`nano` is not installed everywhere).
    #[serde(default)]
    pub optional_programs: Vec<String>,

    /// Entries whose host path differs between distributions: the first of `paths` that
    /// exists is taken, the others are ignored. See `Alternative`.
    #[serde(default)]
    pub alternatives: Vec<Alternative>,

    /// Required libraries loaded with dlopen(3), which DT_NEEDED does not show
    /// (`libgcc_s.so.1`, Python's extension modules). A bare file name is looked up in the
    /// host's library directories (those of `/etc/ld.so.conf`, then the loader's default
    /// directories), skipping files of another ELF class or machine; an absolute path or
    /// glob (`"/usr/lib/python3.*/lib-dynload/*.so"`) is taken as it is, and a glob must
    /// match at least one file. Each library and its shared-library closure are copied.
    #[serde(default)]
    pub libraries: Vec<String>,

    /// Like `libraries`, but absent ones are skipped with a warning.
    #[serde(default)]
    pub optional_libraries: Vec<String>,

    /// Required data files and directories: absolute host paths or globs
    /// (`"/usr/share/terminfo/x/xterm*"`), copied to the same path inside the jail. A
    /// directory is copied with everything under it, symbolic links kept as links (their
    /// targets come too). A plain path must exist, a glob must match at least one path.
    ///
    /// Host secrets and account files are refused wherever they are reached (directly,
    /// through a glob or directory, or as a link's target): `/etc/shadow`, `/etc/gshadow`,
    /// `/etc/passwd`, `/etc/group` (the jail has its own), `/etc/sudoers*`, `/etc/ssh`,
    /// `/etc/ssl/private`, `/etc/pki/tls/private`, `/etc/ld.so.preload`, `/root`, `/proc`,
    /// `/sys`, `/dev`, `/run` and jailsmith's state in `/var/lib/jailsmith`.
    #[serde(default)]
    pub files: Vec<String>,

    /// Like `files`, but paths absent on this host (or globs matching nothing) are skipped
    /// with a warning (`/usr/lib/locale/locale-archive`).
    #[serde(default)]
    pub optional_files: Vec<String>,

    /// Globs of host paths this profile must not copy, applied to its own `files`,
    /// `libraries` and `alternatives` (glob matches and everything found under a
    /// directory). An excluded directory is skipped with its whole subtree. `*` does not
    /// cross `/`; `**` matches any number of directories
    /// (`"/usr/lib/python3.*/test"`, `"**/__pycache__"`).
    #[serde(default)]
    pub exclude: Vec<String>,

    /// Extra directories created inside the jail, root-owned. See `DirSpec`.
    #[serde(default)]
    pub dirs: Vec<DirSpec>,

    /// Device nodes created under the jail's `/dev`, with their numbers taken from the
    /// host. Only `null`, `zero`, `full`, `random`, `urandom`, `tty` and `ptmx` are
    /// allowed; any other name is an error.
    #[serde(default)]
    pub devices: Vec<DeviceName>,

    /// Files written inside the jail with given content. See `WriteSpec`.
    #[serde(default)]
    pub write: Vec<WriteSpec>,

    /// Host directories bind-mounted into the jail, as `"SRC:DST"`, `"SRC:DST:ro"` or
    /// `"SRC:DST:rw"` (the same form as `jailsmith build --bind`). Every bind is
    /// non-recursive and `nosuid,nodev`, read-only unless `rw` is given; a source that a
    /// non-root user can write is refused unless `rw` is asked for explicitly. They are
    /// recorded in the jail's state and mounted by `jailsmith mount`.
    #[serde(default, deserialize_with = "bind_specs")]
    pub binds: Vec<crate::mounts::Bind>,
}

/// Parses `binds` entries with the rules of `--bind`, so a bad one is a schema error with
/// its line.
fn bind_specs<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<crate::mounts::Bind>, D::Error> {
    let specs: Vec<String> = Vec::deserialize(d)?;
    specs
        .iter()
        .map(|s| crate::mounts::Bind::parse(s).map_err(serde::de::Error::custom))
        .collect()
}

/// What an entry is, which decides how jailsmith copies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// An executable: copied with its shared-library closure (as in `programs`).
    Program,
    /// A library loaded with dlopen: copied with its shared-library closure (as in
    /// `libraries`).
    Library,
    /// A data file or directory, copied as it is (as in `files`).
    File,
}

impl fmt::Display for EntryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EntryKind::Program => "program",
            EntryKind::Library => "library",
            EntryKind::File => "file",
        })
    }
}

/// `[[alternatives]]`: one entry that lives at different paths on different distributions.
///
/// ```toml
/// [[alternatives]]
/// kind = "program"
/// paths = ["/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server"]
/// required = true
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alternative {
    /// `"program"`, `"library"` or `"file"`: how the chosen path is copied (see `programs`,
    /// `libraries` and `files`).
    pub kind: EntryKind,
    /// Candidates in order of preference. For `program`, a bare name is looked up in the
    /// secure PATH; otherwise each is an absolute path or glob (for `library`, a bare file
    /// name is looked up in the library directories). The first candidate that exists (a
    /// glob: that matches anything) is taken, with all of its matches. The program candidate
    /// `@sshd-sftp-server` is the program sshd runs for `Subsystem sftp`, as `sshd -T`
    /// reports it; it is passed over when sshd uses `internal-sftp` or cannot be asked.
    pub paths: Vec<String>,
    /// Whether the profile fails when no candidate exists (default `true`). With `false`,
    /// a missing entry is a warning.
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

/// `[[dirs]]`: a directory created inside the jail, owned by root.
///
/// ```toml
/// [[dirs]]
/// path = "/tmp"
/// mode = 0o1777
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirSpec {
    /// Absolute path inside the jail (`"/var/tmp"`); `..` is refused, and so are `/dev`,
    /// `/proc` and `/sys`.
    pub path: JailPath,
    /// Permission bits, written in octal (`0o755`, the default; `0o1777` for a sticky,
    /// world-writable temporary directory). setuid and setgid bits are refused, and a
    /// group- or other-writable directory must be sticky.
    #[serde(default = "Mode::dir")]
    pub mode: Mode,
}

/// `[[write]]`: a file written inside the jail with the given content, owned by root.
///
/// ```toml
/// [[write]]
/// path = "/etc/profile"
/// mode = 0o644
/// content = '''
/// PATH=/usr/local/bin:/usr/bin:/bin
/// export PATH
/// '''
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteSpec {
    /// Absolute path inside the jail (`"/etc/profile"`); `..` is refused, and so are the
    /// files jailsmith maintains or a jail must never have (`/etc/passwd`, `/etc/group`,
    /// `/etc/shadow`, `/etc/gshadow`, `/etc/ld.so.preload`) and anything under `/dev`,
    /// `/proc`, `/sys`.
    pub path: JailPath,
    /// The file's exact content (TOML multi-line strings keep it readable).
    pub content: String,
    /// Permission bits in octal (default `0o644`). setuid, setgid and sticky bits and
    /// group or other write permission are refused.
    #[serde(default = "Mode::file")]
    pub mode: Mode,
}

/// Permission bits of a directory or file a profile creates: at most `0o1777`, never
/// setuid or setgid.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "u32")]
pub struct Mode(pub u32);

impl Mode {
    fn dir() -> Mode {
        Mode(0o755)
    }
    fn file() -> Mode {
        Mode(0o644)
    }
}

impl fmt::Debug for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#o}", self.0)
    }
}

impl TryFrom<i64> for Mode {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        if !(0..=0o7777).contains(&v) {
            return Err(format!(
                "mode {v:#o} is not a permission mode (write it in octal, e.g. 0o755)"
            ));
        }
        if v & 0o6000 != 0 {
            return Err(format!(
                "mode {v:#o} has the setuid or setgid bit, which jails never get"
            ));
        }
        Ok(Mode(v as u32))
    }
}

impl From<Mode> for u32 {
    fn from(m: Mode) -> u32 {
        m.0
    }
}

/// A device node a profile may ask for: the allowed set of DESIGN §5.4 (`ptmx` only when
/// asked for).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceName {
    Null,
    Zero,
    Full,
    Random,
    Urandom,
    Tty,
    Ptmx,
}

impl DeviceName {
    /// Every allowed device, in the order of `/dev` listings.
    pub const ALL: [DeviceName; 7] = [
        DeviceName::Null,
        DeviceName::Zero,
        DeviceName::Full,
        DeviceName::Random,
        DeviceName::Urandom,
        DeviceName::Tty,
        DeviceName::Ptmx,
    ];

    /// The name under `/dev`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceName::Null => "null",
            DeviceName::Zero => "zero",
            DeviceName::Full => "full",
            DeviceName::Random => "random",
            DeviceName::Urandom => "urandom",
            DeviceName::Tty => "tty",
            DeviceName::Ptmx => "ptmx",
        }
    }
}

impl TryFrom<String> for DeviceName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        DeviceName::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| {
                let allowed: Vec<&str> = DeviceName::ALL.iter().map(|d| d.as_str()).collect();
                format!(
                    "device `{s}` is not in the allowed set ({})",
                    allowed.join(", ")
                )
            })
    }
}

impl From<DeviceName> for String {
    fn from(d: DeviceName) -> String {
        d.as_str().to_string()
    }
}

/// Parses one profile file's text. `file` is only used in error messages. Syntax errors and
/// schema errors (unknown field, bad device, bad mode) carry the line and column.
pub fn parse_profile(text: &str, file: &Path) -> Result<Profile, ProfileError> {
    if let Err(e) = text.parse::<toml::Table>() {
        let (line, column) = position(text, e.span());
        return Err(ProfileError::Syntax {
            file: file.to_path_buf(),
            line,
            column,
            message: first_line(e.message()),
        });
    }
    let profile: Profile = toml::from_str(text).map_err(|e| {
        let (line, column) = position(text, e.span());
        ProfileError::Schema {
            file: file.to_path_buf(),
            line,
            column,
            message: first_line(e.message()),
        }
    })?;
    validate(&profile, file)?;
    Ok(profile)
}

/// Checks what serde cannot: every host pattern is absolute (or a bare name where names are
/// allowed) and every glob compiles.
fn validate(p: &Profile, file: &Path) -> Result<(), ProfileError> {
    let bad = |field: &'static str, entry: &str, why: &str| ProfileError::BadEntry {
        file: file.to_path_buf(),
        field,
        entry: entry.to_string(),
        why: why.to_string(),
    };
    for (field, list, kind) in [
        ("programs", &p.programs, EntryKind::Program),
        (
            "optional_programs",
            &p.optional_programs,
            EntryKind::Program,
        ),
        ("libraries", &p.libraries, EntryKind::Library),
        (
            "optional_libraries",
            &p.optional_libraries,
            EntryKind::Library,
        ),
        ("files", &p.files, EntryKind::File),
        ("optional_files", &p.optional_files, EntryKind::File),
    ] {
        for entry in list {
            check_pattern(kind, entry).map_err(|why| bad(field, entry, &why))?;
        }
    }
    for alt in &p.alternatives {
        if alt.paths.is_empty() {
            return Err(bad("alternatives", "[]", "`paths` must not be empty"));
        }
        for entry in &alt.paths {
            check_pattern(alt.kind, entry).map_err(|why| bad("alternatives", entry, &why))?;
        }
    }
    for d in &p.dirs {
        let entry = d.path.to_string();
        if let Some(why) = super::policy::reserved_jail_path(&d.path) {
            return Err(bad("dirs", &entry, why));
        }
        if let Some(why) = super::policy::unsafe_dir_mode(d.mode.0) {
            return Err(bad("dirs", &entry, why));
        }
    }
    for w in &p.write {
        let entry = w.path.to_string();
        if let Some(why) = super::policy::reserved_jail_path(&w.path) {
            return Err(bad("write", &entry, why));
        }
        if let Some(why) = super::policy::unsafe_file_mode(w.mode.0) {
            return Err(bad("write", &entry, why));
        }
    }
    for entry in &p.exclude {
        if !entry.starts_with('/') && !entry.starts_with("**") {
            return Err(bad(
                "exclude",
                entry,
                "must be an absolute glob or start with **",
            ));
        }
        glob::Pattern::new(entry).map_err(|e| bad("exclude", entry, &e.to_string()))?;
    }
    Ok(())
}

/// Whether a pattern is acceptable for an entry of `kind`.
pub(crate) fn check_pattern(kind: EntryKind, entry: &str) -> Result<(), String> {
    if entry.is_empty() {
        return Err("empty entry".into());
    }
    if entry.contains('\0') {
        return Err("contains a NUL byte".into());
    }
    let bare = !entry.contains('/');
    if bare {
        return match kind {
            EntryKind::File => Err("must be an absolute path or glob".into()),
            _ if is_glob(entry) => {
                Err("a bare name cannot be a glob; give an absolute glob".into())
            }
            _ if entry == "." || entry == ".." => Err("not a name".into()),
            _ => Ok(()),
        };
    }
    if !entry.starts_with('/') {
        return Err("must be a bare name or an absolute path".into());
    }
    if Path::new(entry)
        .components()
        .any(|c| c == std::path::Component::ParentDir)
    {
        return Err("must not contain '..'".into());
    }
    if kind == EntryKind::Program && is_glob(entry) {
        return Err("programs cannot be globs".into());
    }
    glob::Pattern::new(entry).map_err(|e| e.to_string())?;
    Ok(())
}

/// Whether a pattern has glob metacharacters.
pub(crate) fn is_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

/// 1-based line and column of a byte span's start.
fn position(text: &str, span: Option<std::ops::Range<usize>>) -> (usize, usize) {
    let Some(span) = span else { return (1, 1) };
    let start = span.start.min(text.len());
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Profile, ProfileError> {
        parse_profile(s, Path::new("t.toml"))
    }

    #[test]
    fn full_profile_parses() {
        let p = parse(
            r#"
description = "d"
include = ["minimal"]
programs = ["ls", "/usr/bin/python3"]
optional_programs = ["nano"]
libraries = ["libgcc_s.so.1", "/usr/lib/python3.*/lib-dynload/*.so"]
files = ["/usr/share/terminfo/x/xterm*"]
optional_files = ["/usr/lib/locale/locale-archive"]
exclude = ["**/__pycache__"]
devices = ["null", "ptmx"]
[[alternatives]]
kind = "program"
paths = ["/a/sftp-server", "/b/sftp-server"]
[[dirs]]
path = "/tmp"
mode = 0o1777
[[write]]
path = "/etc/profile"
content = "umask 022\n"
"#,
        )
        .unwrap();
        assert_eq!(p.alternatives[0].kind, EntryKind::Program);
        assert!(p.alternatives[0].required, "required defaults to true");
        assert_eq!(p.dirs[0].mode, Mode(0o1777));
        assert_eq!(p.write[0].mode, Mode(0o644));
        assert_eq!(p.devices, vec![DeviceName::Null, DeviceName::Ptmx]);
    }

    #[test]
    fn syntax_error_has_line() {
        let e = parse("description = \"x\"\nprograms = [\"ls\"\n").unwrap_err();
        match e {
            ProfileError::Syntax { line, .. } => assert!(line >= 2, "{e}"),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn unknown_field_is_an_error_with_line() {
        let e = parse("description = \"x\"\nprogram = [\"ls\"]\n").unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, ProfileError::Schema { line: 2, .. }), "{msg}");
        assert!(msg.contains("unknown field `program`"), "{msg}");
    }

    #[test]
    fn unknown_field_in_table_is_an_error() {
        let e = parse("description = \"x\"\n[[dirs]]\npath = \"/tmp\"\nowner = 5\n").unwrap_err();
        assert!(e.to_string().contains("unknown field `owner`"), "{e}");
    }

    #[test]
    fn device_outside_allowed_set() {
        let e = parse("description = \"x\"\ndevices = [\"null\", \"sda\"]\n").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("device `sda` is not in the allowed set"),
            "{msg}"
        );
        assert!(msg.contains("t.toml:2:"), "{msg}");
    }

    #[test]
    fn setuid_mode_and_dotdot_refused() {
        let e = parse("description = \"x\"\n[[dirs]]\npath = \"/x\"\nmode = 0o4755\n").unwrap_err();
        assert!(e.to_string().contains("setuid"), "{e}");
        let e = parse("description = \"x\"\n[[dirs]]\npath = \"/../x\"\n").unwrap_err();
        assert!(e.to_string().contains(".."), "{e}");
    }

    #[test]
    fn reserved_jail_paths_and_writable_modes_refused() {
        for (text, want) in [
            (
                "[[write]]\npath = \"/etc/passwd\"\ncontent = \"\"\n",
                "maintains",
            ),
            (
                "[[write]]\npath = \"/etc/ld.so.preload\"\ncontent = \"\"\n",
                "preload",
            ),
            (
                "[[write]]\npath = \"/etc/x\"\ncontent = \"\"\nmode = 0o666\n",
                "writable",
            ),
            ("[[dirs]]\npath = \"/dev/sda\"\n", "devices"),
            ("[[dirs]]\npath = \"/srv\"\nmode = 0o777\n", "sticky"),
        ] {
            let e = parse(&format!("description = \"x\"\n{text}")).unwrap_err();
            assert!(e.to_string().contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn description_is_required() {
        let e = parse("programs = []\n").unwrap_err();
        assert!(e.to_string().contains("description"), "{e}");
    }

    #[test]
    fn bad_patterns_refused() {
        for (field, entry) in [
            ("files", "etc/passwd"),
            ("files", "passwd"),
            ("programs", "bin/ls"),
            ("programs", "/usr/bin/l*"),
            ("libraries", "libc*.so"),
            ("files", "/usr/../etc"),
        ] {
            let text = format!("description = \"x\"\n{field} = [\"{entry}\"]\n");
            let e = parse(&text).unwrap_err();
            assert!(matches!(e, ProfileError::BadEntry { .. }), "{entry}: {e}");
        }
    }
}
