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
    text.split_inclusive(char::is_whitespace)
        .map(|word| {
            // Judge the word without the punctuation around it ("…+44207946;", "(jane@x.io)").
            let core = word
                .trim_end()
                .trim_matches(|c: char| ",;:!?\"'`()[]<>{}".contains(c));
            let core = core.strip_suffix('.').unwrap_or(core);
            let digit_count = core.chars().filter(char::is_ascii_digit).count();
            let looks_like_phone = digit_count >= 7
                && core
                    .chars()
                    .all(|c| c.is_ascii_digit() || "+-().".contains(c));
            if !core.is_empty() && (core.contains('@') || looks_like_phone) {
                word.replacen(core, &redact(core), 1)
            } else {
                word.to_string()
            }
        })
        .collect()
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
    fn punctuation_around_a_value_does_not_hide_it() {
        let out = redact_text("number +442079460958; or (jane@example.com), or jane@example.com.");
        assert_eq!(
            out,
            "number ***58; or (j***@example.com), or j***@example.com."
        );
    }
}
