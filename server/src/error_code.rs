//! Every machine-readable error code the API answers (`{"code", "message"}`), one enum: a
//! code is written once, here, and shown as its snake_case word.

use std::fmt;

/// Defines the codes and their words.
macro_rules! error_codes {
    ($($variant:ident = $text:literal),+ $(,)?) => {
        /// A stable, documented error code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $(
                #[doc = concat!("`", $text, "`")]
                $variant
            ),+
        }

        impl ErrorCode {
            /// Every code, for documentation and tests.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The code as the API shows it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text),+
                }
            }
        }
    };
}

error_codes! {
    AliasReserved = "alias_reserved",
    AliasTaken = "alias_taken",
    AlreadyFriends = "already_friends",
    BlobTooLarge = "blob_too_large",
    CodeExpired = "code_expired",
    CollectionChanged = "collection_changed",
    ConfirmationRequired = "confirmation_required",
    CommitmentMismatch = "commitment_mismatch",
    Conflict = "conflict",
    CurrentKeySignatureRequired = "current_key_signature_required",
    DuplicateItem = "duplicate_item",
    EmailTaken = "email_taken",
    FederationAuthFailed = "federation_auth_failed",
    Forbidden = "forbidden",
    ForeignSender = "foreign_sender",
    IdentityChanged = "identity_changed",
    Internal = "internal",
    InvalidAlias = "invalid_alias",
    InvalidBlobType = "invalid_blob_type",
    InvalidChallenge = "invalid_challenge",
    InvalidCode = "invalid_code",
    InvalidCurrentKeySignature = "invalid_current_key_signature",
    InvalidEnvelope = "invalid_envelope",
    InvalidHandle = "invalid_handle",
    InvalidKey = "invalid_key",
    InvalidMessage = "invalid_message",
    InvalidPayload = "invalid_payload",
    InvalidRole = "invalid_role",
    InvalidSignature = "invalid_signature",
    InvalidSlot = "invalid_slot",
    InvalidSlotSignature = "invalid_slot_signature",
    InvitationClosed = "invitation_closed",
    InvitationExists = "invitation_exists",
    InvitationNotFound = "invitation_not_found",
    KeysAlreadySet = "keys_already_set",
    KmVersionMismatch = "km_version_mismatch",
    LegacyNotAllowed = "legacy_not_allowed",
    LocationSharingOff = "location_sharing_off",
    MailDelayed = "mail_delayed",
    MailFailed = "mail_failed",
    MethodNotAllowed = "method_not_allowed",
    NoIdentity = "no_identity",
    NoSigningKey = "no_signing_key",
    NotFound = "not_found",
    NotFriend = "not_friend",
    NotLocal = "not_local",
    PasskeyExists = "passkey_exists",
    PasskeyRejected = "passkey_rejected",
    PayloadTooLarge = "payload_too_large",
    RateLimited = "rate_limited",
    RecipientNotFound = "recipient_not_found",
    Replay = "replay",
    ShareAccepted = "share_accepted",
    StaleLocation = "stale_location",
    StaleMessage = "stale_message",
    TooManyCollections = "too_many_collections",
    TooManyDevices = "too_many_devices",
    TooManyItems = "too_many_items",
    TooManyShares = "too_many_shares",
    TooManySlots = "too_many_slots",
    TooManyTransfers = "too_many_transfers",
    TransferExpired = "transfer_expired",
    TransferOtherDevice = "transfer_other_device",
    TransferState = "transfer_state",
    Unauthorized = "unauthorized",
    Unavailable = "unavailable",
    UnknownCollection = "unknown_collection",
    UnknownCredential = "unknown_credential",
    Unresolvable = "unresolvable",
    UnsupportedMethod = "unsupported_method",
    UnsupportedType = "unsupported_type",
    UserNotFound = "user_not_found",
    ValidationFailed = "validation_failed",
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_snake_case_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let word = code.as_str();
            assert!(
                word.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{word}"
            );
            assert!(seen.insert(word), "{word} twice");
        }
    }
}
