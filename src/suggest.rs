//! "Did you mean …?": the closest known name to a mistyped one (profile names, program
//! names). Pure; no I/O.

/// The candidate closest to `typed`, when one is close enough to be a plausible typo: an
/// edit distance of at most a third of the longer name (at least 1), or one name a prefix of
/// the other. Ties go to the earlier candidate.
pub fn closest<'a, I>(typed: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    candidates
        .into_iter()
        .filter(|c| *c != typed)
        .map(|c| (score(typed, c), c))
        .filter(|(s, _)| s.is_some())
        .min_by_key(|(s, _)| *s)
        .map(|(_, c)| c)
}

/// Lower is closer; None when `candidate` is too far from `typed` to suggest.
fn score(typed: &str, candidate: &str) -> Option<usize> {
    let d = distance(typed, candidate);
    let longer = typed.chars().count().max(candidate.chars().count());
    let prefix = typed.len() >= 3 && (candidate.starts_with(typed) || typed.starts_with(candidate));
    (d <= (longer / 3).max(1) || prefix).then_some(d)
}

/// Levenshtein distance between `a` and `b`, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(diag + usize::from(ca != *cb));
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// ` (did you mean `X`?)` for an error message, or nothing.
pub fn hint<'a, I>(typed: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    closest(typed, candidates)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_the_intended_name() {
        let profiles = ["basic-shell", "editors", "git", "minimal", "rsync", "scp"];
        assert_eq!(closest("editor", profiles), Some("editors"));
        assert_eq!(closest("basic_shell", profiles), Some("basic-shell"));
        assert_eq!(closest("minmal", profiles), Some("minimal"));
        assert_eq!(closest("rsyncc", ["rsync", "rsh", "sync"]), Some("rsync"));
    }

    #[test]
    fn unrelated_names_get_no_suggestion() {
        assert_eq!(closest("python", ["git", "scp", "minimal"]), None);
        assert_eq!(closest("x", ["git"]), None);
        assert_eq!(hint("nothing-like-it", ["git"]), "");
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("same", "same"), 0);
    }
}
