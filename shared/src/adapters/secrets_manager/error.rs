//! What can go wrong with the secret, each said so an operator knows what to change.

use std::error::Error as StdError;
use std::fmt::Debug;

use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use super::document::OPERATOR_FIELDS;

/// Why the bridge's secret could not be read or written. Messages name the secret id and the
/// fields involved, never a secret value.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(
        "the Secrets Manager secret `{secret_id}` does not exist: create it as a JSON key/value \
         secret with {OPERATOR_FIELDS:?}, or point the bridge at the right secret name or ARN"
    )]
    NotFound { secret_id: String },
    #[error(
        "not allowed to read or write the Secrets Manager secret `{secret_id}`: give the \
         function's IAM role `{action}` on it{kms_hint} ({detail})",
        action = action.iam_action(),
        kms_hint = action.kms_hint()
    )]
    AccessDenied {
        secret_id: String,
        action: SecretAction,
        detail: String,
    },
    #[error(
        "could not {verb} the Secrets Manager secret `{secret_id}` ({detail})",
        verb = action.verb()
    )]
    Service {
        secret_id: String,
        action: SecretAction,
        detail: String,
    },
    #[error(
        "the Secrets Manager secret `{secret_id}` holds binary data: store it as a JSON \
         key/value (text) secret with {OPERATOR_FIELDS:?}"
    )]
    NotText { secret_id: String },
    #[error(
        "the Secrets Manager secret `{secret_id}` is not a JSON object: {problem}; store it as \
         key/value pairs with {OPERATOR_FIELDS:?}"
    )]
    Malformed { secret_id: String, problem: String },
    #[error(
        "the Secrets Manager secret `{secret_id}` is incomplete:\n  {}",
        problems.join("\n  ")
    )]
    Incomplete {
        secret_id: String,
        problems: Vec<String>,
    },
}

/// The Secrets Manager call that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretAction {
    GetSecretValue,
    PutSecretValue,
}

impl SecretAction {
    /// The IAM action a role needs for it.
    pub fn iam_action(self) -> &'static str {
        match self {
            Self::GetSecretValue => "secretsmanager:GetSecretValue",
            Self::PutSecretValue => "secretsmanager:PutSecretValue",
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Self::GetSecretValue => "read",
            Self::PutSecretValue => "write",
        }
    }

    fn kms_hint(self) -> &'static str {
        match self {
            Self::GetSecretValue => {
                " (and `kms:Decrypt` on its key if a customer-managed KMS key encrypts it)"
            }
            Self::PutSecretValue => {
                " (and `kms:GenerateDataKey` on its key if a customer-managed KMS key encrypts it)"
            }
        }
    }
}

impl SecretsError {
    /// Maps an SDK failure by its error code; the rest keeps the SDK's full context (codes,
    /// messages, request ids: nothing of the secret's value).
    pub(super) fn from_sdk<E, R>(
        secret_id: &str,
        action: SecretAction,
        error: SdkError<E, R>,
    ) -> Self
    where
        E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
        R: Debug + Send + Sync + 'static,
    {
        let secret_id = secret_id.to_string();
        let code = error.code().map(str::to_string);
        let detail = DisplayErrorContext(&error).to_string();
        Self::classify(secret_id, action, code.as_deref(), detail)
    }

    fn classify(
        secret_id: String,
        action: SecretAction,
        code: Option<&str>,
        detail: String,
    ) -> Self {
        match code {
            Some("ResourceNotFoundException") => Self::NotFound { secret_id },
            Some("AccessDeniedException" | "AccessDenied") => Self::AccessDenied {
                secret_id,
                action,
                detail,
            },
            _ => Self::Service {
                secret_id,
                action,
                detail,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_denied_names_the_missing_iam_action() {
        for (action, iam) in [
            (
                SecretAction::GetSecretValue,
                "secretsmanager:GetSecretValue",
            ),
            (
                SecretAction::PutSecretValue,
                "secretsmanager:PutSecretValue",
            ),
        ] {
            let error = SecretsError::classify(
                "hitl/bridge".into(),
                action,
                Some("AccessDeniedException"),
                "not authorized".into(),
            );
            let message = error.to_string();
            assert!(matches!(error, SecretsError::AccessDenied { .. }));
            assert!(message.contains(iam), "{message}");
            assert!(message.contains("`hitl/bridge`"), "{message}");
        }
    }

    #[test]
    fn a_missing_secret_says_to_create_it() {
        let error = SecretsError::classify(
            "hitl/bridge".into(),
            SecretAction::GetSecretValue,
            Some("ResourceNotFoundException"),
            String::new(),
        );
        let message = error.to_string();
        assert!(
            message.contains("`hitl/bridge` does not exist: create it"),
            "{message}"
        );
        assert!(message.contains("hubspotClientSecret"), "{message}");
    }

    #[test]
    fn other_failures_keep_the_sdk_context() {
        let message = SecretsError::classify(
            "hitl/bridge".into(),
            SecretAction::PutSecretValue,
            Some("ThrottlingException"),
            "ThrottlingException: slow down".into(),
        )
        .to_string();
        assert!(message.contains("could not write"), "{message}");
        assert!(message.contains("slow down"), "{message}");
    }
}
