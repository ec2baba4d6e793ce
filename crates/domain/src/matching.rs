//! The one normalisation used wherever names are compared or searched.
//!
//! People type the same name in many ways: `Lefèvre`, `LEFEVRE`, `lefevre`; `Jean-Pierre` or
//! `Jean Pierre`; `D'Almeida`, `D’Almeida` or `D Almeida`. Duplicate detection, search and
//! identity checks must all agree on when two spellings are "the same", so they all go through
//! [`matching_key`] and nothing else.

use std::collections::HashMap;

/// The comparison key of a name or any free text.
///
/// Folds case and diacritics (`é`→`e`, `œ`→`oe`, `æ`→`ae`, `ß`→`ss`, other scripts are
/// transliterated), turns hyphens, apostrophes (`'` and `’`), every other non-alphanumeric
/// character and any run of them into one space, and trims. The result holds only ASCII
/// lowercase letters, digits and single inner spaces; applying the function again changes
/// nothing.
pub fn matching_key(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    let mut push = |c: char| {
        if c.is_ascii_alphanumeric() {
            if pending_space && !out.is_empty() {
                out.push(' ');
            }
            pending_space = false;
            out.push(c.to_ascii_lowercase());
        } else {
            pending_space = true;
        }
    };
    for c in s.chars() {
        if c.is_ascii() {
            push(c);
            continue;
        }
        // Transliteration may expand to several letters (`œ`) or words (CJK), or to nothing
        // (combining accents of decomposed text, which must not split the word).
        match deunicode::deunicode_char(c) {
            Some(t) => t.chars().for_each(&mut push),
            None => push(' '),
        }
    }
    out
}

/// Whether two names have the same [`matching_key`].
pub fn same_name(a: &str, b: &str) -> bool {
    matching_key(a) == matching_key(b)
}

