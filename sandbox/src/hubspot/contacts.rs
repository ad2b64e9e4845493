//! CRM contacts: `GET /crm/v3/objects/contacts/{contactId}` (by id or `idProperty=email`) and
//! `POST /crm/v3/objects/contacts/search`, which the bridge uses to find who a customer is, and
//! `POST /crm/v3/objects/contacts`, which it uses to create one the CRM has not seen.

use axum::{
    Json,
    body::Bytes,
    extract::{Path, RawQuery, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::auth::require_bearer;
use super::errors::ApiError;
use super::extract::{PageRequest, Query, json_body, parse_after};
use super::model::{Contact, iso};
use super::state::AppState;

/// Properties every answer carries. HubSpot's defaults are the first six; `phone` is added
/// because the bridge looks customers up by phone and the brief asks for it.
const DEFAULT_PROPERTIES: &[&str] = &[
    "createdate",
    "email",
    "firstname",
    "hs_object_id",
    "lastmodifieddate",
    "lastname",
    "phone",
];

/// A property's value on a contact; `None` is answered as `null`, as HubSpot does.
fn property(contact: &Contact, name: &str) -> Option<String> {
    match name {
        "email" => contact.email.clone(),
        "phone" => contact.phone.clone(),
        "mobilephone" => contact.mobile_phone.clone(),
        "firstname" => Some(contact.firstname.clone()),
        "lastname" => contact.lastname.clone(),
        "hs_object_id" => Some(contact.id.clone()),
        "createdate" | "lastmodifieddate" => Some(iso(contact.created_at)),
        _ => None,
    }
}

/// A `SimplePublicObject` with the default properties plus those asked for.
fn render(contact: &Contact, requested: &[String]) -> Value {
    let mut properties = Map::new();
    let names = DEFAULT_PROPERTIES
        .iter()
        .map(|name| name.to_string())
        .chain(requested.iter().cloned());
    for name in names {
        let value = property(contact, &name)
            .map(Value::String)
            .unwrap_or(Value::Null);
        properties.insert(name, value);
    }
    json!({
        "id": contact.id,
        "properties": properties,
        "createdAt": iso(contact.created_at),
        "updatedAt": iso(contact.created_at),
        "archived": false,
    })
}

fn not_found() -> ApiError {
    ApiError::not_found("resource not found")
}

pub(crate) async fn get(
    State(shared): State<AppState>,
    headers: HeaderMap,
    Path(contact_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    require_bearer(&shared, &headers)?;
    let query = Query::parse(raw.as_deref())?;
    let requested = query.list("properties");
    let store = shared.store();
    let contact = match query.get("idProperty") {
        None | Some("hs_object_id") => store
            .contacts
            .iter()
            .find(|contact| contact.id == contact_id),
        Some("email") => store.contacts.iter().find(|contact| {
            contact
                .email
                .as_deref()
                .is_some_and(|email| email.eq_ignore_ascii_case(&contact_id))
        }),
        Some(other) => {
            return Err(ApiError::field(
                "idProperty",
                format!("Property '{other}' is not a unique identifier property for contacts"),
            ));
        }
    };
    let contact = contact.ok_or_else(not_found)?;
    Ok(Json(render(contact, &requested)))
}

/// `SimplePublicObjectInputForCreate`. HubSpot accepts a body without `associations`.
#[derive(Deserialize)]
struct CreateRequest {
    properties: Option<Map<String, Value>>,
    #[serde(default)]
    associations: Option<Vec<Value>>,
}

/// Creates a contact, as HubSpot does: property values are strings; the email address is
/// unique (case aside), and a second contact with it is refused with 409 CONFLICT whose
/// message carries the existing id; phone numbers are not unique.
pub(crate) async fn create(
    State(shared): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    require_bearer(&shared, &headers)?;
    let request: CreateRequest = json_body(&body)?;
    let properties = request
        .properties
        .ok_or_else(|| ApiError::missing("properties"))?;
    if request
        .associations
        .as_ref()
        .is_some_and(|associations| !associations.is_empty())
    {
        return Err(ApiError::field(
            "associations",
            "The simulated HubSpot creates contacts without associations",
        ));
    }
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        match properties.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(value)) if value.trim().is_empty() => Ok(None),
            Some(Value::String(value)) => Ok(Some(value.trim().to_string())),
            Some(_) => Err(ApiError::field(
                &format!("properties.{name}"),
                format!("Invalid input: property '{name}' must be a string"),
            )),
        }
    };
    let email = text("email")?;
    let phone = text("phone")?;
    let mobile_phone = text("mobilephone")?;
    let firstname = text("firstname")?;
    let lastname = text("lastname")?;
    if let Some(email) = &email
        && !email.contains('@')
    {
        return Err(ApiError::field(
            "properties.email",
            format!("Property values were not valid: Email address {email} is invalid"),
        ));
    }
    let mut store = shared.store();
    if let Some(email) = &email
        && let Some(existing) = store.contacts.iter().find(|contact| {
            contact
                .email
                .as_deref()
                .is_some_and(|known| known.eq_ignore_ascii_case(email))
        })
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "CONFLICT",
            format!("Contact already exists. Existing ID: {}", existing.id),
        ));
    }
    let contact = Contact {
        id: store.ids.contact(),
        email: email.map(|email| email.to_lowercase()),
        phone,
        mobile_phone,
        firstname: firstname.unwrap_or_default(),
        lastname,
        created_at: Utc::now(),
    };
    // A create answers the properties the new record has values for, no `null`s.
    let mut answer = render(&contact, &[]);
    if let Some(properties) = answer["properties"].as_object_mut() {
        properties.retain(|_, value| !value.is_null());
    }
    store.contacts.push(contact);
    Ok((StatusCode::CREATED, Json(answer)))
}

