//! "Did you mean …?" for typos in configuration keys and JSON field names: the known name
//! closest to what was written, when it is close enough to be the likely intent.

/// The candidate nearest to `word` by edit distance (case-insensitive), if it is within a third
/// of the word's length (at least 2 edits), or if the two are equal once `_` is ignored.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    let squashed = lower.replace('_', "");
    let limit = (lower.chars().count() / 3).max(2);
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let c = candidate.to_ascii_lowercase();
        let distance = if c.replace('_', "") == squashed {
            1
        } else {
            edit_distance(&lower, &c)
        };
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// `" (did you mean x?)"` when a near candidate exists, else `""`.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    nearest(word, candidates)
        .map(|c| format!(" (did you mean {c}?)"))
        .unwrap_or_default()
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_key() {
        let keys = ["bypass_auth", "pretty_logging", "depends_on", "description"];
        assert_eq!(nearest("bypas_auth", keys), Some("bypass_auth"));
        assert_eq!(nearest("dependson", keys), Some("depends_on"));
        assert_eq!(nearest("DependsOn", keys), Some("depends_on"));
        assert_eq!(nearest("prety_loging", keys), Some("pretty_logging"));
        assert_eq!(nearest("completely_else", keys), None);
        assert_eq!(did_you_mean("x", keys), "");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
