//! A tour of threadkit (grows with each primitive).
fn main() {}
