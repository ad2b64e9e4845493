//! The exact violations accepted because the official document is known to be stricter or
//! looser than the real service, each with its evidence. Nothing else is ignored: an entry
//! matches one API, one operation (method and path template), one location and one message.

use super::Violation;

pub struct Allowed {
    pub api: &'static str,
    pub method: &'static str,
    /// The document's path template, e.g. `/conversations/v3/custom-channels/{channelId}/messages`;
    /// `*` for every operation of the API (and `method` `*` for every method).
    pub path: &'static str,
    /// The simulator's answer the violation was found in.
    pub status: Status,
    /// Prism's location and message. `{key}` stands for each of `keys` (the same one in both);
    /// `{n}` for an array index.
    pub location: &'static str,
    pub message: &'static str,
    pub keys: &'static [&'static str],
    /// Why HubSpot or Botpress accepts what the document refuses, and where that is shown.
    pub evidence: &'static str,
}

/// Which answers an entry covers.
pub enum Status {
    Any,
    Is(u16),
    /// 400 and above.
    Error,
}

impl Status {
    fn covers(&self, status: u16) -> bool {
        match self {
            Status::Any => true,
            Status::Is(wanted) => *wanted == status,
            Status::Error => status >= 400,
        }
    }
}

/// The capability keys HubSpot's API reference for Custom Channels v3 lists (the document types
/// `capabilities` as a map of objects and names none; see `../shared/specs/hubspot/README.md`).
const CAPABILITY_KEYS: &[&str] = &[
    "deliveryIdentifierTypes",
    "threadingModel",
    "richText",
    "allowInlineImages",
    "allowOutgoingMessages",
    "allowConversationStart",
    "allowMultipleRecipients",
    "outgoingAttachmentTypes",
    "maxFileAttachmentCount",
    "maxFileAttachmentSizeBytes",
    "maxTotalFileAttachmentSizeBytes",
    "allowedFileAttachmentMimeTypes",
];

const CAPABILITIES_EVIDENCE: &str = "customChannels.v3.json types `capabilities` as \
    `additionalProperties: {type: object}`, yet HubSpot's API reference for Custom Channels v3 \
    (developers.hubspot.com/docs/api-reference/conversations-custom-channels-v3/...) documents \
    these keys with array, string, boolean and integer values (`threadingModel`: \
    \"INTEGRATION_THREAD_ID\", `allowInlineImages`: false, ...); shared/specs/hubspot/README.md, \
    \"Capabilities are untyped\".";

/// Contact properties a simulated contact can lack (the defaults and `mobilephone`).
const NULLABLE_CONTACT_PROPERTIES: &[&str] =
    &["email", "firstname", "lastname", "phone", "mobilephone"];

const NULL_PROPERTY_EVIDENCE: &str = "contacts.v3.json types each property value `string`, but \
    HubSpot answers `null` for a default or requested property the record has no value for (e.g. \
    `\"hubspot_owner_id\": null`, shown in Apideck's \"Why are some properties missing in API \
    responses\" on HubSpot's answers); the simulator answers the same, so the bridge is tested \
    against it. Only a type mismatch on these named properties is accepted.";

