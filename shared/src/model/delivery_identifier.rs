use std::fmt;

use serde::{Deserialize, Serialize};

/// How HubSpot addresses the customer on a custom channel: an email address or an E.164 phone
/// number (`deliveryIdentifier.type` `HS_EMAIL_ADDRESS` / `HS_PHONE_NUMBER`), or for a visitor
/// who gave neither, an id of the channel's own (`CHANNEL_SPECIFIC_OPAQUE_ID`, as chat
/// channels name their visitors): the help desk shows an unknown visitor, with no CRM contact.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "value")]
pub enum DeliveryIdentifier {
    #[serde(rename = "HS_EMAIL_ADDRESS")]
    Email(String),
    #[serde(rename = "HS_PHONE_NUMBER")]
    Phone(String),
    #[serde(rename = "CHANNEL_SPECIFIC_OPAQUE_ID")]
    Visitor(String),
}

/// How the CRM knows a customer: the email address or phone number the HITL plugin passes as
/// `createUser`'s `email`, by which a contact is found or made. A visitor has none: what a
/// customer is to the help desk is a [`DeliveryIdentifier`], which an address becomes
/// (`From`) and a visitor's id is another form of.
#[derive(Clone, PartialEq, Eq)]
pub enum CrmAddress {
    Email(String),
    Phone(String),
}

/// The forms of address the HITL plugin makes up for an end user who gave no email or phone
/// ([`CrmAddress::made_up_by_the_plugin`]). Such an address reaches no one, so it is
/// no way for the help desk to know the customer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MadeUpAddress {
    /// `<user id>@<bot id>.botpress.invalid`, the plugin's current code: `.invalid` is
    /// reserved (RFC 2606), so no contact has it and nothing is ever delivered there.
    Reserved,
    /// `<user id>@no-reply.<bot id>.botpress.com`, the protocol's description: a domain
    /// HubSpot takes, so an earlier version may have made a contact with it.
    NoReply,
}

/// HubSpot's names of the identifier types (`deliveryIdentifier.type`), as the serde renames
/// above spell them (a test holds them together).
const EMAIL_TYPE: &str = "HS_EMAIL_ADDRESS";
const PHONE_TYPE: &str = "HS_PHONE_NUMBER";
const VISITOR_TYPE: &str = "CHANNEL_SPECIFIC_OPAQUE_ID";

/// What a visitor's opaque id starts with: the rest is the id the HITL plugin gave its end
/// user, so the help desk knows one visitor as one, across handoffs.
const VISITOR_PREFIX: &str = "botpress:";

/// Why a value given as a customer's email or phone cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdentifierError {
    #[error("no email address or phone number was given")]
    Empty,
    #[error("`{0}` is not a valid email address")]
    BadEmail(String),
    #[error(
        "`{0}` is not a valid phone number; give it in international form (+ and country code){1}"
    )]
    BadPhone(String, &'static str),
}

impl DeliveryIdentifier {
    /// HubSpot's name for the identifier type.
    pub fn hubspot_type(&self) -> &'static str {
        match self {
            Self::Email(_) => EMAIL_TYPE,
            Self::Phone(_) => PHONE_TYPE,
            Self::Visitor(_) => VISITOR_TYPE,
        }
    }

    pub fn value(&self) -> &str {
        match self {
            Self::Email(value) | Self::Phone(value) | Self::Visitor(value) => value,
        }
    }

    /// The identifier a store kept as its HubSpot type and value; `None` for an unknown type.
    pub fn from_hubspot(hubspot_type: &str, value: String) -> Option<Self> {
        match hubspot_type {
            EMAIL_TYPE => Some(Self::Email(value)),
            PHONE_TYPE => Some(Self::Phone(value)),
            VISITOR_TYPE => Some(Self::Visitor(value)),
            _ => None,
        }
    }
}

