//! Man pages from the clap definitions: `jailsmith.8`, one `jailsmith-COMMAND.8` per visible
//! (sub)command, and `jailsmith-profile.5`. Pure: a `clap::Command` in, roff bytes out.
//! The output must not depend on the clock or the git commit, so a test can compare it with
//! the committed `man/`.

use clap::{Arg, ArgAction, Command};
use clap_mangen::Man;
use clap_mangen::roff::{Inline, Roff, bold, italic, roman};

use super::{manual, markdown, schema_doc};
use crate::exit;

/// One rendered page.
pub struct Page {
    pub file_name: String,
    pub roff: Vec<u8>,
}

/// Hand-written parts of jailsmith(8): more DESCRIPTION, then FILES, EXAMPLES, SECURITY NOTES.
const DESCRIPTION: &str = include_str!("description.md");
const OVERVIEW: &str = include_str!("overview.md");

/// jailsmith-profile(5): NAME and SYNOPSIS, the profile format, then the search path and the
/// shipped profiles.
const PROFILE_HEAD: &str = include_str!("profile-head.md");
const PROFILE_TAIL: &str = include_str!("profile-tail.md");

/// The profile format, field by field, from the `///` docs of the profile schema's serde
/// structs, so the page follows the code.
fn profile_format(roff: &mut Roff) {
    schema_doc::render(roff, include_str!("../../profile/schema.rs"), "Profile");
}

/// The report `--json` prints on the page `name`: the source of its struct and the
/// struct's name, whose `///` docs become the JSON OUTPUT section, so the page follows the
/// code.
fn json_report(name: &str) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "jailsmith-check" => (include_str!("../../audit/finding.rs"), "Report"),
        "jailsmith-destroy" => (include_str!("../../jail/destroy.rs"), "DestroyReport"),
        "jailsmith-update" => (include_str!("../../jail/update.rs"), "UpdateReport"),
        "jailsmith-apply" => (include_str!("../../converge/mod.rs"), "Outcome"),
        "jailsmith-service" => (include_str!("../../service/install.rs"), "ServiceReport"),
        "jailsmith-mount" | "jailsmith-umount" => {
            (include_str!("../../mounts/usecase.rs"), "MountReport")
        }
        _ => return None,
    })
}

const SOURCE: &str = concat!("jailsmith ", env!("CARGO_PKG_VERSION"));
const MANUAL_8: &str = "System Administration";
const MANUAL_5: &str = "File Formats";

/// Every page, main page first.
pub fn pages(cmd: Command) -> Vec<Page> {
    // The version printed by --version carries the git commit; pages must not, or every
    // commit would make the committed pages stale.
    let mut cmd = without_help_subcommand(cmd.version(env!("CARGO_PKG_VERSION")))
        .subcommand_help_heading("COMMANDS")
        .subcommand_value_name("COMMAND");
    cmd.build();

    let mut pages = vec![main_page(&cmd)];
    for sub in visible_subcommands(&cmd) {
        command_pages(sub, &cmd, &mut pages);
    }
    pages.push(profile_page());
    for page in &mut pages {
        let mut roff = PREAMBLE.as_bytes().to_vec();
        roff.append(&mut page.roff);
        page.roff = roff;
    }
    pages
}

/// The automatic `help` subcommand is not a command worth a page.
fn without_help_subcommand(cmd: Command) -> Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    names
        .into_iter()
        .fold(cmd.disable_help_subcommand(true), |cmd, name| {
            cmd.mut_subcommand(name, without_help_subcommand)
        })
}

fn visible_subcommands(cmd: &Command) -> impl Iterator<Item = &Command> {
    cmd.get_subcommands().filter(|s| !s.is_hide_set())
}

fn page_name(cmd: &Command) -> &str {
    cmd.get_display_name().unwrap_or_else(|| cmd.get_name())
}

