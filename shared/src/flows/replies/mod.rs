//! Replies to customers' marketplace messages: reading what a message asks
//! ([`classifier`]) so routine questions get an automatic answer and the rest a person.

pub mod classifier;
