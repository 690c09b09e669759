//! Outgoing mail: real SMTP, or one file per mail in a directory (development and tests).

use std::path::PathBuf;

use lettre::message::{header::ContentType, Mailbox};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::error::AppError;

/// Where outgoing mail goes.
pub enum Mailer {
    /// An SMTP server (`PARCHMENT_SMTP_URL`).
    Smtp {
        /// The connection pool to it.
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// The sender (`PARCHMENT_MAIL_FROM`).
        from: Mailbox,
    },
    /// One `.eml` file per mail in a directory (`PARCHMENT_MAIL_DIR`).
    Dir {
        /// The directory (created on first use).
        dir: PathBuf,
        /// The sender (`PARCHMENT_MAIL_FROM`, or `Parchment <parchment@localhost>`).
        from: Mailbox,
    },
    /// Nothing configured: sign-in codes cannot be delivered (logged at start-up).
    Disabled,
}

/// A mail setting that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum MailConfigError {
    /// The sender address does not parse.
    #[error("PARCHMENT_MAIL_FROM is not a valid address: {0}")]
    From(lettre::address::AddressError),
    /// The SMTP URL does not parse.
    #[error("PARCHMENT_SMTP_URL is invalid: {0}")]
    Smtp(lettre::transport::smtp::Error),
    /// An SMTP URL without a sender address.
    #[error("PARCHMENT_SMTP_URL needs PARCHMENT_MAIL_FROM")]
    MissingFrom,
}

impl Mailer {
    /// SMTP when `smtp_url` is given, else files in `dir` when given, else disabled.
    pub fn new(
        smtp_url: Option<&str>,
        from: Option<&str>,
        dir: Option<PathBuf>,
    ) -> Result<Self, MailConfigError> {
        let parse_from = |from: &str| from.parse::<Mailbox>().map_err(MailConfigError::From);
        if let Some(url) = smtp_url {
            let from = parse_from(from.ok_or(MailConfigError::MissingFrom)?)?;
            let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map_err(MailConfigError::Smtp)?
                .build();
            return Ok(Mailer::Smtp { transport, from });
        }
        if let Some(dir) = dir {
            let from = parse_from(from.unwrap_or("Parchment <parchment@localhost>"))?;
            return Ok(Mailer::Dir { dir, from });
        }
        Ok(Mailer::Disabled)
    }

    /// Whether a failed send may succeed later (a transport is configured).
    pub fn can_retry(&self) -> bool {
        !matches!(self, Mailer::Disabled)
    }

    /// Whether mail can leave: the SMTP server answers (connect, TLS, authentication),
    /// or the mail directory is writable. For `parchment-server doctor`.
    pub async fn probe(&self) -> Result<String, String> {
        match self {
            Mailer::Smtp { transport, .. } => match transport.test_connection().await {
                Ok(true) => Ok("the SMTP server accepts connections".into()),
                Ok(false) => Err("the SMTP server did not accept the connection".into()),
                Err(e) => Err(format!("SMTP: {e}")),
            },
            Mailer::Dir { dir, .. } => std::fs::create_dir_all(dir)
                .map(|_| format!("mail is written to files in {}", dir.display()))
                .map_err(|e| format!("{}: {e}", dir.display())),
            Mailer::Disabled => Err("no mail transport: sign-in codes cannot be sent".into()),
        }
    }

    /// Sends one plain-text mail to `to`.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), AppError> {
        let to: Mailbox = to
            .parse()
            .map_err(|_| AppError::validation("email", "must be a valid email address"))?;
        let (from, deliver) = match self {
            Mailer::Smtp { from, .. } | Mailer::Dir { from, .. } => (from.clone(), self),
            Mailer::Disabled => {
                return Err(AppError::Mail(
                    "no mail transport configured (PARCHMENT_SMTP_URL or PARCHMENT_MAIL_DIR)"
                        .into(),
                ))
            }
        };
        let message = Message::builder()
            .from(from)
            .to(to.clone())
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| AppError::Mail(e.to_string()))?;
        match deliver {
            Mailer::Smtp { transport, .. } => {
                transport
                    .send(message)
                    .await
                    .map_err(|e| AppError::Mail(e.to_string()))?;
                tracing::info!("mail sent over SMTP");
            }
            Mailer::Dir { dir, .. } => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| AppError::Mail(e.to_string()))?;
                // Sortable and unique: time, then a random suffix; the recipient for humans.
                let name = format!(
                    "{}-{}-{}.eml",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"),
                    crate::secrets::random_id(),
                    to.email.to_string().replace(['/', '\\'], "_"),
                );
                let path = dir.join(name);
                tokio::fs::write(&path, message.formatted())
                    .await
                    .map_err(|e| AppError::Mail(e.to_string()))?;
                tracing::info!(path = %path.display(), "mail written to file");
            }
            Mailer::Disabled => {}
        }
        Ok(())
    }
}