fn main_page(cmd: &Command) -> Page {
    let man = Man::new(cmd.clone()).section("8");
    let mut out = String::new();

    let mut head = Roff::new();
    title(&mut head, "jailsmith", "8", MANUAL_8);
    head.control("SH", ["NAME"]);
    head.text([roman(
        "jailsmith - provision, verify and audit chrooted SSH jails",
    )]);
    synopsis(&mut head, cmd);
    out += &rendered(head);

    out += &section(|w| man.render_description_section(w));
    let mut more = Roff::new();
    markdown::render_continued(&mut more, DESCRIPTION);
    out += &rendered(more);
    out += &section(|w| man.render_options_section(w));
    out += &section(|w| man.render_subcommands_section(w));

    let mut tail = Roff::new();
    exit_status(&mut tail);
    markdown::render(&mut tail, OVERVIEW);
    let mut see_also: Vec<String> = Vec::new();
    all_pages(cmd, &mut see_also);
    see_also.push("jailsmith-profile(5)".into());
    see_also.extend(
        ["sshd(8)", "sshd_config(5)", "chroot(2)", "useradd(8)"]
            .into_iter()
            .map(String::from),
    );
    see_also_section(&mut tail, &see_also);
    out += &rendered(tail);

    Page {
        file_name: "jailsmith.8".into(),
        roff: out.into_bytes(),
    }
}

/// Page names of every visible (sub)command below `cmd`, depth first, as `name(8)`.
fn all_pages(cmd: &Command, names: &mut Vec<String>) {
    for sub in visible_subcommands(cmd) {
        names.push(format!("{}(8)", page_name(sub)));
        all_pages(sub, names);
    }
}

/// The page of `cmd` and, recursively, of its visible subcommands.
fn command_pages(cmd: &Command, parent: &Command, pages: &mut Vec<Page>) {
    let name = page_name(cmd).to_string();
    let man = Man::new(cmd.clone()).section("8");
    let mut out = String::new();

    let mut head = Roff::new();
    title(&mut head, &name, "8", MANUAL_8);
    out += &rendered(head);
    out += &section(|w| man.render_name_section(w));
    let mut synopsis_roff = Roff::new();
    synopsis(&mut synopsis_roff, cmd);
    out += &rendered(synopsis_roff);
    out += &section(|w| man.render_description_section(w));
    let manual = manual::of(&name);
    if let Some(m) = &manual {
        let mut more = Roff::new();
        markdown::render_continued(&mut more, m.split().0);
        out += &rendered(more);
    }
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        out += &section(|w| man.render_options_section(w));
    }
    if visible_subcommands(cmd).next().is_some() {
        out += &section(|w| man.render_subcommands_section(w));
    }

    let mut tail = Roff::new();
    if let Some((source, top)) = json_report(&name) {
        schema_doc::render_json(&mut tail, source, top);
    }
    if let Some(m) = &manual {
        markdown::render(&mut tail, m.split().1);
    }
    if let Some(notes) = cmd.get_after_long_help().or_else(|| cmd.get_after_help()) {
        after_help(&mut tail, &notes.to_string(), manual.is_some());
    }
    match &manual {
        Some(m) => command_exit_status(&mut tail, m.exit),
        None => exit_status(&mut tail),
    }
    let mut see_also = vec![format!("{}(8)", page_name(parent))];
    if parent.get_name() != "jailsmith" {
        see_also.push("jailsmith(8)".into());
    }
    all_pages(cmd, &mut see_also);
    see_also.push("jailsmith-profile(5)".into());
    see_also_section(&mut tail, &see_also);
    out += &rendered(tail);

    pages.push(Page {
        file_name: format!("{name}.8"),
        roff: out.into_bytes(),
    });
    for sub in visible_subcommands(cmd) {
        command_pages(sub, cmd, pages);
    }
}

