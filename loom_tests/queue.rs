//! Loom models (being written).
#![cfg(loom)]
