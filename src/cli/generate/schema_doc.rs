//! jailsmith-profile(5) from the profile schema's own source: the `///` comments of the serde
//! structs in `src/profile/schema.rs` become the DESCRIPTION, the FIELDS and one subsection
//! per table type. The JSON OUTPUT of a command's page comes the same way from its report
//! struct. Pure text in, roff out; the code is not interpreted beyond the item lines that
//! follow each comment.

use clap_mangen::roff::{Roff, bold, roman};

use super::markdown;

/// One documented item of the source: a struct, enum, field or variant.
#[derive(Debug, PartialEq)]
struct Item {
    doc: String,
    kind: ItemKind,
}

#[derive(Debug, PartialEq)]
enum ItemKind {
    Struct(String),
    Enum(String),
    /// A `pub name: Type,` field of the struct or enum before it.
    Field {
        name: String,
        ty: String,
    },
    Other,
}

/// Splits Rust source into documented items, in order. Comments followed by an attribute
/// still belong to the item after the attribute.
fn items(source: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut doc: Vec<&str> = Vec::new();
    for line in source.lines() {
        let t = line.trim();
        if let Some(text) = t.strip_prefix("///") {
            doc.push(text.strip_prefix(' ').unwrap_or(text));
            continue;
        }
        if t.starts_with("#[") || doc.is_empty() {
            continue;
        }
        let kind = if let Some(rest) = t.strip_prefix("pub struct ") {
            ItemKind::Struct(ident(rest))
        } else if let Some(rest) = t.strip_prefix("pub enum ") {
            ItemKind::Enum(ident(rest))
        } else if let Some((name, ty)) = t
            .strip_prefix("pub ")
            .and_then(|f| f.trim_end_matches(',').split_once(": "))
            // a field's name, not a `pub fn name(arg: T)` after the struct
            .filter(|(name, _)| name.trim().chars().all(|c| c.is_alphanumeric() || c == '_'))
        {
            ItemKind::Field {
                name: name.trim().to_string(),
                ty: ty.trim().to_string(),
            }
        } else {
            ItemKind::Other
        };
        items.push(Item {
            doc: doc.join("\n"),
            kind,
        });
        doc.clear();
    }
    items
}

fn ident(rest: &str) -> String {
    rest.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// A documented struct with its documented fields.
struct Table<'a> {
    name: &'a str,
    doc: &'a str,
    fields: Vec<(&'a str, &'a str, &'a str)>,
}

fn tables(items: &[Item]) -> Vec<Table<'_>> {
    let mut tables: Vec<Table> = Vec::new();
    let mut in_struct = false;
    for item in items {
        match &item.kind {
            ItemKind::Struct(name) => {
                tables.push(Table {
                    name,
                    doc: &item.doc,
                    fields: Vec::new(),
                });
                in_struct = true;
            }
            ItemKind::Field { name, ty } if in_struct => {
                if let Some(t) = tables.last_mut() {
                    t.fields.push((name, ty, &item.doc));
                }
            }
            _ => in_struct = false,
        }
    }
    tables
}

/// The TOML heading a table struct documents itself with: a doc that opens with
/// "`[[dirs]]`: ..." is the array of tables `dirs`.
fn toml_heading(doc: &str) -> Option<&str> {
    let rest = doc.strip_prefix('`')?;
    let (heading, _) = rest.split_once('`')?;
    (heading.starts_with('[') && heading.ends_with(']')).then_some(heading)
}

/// The TOML type of a Rust field type, as a reader of the profile sees it.
fn toml_type(ty: &str, headings: &[(&str, &str)]) -> String {
    if let Some(inner) = ty.strip_prefix("Vec<").and_then(|t| t.strip_suffix('>')) {
        if let Some((_, heading)) = headings.iter().find(|(name, _)| *name == inner) {
            return format!("tables {heading}");
        }
        return format!("array of {}s", toml_type(inner, headings));
    }
    match ty {
        "String" | "JailPath" | "EntryKind" | "DeviceName" | "PathBuf" => "string".into(),
        "bool" => "boolean".into(),
        "Mode" | "u32" | "u64" | "i64" | "usize" => "integer".into(),
        other => other.to_string(),
    }
}

