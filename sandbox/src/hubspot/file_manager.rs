//! `POST /filemanager/api/v3/files/upload`: HubSpot's file manager, where the bridge puts the
//! files customers send before attaching them to a published message (`FILE` attachments
//! name a file manager id).
//!
//! A multipart form as HubSpot documents it: `file` (required), `options` (JSON, `access`
//! required), `folderPath` or `folderId` (one of them, not both), `fileName` optional. The
//! answer is the stored file (`id`, `name`, `url`, `size`, `type`, `extension`, `access`, ...).

use axum::{
    Json,
    extract::{Multipart, State},
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
};
use chrono::Utc;
use serde_json::{Value, json};

use super::auth::require_bearer;
use super::errors::ApiError;
use super::model::iso;
use super::state::AppState;

/// A file in the simulated file manager.
#[derive(Clone, Debug)]
pub(crate) struct StoredFile {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) content_type: String,
    pub(crate) size: usize,
    pub(crate) access: String,
    pub(crate) folder_path: String,
}

const ACCESS_VALUES: &[&str] = &[
    "PUBLIC_INDEXABLE",
    "PUBLIC_NOT_INDEXABLE",
    "HIDDEN_INDEXABLE",
    "HIDDEN_NOT_INDEXABLE",
    "HIDDEN_PRIVATE",
    "PRIVATE",
];

/// The largest upload taken (HubSpot's file manager takes files far larger than a chat sends).
pub(crate) const MAX_UPLOAD_BYTES: usize = 100 * 1024 * 1024;

/// First id handed out; HubSpot file ids are large integers.
const FIRST_FILE_ID: u64 = 180_000_000_001;

pub(crate) async fn upload(
    State(shared): State<AppState>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Result<impl IntoResponse, ApiError> {
    require_bearer(&shared, &headers)?;
    let mut file: Option<(Option<String>, String, usize)> = None;
    let mut options: Option<String> = None;
    let mut folder_path: Option<String> = None;
    let mut folder_id: Option<String> = None;
    let mut file_name: Option<String> = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|error| ApiError::validation(format!("Invalid multipart body: {error}")))?
    {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "file" => {
                let original = field.file_name().map(str::to_string);
                let content_type = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_string();
                let bytes = field.bytes().await.map_err(|error| {
                    ApiError::validation(format!("Invalid multipart body: {error}"))
                })?;
                file = Some((original, content_type, bytes.len()));
            }
            other => {
                let text = field.text().await.map_err(|error| {
                    ApiError::validation(format!("Invalid multipart body: {error}"))
                })?;
                match other {
                    "options" => options = Some(text),
                    "folderPath" => folder_path = Some(text),
                    "folderId" => folder_id = Some(text),
                    "fileName" => file_name = Some(text),
                    _ => {}
                }
            }
        }
    }
    let (original, content_type, size) = file.ok_or_else(|| ApiError::missing("file"))?;
    let options = options.ok_or_else(|| ApiError::missing("options"))?;
    let options: Value = serde_json::from_str(&options).map_err(|_| {
        ApiError::field("options", "Invalid input: 'options' must be a JSON object")
    })?;
    let access = options
        .get("access")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::missing("options.access"))?;
    if !ACCESS_VALUES.contains(&access) {
        return Err(ApiError::field(
            "options.access",
            format!("Invalid input: 'options.access' '{access}' is not one of {ACCESS_VALUES:?}"),
        ));
    }
    let folder = match (folder_path, folder_id) {
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "Invalid input: give either 'folderPath' or 'folderId', not both",
            ));
        }
        (Some(path), None) => path,
        (None, Some(id)) => format!("/folder-{id}"),
        (None, None) => {
            return Err(ApiError::validation(
                "Invalid input: one of 'folderPath' or 'folderId' is required",
            ));
        }
    };
    let name = file_name
        .or(original)
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "file".to_string());
    let mut store = shared.store();
    let id = (FIRST_FILE_ID + store.files.len() as u64).to_string();
    let stored = StoredFile {
        id,
        name,
        content_type,
        size,
        access: access.to_string(),
        folder_path: folder,
    };
    let body = render(&stored, shared.config.portal_id);
    store.files.push(stored);
    Ok((StatusCode::CREATED, Json(body)))
}