pub const ALLOWED: &[Allowed] = &[
    // The publish body without `recipients`.
    Allowed {
        api: "custom-channels",
        method: "POST",
        path: "/conversations/v3/custom-channels/{channelId}/messages",
        location: "request.body",
        message: "Request body must have required property 'recipients'",
        keys: &[],
        status: Status::Any,
        evidence: "ChannelIntegrationMessageEgg lists `recipients` as required, but HubSpot \
            publishes INCOMING messages without it: Botpress's own HubSpot HITL integration omits \
            it (and `attachments`, `timestamp`) and works in production; \
            shared/specs/hubspot/README.md, \"Required fields\". For an INCOMING message the \
            recipient is the channel account, which `channelAccountId` already names.",
    },
    // Capabilities the bridge sends when creating the channel, and HubSpot echoes back.
    Allowed {
        api: "custom-channels",
        method: "POST",
        path: "/conversations/v3/custom-channels",
        location: "request.body.capabilities.{key}",
        message: "Request body property capabilities.{key} must be object",
        keys: CAPABILITY_KEYS,
        status: Status::Any,
        evidence: CAPABILITIES_EVIDENCE,
    },
    Allowed {
        api: "custom-channels",
        method: "POST",
        path: "/conversations/v3/custom-channels",
        location: "response.body.capabilities.{key}",
        message: "Response body property capabilities.{key} must be object",
        keys: CAPABILITY_KEYS,
        status: Status::Any,
        evidence: CAPABILITIES_EVIDENCE,
    },
    Allowed {
        api: "custom-channels",
        method: "GET",
        path: "/conversations/v3/custom-channels",
        location: "response.body.results.{n}.capabilities.{key}",
        message: "Response body property results.{n}.capabilities.{key} must be object",
        keys: CAPABILITY_KEYS,
        status: Status::Any,
        evidence: CAPABILITIES_EVIDENCE,
    },
    // The channel update that brings an older channel's capabilities up to date: the body
    // carries `capabilities` only, and HubSpot echoes the channel back.
    Allowed {
        api: "custom-channels",
        method: "PATCH",
        path: "/conversations/v3/custom-channels/{channelId}",
        location: "request.body",
        message: "Request body must have required property '{key}'",
        keys: &[
            "channelAccountConnectionRedirectUrl",
            "channelDescription",
            "channelLogoUrl",
            "name",
            "webhookUrl",
        ],
        status: Status::Any,
        evidence: "PublicChannelIntegrationChannelPatch lists every field as required yet types \
            each as a property-less `object` (the generator's rendering of an optional value), \
            and the operation's own description says it updates \"the capabilities for an \
            existing\" channel and that \"you can also use it\" for the webhook URL and the \
            connection redirect URL: a partial update. The bridge sends `capabilities` alone and \
            must not invent a logo or redirect URL; the simulator keeps the fields not sent.",
    },
    Allowed {
        api: "custom-channels",
        method: "PATCH",
        path: "/conversations/v3/custom-channels/{channelId}",
        location: "request.body.capabilities.{key}",
        message: "Request body property capabilities.{key} must be object",
        keys: CAPABILITY_KEYS,
        status: Status::Any,
        evidence: CAPABILITIES_EVIDENCE,
    },
    Allowed {
        api: "custom-channels",
        method: "PATCH",
        path: "/conversations/v3/custom-channels/{channelId}",
        location: "response.body.capabilities.{key}",
        message: "Response body property capabilities.{key} must be object",
        keys: CAPABILITY_KEYS,
        status: Status::Any,
        evidence: CAPABILITIES_EVIDENCE,
    },
    // `null` for a property the contact has no value for.
    Allowed {
        api: "contacts",
        method: "GET",
        path: "/crm/v3/objects/contacts/{contactId}",
        location: "response.body.properties.{key}",
        message: "Response body property properties.{key} must be string",
        keys: NULLABLE_CONTACT_PROPERTIES,
        status: Status::Any,
        evidence: NULL_PROPERTY_EVIDENCE,
    },
    Allowed {
        api: "contacts",
        method: "POST",
        path: "/crm/v3/objects/contacts/search",
        location: "response.body.results.{n}.properties.{key}",
        message: "Response body property results.{n}.properties.{key} must be string",
        keys: NULLABLE_CONTACT_PROPERTIES,
        status: Status::Any,
        evidence: NULL_PROPERTY_EVIDENCE,
    },
    // The file manager upload: no OpenAPI document in specs/ covers it.
    Allowed {
        api: "uncovered",
        method: "POST",
        path: "/filemanager/api/v3/files/upload",
        location: "request",
        message: "no official document the check loads covers this path",
        keys: &[],
        status: Status::Any,
        evidence: "The bridge uploads the files customers send with HubSpot's file manager \
            (`POST /filemanager/api/v3/files/upload`, multipart `file`, `options` with `access`, \
            `folderPath`), then names the file in a FILE attachment of the Custom Channels \
            publish. HubSpot's Files API reference documents the upload (developers.hubspot.com \
            /docs/api-reference/files-files-v3/files/post-files-v3-files, and its official \
            Node client's `apiRequest` example uses this very path), but HubSpot's public spec \
            collection snapshot vendored in specs/ has no Files document; the simulator's answer \
            follows the documented File shape (sandbox/src/hubspot/file_manager.rs).",
    },
    // HubSpot's rate-limit answer, on any HubSpot operation (the fault injector throttles any).
    rate_limited("custom-channels"),
    rate_limited("conversations"),
    rate_limited("contacts"),
    rate_limited("oauth"),
    // HubSpot's OAuth errors.
    Allowed {
        api: "oauth",
        method: "POST",
        path: "*",
        location: "response.body",
        message: "Response body must have required property 'category'",
        keys: &[],
        status: Status::Error,
        evidence: "The OAuth documents' error schema requires `category`, but HubSpot's token \
            endpoint answers a refused grant as `{status: \"BAD_REFRESH_TOKEN\", message, \
            correlationId}` without it (HubSpot's OAuth guide, \"Refreshing OAuth tokens\"); the \
            simulator answers that shape (sandbox/src/hubspot/oauth.rs).",
    },
    // Botpress's error answers, to any call (a `getUser` of an unknown user answers 404).
    Allowed {
        api: "botpress",
        method: "*",
        path: "*",
        location: "response.body",
        message: "Response body must NOT have additional properties; found '{key}'",
        // `message` too, on operations whose success body has no `message` of its own.
        keys: &["id", "code", "type", "message"],
        status: Status::Error,
        evidence: BOTPRESS_ERROR_EVIDENCE,
    },
    // An error body lacks what the success body requires (the answer's resource).
    Allowed {
        api: "botpress",
        method: "*",
        path: "*",
        location: "response.body",
        message: "Response body must have required property '{key}'",
        keys: &["conversation", "user", "message", "event"],
        status: Status::Error,
        evidence: BOTPRESS_ERROR_EVIDENCE,
    },
    Allowed {
        api: "botpress",
        method: "POST",
        path: "*",
        location: "response.body.message",
        message: "Response body property message must be object",
        keys: &[],
        status: Status::Error,
        evidence: BOTPRESS_ERROR_EVIDENCE,
    },
];

