//! Reading what the services send as leniently as their documents allow.

use serde::{Deserialize, Deserializer};

/// A field that may be `null` where a list (or another value with an empty default) is
/// expected: read as the empty default, as a missing field is (`#[serde(default)]` alone
/// covers only a missing one). HubSpot's documents mark such fields optional, and a delivery
/// refused over a `null` would be refused at every retry, its message lost.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}
