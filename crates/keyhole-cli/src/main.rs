//! The `keyhole` command-line tool.

fn main() {}
