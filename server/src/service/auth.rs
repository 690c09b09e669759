//! Email sign-in codes: 8 digits, stored as a digest, 15 minutes, single use, 5 tries.

use super::rate_limit::{OTP_SEND_PER_EMAIL, OTP_SEND_PER_IP, OTP_TRY_PER_EMAIL, OTP_TRY_PER_IP};
use super::roles;
use super::sessions;
use super::users::{self, CreateUser};
use crate::error::AppError;
use crate::error_code::ErrorCode;
use crate::secrets;
use crate::state::AppState;
use crate::store::UserRow;

const OTP_TTL_MS: i64 = 15 * 60 * 1000;
/// Guesses per code; the fifth wrong one burns it.
pub const OTP_MAX_TRIES: i64 = 5;

/// The stored form of a code: an HMAC keyed with a secret derived from the server key, so
/// a copy of the database alone cannot be searched for live codes (10^8 candidates).
fn code_hash(state: &AppState, user_id: &str, code: &str) -> String {
    secrets::keyed_digest(&state.server_key, "otp", &[user_id, code])
}

/// `POST /auth/verify`: mails a fresh code. Unknown emails get an account when registration
/// is open (always with the `user` role: the first administrator comes from the setup token
/// or the admin CLI). With registration closed an unknown email gets the same answer and no
/// mail, so the endpoint does not tell which emails have accounts.
pub async fn send_code(state: &AppState, email: &str, client_ip: &str) -> Result<(), AppError> {
    let (email, email_normalized) = users::normalize_email(email)?;
    let now = state.now_ms();
    state.limiter.check(OTP_SEND_PER_IP, client_ip, now).await?;
    state
        .limiter
        .check(OTP_SEND_PER_EMAIL, &email_normalized, now)
        .await?;
    let user = match state.store.user_by_email(&email_normalized).await? {
        Some(user) => user,
        None if state.settings.open_registration => register(state, &email).await?,
        None => return Ok(()),
    };
    let code = secrets::random_code();
    state
        .store
        .put_otp(
            &user.id,
            &code_hash(state, &user.id, &code),
            now + OTP_TTL_MS,
        )
        .await?;
    let body = format!(
        "Your Parchment sign-in code is: {code}\n\n\
         It expires in 15 minutes. If you did not ask for it, ignore this mail.\n"
    );
    match state
        .mailer
        .send(&user.email, CODE_SUBJECT, body.clone())
        .await
    {
        Ok(()) => Ok(()),
        // Not configured: nothing to retry, and a code nobody can receive must not stay.
        Err(err) if !state.mailer.can_retry() => {
            state.store.delete_otp(&user.id).await?;
            Err(err)
        }
        Err(err) => {
            tracing::warn!(error = %err_detail(&err), "sign-in code not sent; retrying");
            let hash = code_hash(state, &user.id, &code);
            tokio::spawn(retry_code(state.clone(), user.id, user.email, hash, body));
            Err(AppError::MailDelayed)
        }
    }
}

const CODE_SUBJECT: &str = "Your Parchment sign-in code";

/// Seconds between delivery attempts of a sign-in code whose first attempt failed; it is
/// given up when the code expires, is replaced or used, or after the last attempt.
const CODE_RETRIES_SECS: &[u64] = &[2, 5, 15, 30, 60, 120, 240];

/// Retries a sign-in code's mail in the background (an SMTP server that was down or
/// refusing for a moment). Each attempt first checks the code is still the live one.
async fn retry_code(state: AppState, user_id: String, email: String, hash: String, body: String) {
    for (attempt, secs) in CODE_RETRIES_SECS.iter().enumerate() {
        tokio::time::sleep(std::time::Duration::from_secs(*secs)).await;
        match state
            .store
            .otp_is_live(&user_id, &hash, state.now_ms())
            .await
        {
            Ok(true) => {}
            Ok(false) => return,
            Err(err) => {
                tracing::warn!(error = %err, "sign-in code retry: database");
                continue;
            }
        }
        match state.mailer.send(&email, CODE_SUBJECT, body.clone()).await {
            Ok(()) => {
                tracing::info!(attempt = attempt + 2, "sign-in code sent after a retry");
                return;
            }
            Err(err) => tracing::warn!(
                attempt = attempt + 2,
                error = %err_detail(&err),
                "sign-in code still not sent"
            ),
        }
    }
    tracing::error!("sign-in code given up: the mail server kept refusing");
}

/// What a mail error says for the log (the user-facing text hides it).
fn err_detail(err: &AppError) -> String {
    match err {
        AppError::Mail(detail) => detail.clone(),
        other => other.to_string(),
    }
}

async fn register(state: &AppState, email: &str) -> Result<UserRow, AppError> {
    let role = roles::USER;
    let created = users::create(
        &state.store,
        CreateUser {
            email,
            first_name: None,
            last_name: None,
            picture: None,
            roles: vec![role.to_string()],
        },
        state.now_ms(),
    )
    .await;
    match created {
        Ok((user, _)) => Ok(user),
        // A concurrent first request created the account: use it.
        Err(AppError::Conflict { .. }) => {
            let (_, normalized) = users::normalize_email(email)?;
            state
                .store
                .user_by_email(&normalized)
                .await?
                .ok_or_else(|| AppError::not_found("User"))
        }
        Err(other) => Err(other),
    }
}

/// A finished sign-in.
pub struct SignedIn {
    /// The new session.
    pub session: sessions::Created,
    /// The signed-in user.
    pub user: UserRow,
}

fn invalid_code() -> AppError {
    AppError::SignInFailed {
        code: ErrorCode::InvalidCode,
        message: "Invalid or expired code; request a new one".into(),
    }
}

/// `POST /auth/sessions`: exchanges a code for a session.
pub async fn sign_in_with_code(
    state: &AppState,
    email: &str,
    code: &str,
    user_agent: Option<&str>,
    client_ip: &str,
) -> Result<SignedIn, AppError> {
    let (_, email_normalized) = users::normalize_email(email)?;
    let now = state.now_ms();
    state.limiter.check(OTP_TRY_PER_IP, client_ip, now).await?;
    // Keyed on (email, address): wrong guesses from one address cannot lock the owner out
    // from another; the code itself still burns after OTP_MAX_TRIES guesses.
    state
        .limiter
        .check(
            OTP_TRY_PER_EMAIL,
            &format!("{email_normalized} {client_ip}"),
            now,
        )
        .await?;
    // An unknown email is answered like a wrong code (no account enumeration).
    let user = state
        .store
        .user_by_email(&email_normalized)
        .await?
        .ok_or_else(invalid_code)?;
    let Some(stored) = state.store.reserve_otp_try(&user.id, OTP_MAX_TRIES).await? else {
        return Err(invalid_code());
    };
    if stored.expires_at <= now {
        state.store.delete_otp(&user.id).await?;
        return Err(AppError::SignInFailed {
            code: ErrorCode::CodeExpired,
            message: "That code has expired; request a new one to sign in".into(),
        });
    }
    let guess = code_hash(state, &user.id, code.trim());
    if guess != stored.code_hash {
        if stored.tries >= OTP_MAX_TRIES {
            state.store.delete_otp(&user.id).await?;
        }
        return Err(invalid_code());
    }
    if !state.store.consume_otp(&user.id, &guess).await? {
        return Err(invalid_code());
    }
    sessions::sign_in(state, user, user_agent, client_ip).await
}