/// HubSpot's 429 body has no `category`.
const fn rate_limited(api: &'static str) -> Allowed {
    Allowed {
        api,
        method: "*",
        path: "*",
        location: "response.body",
        message: "Response body must have required property 'category'",
        keys: &[],
        status: Status::Is(429),
        evidence: "The documents' `Error` schema requires `category`, but HubSpot's 429 body is \
            `{status, message, errorType: \"RATE_LIMIT\", correlationId, policyName, groupName}` \
            without it (HubSpot's API usage guidelines, \"Rate limits\"); the simulator's \
            injected 429 (sandbox/src/faults.rs) answers that shape.",
    }
}

const BOTPRESS_ERROR_EVIDENCE: &str = "runtime-openapi.json documents no error body: every \
    operation's `default` response is a `$ref` to its 200 response, so Prism validates an error \
    against the success schema. Botpress answers errors as `{id, code, type, message}` (`message` \
    a string; the `type`s `InvalidPayload`, `ResourceNotFound`, `RateLimited`... that \
    `@botpress/client` maps to its error classes), which the simulator reproduces \
    (sandbox/src/botpress/errors.rs). Accepted only on answers of 400 and above.";

/// Whether the allow-list names this violation.
pub fn allows(violation: &Violation) -> bool {
    let Some((method, path)) = violation.call.split_once(' ') else {
        return false;
    };
    let (location, message) = (
        indices_named(&violation.location),
        indices_named(&violation.message),
    );
    ALLOWED.iter().any(|allowed| {
        allowed.api == violation.api
            && (allowed.method == "*" || allowed.method == method)
            && (allowed.path == "*" || matches_template(allowed.path, path))
            && allowed.status.covers(violation.status)
            && if allowed.keys.is_empty() {
                allowed.location == location && allowed.message == message
            } else {
                allowed.keys.iter().any(|key| {
                    allowed.location.replace("{key}", key) == location
                        && allowed.message.replace("{key}", key) == message
                })
            }
    })
}