/// `PublicObjectSearchRequest`. Its `required` list is loose in practice; only what is used is
/// read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchRequest {
    #[serde(default)]
    filter_groups: Vec<FilterGroup>,
    #[serde(default)]
    properties: Vec<String>,
    limit: Option<usize>,
    after: Option<Value>,
}

#[derive(Deserialize)]
struct FilterGroup {
    #[serde(default)]
    filters: Vec<Filter>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    property_name: Option<String>,
    operator: Option<String>,
    value: Option<Value>,
}

/// One filter, checked. The simulator supports `EQ` (case-insensitive, as HubSpot compares
/// emails) on the properties it stores (`email`, `phone`, `mobilephone`, `firstname`,
/// `lastname`, `hs_object_id`); other properties are unset on every simulated contact and
/// never match.
struct Condition {
    property: String,
    value: String,
}

impl Condition {
    fn matches(&self, contact: &Contact) -> bool {
        property(contact, &self.property)
            .is_some_and(|actual| actual.eq_ignore_ascii_case(&self.value))
    }
}

fn conditions(groups: Vec<FilterGroup>) -> Result<Vec<Vec<Condition>>, ApiError> {
    groups
        .into_iter()
        .enumerate()
        .map(|(group_index, group)| {
            group
                .filters
                .into_iter()
                .enumerate()
                .map(|(index, filter)| {
                    let at = format!("filterGroups[{group_index}].filters[{index}]");
                    let property = filter
                        .property_name
                        .ok_or_else(|| ApiError::missing(&format!("{at}.propertyName")))?;
                    match filter.operator.as_deref() {
                        Some("EQ") => {}
                        Some(other) => {
                            return Err(ApiError::field(
                                &format!("{at}.operator"),
                                format!("The simulated HubSpot supports only the EQ operator, got '{other}'"),
                            ));
                        }
                        None => return Err(ApiError::missing(&format!("{at}.operator"))),
                    }
                    let value = match filter.value {
                        Some(Value::String(text)) => text,
                        Some(Value::Number(number)) => number.to_string(),
                        Some(Value::Bool(flag)) => flag.to_string(),
                        _ => return Err(ApiError::missing(&format!("{at}.value"))),
                    };
                    Ok(Condition { property, value })
                })
                .collect()
        })
        .collect()
}

pub(crate) async fn search(
    State(shared): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    require_bearer(&shared, &headers)?;
    let request: SearchRequest = json_body(&body)?;
    if request.filter_groups.len() > 6 {
        return Err(ApiError::field(
            "filterGroups",
            "Invalid input: at most 6 filterGroups are allowed",
        ));
    }
    let limit = request.limit.unwrap_or(10);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::field(
            "limit",
            "Invalid input: 'limit' must be from 1 to 200",
        ));
    }
    let offset = match &request.after {
        None | Some(Value::Null) => 0,
        Some(Value::String(text)) if text.is_empty() => 0,
        Some(Value::String(text)) => parse_after(text)?,
        Some(Value::Number(number)) => parse_after(&number.to_string())?,
        Some(_) => {
            return Err(ApiError::field(
                "after",
                "Invalid input: 'after' must be a string",
            ));
        }
    };
    let groups = conditions(request.filter_groups)?;
    let store = shared.store();
    // Filters in a group are ANDed; groups are ORed; no groups means every contact.
    let items = store
        .contacts
        .iter()
        .filter(|contact| {
            groups.is_empty()
                || groups
                    .iter()
                    .any(|group| group.iter().all(|c| c.matches(contact)))
        })
        .map(|contact| render(contact, &request.properties))
        .collect();
    Ok(Json(PageRequest { limit, offset }.collect(items)))
}

#[cfg(test)]
mod tests {
    use reqwest::Method;
    use serde_json::json;

    use super::super::test_support::{Harness, error_category};

