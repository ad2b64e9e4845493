//! Resource ids shaped like Botpress's own.
//!
//! The Runtime API declares every user, conversation, message and event id as 28 to 36 characters.
//! A bridge that truncates an id, or stores it in a column too short, must fail here as it would
//! against Botpress, so the simulator never hands out shorter or longer ids.

use chrono::Utc;

/// Crockford base32, the ULID alphabet: no I, L, O or U, so ids survive being read aloud or retyped.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Length of the ULID part of an id: 128 bits in base32.
const ULID_LEN: usize = 26;

/// Shortest and longest id the Runtime API accepts.
pub const MIN_ID_LEN: usize = 28;
pub const MAX_ID_LEN: usize = 36;

/// A fresh id: `prefix` + `_` + a ULID (48-bit millisecond time, 80 random bits), e.g.
/// `user_01J9Z3K4W5X6Y7Z8A9B0C1D2E3`. Time first, so ids created later sort later, as Botpress's do.
/// `prefix` should be 1 to 9 characters so the id stays within 28..=36.
pub fn new_id(prefix: &str) -> String {
    let millis = u128::from(Utc::now().timestamp_millis().max(0).unsigned_abs()) & ((1 << 48) - 1);
    let random = rand::random::<u128>() & ((1 << 80) - 1);
    let mut value = (millis << 80) | random;
    let mut ulid = [0u8; ULID_LEN];
    for slot in ulid.iter_mut().rev() {
        // The mask keeps the index below 32, so the lookup cannot go out of bounds.
        *slot = ALPHABET[(value & 0x1f) as usize];
        value >>= 5;
    }
    let mut id = String::with_capacity(prefix.len() + 1 + ULID_LEN);
    id.push_str(prefix);
    id.push('_');
    id.extend(ulid.iter().map(|&byte| char::from(byte)));
    id
}

/// Whether `id` has a length the Runtime API accepts for an id field.
pub fn is_valid_length(id: &str) -> bool {
    (MIN_ID_LEN..=MAX_ID_LEN).contains(&id.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_28_to_36_characters_for_every_prefix_in_use() {
        for prefix in ["user", "conv", "msg", "evt", "err"] {
            let id = new_id(prefix);
            assert!(is_valid_length(&id), "{id} has {} characters", id.len());
            assert!(id.starts_with(&format!("{prefix}_")));
        }
    }

    #[test]
    fn ids_are_unique_and_time_ordered() {
        let first = new_id("msg");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = new_id("msg");
        assert_ne!(first, second);
        assert!(first < second, "{first} should sort before {second}");
    }

    #[test]
    fn length_check_rejects_short_and_long_ids() {
        assert!(!is_valid_length("user_123"));
        assert!(!is_valid_length(&"x".repeat(37)));
        assert!(is_valid_length(&"x".repeat(28)));
    }
}
