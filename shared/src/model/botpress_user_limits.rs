//! What Botpress takes in a user's `name` and `pictureUrl` (`createUserBody`,
//! `getOrCreateUserBody`, `updateUserBody` in its Runtime API document), for the customer's
//! user (`createUser`) and the agent's (named from HubSpot). Past these Botpress refuses the
//! user, which would cost a customer their handoff, or an agent their reply, over a display
//! name: a name is cut to the longest beginning that fits, and a picture that does not fit
//! is left out (a URL cut short is no URL).

/// `name`'s `maxLength`.
pub const MAX_USER_NAME: usize = 200;

/// `pictureUrl`'s `maxLength`.
pub const MAX_PICTURE_URL: usize = 40_000;

/// `name` cut to what Botpress takes, at a character boundary. Counted in UTF-16 units (what a
/// JavaScript validator counts), never fewer than the characters JSON Schema counts, so the cut
/// fits either reading of `maxLength`.
pub fn fitted_user_name(name: &str) -> &str {
    let mut units = 0;
    for (at, character) in name.char_indices() {
        units += character.len_utf16();
        if units > MAX_USER_NAME {
            return &name[..at];
        }
    }
    name
}

/// Whether Botpress takes `url` as a user's picture.
pub fn picture_url_fits(url: &str) -> bool {
    url.encode_utf16().count() <= MAX_PICTURE_URL
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_within_the_limit_is_sent_whole() {
        assert_eq!(fitted_user_name("Ada Lovelace"), "Ada Lovelace");
        let exactly = "n".repeat(MAX_USER_NAME);
        assert_eq!(fitted_user_name(&exactly), exactly);
    }

    #[test]
    fn a_longer_name_is_cut_to_its_first_two_hundred_characters() {
        let long = format!("{}tail", "n".repeat(MAX_USER_NAME));
        assert_eq!(fitted_user_name(&long), "n".repeat(MAX_USER_NAME));
    }

    #[test]
    fn characters_outside_the_basic_plane_count_twice_and_are_never_split() {
        // 😀 is two UTF-16 units: 99 of them and a letter fill 199 units, and the next 😀
        // would make 201.
        let name = format!("{}a😀😀", "😀".repeat(99));
        let fitted = fitted_user_name(&name);
        assert_eq!(fitted, format!("{}a", "😀".repeat(99)));
        assert!(fitted.encode_utf16().count() <= MAX_USER_NAME);
        let accented = "é".repeat(300);
        assert_eq!(fitted_user_name(&accented).chars().count(), MAX_USER_NAME);
    }

    #[test]
    fn a_picture_url_fits_up_to_the_limit() {
        assert!(picture_url_fits(&"u".repeat(MAX_PICTURE_URL)));
        assert!(!picture_url_fits(&"u".repeat(MAX_PICTURE_URL + 1)));
    }
}