/// The words of a list of first names, as matching keys, in order.
///
/// A compound first name may be written `Jean-Pierre`, `Jean Pierre`, or entered as two list
/// items; all three give the words `jean`, `pierre`.
pub fn first_name_words<S: AsRef<str>>(names: &[S]) -> Vec<String> {
    names
        .iter()
        .flat_map(|n| {
            matching_key(n.as_ref())
                .split(' ')
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Whether two lists of first names hold the same words, in any order and however they are
/// split into list items (`["Marie", "Anne"]` = `["Anne-Marie"]`).
pub fn same_first_names_any_order<A: AsRef<str>, B: AsRef<str>>(a: &[A], b: &[B]) -> bool {
    word_counts(&first_name_words(a)) == word_counts(&first_name_words(b))
}

/// Whether two lists of first names hold the same words in the same order.
pub fn same_first_names_in_order<A: AsRef<str>, B: AsRef<str>>(a: &[A], b: &[B]) -> bool {
    first_name_words(a) == first_name_words(b)
}

/// Whether `name` is one of the first names of `list` (compared by [`matching_key`]), e.g. to
/// accept a usual first name that is the second birth first name.
pub fn is_one_of_first_names<S: AsRef<str>>(name: &str, list: &[S]) -> bool {
    let key = matching_key(name);
    !key.is_empty() && list.iter().any(|n| matching_key(n.as_ref()) == key)
}

fn word_counts(words: &[String]) -> HashMap<&str, usize> {
    let mut counts = HashMap::new();
    for w in words {
        *counts.entry(w.as_str()).or_insert(0) += 1;
    }
    counts
}

/// Optimal-string-alignment Damerau–Levenshtein distance, counted in characters: insertions,
/// deletions, substitutions and swaps of two adjacent characters each cost 1.
///
/// Meant for "one typo" tolerance on [`matching_key`]s, which are short; the cost is
/// `O(len(a) × len(b))`.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.is_empty() {
        return b.len();
    }
    if b.is_empty() {
        return a.len();
    }
    let width = b.len() + 1;
    // Three rows suffice: the swap rule looks two rows back.
    let mut two_back = vec![0usize; width];
    let mut prev: Vec<usize> = (0..width).collect();
    let mut cur = vec![0usize; width];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(two_back[j - 2] + 1);
            }
            cur[j] = best;
        }
        std::mem::swap(&mut two_back, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Whether two names are equal or one typo apart (one insertion, deletion, substitution or
/// swap of adjacent letters), after [`matching_key`].
pub fn within_one_typo(a: &str, b: &str) -> bool {
    let (a, b) = (matching_key(a), matching_key(b));
    // Cheap length filter before the quadratic distance.
    a.chars().count().abs_diff(b.chars().count()) <= 1 && edit_distance(&a, &b) <= 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn folds_case_accents_ligatures_and_separators() {
        assert_eq!(matching_key("  Lefèvre  "), "lefevre");
        assert_eq!(
            matching_key("ŒUVRE Cæcilia Straße"),
            "oeuvre caecilia strasse"
        );
        assert_eq!(matching_key("Jean-Pierre"), "jean pierre");
        assert_eq!(matching_key("Jean -  Pierre"), "jean pierre");
        assert_eq!(matching_key("D'Almeida"), "d almeida");
        assert_eq!(matching_key("D’Almeida"), "d almeida");
        assert_eq!(matching_key("DUPONT--DURAND"), "dupont durand");
        assert_eq!(matching_key("Ñúñez\tÇelik"), "nunez celik");
        assert_eq!(matching_key("E\u{301}lise\u{a0}Lé—Bon"), "elise le bon");
        assert_eq!(matching_key("北京"), "bei jing");
        assert_eq!(matching_key("---"), "");
        assert_eq!(matching_key(""), "");
    }

    #[test]
    fn first_name_lists() {
        assert!(same_first_names_any_order(
            &["Marie", "Anne"],
            &["anne-marie"]
        ));
        assert!(same_first_names_any_order(
            &["Jean Pierre"],
            &["Jean", "Pierre"]
        ));
        assert!(!same_first_names_any_order(&["Jean", "Jean"], &["Jean"]));
        assert!(same_first_names_in_order(
            &["Jean-Pierre", "Éric"],
            &["JEAN PIERRE ERIC"]
        ));
        assert!(!same_first_names_in_order(
            &["Éric", "Jean"],
            &["Jean", "Eric"]
        ));
        assert!(is_one_of_first_names("helene", &["Marie", "Hélène"]));
        assert!(!is_one_of_first_names("", &["Marie"]));
        let empty: [&str; 0] = [];
        assert!(first_name_words(&empty).is_empty());
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("martin", "martin"), 0);
        assert_eq!(edit_distance("martin", "matrin"), 1); // swap
        assert_eq!(edit_distance("martin", "martins"), 1); // insertion
        assert_eq!(edit_distance("martin", "marin"), 1); // deletion
        assert_eq!(edit_distance("martin", "mertin"), 1); // substitution
        assert_eq!(edit_distance("martin", "nitram"), 5);
        assert_eq!(edit_distance("ca", "abc"), 3); // OSA, not unrestricted Damerau
        assert!(within_one_typo("Lefèvre", "LEFEBVRE"));
        assert!(within_one_typo("Dupont", "Dupnot"));
        assert!(!within_one_typo("Dupont", "Durant"));
    }

    fn separator() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            Just(" "),
            Just("-"),
            Just("'"),
            Just("’"),
            Just("  "),
            Just(" - ")
        ]
    }

    proptest! {
        #[test]
        fn idempotent_and_ascii_lowercase(s in "\\PC{0,40}") {
            let k = matching_key(&s);
            prop_assert_eq!(matching_key(&k), k.clone());
            prop_assert!(k.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b' '));
            prop_assert!(!k.starts_with(' ') && !k.ends_with(' ') && !k.contains("  "));
        }

        #[test]
        fn insensitive_to_case_and_accents(s in "[a-zA-Z]{1,12}") {
            let accented: String = s.chars().map(|c| match c {
                'e' => 'é', 'E' => 'È', 'a' => 'à', 'c' => 'ç', 'o' => 'ô', 'u' => 'ü', 'i' => 'ï',
                c => c,
            }).collect();
            prop_assert_eq!(matching_key(&s.to_uppercase()), matching_key(&s.to_lowercase()));
            prop_assert_eq!(matching_key(&accented), matching_key(&s));
        }

        #[test]
        fn insensitive_to_the_separator(a in "[a-zA-Zé]{1,10}", b in "[a-zA-Zé]{1,10}", sep in separator()) {
            prop_assert_eq!(matching_key(&format!("{a}{sep}{b}")), matching_key(&format!("{a} {b}")));
        }

        #[test]
        fn distance_is_a_metric_on_small_words(a in "[abc]{0,6}", b in "[abc]{0,6}") {
            let d = edit_distance(&a, &b);
            prop_assert_eq!(d, edit_distance(&b, &a));
            prop_assert_eq!(d == 0, a == b);
            prop_assert!(d <= a.chars().count().max(b.chars().count()));
        }
    }
}
