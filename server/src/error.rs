//! The one error type of the server (`AppError`) and its single mapping to HTTP (`ApiError`):
//! every failure leaves as `{"code": "...", "message": "..."}` with its status.

use poem::http::StatusCode;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

use crate::error_code::ErrorCode;
use crate::store::StoreError;

/// Why a request failed, as the services say it; [`ApiError`] maps each to its status.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No valid session (401).
    #[error("You must be signed in")]
    Unauthorized,
    /// Signed in, but without the permission (403); the message says so.
    #[error("{0}")]
    Forbidden(String),
    /// A proof the request carries (a signature by a key the caller must hold) failed.
    #[error("{message}")]
    Denied {
        /// Which proof failed.
        code: ErrorCode,
        /// Shown to the caller.
        message: String,
    },
    /// The resource does not exist, or is not the caller's (404).
    #[error("{message}")]
    NotFound {
        /// Usually `not_found`; a more specific code where one exists.
        code: ErrorCode,
        /// Shown to the caller.
        message: String,
    },
    /// The request clashes with the current state, e.g. a taken value (409).
    #[error("{message}")]
    Conflict {
        /// What clashed.
        code: ErrorCode,
        /// Shown to the caller.
        message: String,
    },
    /// A request field broke a rule; the message names the field and the rule.
    #[error("{message}")]
    Validation {
        /// `<field>: <rule>`.
        message: String,
    },
    /// The request is well-formed but cannot be done as asked (400).
    #[error("{message}")]
    BadRequest {
        /// What is wrong with it.
        code: ErrorCode,
        /// Shown to the caller.
        message: String,
    },
    /// Sign-in failures that are not "no session" (wrong or expired code, bad passkey).
    #[error("{message}")]
    SignInFailed {
        /// Why the sign-in failed.
        code: ErrorCode,
        /// Shown to the caller.
        message: String,
    },
    /// A rate limit's window is full (429).
    #[error("Too many requests; try again in {retry_after} seconds")]
    RateLimited {
        /// Seconds until the window resets (the `Retry-After` header).
        retry_after: u64,
    },
    /// Something the request needs is not available, e.g. passkeys or federation not
    /// configured (503).
    #[error("{0}")]
    Unavailable(String),
    /// A server-to-server request failed authentication (headers, window, peer key,
    /// signature, replayed transport nonce).
    #[error("Federation auth failed: {0}")]
    FederationAuth(String),
    /// A body over a limit the service enforces itself.
    #[error("{0}")]
    TooLarge(String),
    /// Sending mail failed (503); the detail goes to the log only.
    #[error("The email could not be sent")]
    Mail(String),
    /// A sign-in code's first delivery failed and is being retried (503).
    #[error(
        "Your sign-in code could not be sent yet; the server keeps trying for a few minutes. \
         Check your inbox shortly, or ask for a new code."
    )]
    MailDelayed,
    /// The database failed (500, details logged), or a unique index refused a write that no
    /// service mapped (409).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AppError {
    /// 422: `field` broke `rule`.
    pub fn validation(field: &str, rule: impl std::fmt::Display) -> Self {
        AppError::Validation {
            message: format!("{field}: {rule}"),
        }
    }

    /// 404 `not_found`: "`what` not found".
    pub fn not_found(what: &str) -> Self {
        AppError::NotFound {
            code: ErrorCode::NotFound,
            message: format!("{what} not found"),
        }
    }

    /// For `map_err` on a write: a unique index refusing it becomes 409 with `code` and
    /// `message` (the value is taken); any other store error stays what it is.
    pub fn conflict_if_taken(
        code: ErrorCode,
        message: &'static str,
    ) -> impl FnOnce(StoreError) -> AppError {
        move |err| match err {
            StoreError::UniqueViolation => AppError::Conflict {
                code,
                message: message.into(),
            },
            other => other.into(),
        }
    }
}

/// The body of every error answer.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct ErrorBody {
    /// Stable machine-readable code, snake_case.
    pub code: String,
    /// Human-readable sentence.
    pub message: String,
}

impl poem_openapi::types::Example for ErrorBody {
    fn example() -> Self {
        ErrorBody {
            code: ErrorCode::ValidationFailed.as_str().into(),
            message: "email: must be a valid email address".into(),
        }
    }
}

impl ErrorBody {
    fn new(code: ErrorCode, message: impl Into<String>) -> Json<Self> {
        Json(ErrorBody {
            code: code.as_str().into(),
            message: message.into(),
        })
    }
}

