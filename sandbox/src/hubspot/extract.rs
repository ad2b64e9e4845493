//! Reading requests without axum's own rejections: a malformed body or query must get a
//! HubSpot-shaped 400, because that is what the bridge has to cope with in production.

use serde::de::DeserializeOwned;

use super::errors::ApiError;

/// Parses a JSON body into `T`, answering 400 VALIDATION_ERROR with serde's explanation (which
/// names the field and position) when it does not fit.
pub(crate) fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::validation(
            "Invalid input JSON: the request body is empty",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|error| ApiError::validation(format!("Invalid input JSON: {error}")))
}

/// The decoded query string. Names may repeat (`properties=a&properties=b`), so it keeps pairs.
#[derive(Debug, Default)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        match raw {
            None => Ok(Self::default()),
            Some(raw) => serde_urlencoded::from_str(raw)
                .map(Self)
                .map_err(|error| ApiError::validation(format!("Invalid query string: {error}"))),
        }
    }

    /// The first value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every value of `name`, with comma-separated lists split (HubSpot accepts both forms).
    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(key, _)| key == name)
            .flat_map(|(_, value)| value.split(','))
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// A boolean flag such as `archived=true`; absent means false.
    pub(crate) fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(false),
            Some(value) => value
                .parse()
                .map_err(|_| ApiError::field(name, format!("Invalid value '{value}' for query parameter '{name}': expected true or false"))),
        }
    }

    /// Paging parameters `limit` and `after`, validated.
    pub(crate) fn page(
        &self,
        default_limit: usize,
        max_limit: usize,
    ) -> Result<PageRequest, ApiError> {
        let limit = match self.get("limit") {
            None => default_limit,
            Some(value) => parse_limit(value, max_limit)?,
        };
        let offset = match self.get("after") {
            None | Some("") => 0,
            Some(value) => parse_after(value)?,
        };
        Ok(PageRequest { limit, offset })
    }
}

pub(crate) fn parse_limit(value: &str, max_limit: usize) -> Result<usize, ApiError> {
    match value.parse::<usize>() {
        Ok(limit) if (1..=max_limit).contains(&limit) => Ok(limit),
        _ => Err(ApiError::field(
            "limit",
            format!(
                "Invalid value '{value}' for 'limit': expected an integer from 1 to {max_limit}"
            ),
        )),
    }
}

/// The simulator's paging cursors are plain offsets, which is all a client may assume anyway:
/// HubSpot's are opaque strings to be passed back unchanged.
pub(crate) fn parse_after(value: &str) -> Result<usize, ApiError> {
    value
        .parse()
        .map_err(|_| ApiError::field("after", format!("Invalid paging cursor '{value}'")))
}

/// One page of a collection, as `limit` and `after` asked.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PageRequest {
    pub(crate) limit: usize,
    pub(crate) offset: usize,
}

impl PageRequest {
    /// `{"results":[...],"total":n,"paging":{"next":{"after":..}}}` over all `items`; `paging`
    /// only appears when there is a next page, as in HubSpot's answers.
    pub(crate) fn collect(self, items: Vec<serde_json::Value>) -> serde_json::Value {
        let total = items.len();
        let results: Vec<_> = items
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        let end = self.offset + results.len();
        let mut body = serde_json::json!({ "results": results, "total": total });
        if end < total {
            body["paging"] = serde_json::json!({ "next": { "after": end.to_string() } });
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pages_carry_a_cursor_only_when_more_remain() {
        let items: Vec<_> = (0..5).map(|n| json!(n)).collect();
        let first = PageRequest {
            limit: 2,
            offset: 0,
        }
        .collect(items.clone());
        assert_eq!(first["results"], json!([0, 1]));
        assert_eq!(first["total"], 5);
        assert_eq!(first["paging"]["next"]["after"], "2");
        let last = PageRequest {
            limit: 2,
            offset: 4,
        }
        .collect(items);
        assert_eq!(last["results"], json!([4]));
        assert!(last.get("paging").is_none());
    }

    #[test]
    fn malformed_json_is_a_validation_error() {
        let error = json_body::<serde_json::Value>(b"{not json").unwrap_err();
        assert_eq!(error.category(), "VALIDATION_ERROR");
        let query =
            Query::parse(Some("properties=email,phone&properties=firstname&limit=x")).unwrap();
        assert_eq!(
            query.list("properties"),
            vec!["email", "phone", "firstname"]
        );
        assert!(query.page(10, 100).is_err());
    }
}
