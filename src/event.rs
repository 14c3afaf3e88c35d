//! stub
/// stub
#[derive(Debug)]
pub struct Event;