/// Rust type names in the docs ("See `DirSpec`.") become the TOML headings they stand for,
/// and Markdown's `**strong**` (outside code spans) becomes bold like code.
fn retarget(doc: &str, headings: &[(&str, &str)]) -> String {
    let doc = headings
        .iter()
        .fold(doc.to_string(), |doc, (name, heading)| {
            doc.replace(&format!("`{name}`"), &format!("`{heading}`"))
        });
    doc.split('`')
        .enumerate()
        .map(|(n, part)| {
            if n % 2 == 0 {
                part.replace("**", "`")
            } else {
                part.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("`")
}

/// "one entry that ..." → "One entry that ...".
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Renders the schema's documentation: `top` is the struct of a whole profile file.
/// Sections: DESCRIPTION (the top struct's doc), FIELDS (its fields), then one
/// subsection per table struct ("`[[dirs]]`: ...").
pub fn render(roff: &mut Roff, source: &str, top: &str) {
    let items = items(source);
    let tables = tables(&items);
    let headings: Vec<(&str, &str)> = tables
        .iter()
        .filter_map(|t| toml_heading(t.doc).map(|h| (t.name, h)))
        .collect();

    let Some(profile) = tables.iter().find(|t| t.name == top) else {
        return;
    };
    roff.control("SH", ["DESCRIPTION"]);
    let description = retarget(profile.doc, &headings);
    // The struct doc's first line is its title ("A jail profile: ..."), kept as the lead.
    markdown::render(roff, &description);

    roff.control("SH", ["FIELDS"]);

    let toml = |ty: &str| toml_type(ty, &headings);
    fields(roff, &profile.fields, &headings, &toml);

    for table in &tables {
        let Some(heading) = toml_heading(table.doc) else {
            continue;
        };
        subsection(roff, table, heading, &headings, &toml);
    }
}

/// One subsection: a table struct whose doc opens with "`HEADING`: ...", and its fields.
fn subsection(
    roff: &mut Roff,
    table: &Table<'_>,
    heading: &str,
    headings: &[(&str, &str)],
    type_name: &dyn Fn(&str) -> String,
) {
    roff.control("SS", [heading]);
    let doc = table.doc[heading.len() + 2..]
        .trim_start_matches(':')
        .trim();
    markdown::render(roff, &capitalized(&retarget(doc, headings)));
    fields(roff, &table.fields, headings, type_name);
}

/// The key a report's nested struct documents itself with: a doc that opens with
/// "`killed`: ..." is the objects of the key `killed`.
fn json_heading(doc: &str) -> Option<&str> {
    let rest = doc.strip_prefix('`')?;
    let (heading, after) = rest.split_once('`')?;
    (after.starts_with(':') && !heading.contains([' ', '['])).then_some(heading)
}

/// The JSON type of a Rust field type of a report.
fn json_type(ty: &str, headings: &[(&str, &str)]) -> String {
    if let Some(inner) = ty.strip_prefix("Option<").and_then(|t| t.strip_suffix('>')) {
        return format!("{}, or null", json_type(inner, headings));
    }
    if let Some(inner) = ty.strip_prefix("Vec<").and_then(|t| t.strip_suffix('>')) {
        if headings.iter().any(|(name, _)| *name == inner) {
            return "array of objects".into();
        }
        let of = json_type(inner, headings);
        return match of.strip_prefix("array") {
            Some(rest) => format!("array of arrays{rest}"),
            None => format!("array of {of}s"),
        };
    }
    match ty {
        "String" | "PathBuf" | "Done" | "Written" | "&'static str" | "Severity" => "string".into(),
        "bool" => "boolean".into(),
        "u32" | "u64" | "i32" | "i64" | "usize" => "integer".into(),
        _ => "object".into(),
    }
}

/// The JSON OUTPUT section of a command's page: the doc of `top` (the report struct in
/// `source`), its keys with their JSON types, then one subsection per nested struct whose
/// doc opens with "`KEY`: ...".
pub fn render_json(roff: &mut Roff, source: &str, top: &str) {
    let items = items(source);
    let tables = tables(&items);
    let headings: Vec<(&str, &str)> = tables
        .iter()
        .filter_map(|t| json_heading(t.doc).map(|h| (t.name, h)))
        .collect();
    let Some(report) = tables.iter().find(|t| t.name == top) else {
        return;
    };
    roff.control("SH", ["JSON OUTPUT"]);
    markdown::render(roff, &retarget(report.doc, &headings));
    let json = |ty: &str| json_type(ty, &headings);
    fields(roff, &report.fields, &headings, &json);
    for table in &tables {
        let used = report
            .fields
            .iter()
            .any(|(_, ty, _)| ty.split(['<', '>']).any(|part| part == table.name));
        if let Some(heading) = json_heading(table.doc).filter(|_| used) {
            subsection(roff, table, heading, &headings, &json);
        }
    }
}

fn fields(
    roff: &mut Roff,
    fields: &[(&str, &str, &str)],
    headings: &[(&str, &str)],
    type_name: &dyn Fn(&str) -> String,
) {
    for (name, ty, doc) in fields {
        roff.control("TP", []);
        roff.text([bold(*name), roman(format!(" ({})", type_name(ty)))]);
        let doc = retarget(doc, headings);
        for (n, para) in doc.split("\n\n").enumerate() {
            if n > 0 {
                roff.control("IP", []);
            }
            let joined: Vec<&str> = para.lines().map(str::trim).collect();
            roff.text(markdown::inline(&joined.join(" ")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
/// A jail profile: one file.
///
/// Entries are **required** or not; `**` globs stay.
#[derive(Debug)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// One line.
    /// Required.
    pub description: String,

    /// Extra directories. See `DirSpec`.
    ///
    /// Second paragraph.
    #[serde(default)]
    pub dirs: Vec<DirSpec>,
    /// Devices.
    pub devices: Vec<DeviceName>,
}

/// What an entry is.
pub enum EntryKind {
    /// An executable.
    Program,
}

/// `[[dirs]]`: a directory created inside the jail.
pub struct DirSpec {
    /// Absolute path.
    pub path: JailPath,
    /// Permission bits.
    #[serde(default = "Mode::dir")]
    pub mode: Mode,
}
"#;

    fn roff_of(source: &str) -> String {
        let mut roff = Roff::new();
        render(&mut roff, source, "Profile");
        roff.to_roff()
    }

    #[test]
    fn fields_come_with_their_toml_types_and_docs() {
        let out = roff_of(SAMPLE);
        assert!(out.starts_with(".SH DESCRIPTION\nA jail profile: one file.\n.PP\nEntries are \\fBrequired\\fR or not; \\fB**\\fR globs stay.\n.SH FIELDS\n"), "{out}");
        assert!(
            out.contains(".TP\n\\fBdescription\\fR (string)\nOne line. Required.\n"),
            "{out}"
        );
        assert!(out.contains("\\fBdirs\\fR (tables [[dirs]])\nExtra directories. See \\fB[[dirs]]\\fR.\n.IP\nSecond paragraph.\n"), "{out}");
        assert!(out.contains("\\fBdevices\\fR (array of strings)"), "{out}");
    }

    #[test]
    fn table_structs_get_a_subsection_and_enums_are_not_fields() {
        let out = roff_of(SAMPLE);
        assert!(out.contains(".SS [[dirs]]\nA directory created inside the jail.\n.TP\n\\fBpath\\fR (string)\nAbsolute path.\n.TP\n\\fBmode\\fR (integer)\nPermission bits.\n"), "{out}");
        assert!(!out.contains("Program"), "{out}");
    }

    const REPORT: &str = r#"
/// `x --json`: what was done.
#[derive(Serialize)]
pub struct XReport {
    /// The jail.
    pub jail: PathBuf,
    /// Each step.
    pub steps: Vec<Step>,
    /// The commands.
    pub calls: Vec<Vec<String>>,
    /// A user's report.
    pub user: Option<user::Report>,
}

/// `steps`: one step.
pub struct Step {
    /// How many.
    pub count: u64,
}

/// `other`: not used by XReport.
pub struct Other {
    /// Not shown.
    pub hidden: bool,
}
"#;

    #[test]
    fn a_report_gets_its_keys_with_json_types_and_its_nested_objects() {
        let mut roff = Roff::new();
        render_json(&mut roff, REPORT, "XReport");
        let out = roff.to_roff();
        assert!(out.starts_with(".SH \"JSON OUTPUT\"\n"), "{out}");
        assert!(out.contains("\\fBjail\\fR (string)\nThe jail.\n"), "{out}");
        assert!(out.contains("\\fBsteps\\fR (array of objects)"), "{out}");
        assert!(
            out.contains("\\fBcalls\\fR (array of arrays of strings)"),
            "{out}"
        );
        assert!(out.contains("\\fBuser\\fR (object, or null)"), "{out}");
        assert!(
            out.contains(".SS steps\nOne step.\n.TP\n\\fBcount\\fR (integer)"),
            "{out}"
        );
        assert!(!out.contains("hidden"), "{out}");
    }
}
