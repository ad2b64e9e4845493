//! Redaction of personal data in logs.
//!
//! Email addresses and phone numbers of customers must never reach the logs in clear. Log
//! fields that may hold one go through [`redacted`], which keeps just enough to correlate
//! (the first character and the domain of an email, the last two digits of a phone number).

use std::fmt;

/// A `Display` wrapper that prints a redacted form of an email address or phone number.
pub struct Redacted<'a>(&'a str);

/// Wraps a value that may be an email address or a phone number for logging.
pub fn redacted(value: &str) -> Redacted<'_> {
    Redacted(value)
}

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(self.0))
    }
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Redacts an email address (`a***@example.com`) or anything else that holds digits
/// (`***42`). Values with neither are printed as `***`.
pub fn redact(value: &str) -> String {
    if let Some((local, domain)) = value.split_once('@') {
        let first = local.chars().next().map(String::from).unwrap_or_default();
        return format!("{first}***@{domain}");
    }
    let digits: Vec<char> = value.chars().filter(char::is_ascii_digit).collect();
    if digits.len() >= 4 {
        let tail: String = digits[digits.len() - 2..].iter().collect();
        return format!("***{tail}");
    }
    "***".to_string()
}

/// Redacts every email address and phone-number-like run inside free text, for error
/// messages from upstream services that may quote what we sent.
pub fn redact_text(text: &str) -> String {
    redact_phone_runs(&redact_emails(text))
}

/// Emails, word by word (a word is judged without the punctuation around it:
/// "(jane@x.io)", "jane@x.io.").
fn redact_emails(text: &str) -> String {
    text.split_inclusive(char::is_whitespace)
        .map(|word| {
            let core = word
                .trim_end()
                .trim_matches(|c: char| ",;:!?\"'`()[]<>{}".contains(c));
            let core = core.strip_suffix('.').unwrap_or(core);
            if !core.is_empty() && core.contains('@') {
                word.replacen(core, &redact(core), 1)
            } else {
                word.to_string()
            }
        })
        .collect()
}

/// Characters a written phone number is made of: digits, and the separators people put
/// between its groups ("+33 6 12 34 56 78", "(415) 555-0123", "06.12.34.56.78").
fn is_phone_char(c: char) -> bool {
    c.is_ascii_digit() || "+-(). /\u{a0}".contains(c)
}

/// Phone numbers, however their digits are grouped: a run of [`is_phone_char`]s from its
/// first digit (or `+`, `(`) to its last digit that holds seven digits or more. Judged as one
/// run, not word by word, so "06 12 34 56 78" is caught although no group of it looks like a
/// number.
fn redact_phone_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_digit() || c == '+' || c == '(') {
        out.push_str(&rest[..start]);
        let run_len = rest[start..]
            .find(|c: char| !is_phone_char(c))
            .unwrap_or(rest.len() - start);
        let run = &rest[start..start + run_len];
        // The run ends at its last digit: the separators after it belong to the text.
        let end = run.rfind(|c: char| c.is_ascii_digit()).map_or(0, |i| i + 1);
        let number = &run[..end];
        let consumed = if number.is_empty() {
            // A `+` or `(` with no digit after it: ordinary text.
            let lone = run.chars().next().map_or(1, char::len_utf8);
            out.push_str(&run[..lone]);
            lone
        } else if number.chars().filter(char::is_ascii_digit).count() >= 7 {
            out.push_str(&redact(number));
            number.len()
        } else {
            out.push_str(number);
            number.len()
        };
        rest = &rest[start + consumed..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_keep_only_first_letter_and_domain() {
        assert_eq!(redact("jane.doe@example.com"), "j***@example.com");
        assert_eq!(redacted("jane@x.io").to_string(), "j***@x.io");
    }

    #[test]
    fn phones_keep_only_last_two_digits() {
        assert_eq!(redact("+14155550123"), "***23");
    }

    #[test]
    fn text_is_redacted_word_by_word() {
        let text = "no contact for jane@example.com or +1 415-555-0123 here";
        let out = redact_text(text);
        assert!(!out.contains("jane@"));
        assert!(out.contains("j***@example.com"));
        assert!(!out.contains("555-0123"), "{out}");
        assert!(out.starts_with("no contact for "));
    }

    #[test]
    fn a_number_written_in_groups_is_redacted_as_one() {
        for (text, expected) in [
            ("not a number: 06 12 34 56 78", "not a number: ***78"),
            ("call +33 6 12 34 56 78 now", "call ***78 now"),
            ("(415) 555-0123, or 06.12.34.56.78.", "***23, or ***78."),
            ("tel +44\u{a0}20 7946 0958", "tel ***58"),
        ] {
            assert_eq!(redact_text(text), expected, "{text}");
        }
    }

    #[test]
    fn short_numbers_and_the_text_around_them_stay_readable() {
        for text in [
            "HubSpot answered 429 after 3 tries (10 s)",
            "title over 200 characters (got 341)",
            "status (OPEN), +, (",
            "",
        ] {
            assert_eq!(redact_text(text), text);
        }
    }

    #[test]
    fn punctuation_around_a_value_does_not_hide_it() {
        let out = redact_text("number +442079460958; or (jane@example.com), or jane@example.com.");
        assert_eq!(
            out,
            "number ***58; or (j***@example.com), or j***@example.com."
        );
    }
}