/// `results.0.properties` → `results.{n}.properties`, in a location or a message.
fn indices_named(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            word.split('.')
                .map(|part| {
                    if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
                        "{n}"
                    } else {
                        part
                    }
                })
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `/a/{x}/b` matches `/a/123/b`: each `{…}` stands for one non-empty segment.
fn matches_template(template: &str, path: &str) -> bool {
    let (template, path) = (template.trim_end_matches('/'), path.trim_end_matches('/'));
    let (mut expected, mut actual) = (template.split('/'), path.split('/'));
    loop {
        match (expected.next(), actual.next()) {
            (None, None) => return true,
            (Some(want), Some(got)) => {
                let placeholder = want.starts_with('{') && want.ends_with('}');
                if !(placeholder && !got.is_empty() || want == got) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{allows, matches_template};
    use crate::contract::Violation;

    fn violation(call: &str, location: &str, message: &str) -> Violation {
        Violation {
            api: "contacts",
            call: call.to_string(),
            status: 200,
            location: location.to_string(),
            severity: "Error".to_string(),
            message: message.to_string(),
        }
    }

    #[test]
    fn only_the_named_violations_are_allowed() {
        let search = "POST /crm/v3/objects/contacts/search";
        assert!(allows(&violation(
            search,
            "response.body.results.0.properties.mobilephone",
            "Response body property results.0.properties.mobilephone must be string",
        )));
        assert!(!allows(&violation(
            search,
            "response.body.results.0.properties.company",
            "Response body property results.0.properties.company must be string",
        )));
        assert!(!allows(&violation(
            search,
            "response.body.results.0.properties.mobilephone",
            "Response body property results.0.properties.email must be string",
        )));
        assert!(!allows(&violation(
            "POST /crm/v3/objects/contacts",
            "response.body.properties.email",
            "Response body property properties.email must be string",
        )));
    }

    #[test]
    fn a_botpress_error_body_is_allowed_its_shape_only_on_errors() {
        let answer = |status: u16, message: &str| Violation {
            api: "botpress",
            call: "POST /v1/chat/conversations/get-or-create".to_string(),
            status,
            location: "response.body".to_string(),
            severity: "Error".to_string(),
            message: message.to_string(),
        };
        let missing = "Response body must have required property 'conversation'";
        let extra = "Response body must NOT have additional properties; found 'message'";
        assert!(allows(&answer(503, missing)) && allows(&answer(400, extra)));
        assert!(
            !allows(&answer(200, missing)),
            "a success must carry its resource"
        );
        assert!(!allows(&answer(200, extra)));
        assert!(!allows(&answer(
            400,
            "Response body must have required property 'bot'"
        )));
    }

    #[test]
    fn templates_match_one_segment_per_placeholder() {
        let template = "/conversations/v3/custom-channels/{channelId}/messages";
        assert!(matches_template(
            template,
            "/conversations/v3/custom-channels/42/messages"
        ));
        assert!(!matches_template(
            template,
            "/conversations/v3/custom-channels/42/messages/7"
        ));
        assert!(!matches_template(
            template,
            "/conversations/v3/custom-channels//messages"
        ));
        assert!(!matches_template(
            template,
            "/conversations/v3/custom-channels/42"
        ));
    }
}
