//! stub
/// stub
#[derive(Debug)]
pub struct Condition;
/// stub
#[derive(Debug)]
pub struct WaitTimeoutResult;
/// stub
pub trait Waitable {}