/// SYNOPSIS with each option's value (clap_mangen shows `[--bin]` for `--bin NAME|PATH`), in
/// the man convention: optional parts in brackets, repeatable ones followed by `...`.
fn synopsis(roff: &mut Roff, cmd: &Command) {
    roff.control("SH", ["SYNOPSIS"]);
    let name = cmd.get_bin_name().unwrap_or_else(|| cmd.get_name());
    let mut line = vec![bold(name)];
    let options = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set() && !a.is_positional());
    for arg in options {
        line.push(roman(" "));
        line.extend(synopsis_arg(arg));
    }
    for arg in cmd.get_positionals().filter(|a| !a.is_hide_set()) {
        line.push(roman(" "));
        line.extend(synopsis_arg(arg));
    }
    if visible_subcommands(cmd).next().is_some() {
        line.push(roman(" "));
        line.push(italic("COMMAND"));
        line.push(roman(" [OPTIONS]"));
    }
    roff.text(line);
}

fn synopsis_arg(arg: &Arg) -> Vec<Inline> {
    let mut parts = Vec::new();
    let value = arg
        .get_value_names()
        .map(|v| v.join(" "))
        .unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
    if arg.is_positional() {
        parts.push(italic(value));
    } else {
        let flag = match (arg.get_long(), arg.get_short()) {
            (Some(long), _) => format!("--{long}"),
            (None, Some(short)) => format!("-{short}"),
            (None, None) => arg.get_id().to_string(),
        };
        parts.push(bold(flag));
        if arg.get_num_args().is_some_and(|n| n.takes_values()) {
            parts.push(roman(" "));
            parts.push(italic(value));
        }
    }
    let repeats = matches!(arg.get_action(), ArgAction::Append | ArgAction::Count)
        || (arg.is_positional() && arg.get_num_args().is_some_and(|n| n.max_values() > 1));
    if repeats {
        parts.push(roman("..."));
    }
    if !arg.is_required_set() {
        parts.insert(0, roman("["));
        parts.push(roman("]"));
    }
    parts
}

/// A command's `after_help` as NOTES. Where the page has a manual (which holds EXAMPLES and
/// EXIT STATUS), the `Examples:` and `Exit status:`/`Exit codes:` paragraphs are left out;
/// without one, text that opens with `Examples:` becomes the EXAMPLES section.
fn after_help(roff: &mut Roff, text: &str, has_manual: bool) {
    if !has_manual {
        let (heading, body) = match text.strip_prefix("Examples:") {
            Some(rest) => ("EXAMPLES", rest.trim_start_matches('\n')),
            None => ("NOTES", text),
        };
        return preformatted(roff, heading, body);
    }
    let notes: Vec<&str> = text
        .split("\n\n")
        .filter(|p| {
            !["Examples:", "Exit status:", "Exit codes:"]
                .iter()
                .any(|h| p.starts_with(h))
        })
        .collect();
    if !notes.is_empty() {
        preformatted(roff, "NOTES", &notes.join("\n\n"));
    }
}

fn preformatted(roff: &mut Roff, heading: &str, body: &str) {
    roff.control("SH", [heading]);
    roff.control("nf", []);
    for line in body.lines() {
        roff.text([roman(line)]);
    }
    roff.control("fi", []);
}

/// EXIT STATUS with only the codes a command can return, in its own words where given.
fn command_exit_status(roff: &mut Roff, codes: &[(u8, &str)]) {
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in codes {
        let general = exit::TABLE
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, m)| *m)
            .unwrap_or("");
        roff.control("TP", []);
        roff.text([bold(code.to_string())]);
        roff.text([roman(if meaning.is_empty() { general } else { meaning })]);
    }
}

fn profile_page() -> Page {
    let mut roff = Roff::new();
    title(&mut roff, "jailsmith-profile", "5", MANUAL_5);
    markdown::render(&mut roff, PROFILE_HEAD);
    profile_format(&mut roff);
    markdown::render(&mut roff, PROFILE_TAIL);
    see_also_section(
        &mut roff,
        &[
            "jailsmith(8)",
            "jailsmith-build(8)",
            "jailsmith-profiles(8)",
        ]
        .map(String::from),
    );
    Page {
        file_name: "jailsmith-profile.5".into(),
        roff: rendered(roff).into_bytes(),
    }
}

/// `.TH` with an empty date: the pages must be reproducible, and roff would drop an unquoted
/// empty argument and shift the others.
fn title(roff: &mut Roff, name: &str, section: &str, manual: &str) {
    roff.control(
        "TH",
        [
            name.to_uppercase().as_str(),
            section,
            "\"\"",
            SOURCE,
            manual,
        ],
    );
}

