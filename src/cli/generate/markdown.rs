//! A small Markdown subset rendered to roff, for the hand-written parts of the man pages
//! (overview sections, the profile format). Pure text in, roff out; knows nothing of clap.
//!
//! Supported: `# SECTION` (.SH), `## Subsection` (.SS), paragraphs separated by blank lines,
//! `- ` bullet items, definition items (a term line followed by a `: body` line, rendered
//! as .TP), fenced code blocks, and inline `code` (bold). Continuation lines of an item are
//! indented.

use clap_mangen::roff::{Inline, Roff, bold, roman};

/// Appends the roff for `text` to `roff`, right after a heading.
pub fn render(roff: &mut Roff, text: &str) {
    render_from(roff, text, true);
}

/// Appends the roff for `text` to `roff` after earlier text of the same section: the first
/// paragraph starts with .PP.
pub fn render_continued(roff: &mut Roff, text: &str) {
    render_from(roff, text, false);
}

fn render_from(roff: &mut Roff, text: &str, mut after_heading: bool) {
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    // `after_heading`: the last thing emitted was a heading, so no .PP is needed.
    while i < lines.len() {
        let line = lines[i];
        if line.trim().is_empty() {
            i += 1;
        } else if let Some(h) = line.strip_prefix("## ") {
            roff.control("SS", [h.trim()]);
            after_heading = true;
            i += 1;
        } else if let Some(h) = line.strip_prefix("# ") {
            roff.control("SH", [h.trim()]);
            after_heading = true;
            i += 1;
        } else if line.trim_start().starts_with("```") {
            i = code_block(roff, &lines, i + 1);
            after_heading = false;
        } else if let Some(first) = line.strip_prefix("- ") {
            let (body, next) = gather(&lines, i + 1, first);
            roff.control("IP", ["\\(bu", "2"]);
            roff.text(inline(&body));
            after_heading = false;
            i = next;
        } else if lines.get(i + 1).is_some_and(|next| next.starts_with(": ")) {
            let (body, next) = gather(&lines, i + 2, &lines[i + 1][2..]);
            roff.control("TP", []);
            roff.text(inline(line.trim()));
            roff.text(inline(&body));
            after_heading = false;
            i = next;
        } else {
            let mut para = vec![line.trim()];
            i += 1;
            while i < lines.len() && starts_paragraph_text(lines[i]) {
                para.push(lines[i].trim());
                i += 1;
            }
            if !after_heading {
                roff.control("PP", []);
            }
            roff.text(inline(&para.join(" ")));
            after_heading = false;
        }
    }
}

/// A line that continues the current paragraph (not blank, not the start of another block).
fn starts_paragraph_text(line: &str) -> bool {
    let t = line.trim_start();
    !(t.is_empty()
        || line.starts_with("# ")
        || line.starts_with("## ")
        || line.starts_with("- ")
        || line.starts_with(": ")
        || t.starts_with("```"))
}

/// Collects an item's body: `first`, then the indented continuation lines from `from`.
/// Returns the joined body and the index of the first line after it.
fn gather(lines: &[&str], from: usize, first: &str) -> (String, usize) {
    let mut body = vec![first.trim().to_string()];
    let mut i = from;
    while i < lines.len() && lines[i].starts_with(' ') && !lines[i].trim().is_empty() {
        if lines[i].trim_start().starts_with("```") {
            break;
        }
        body.push(lines[i].trim().to_string());
        i += 1;
    }
    (body.join(" "), i)
}

/// Renders a fenced code block whose content starts at `from`; returns the index after the
/// closing fence. The block keeps its line breaks and is indented.
fn code_block(roff: &mut Roff, lines: &[&str], from: usize) -> usize {
    let mut i = from;
    let indent = lines
        .get(from.saturating_sub(1))
        .map_or(0, |l| l.len() - l.trim_start().len());
    roff.control("PP", []);
    roff.control("RS", ["4"]);
    roff.control("nf", []);
    while i < lines.len() && !lines[i].trim_start().starts_with("```") {
        let line = lines[i];
        let cut = line.len() - line.trim_start().len();
        roff.text([roman(&line[cut.min(indent)..])]);
        i += 1;
    }
    roff.control("fi", []);
    roff.control("RE", []);
    i + 1
}

/// Inline markup: text between backticks is bold, the rest roman.
pub fn inline(text: &str) -> Vec<Inline> {
    text.split('`')
        .enumerate()
        .filter(|(_, part)| !part.is_empty())
        .map(|(n, part)| if n % 2 == 1 { bold(part) } else { roman(part) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roff_of(text: &str) -> String {
        let mut roff = Roff::new();
        render(&mut roff, text);
        roff.to_roff()
    }

    #[test]
    fn headings_paragraphs_and_inline_code() {
        let out = roff_of("# FILES\nfirst line\ncontinued `here`\n\nsecond\n");
        assert_eq!(
            out,
            ".SH FILES\nfirst line continued \\fBhere\\fR\n.PP\nsecond\n"
        );
    }

    #[test]
    fn definitions_and_bullets() {
        let out = roff_of("`name`\n: what it is\n  and more\n- one\n  two\n");
        assert_eq!(
            out,
            ".TP\n\\fBname\\fR\nwhat it is and more\n.IP \\(bu 2\none two\n"
        );
    }

    #[test]
    fn code_blocks_keep_lines_and_escape_dashes() {
        let out = roff_of("```\njailsmith build --bin bash\n  .hidden\n```\n");
        assert_eq!(
            out,
            ".PP\n.RS 4\n.nf\njailsmith build \\-\\-bin bash\n  .hidden\n.fi\n.RE\n"
        );
    }
}
