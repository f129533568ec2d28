fn main() {
    println!("scaleboard {}", env!("CARGO_PKG_VERSION"));
}
