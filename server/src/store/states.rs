//! The states rows move through, as enums; stored as their lowercase string form (the
//! columns are TEXT, and the API shows the same words).

use std::fmt;

/// Defines a stored state enum: its variants, their stored words, and the conversions.
macro_rules! stored_state {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// The stored (and shown) word.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl TryFrom<String> for $name {
            type Error = String;
            fn try_from(text: String) -> Result<Self, String> {
                match text.as_str() {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(concat!("not a ", stringify!($name), ": {}"), other)),
                }
            }
        }
    };
}

stored_state! {
    /// Where a friend invitation stands.
    InvitationStatus {
        /// Sent, not answered yet.
        Pending = "pending",
        /// The invitee accepted: a friendship exists.
        Accepted = "accepted",
        /// The invitee declined.
        Rejected = "rejected",
        /// The inviter withdrew it.
        Cancelled = "cancelled",
        /// Not answered in time.
        Expired = "expired",
    }
}

stored_state! {
    /// Which side of an invitation a row is: the caller sent it, or received it.
    InvitationDirection {
        /// Sent by the row's user.
        Outgoing = "outgoing",
        /// Received by the row's user.
        Incoming = "incoming",
    }
}

stored_state! {
    /// Where an outbox message stands.
    OutboxStatus {
        /// Waiting for (another) delivery attempt.
        Pending = "pending",
        /// The receiver has it.
        Delivered = "delivered",
        /// Refused for good, or given up after the retry horizon.
        Failed = "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_words_round_trip() {
        for s in [
            InvitationStatus::Pending,
            InvitationStatus::Accepted,
            InvitationStatus::Rejected,
            InvitationStatus::Cancelled,
            InvitationStatus::Expired,
        ] {
            assert_eq!(InvitationStatus::try_from(s.as_str().to_owned()), Ok(s));
        }
        assert_eq!(
            OutboxStatus::try_from("delivered".to_owned()),
            Ok(OutboxStatus::Delivered)
        );
        assert!(InvitationDirection::try_from("sideways".to_owned()).is_err());
    }
}
