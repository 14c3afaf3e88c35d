//! stub
/// stub
#[derive(Debug)]
pub struct Queue<T>(T);
/// stub
#[derive(Debug)]
pub struct LifoQueue<T>(T);
/// stub
#[derive(Debug)]
pub struct PriorityQueue<T>(T);
/// stub
#[derive(Debug)]
pub struct Task<'a, T>(&'a T);