    #[tokio::test]
    async fn contacts_are_found_by_id_or_email_and_missing_ones_are_404() {
        let harness = Harness::start().await;
        let id = harness
            .sim
            .add_contact(Some("Cleo@Example.com"), Some("+15551234567"), "Cleo");
        let (status, by_email) = harness
            .call(
                Method::GET,
                "/crm/v3/objects/contacts/cleo@example.com?idProperty=email",
                None,
            )
            .await;
        assert_eq!(status, 200, "{by_email}");
        assert_eq!(by_email["id"], id.as_str());
        assert_eq!(by_email["properties"]["firstname"], "Cleo");
        assert_eq!(by_email["properties"]["phone"], "+15551234567");
        assert_eq!(by_email["properties"]["hs_object_id"], id.as_str());
        assert_eq!(by_email["archived"], false);

        let (status, by_id) = harness
            .call(
                Method::GET,
                &format!("/crm/v3/objects/contacts/{id}?properties=mobilephone"),
                None,
            )
            .await;
        assert_eq!(status, 200);
        assert!(by_id["properties"]["mobilephone"].is_null());

        let (status, missing) = harness
            .call(
                Method::GET,
                "/crm/v3/objects/contacts/nobody@example.com?idProperty=email",
                None,
            )
            .await;
        assert_eq!(
            (status, error_category(&missing)),
            (404, "OBJECT_NOT_FOUND")
        );
        assert_eq!(missing["message"], "resource not found");
    }

    #[tokio::test]
    async fn a_created_contact_is_found_and_a_second_with_its_email_conflicts() {
        let harness = Harness::start().await;
        let create = |properties| {
            harness.call(
                Method::POST,
                "/crm/v3/objects/contacts",
                Some(json!({ "properties": properties, "associations": [] })),
            )
        };
        let (status, created) =
            create(json!({ "email": "Cleo@Example.com", "firstname": "Cleo", "lastname": "Ray" }))
                .await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_string();
        assert_eq!(created["properties"]["email"], "cleo@example.com");
        assert_eq!(created["properties"]["lastname"], "Ray");
        assert!(
            created["properties"].get("phone").is_none(),
            "no nulls: {created}"
        );
        assert_eq!(
            harness.sim.contacts_reached_at("cleo@example.com"),
            vec![id.clone()]
        );

        let (status, conflict) = create(json!({ "email": "CLEO@example.com" })).await;
        assert_eq!((status, error_category(&conflict)), (409, "CONFLICT"));
        assert_eq!(
            conflict["message"],
            format!("Contact already exists. Existing ID: {id}")
        );
        assert!(conflict["correlationId"].is_string());

        // Phone numbers are not unique in HubSpot.
        let (first, _) = create(json!({ "phone": "+14155552671" })).await;
        let (second, _) = create(json!({ "phone": "+14155552671" })).await;
        assert_eq!((first, second), (201, 201));
        assert_eq!(harness.sim.contacts_reached_at("+14155552671").len(), 2);

        let (status, bad) = create(json!({ "email": 42 })).await;
        assert_eq!((status, error_category(&bad)), (400, "VALIDATION_ERROR"));
        let (status, _) = harness
            .call(Method::POST, "/crm/v3/objects/contacts", Some(json!({})))
            .await;
        assert_eq!(status, 400);
    }

    #[tokio::test]
    async fn search_ands_filters_within_a_group_and_ors_groups() {
        let harness = Harness::start().await;
        let cleo = harness
            .sim
            .add_contact(Some("cleo@example.com"), Some("+15551234567"), "Cleo");
        let dan = harness
            .sim
            .add_contact(Some("dan@example.com"), None, "Dan");
        let harness = &harness;
        let search = |groups| async move {
            harness
                .call(
                    Method::POST,
                    "/crm/v3/objects/contacts/search",
                    Some(json!({ "filterGroups": groups, "properties": ["email", "phone"], "limit": 10 })),
                )
                .await
        };
        let (status, by_phone) = search(json!([{ "filters": [{ "propertyName": "phone", "operator": "EQ", "value": "+15551234567" }] }])).await;
        assert_eq!((status, by_phone["total"].as_u64()), (200, Some(1)));
        assert_eq!(by_phone["results"][0]["id"], cleo.as_str());

        let (_, both) = search(json!([
            { "filters": [{ "propertyName": "email", "operator": "EQ", "value": "DAN@example.com" }] },
            { "filters": [{ "propertyName": "phone", "operator": "EQ", "value": "+15551234567" }] },
        ]))
        .await;
        assert_eq!(both["total"], 2);

        let (_, neither) = search(json!([{ "filters": [
            { "propertyName": "email", "operator": "EQ", "value": "dan@example.com" },
            { "propertyName": "phone", "operator": "EQ", "value": "+15551234567" },
        ] }]))
        .await;
        assert_eq!(neither["total"], 0);
        assert_ne!(cleo, dan);

        let (status, bad) = search(
            json!([{ "filters": [{ "propertyName": "phone", "operator": "LIKE", "value": "1" }] }]),
        )
        .await;
        assert_eq!((status, error_category(&bad)), (400, "VALIDATION_ERROR"));
    }
}