impl CrmAddress {
    /// Reads what the HITL plugin puts in `createUser`'s `email`: an email address or a phone
    /// number. Emails are lower-cased; phones are normalised to E.164, reading numbers without
    /// a country code in `default_region` (an ISO 3166 code) when one is configured.
    pub fn parse(raw: &str, default_region: Option<&str>) -> Result<Self, IdentifierError> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(IdentifierError::Empty);
        }
        if value.contains('@') {
            return parse_email(value);
        }
        parse_phone(value, default_region)
    }

    pub fn value(&self) -> &str {
        match self {
            Self::Email(value) | Self::Phone(value) => value,
        }
    }

    /// HubSpot's name for the identifier type the address is.
    pub fn hubspot_type(&self) -> &'static str {
        match self {
            Self::Email(_) => EMAIL_TYPE,
            Self::Phone(_) => PHONE_TYPE,
        }
    }

    /// Which of the [`MadeUpAddress`] forms this is, if the HITL plugin made it up for an end
    /// user who gave no email or phone.
    pub fn made_up_by_the_plugin(&self) -> Option<MadeUpAddress> {
        let Self::Email(address) = self else {
            return None;
        };
        let domain = address.rsplit_once('@').map_or("", |(_, domain)| domain);
        if domain.ends_with(".botpress.invalid") {
            Some(MadeUpAddress::Reserved)
        } else if domain.starts_with("no-reply.") && domain.ends_with(".botpress.com") {
            Some(MadeUpAddress::NoReply)
        } else {
            None
        }
    }

    /// The visitor an address the HITL plugin made up stands for (see
    /// [`CrmAddress::made_up_by_the_plugin`]): `botpress:<the part before @>`, the plugin's id
    /// for its end user.
    pub fn visitor(&self) -> DeliveryIdentifier {
        let user = self
            .value()
            .split_once('@')
            .map_or(self.value(), |(user, _)| user);
        DeliveryIdentifier::Visitor(format!("{VISITOR_PREFIX}{user}"))
    }
}

impl From<CrmAddress> for DeliveryIdentifier {
    fn from(address: CrmAddress) -> Self {
        match address {
            CrmAddress::Email(value) => Self::Email(value),
            CrmAddress::Phone(value) => Self::Phone(value),
        }
    }
}

/// Never prints the address or number in clear: these end up in logs.
impl fmt::Debug for CrmAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        redacted_debug(f, self.hubspot_type(), self.value())
    }
}

/// Never prints the address or number in clear: these end up in logs.
impl fmt::Debug for DeliveryIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        redacted_debug(f, self.hubspot_type(), self.value())
    }
}

/// `TYPE(redacted value)`, as both forms of a customer's address print.
fn redacted_debug(f: &mut fmt::Formatter<'_>, hubspot_type: &str, value: &str) -> fmt::Result {
    write!(f, "{hubspot_type}({})", crate::redact::redact(value))
}

fn parse_email(value: &str) -> Result<CrmAddress, IdentifierError> {
    let bad = || IdentifierError::BadEmail(value.to_string());
    let (local, domain) = value.split_once('@').ok_or_else(bad)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@');
    if local.is_empty() || !domain_ok || value.chars().any(char::is_whitespace) {
        return Err(bad());
    }
    Ok(CrmAddress::Email(value.to_ascii_lowercase()))
}

