//! Custom resource: creates the first key pair.

fn main() {}
