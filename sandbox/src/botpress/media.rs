//! The files a simulated chat user sends: Botpress stores uploads and puts their URL in the
//! `image` / `file` / `audio` / `video` message payload. Served without authentication at
//! `GET /media/{name}` (Botpress's file URLs are public links), with the stored content type.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::{
    Router,
    extract::{Path, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};

/// What `GET /media/{name}` answers.
#[derive(Clone, Debug)]
enum Media {
    File {
        content_type: String,
        bytes: Vec<u8>,
    },
    Redirect(String),
    /// The file's server failing for now (`503 Service Unavailable`).
    Unavailable,
}

/// The hosted files and how often each was asked for, shared between the server and the
/// simulator's handle.
#[derive(Clone, Default)]
pub(crate) struct MediaFiles(Arc<Mutex<Hosted>>);

#[derive(Default)]
pub(crate) struct Hosted {
    files: HashMap<String, Media>,
    fetches: HashMap<String, usize>,
}

impl MediaFiles {
    pub(crate) fn put_file(&self, name: &str, content_type: &str, bytes: Vec<u8>) {
        self.lock().files.insert(
            name.to_string(),
            Media::File {
                content_type: content_type.to_string(),
                bytes,
            },
        );
    }

    pub(crate) fn put_redirect(&self, name: &str, location: &str) {
        self.lock()
            .files
            .insert(name.to_string(), Media::Redirect(location.to_string()));
    }

    pub(crate) fn put_unavailable(&self, name: &str) {
        self.lock()
            .files
            .insert(name.to_string(), Media::Unavailable);
    }

    /// How many times `/media/{name}` was asked for.
    pub(crate) fn fetches(&self, name: &str) -> usize {
        self.lock().fetches.get(name).copied().unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Hosted> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub(crate) fn router(files: MediaFiles) -> Router {
    Router::new()
        .route("/media/{name}", get(serve))
        .with_state(files)
}

async fn serve(State(files): State<MediaFiles>, Path(name): Path<String>) -> Response {
    let found = {
        let mut hosted = files.lock();
        *hosted.fetches.entry(name.clone()).or_default() += 1;
        hosted.files.get(&name).cloned()
    };
    match found {
        Some(Media::File {
            content_type,
            bytes,
        }) => ([(header::CONTENT_TYPE, content_type)], bytes).into_response(),
        Some(Media::Redirect(location)) => {
            (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
        }
        Some(Media::Unavailable) => {
            (StatusCode::SERVICE_UNAVAILABLE, "try again later").into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}