fn exit_status(roff: &mut Roff) {
    roff.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in exit::TABLE {
        roff.control("TP", []);
        roff.text([bold(code.to_string())]);
        roff.text([roman(*meaning)]);
    }
    roff.control("PP", []);
    roff.text([roman(
        "A command whose output goes to a pipe its reader has closed \
         (jailsmith profiles list | head -1) ends as on SIGPIPE, quietly: a shell reports 141.",
    )]);
}

fn see_also_section(roff: &mut Roff, pages: &[String]) {
    roff.control("SH", ["SEE ALSO"]);
    // Page names are neither hyphenated ("jail-smith-pro-file(5)") nor spread out.
    roff.control("nh", []);
    roff.control("na", []);
    let mut line = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        let (name, section) = page.split_once('(').unwrap_or((page, ""));
        line.push(bold(name));
        let sep = if i + 1 < pages.len() { ", " } else { "" };
        line.push(roman(format!("({section}{sep}")));
    }
    roff.text(line);
    roff.control("ad", []);
    roff.control("hy", []);
}

/// The roff preamble (`.ie \n(.g .ds Aq ...`) that `roff` writes before every document;
/// a page gets it once, at the top.
const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";

fn rendered(roff: Roff) -> String {
    strip_preamble(roff.render())
}

fn section(f: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut buf = Vec::new();
    f(&mut buf).expect("writing to a Vec cannot fail");
    strip_preamble(String::from_utf8(buf).expect("roff output is UTF-8"))
}

fn strip_preamble(s: String) -> String {
    s.strip_prefix(PREAMBLE).map(str::to_string).unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Command {
        Command::new("jailsmith")
            .about("Provision jails")
            .subcommand(
                Command::new("profiles")
                    .about("Profiles")
                    .subcommand(Command::new("list").about("List them"))
                    .subcommand(Command::new("show").about("Show one")),
            )
            .subcommand(Command::new("build").about("Build a jail"))
            .subcommand(Command::new("generate").hide(true))
    }

    fn names(pages: &[Page]) -> Vec<&str> {
        pages.iter().map(|p| p.file_name.as_str()).collect()
    }

    #[test]
    fn one_page_per_visible_command_at_every_depth() {
        let pages = pages(sample());
        assert_eq!(
            names(&pages),
            [
                "jailsmith.8",
                "jailsmith-profiles.8",
                "jailsmith-profiles-list.8",
                "jailsmith-profiles-show.8",
                "jailsmith-build.8",
                "jailsmith-profile.5",
            ]
        );
    }

    #[test]
    fn pages_cross_reference_and_use_section_8() {
        let pages = pages(sample());
        let text = |name: &str| {
            let page = pages.iter().find(|p| p.file_name == name).expect(name);
            String::from_utf8(page.roff.clone()).expect("UTF-8")
        };
        let main = text("jailsmith.8");
        assert!(main.starts_with(PREAMBLE));
        assert_eq!(main.matches(".ds Aq").count(), 2, "one preamble only");
        assert!(main.contains("jailsmith\\-profiles(8)"));
        assert!(main.contains("\\fBjailsmith\\-profiles\\-list\\fR(8"));
        assert!(!main.contains("generate"));
        assert!(!main.contains("(1)"));
        let list = text("jailsmith-profiles-list.8");
        assert!(list.contains(".TH JAILSMITH-PROFILES-LIST 8 \"\" \"jailsmith "));
        assert!(list.contains("\\fBjailsmith profiles list\\fR"), "synopsis");
        assert!(list.contains("\\fBjailsmith\\-profiles\\fR(8), \\fBjailsmith\\fR(8)"));
        let profiles = text("jailsmith-profiles.8");
        assert!(profiles.contains("jailsmith\\-profiles\\-show(8)"));
        assert!(
            !profiles.contains("profiles\\-help"),
            "no entry for the help subcommand"
        );
    }
}
