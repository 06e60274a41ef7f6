//! SIP parser (placeholder, being written).