/// Every error status an operation can answer, each with an `ErrorBody`.
#[derive(Debug, ApiResponse)]
#[oai(bad_request_handler = "ApiError::from_request_error")]
pub enum ApiError {
    /// The request is malformed.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// No valid session (or a failed sign-in).
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// Signed in, but without the permission.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// The resource does not exist (or is not yours).
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// A unique value is taken.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// The request body is larger than the server accepts.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// A field is missing or breaks a rule; the message names it.
    #[oai(status = 422)]
    Unprocessable(Json<ErrorBody>),
    /// Rate limit reached.
    #[oai(status = 429)]
    TooManyRequests(
        Json<ErrorBody>,
        /// Seconds until the window resets.
        #[oai(header = "Retry-After")]
        u64,
    ),
    /// Unexpected failure; details are in the server log only.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// A dependency (mail, passkeys configuration) is not available.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

impl AppError {
    /// The machine-readable code this error answers with.
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Unauthorized => ErrorCode::Unauthorized,
            AppError::Forbidden(_) => ErrorCode::Forbidden,
            AppError::Denied { code, .. }
            | AppError::NotFound { code, .. }
            | AppError::Conflict { code, .. }
            | AppError::BadRequest { code, .. }
            | AppError::SignInFailed { code, .. } => *code,
            AppError::Validation { .. } => ErrorCode::ValidationFailed,
            AppError::RateLimited { .. } => ErrorCode::RateLimited,
            AppError::Unavailable(_) => ErrorCode::Unavailable,
            AppError::FederationAuth(_) => ErrorCode::FederationAuthFailed,
            AppError::TooLarge(_) => ErrorCode::PayloadTooLarge,
            AppError::Mail(_) => ErrorCode::MailFailed,
            AppError::MailDelayed => ErrorCode::MailDelayed,
            AppError::Store(StoreError::UniqueViolation) => ErrorCode::Conflict,
            AppError::Store(_) => ErrorCode::Internal,
        }
    }
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        let message = err.to_string();
        match err {
            AppError::Unauthorized => {
                ApiError::Unauthorized(ErrorBody::new(ErrorCode::Unauthorized, message))
            }
            AppError::Forbidden(_) => {
                ApiError::Forbidden(ErrorBody::new(ErrorCode::Forbidden, message))
            }
            AppError::Denied { code, .. } => ApiError::Forbidden(ErrorBody::new(code, message)),
            AppError::NotFound { code, .. } => ApiError::NotFound(ErrorBody::new(code, message)),
            AppError::Conflict { code, .. } => ApiError::Conflict(ErrorBody::new(code, message)),
            AppError::Validation { .. } => {
                ApiError::Unprocessable(ErrorBody::new(ErrorCode::ValidationFailed, message))
            }
            AppError::BadRequest { code, .. } => {
                ApiError::BadRequest(ErrorBody::new(code, message))
            }
            AppError::SignInFailed { code, .. } => {
                ApiError::Unauthorized(ErrorBody::new(code, message))
            }
            AppError::RateLimited { retry_after } => ApiError::TooManyRequests(
                ErrorBody::new(ErrorCode::RateLimited, message),
                retry_after,
            ),
            AppError::Unavailable(_) => {
                ApiError::Unavailable(ErrorBody::new(ErrorCode::Unavailable, message))
            }
            AppError::FederationAuth(_) => {
                ApiError::Unauthorized(ErrorBody::new(ErrorCode::FederationAuthFailed, message))
            }
            AppError::TooLarge(_) => {
                ApiError::PayloadTooLarge(ErrorBody::new(ErrorCode::PayloadTooLarge, message))
            }
            AppError::MailDelayed => {
                ApiError::Unavailable(ErrorBody::new(ErrorCode::MailDelayed, message))
            }
            AppError::Mail(detail) => {
                tracing::error!(error = %detail, "sending mail failed");
                ApiError::Unavailable(ErrorBody::new(ErrorCode::MailFailed, message))
            }
            AppError::Store(StoreError::UniqueViolation) => ApiError::Conflict(ErrorBody::new(
                ErrorCode::Conflict,
                "The value is already taken",
            )),
            AppError::Store(store) => {
                tracing::error!(error = %store, "store failure");
                ApiError::Internal(ErrorBody::new(
                    ErrorCode::Internal,
                    "An internal server error occurred",
                ))
            }
        }
    }
}

impl ApiError {
    /// 405 in the shared error shape (the caller adds `Allow`). Not an operation's
    /// documented answer, so built here rather than as a variant.
    pub fn method_not_allowed() -> poem::Response {
        let body = ErrorBody::new(
            ErrorCode::MethodNotAllowed,
            "This endpoint does not accept this method; see the Allow header",
        );
        poem::Response::builder()
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .content_type("application/json; charset=utf-8")
            .body(serde_json::json!({ "code": body.0.code, "message": body.0.message }).to_string())
    }

    /// Extractor failures (bad JSON, missing field, no session) in our shape.
    fn from_request_error(err: poem::Error) -> ApiError {
        Self::from_status(err.status(), err.to_string())
    }

    /// An error poem raised with a bare status (no such route, body too large, an extractor
    /// failing) in our shape; `detail` is shown only where it helps the caller.
    pub fn from_status(status: StatusCode, detail: String) -> ApiError {
        match status {
            StatusCode::UNAUTHORIZED => AppError::Unauthorized.into(),
            StatusCode::NOT_FOUND => ApiError::NotFound(ErrorBody::new(
                ErrorCode::NotFound,
                "This endpoint does not exist",
            )),
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(ErrorBody::new(
                ErrorCode::PayloadTooLarge,
                "The request body is too large",
            )),
            StatusCode::METHOD_NOT_ALLOWED => ApiError::NotFound(ErrorBody::new(
                ErrorCode::MethodNotAllowed,
                "This endpoint does not accept this method",
            )),
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => {
                ApiError::Unavailable(ErrorBody::new(ErrorCode::Unavailable, detail))
            }
            s if s.is_client_error() => {
                ApiError::Unprocessable(ErrorBody::new(ErrorCode::ValidationFailed, detail))
            }
            _ => {
                tracing::error!(%status, error = %detail, "unhandled error");
                ApiError::Internal(ErrorBody::new(
                    ErrorCode::Internal,
                    "An internal server error occurred",
                ))
            }
        }
    }
}

/// What a handler returns.
pub type ApiResult<T> = Result<T, ApiError>;
