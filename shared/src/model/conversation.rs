//! Customer conversations from every channel, as `support.conversations` and
//! `support.messages` keep them.

/// Whether a conversation waits for the shop (`support.conversations.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ConversationStatus {
    /// A customer message waits for an answer.
    Unread,
    /// Seen; nothing waits.
    Read,
    /// Put away by a person.
    Archived,
}

/// Who wrote a message (`support.messages.sender_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum SenderType {
    /// The buyer.
    Customer,
    /// A person of the shop.
    Technician,
    /// The marketplace operator.
    Operator,
    /// An automatic reply sent by sellerops.
    Assistant,
    /// The channel itself, or an author it does not name.
    System,
}