fn parse_phone(value: &str, default_region: Option<&str>) -> Result<CrmAddress, IdentifierError> {
    let hint = if default_region.is_some() {
        ""
    } else {
        " or set DEFAULT_PHONE_REGION"
    };
    let bad = || IdentifierError::BadPhone(value.to_string(), hint);
    let allowed = |c: char| c.is_ascii_digit() || " +-().".contains(c);
    if !value.chars().all(allowed) {
        return Err(bad());
    }
    let region = match default_region {
        Some(code) => Some(
            code.parse::<phonenumber::country::Id>()
                .map_err(|_| bad())?,
        ),
        None => None,
    };
    let number = phonenumber::parse(region, value).map_err(|_| bad())?;
    if !phonenumber::is_valid(&number) {
        return Err(bad());
    }
    let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
    Ok(CrmAddress::Phone(e164))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lower_cased() {
        let id = CrmAddress::parse(" Jane.Doe@Example.COM ", None).unwrap();
        assert_eq!(id, CrmAddress::Email("jane.doe@example.com".into()));
        assert_eq!(id.hubspot_type(), "HS_EMAIL_ADDRESS");
    }

    #[test]
    fn phones_become_e164() {
        let id = CrmAddress::parse("+1 (415) 555-2671", None).unwrap();
        assert_eq!(id, CrmAddress::Phone("+14155552671".into()));
        let id = CrmAddress::parse("020 7946 0958", Some("GB")).unwrap();
        assert_eq!(id, CrmAddress::Phone("+442079460958".into()));
    }

    #[test]
    fn a_national_number_without_region_is_refused_with_advice() {
        let err = CrmAddress::parse("4155552671", None).unwrap_err();
        assert!(err.to_string().contains("DEFAULT_PHONE_REGION"), "{err}");
    }

    #[test]
    fn garbage_is_refused() {
        assert!(matches!(
            CrmAddress::parse("jane@", None),
            Err(IdentifierError::BadEmail(_))
        ));
        assert!(matches!(
            CrmAddress::parse("call me maybe", None),
            Err(IdentifierError::BadPhone(..))
        ));
        assert_eq!(CrmAddress::parse("  ", None), Err(IdentifierError::Empty));
    }

    #[test]
    fn the_plugins_made_up_addresses_are_told_from_real_ones() {
        let made_up = |raw: &str| {
            CrmAddress::parse(raw, None)
                .unwrap()
                .made_up_by_the_plugin()
        };
        assert_eq!(
            made_up("user_01JXYZ@bot-01abc.botpress.invalid"),
            Some(MadeUpAddress::Reserved)
        );
        assert_eq!(
            made_up("user_01JXYZ@no-reply.bot_01abc.botpress.com"),
            Some(MadeUpAddress::NoReply)
        );
        for real in [
            "jane.doe@example.com",
            "support@botpress.com",
            "jane@no-reply.example.com",
            "+1 415 555 2671",
        ] {
            assert_eq!(made_up(real), None, "{real}");
        }
    }

    #[test]
    fn a_made_up_address_stands_for_the_plugins_end_user_as_a_visitor() {
        let visitor = |raw: &str| CrmAddress::parse(raw, None).unwrap().visitor();
        let current = visitor("User_01JXYZ@bot-01abc.botpress.invalid");
        assert_eq!(
            current,
            DeliveryIdentifier::Visitor("botpress:user_01jxyz".into())
        );
        assert_eq!(current.hubspot_type(), "CHANNEL_SPECIFIC_OPAQUE_ID");
        assert_eq!(
            visitor("user_01jxyz@no-reply.bot_01abc.botpress.com"),
            current,
            "one visitor for either form"
        );
    }

    #[test]
    fn the_type_names_are_the_ones_serialised() {
        for (identifier, address) in [
            (
                DeliveryIdentifier::Email("jane@example.com".into()),
                Some(CrmAddress::Email("jane@example.com".into())),
            ),
            (
                DeliveryIdentifier::Phone("+14155552671".into()),
                Some(CrmAddress::Phone("+14155552671".into())),
            ),
            (DeliveryIdentifier::Visitor("botpress:user_1".into()), None),
        ] {
            let serialised = serde_json::to_value(&identifier).unwrap();
            assert_eq!(serialised["type"], identifier.hubspot_type());
            assert_eq!(
                DeliveryIdentifier::from_hubspot(
                    identifier.hubspot_type(),
                    identifier.value().to_string()
                ),
                Some(identifier.clone())
            );
            if let Some(address) = address {
                assert_eq!(address.hubspot_type(), identifier.hubspot_type());
                assert_eq!(DeliveryIdentifier::from(address), identifier);
            }
        }
    }

    #[test]
    fn debug_never_shows_the_value() {
        let id = DeliveryIdentifier::Email("jane@example.com".into());
        assert_eq!(format!("{id:?}"), "HS_EMAIL_ADDRESS(j***@example.com)");
    }
}
