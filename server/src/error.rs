//! The one error type of the server (`AppError`) and its single mapping to HTTP (`ApiError`):
//! every failure leaves as `{"code": "...", "message": "..."}` with its status.

use poem::http::StatusCode;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

use crate::error_code::ErrorCode;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("You must be signed in")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    /// A proof the request carries (a signature by a key the caller must hold) failed.
    #[error("{message}")]
    Denied { code: ErrorCode, message: String },
    #[error("{message}")]
    NotFound { code: ErrorCode, message: String },
    #[error("{message}")]
    Conflict { code: ErrorCode, message: String },
    /// A request field broke a rule; the message names the field and the rule.
    #[error("{message}")]
    Validation { message: String },
    #[error("{message}")]
    BadRequest { code: ErrorCode, message: String },
    /// Sign-in failures that are not "no session" (wrong or expired code, bad passkey).
    #[error("{message}")]
    SignInFailed { code: ErrorCode, message: String },
    #[error("Too many requests; try again in {retry_after} seconds")]
    RateLimited { retry_after: u64 },
    #[error("{0}")]
    Unavailable(String),
    /// A server-to-server request failed authentication (headers, window, peer key,
    /// signature, replayed transport nonce).
    #[error("Federation auth failed: {0}")]
    FederationAuth(String),
    /// A body over a limit the service enforces itself.
    #[error("{0}")]
    TooLarge(String),
    #[error("The email could not be sent")]
    Mail(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AppError {
    pub fn validation(field: &str, rule: impl std::fmt::Display) -> Self {
        AppError::Validation {
            message: format!("{field}: {rule}"),
        }
    }

    pub fn not_found(what: &str) -> Self {
        AppError::NotFound {
            code: ErrorCode::NotFound,
            message: format!("{what} not found"),
        }
    }
}

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

pub type ApiResult<T> = Result<T, ApiError>;