fn render(file: &StoredFile, portal_id: u64) -> Value {
    let (base, extension) = match file.name.rsplit_once('.') {
        Some((base, extension)) => (base.to_string(), extension.to_string()),
        None => (file.name.clone(), String::new()),
    };
    let now = iso(Utc::now());
    let kind = match file.content_type.split('/').next() {
        Some("image") => "IMG",
        Some("audio") => "AUDIO",
        Some("video") => "MOVIE",
        _ => "OTHER",
    };
    json!({
        "id": file.id,
        "name": base,
        "extension": extension,
        "type": kind,
        "size": file.size,
        "access": file.access,
        "path": format!("{}/{}", file.folder_path.trim_end_matches('/'), file.name),
        "url": format!("https://{portal_id}.fs1.hubspotusercontent-na1.net/hubfs/{portal_id}{}/{}", file.folder_path.trim_end_matches('/'), file.name),
        "isUsableInContent": file.access.starts_with("PUBLIC"),
        "archived": false,
        "createdAt": now,
        "updatedAt": now,
    })
}

/// The file a `FILE` attachment names, for publish to check and show.
pub(crate) fn attachment_view(file: &StoredFile, usage: Option<&str>) -> Value {
    let mut view = json!({
        "type": "FILE",
        "fileId": file.id,
        "name": file.name,
        "url": format!("https://app.hubspot.com/file-preview/{}", file.id),
    });
    if let Some(usage) = usage {
        view["fileUsageType"] = json!(usage);
    }
    view
}

#[cfg(test)]
mod tests {
    use reqwest::multipart::{Form, Part};
    use serde_json::json;

    use super::super::test_support::{Harness, error_category, read};

    fn upload_form(options: Option<&str>) -> Form {
        let part = Part::bytes(b"\x89PNG....".to_vec())
            .file_name("photo.png")
            .mime_str("image/png")
            .unwrap();
        let mut form = Form::new().text("folderPath", "/hitl").part("file", part);
        if let Some(options) = options {
            form = form.text("options", options.to_string());
        }
        form
    }

    async fn upload(harness: &Harness, form: Form) -> (u16, serde_json::Value) {
        let response = harness
            .http
            .post(harness.url("/filemanager/api/v3/files/upload"))
            .bearer_auth(&harness.token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        read(response).await
    }

    #[tokio::test]
    async fn an_upload_answers_the_stored_file_and_publish_attaches_it() {
        let harness = Harness::start().await;
        let (status, file) = upload(&harness, upload_form(Some(r#"{"access":"PRIVATE"}"#))).await;
        assert_eq!(status, 201, "{file}");
        assert_eq!(
            (file["name"].as_str(), file["extension"].as_str()),
            (Some("photo"), Some("png"))
        );
        assert_eq!(file["access"], "PRIVATE");
        let file_id = file["id"].as_str().unwrap().to_string();

        let (channel, account) = harness
            .channel_with_account("http://127.0.0.1:9/unused")
            .await;
        let path = format!("/conversations/v3/custom-channels/{channel}/messages");
        let sender = json!([{ "deliveryIdentifier": { "type": "CHANNEL_SPECIFIC_OPAQUE_ID", "value": "u" } }]);
        let publish = |attachment: serde_json::Value| {
            json!({ "channelAccountId": account, "messageDirection": "INCOMING", "text": "",
                    "integrationThreadId": "t1", "senders": sender, "attachments": [attachment] })
        };
        let (status, message) = harness
            .call(
                reqwest::Method::POST,
                &path,
                Some(publish(
                    json!({ "type": "FILE", "fileId": file_id, "fileUsageType": "IMAGE" }),
                )),
            )
            .await;
        assert_eq!(status, 201, "{message}");
        assert_eq!(message["attachments"][0]["fileId"], file_id.as_str());
        assert_eq!(message["attachments"][0]["name"], "photo.png");

        for (attachment, field) in [
            (
                json!({ "type": "FILE", "fileId": "42", "fileUsageType": "IMAGE" }),
                "fileId",
            ),
            (
                json!({ "type": "FILE", "fileId": file_id, "fileUsageType": "VIDEO" }),
                "fileUsageType",
            ),
        ] {
            let (status, answer) = harness
                .call(reqwest::Method::POST, &path, Some(publish(attachment)))
                .await;
            assert_eq!(status, 400, "{answer}");
            assert_eq!(error_category(&answer), "VALIDATION_ERROR");
            assert!(
                answer["message"].as_str().unwrap().contains(field),
                "{answer}"
            );
        }
    }

    #[tokio::test]
    async fn an_upload_without_options_or_with_a_bad_access_is_refused() {
        let harness = Harness::start().await;
        let (status, answer) = upload(&harness, upload_form(None)).await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer["message"].as_str().unwrap().contains("options"));
        let (status, answer) = upload(&harness, upload_form(Some(r#"{"access":"OPEN"}"#))).await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer["message"].as_str().unwrap().contains("access"));
        // Nothing was stored: the next good upload gets the first id.
        let (status, file) = upload(&harness, upload_form(Some(r#"{"access":"PRIVATE"}"#))).await;
        assert_eq!(status, 201, "{file}");
        assert_eq!(file["id"], super::FIRST_FILE_ID.to_string());
    }
}
