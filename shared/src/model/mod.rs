//! The values every flow speaks in.

pub mod channel;
pub mod conversation;
pub mod customer_email;
pub mod customers;
pub mod field_path;
pub mod money;
pub mod order_time;
pub mod personal_data;
pub mod received;
