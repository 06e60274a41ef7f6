//! SDP parser (placeholder, being written).
